"""`bridge ui`: the local, read-only web UI (bridge/ui, docs/ui.md)."""

from __future__ import annotations

import argparse
import sys

from bridge.cli._common import add_common, lake_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="browse the lake in a local web app (read-only; 127.0.0.1 with an access token)",
                       description="Start a read-only web UI on 127.0.0.1 and print its URL, which carries a random "
                                   "access token (required on every request). Ctrl-C stops it.")
    add_common(p)
    p.add_argument("--port", type=int, default=8765, metavar="N", help="port on 127.0.0.1 (default 8765; 0 = any free)")
    p.add_argument("--open", action="store_true", help="open the URL in a browser")
    p.set_defaults(func=cmd_ui)


def cmd_ui(args) -> int:
    from bridge.ui import UiServer, open_store

    ui = UiServer(open_store(lake_from(args)), port=args.port)
    if args.json:
        import json

        print(json.dumps({"url": ui.url, "port": ui.port, "lake": str(ui.store.lake.root)}), flush=True)
    else:
        print(f"bridge ui: serving {ui.store.lake.root} (read-only)\n\n    {ui.url}\n\n"
              "Open that URL (it carries the access token). Ctrl-C stops the server.", flush=True)
    if args.open:
        import webbrowser

        if not webbrowser.open(ui.url):
            print("could not open a browser: open the URL above yourself", file=sys.stderr)
    try:
        ui.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
