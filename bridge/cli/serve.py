"""`bridge serve`: the JSON-RPC daemon on stdin/stdout (docs/protocol.md)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the JSON-RPC 2.0 daemon on stdin/stdout (newline-delimited)")
    p.add_argument("--lake", default=None, metavar="DIR", help="lake root (default: $QUANTBOT_LAKE, else ./lake)")
    p.add_argument("--max-line-bytes", type=int, default=64 * 1024 * 1024, help="largest accepted message")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from bridge.api import Limits
    from bridge.api.daemon import serve
    from bridge.store.lake import Lake

    return serve(Lake(args.lake), limits=Limits(max_line_bytes=args.max_line_bytes))
