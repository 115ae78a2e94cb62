"""`bridge serve`: the JSON-RPC daemon on stdin/stdout (docs/protocol.md)."""

from __future__ import annotations

import argparse

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of bytes, got {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the JSON-RPC 2.0 daemon on stdin/stdout (newline-delimited)")
    p.add_argument("--lake", default=None, metavar="DIR", help="lake root (default: $QUANTBOT_LAKE, else ./lake)")
    from bridge.cli._common import add_backend

    add_backend(p)
    p.add_argument("--max-line-bytes", type=_positive, default=DEFAULT_MAX_LINE_BYTES, metavar="N",
                   help="largest accepted message in bytes (default 64 MiB); longer lines are answered and skipped")
    # Also accepted after `serve` (issue 3's spelling); SUPPRESS keeps the top-level value when absent.
    p.add_argument("--log-level", default=argparse.SUPPRESS, metavar="LEVEL", help="stderr log level (default WARNING)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from bridge.api import Limits
    from bridge.api.daemon import serve
    from bridge.cli._common import backend_kwargs
    from bridge.store.lake import Lake

    # the daemon creates its lake on first use (only the CLI's own commands insist on `init`)
    return serve(Lake(args.lake, **backend_kwargs(args)), limits=Limits.default(max_line_bytes=args.max_line_bytes))
