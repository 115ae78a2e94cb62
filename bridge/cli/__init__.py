"""The command line: `python -m bridge <command>` (console script: `bridge`).

Each command group lives in its own module with a `register(subparsers)` function; handlers take
the parsed args and return an exit code. Modules here import the domain lazily, inside handlers,
so `bridge serve` starts fast.

Exit codes: 0 ok, 1 the command ran and found a problem (e.g. verify), 2 usage or input error,
3 not found, 4 integrity problem, 5 other bridge error, 130 interrupted.
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
    "bridge.cli.serve",
    "bridge.cli.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge",
        description="QuantBot research bridge: immutable Parquet artifacts, lineage, DuckDB projections.",
    )
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
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(getattr(args, "log_level", "WARNING"))
    from bridge.cli._common import run_handler

    return run_handler(args)
