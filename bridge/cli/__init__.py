"""The command line: `python -m bridge <command>` (console script: `bridge`).

Each command group lives in its own module with a `register(subparsers)` function; handlers take
the parsed args and return an exit code. Modules here import the domain lazily, inside handlers,
so `bridge serve` starts fast.

Exit codes: one table for every command, `bridge._common.EXIT_CODES` (docs/cli.md).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["build_parser", "main"]

# Command modules, in help order. Each has register(subparsers).
COMMAND_MODULES = (
    "bridge.cli.store",
    "bridge.cli.lake",
    "bridge.cli.project",
    "bridge.cli.ingest",
    "bridge.cli.ohlcv",
    "bridge.cli.experiment",
    "bridge.cli.strategy",
    "bridge.cli.serve",
    "bridge.cli.ui",
    "bridge.cli.demo",
)


def build_parser() -> argparse.ArgumentParser:
    from bridge import __version__
    from bridge.cli._common import EXIT_CODES

    parser = argparse.ArgumentParser(
        prog="bridge",
        description="QuantBot research bridge: immutable Parquet artifacts, lineage, DuckDB projections.",
        epilog="exit codes (every command):\n" + "\n".join(f"  {c:>3}  {d}" for c, d in EXIT_CODES)
        + "\n\nA lake is created only by `bridge init --lake DIR`; docs/cli.md has every command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bridge {__version__}",
                        help="print the version and exit")
    parser.add_argument("--log-level", default="WARNING", help="stderr log level (default WARNING)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command group not written yet
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, str(level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> int:
    """Parse and run one command. Ctrl-C anywhere (even while parsing) exits 130; a closed stdout
    exits 141 quietly; a file-size limit (ulimit -f) is an error, not a killed process."""
    from bridge.cli._common import _broken_pipe, _interrupted, run_handler

    _ignore_sigxfsz()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        configure_logging(getattr(args, "log_level", "WARNING"))
        return run_handler(args)
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:
        return _broken_pipe()


def _ignore_sigxfsz() -> None:
    """With SIGXFSZ ignored, a write past `ulimit -f` fails with EFBIG (reported as a StorageError
    naming the file) instead of killing the process mid-write."""
    import signal

    if hasattr(signal, "SIGXFSZ"):
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass
