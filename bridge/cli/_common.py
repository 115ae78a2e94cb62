"""Shared CLI plumbing: the --lake/--json options, tables for people, JSON for scripts,
a progress bar on stderr, and one mapping from domain errors to messages and exit codes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bridge.errors import (
    BridgeError,
    Cancelled,
    IntegrityError,
    InvalidInput,
    NotFound,
    ReadOnlyViolation,
    StorageError,
)
from bridge.progress import Job

# The one table of exit codes, the same for every command (docs/cli.md; `bridge --help`).
EXIT_OK = 0            # done
EXIT_PROBLEM = 1       # the command ran and found a problem (verify)
EXIT_USAGE = 2         # bad flags or invalid input (data, definition, refused SQL, not an export)
EXIT_NOT_FOUND = 3     # a named thing does not exist (lake, artifact, projection, run)
EXIT_INTEGRITY = 4     # the lake disagrees with its manifest
EXIT_ERROR = 5         # the environment failed: disk full or unwritable, source down, lock timeout
EXIT_INTERNAL = 70     # a bug in the bridge (EX_SOFTWARE); the message says how to report it
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT) or a cancelled job
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE), e.g. `| head`

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "done"),
    (EXIT_PROBLEM, "the command ran and found a problem (verify)"),
    (EXIT_USAGE, "bad flags or invalid input: missing input file, data, definition, refused SQL, not an export"),
    (EXIT_NOT_FOUND, "not found: lake, artifact, projection, run"),
    (EXIT_INTEGRITY, "the lake disagrees with its manifest"),
    (EXIT_ERROR, "the environment failed: disk full or unwritable, candle source down, lock timeout"),
    (EXIT_INTERNAL, "internal error (a bug): please report it with the command"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C) or cancelled"),
    (EXIT_BROKEN_PIPE, "stdout was closed by its reader (e.g. `| head`)"),
)


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




def backend_kwargs(args: argparse.Namespace) -> dict:
    return {"manifest": getattr(args, "manifest", None), "artifacts": getattr(args, "artifacts", None),
            "s3_endpoint": getattr(args, "s3_endpoint", None), "s3_region": getattr(args, "s3_region", None)}
def lake_from(args: argparse.Namespace, *, create: bool = False):
    """The lake named by --lake ($QUANTBOT_LAKE, ./lake). Only `init` creates one: every other
    command refuses a path with no lake (LakeNotFound: "no lake at PATH (create one with ...)")."""
    from bridge.store.lake import Lake

    lake = Lake(getattr(args, "lake", None), **backend_kwargs(args))
    return lake.ensure() if create else lake.require()


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, _Internal) or not isinstance(exc, BridgeError):
        return EXIT_INTERNAL
    if isinstance(exc, Cancelled):
        return EXIT_INTERRUPTED
    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, (InvalidInput, ReadOnlyViolation)):
        return EXIT_USAGE
    if isinstance(exc, IntegrityError):
        return EXIT_INTEGRITY
    if isinstance(exc, BridgeError):
        return EXIT_ERROR
    return EXIT_INTERNAL


def run_handler(args: argparse.Namespace) -> int:
    """Run a command; every failure ends as one line on stderr (or a JSON error on stdout with
    --json) and an exit code from the table above. No traceback reaches the user (--log-level
    DEBUG logs it)."""
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        code = int(handler(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:
        return _broken_pipe()
    except BaseException as exc:  # noqa: BLE001 - the CLI's last line of defence
        if isinstance(exc, SystemExit):
            raise
        try:
            return report_error(exc, as_json=getattr(args, "json", False))
        except BrokenPipeError:
            return _broken_pipe()
        except KeyboardInterrupt:
            return _interrupted()


def report_error(exc: BaseException, *, as_json: bool) -> int:
    """Print `exc` as one line (or a JSON error object) and return its exit code."""
    import logging

    err = as_domain_error(exc)
    code = exit_code_for(err)
    if code == EXIT_INTERNAL:
        logging.getLogger("bridge.cli").debug("internal error", exc_info=exc)
    if as_json:
        print(json.dumps({"error": {"type": type(err).__name__, "message": str(err), "data": err.data,
                                    "exitCode": code}}, default=str))
        sys.stdout.flush()
    else:
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
    return code


def as_domain_error(exc: BaseException) -> BridgeError:
    """A domain error for anything a command can raise: domain errors as they are; the OS refusing
    a file (missing, unreadable, disk full) as NotFound / InvalidInput / StorageError naming the
    path; anything else as an internal error that says how to get the traceback."""
    import errno

    if isinstance(exc, BridgeError):
        return exc
    if type(exc).__name__ == "InterruptException" or (isinstance(exc, RuntimeError)
                                                      and "interrupted" in str(exc).lower()):
        return Cancelled("interrupted")  # DuckDB's answer to Ctrl-C during a statement: exit 130
    if isinstance(exc, OSError):
        path = exc.filename if exc.filename is not None else "a file"
        if isinstance(exc, FileNotFoundError):  # an input the caller named: invalid input, like a bad flag
            return InvalidInput(f"no such file or directory: {path}", path=str(path))
        if isinstance(exc, IsADirectoryError):
            return InvalidInput(f"{path} is a directory, expected a file", path=str(path))
        if isinstance(exc, NotADirectoryError):
            return InvalidInput(f"{path}: a part of the path is a file, expected a directory", path=str(path))
        if exc.errno in (errno.EACCES, errno.EPERM) and exc.filename is not None:
            return StorageError.from_os_error(exc, path, "open")
        writing = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS)
        return StorageError.from_os_error(exc, path, "write" if writing else "read or write")
    if isinstance(exc, MemoryError):
        return BridgeError("out of memory; process the input in smaller parts", reason="MemoryError")
    try:
        import sqlite3

        if isinstance(exc, sqlite3.DatabaseError):
            from bridge.store.manifest import storage_error

            mapped = storage_error("the manifest", exc)
            if mapped is not None:
                return mapped
    except ImportError:  # pragma: no cover
        pass
    err = BridgeError(f"internal error: {type(exc).__name__}: {_one_line(str(exc))[:500]} "
                      "(rerun with --log-level DEBUG for the traceback and report it)",
                      type=type(exc).__name__)
    return _Internal(err)


class _Internal(BridgeError):
    """Marks a non-domain exception: exit 70."""

    def __init__(self, err: BridgeError) -> None:
        super().__init__(err.message, **err.data)


def _one_line(text: str) -> str:
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def _interrupted() -> int:
    try:
        print("interrupted", file=sys.stderr)
    except (OSError, ValueError):
        pass
    return EXIT_INTERRUPTED


def _broken_pipe() -> int:
    """stdout's reader left: stop quietly (like `git log | head`); keep Python's exit flush quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


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


def run_interruptibly(work: Callable[[Job], Any], job: Job | None = None, *, grace: float = 10.0) -> Any:
    """Run `work(job)` on a worker thread so that Ctrl-C is seen at once, even while a library
    (DuckDB, pyarrow) holds the main thread in C code: the interrupt cancels `job` (the work stops
    at its next check, a running DuckDB statement is interrupted), waits up to `grace` seconds for
    it to stop, and re-raises KeyboardInterrupt (exit 130 in run_handler). Should the work not stop
    in time, the process ends at once with 130: letting the interpreter finalise under a thread
    still inside DuckDB aborts it."""
    job = job or Job()
    box: dict[str, Any] = {}
    done = threading.Event()  # not Thread.is_alive(): a join interrupted by Ctrl-C marks the thread stopped

    def target() -> None:
        try:
            box["result"] = work(job)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=target, name="cli-work", daemon=True)
    worker.start()
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        job.cancel()
        if not done.wait(grace):
            print("interrupted (the work did not stop in time)", file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        box.clear()
        worker.join()  # the thread's own teardown (DuckDB's thread-locals) must end before the interpreter's
        raise
    worker.join()
    if "error" in box:
        raise box.pop("error")
    return box.get("result")
