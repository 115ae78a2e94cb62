"""Shared CLI plumbing: the --lake/--json options, tables for people, JSON for scripts,
a progress bar on stderr, and one mapping from domain errors to messages and exit codes."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bridge.errors import BridgeError, Cancelled, IntegrityError, InvalidInput, NotFound
from bridge.progress import Job

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_INTEGRITY, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130


def add_common(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> argparse.ArgumentParser:
    """--lake (default: $QUANTBOT_LAKE or ./lake) and --json on a command."""
    parser.add_argument("--lake", default=None, metavar="DIR", help="lake root (default: $QUANTBOT_LAKE, else ./lake)")
    add_backend(parser)
    if json_flag:
        parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    return parser


def add_backend(parser: argparse.ArgumentParser) -> None:
    """--manifest, --artifacts, --s3-endpoint, --s3-region: the lake's URL pair (docs/team.md)."""
    g = parser.add_argument_group("lake backend (default: the lake folder's lake.toml, else SQLite + local files)")
    g.add_argument("--manifest", default=None, metavar="URL",
                   help="manifest: sqlite:///path or postgresql://user@host/db ($QUANTBOT_MANIFEST)")
    g.add_argument("--artifacts", default=None, metavar="URL",
                   help="artifact store: a local folder or s3://bucket/prefix ($QUANTBOT_ARTIFACTS)")
    g.add_argument("--s3-endpoint", default=None, metavar="URL",
                   help="S3 endpoint of a non-AWS server, http(s)://host:port ($QUANTBOT_S3_ENDPOINT)")
    g.add_argument("--s3-region", default=None, metavar="NAME", help="S3 region ($QUANTBOT_S3_REGION)")


def lake_from(args: argparse.Namespace):
    from bridge.store.lake import Lake

    return Lake(getattr(args, "lake", None), **backend_kwargs(args))


def backend_kwargs(args: argparse.Namespace) -> dict:
    return {"manifest": getattr(args, "manifest", None), "artifacts": getattr(args, "artifacts", None),
            "s3_endpoint": getattr(args, "s3_endpoint", None), "s3_region": getattr(args, "s3_region", None)}


def run_handler(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Cancelled as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BridgeError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": {"type": type(exc).__name__, "message": str(exc), "data": exc.data}}, default=str))
        else:
            print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, NotFound):
            return EXIT_NOT_FOUND
        if isinstance(exc, InvalidInput):
            return EXIT_USAGE
        if isinstance(exc, IntegrityError):
            return EXIT_INTEGRITY
        return EXIT_ERROR


def emit_json(obj: Any) -> None:
    print(json.dumps(to_plain(obj), indent=2, default=str, sort_keys=False))


def to_plain(obj: Any) -> Any:
    """Structs/dataclasses/paths → plain JSON-able values."""
    import dataclasses
    from pathlib import PurePath

    try:
        import msgspec

        if isinstance(obj, msgspec.Struct):
            return to_plain(msgspec.structs.asdict(obj))
    except ImportError:  # pragma: no cover
        pass
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_plain(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, PurePath):
        return str(obj)
    return obj


def print_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, headers: Sequence[str] | None = None,
                max_width: int = 48, file=None) -> None:
    """A plain aligned table; long cells are cut with an ellipsis."""
    file = file or sys.stdout
    rows = list(rows)
    heads = list(headers or [c.upper() for c in columns])

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            return f"{v:.6g}"
        s = str(v)
        return s if len(s) <= max_width else s[: max_width - 1] + "…"

    body = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(heads)]
    print("  ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip(), file=file)
    for b in body:
        print("  ".join(v.ljust(w) for v, w in zip(b, widths)).rstrip(), file=file)
    if not body:
        print("(none)", file=file)


def print_kv(pairs: Iterable[tuple[str, Any]], file=None) -> None:
    file = file or sys.stdout
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    for k, v in pairs:
        print(f"{k.ljust(width)}  {'-' if v is None else v}", file=file)


def progress_job(enabled: bool = True, label: str = "") -> Job:
    """A Job that draws a one-line progress bar on stderr when stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        return Job()
    start = time.monotonic()

    def sink(done: int, total: int | None, message: str) -> None:
        elapsed = time.monotonic() - start
        if total:
            frac = min(1.0, done / total)
            bar = "#" * int(frac * 30)
            text = f"\r{label} [{bar:<30}] {frac:6.1%} {message} {elapsed:5.1f}s"
        else:
            text = f"\r{label} {done:,} {message} {elapsed:5.1f}s"
        sys.stderr.write(text[:120].ljust(80))
        if total is not None and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return Job(sink)
