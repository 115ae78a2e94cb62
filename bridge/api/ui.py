"""openUi: start the read-only web UI (bridge/ui) inside the daemon and return its URL.

The server runs on a background thread of the daemon, bound to 127.0.0.1, reading the lake
through the daemon's own Store; it stops when the daemon exits. One per daemon: later calls
return the same URL (whatever port they ask for).
"""

from __future__ import annotations

from typing import Any

from bridge.api._method import Context, Method, Wire
from bridge.errors import InvalidInput

__all__ = ["DECLARATIONS", "METHODS", "OpenUiParams", "OpenUiResult"]


class OpenUiParams(Wire):
    port: int = 0  # 0: any free port on 127.0.0.1


class OpenUiResult(Wire):
    url: str          # with the access token: open it in a browser
    port: int
    already_running: bool = False


def open_ui(ctx: Context, p: OpenUiParams) -> OpenUiResult:
    with ctx.state["_lock"]:
        ui = ctx.state.get("ui")
        if ui is not None:
            return OpenUiResult(url=ui.url, port=ui.port, already_running=True)
    store = ctx.store
    from bridge.ui import UiServer

    with ctx.state["_lock"]:
        ui = ctx.state.get("ui")
        if ui is not None:
            return OpenUiResult(url=ui.url, port=ui.port, already_running=True)
        ui = UiServer.start(store, port=p.port)
        ctx.state["ui"] = ui
    return OpenUiResult(url=ui.url, port=ui.port)


DECLARATIONS: list[dict[str, Any]] = [
    dict(name="openUi", params=OpenUiParams, result=OpenUiResult, errors=(InvalidInput,), handler=open_ui,
         long_running=False,
         doc="Start the read-only web UI on 127.0.0.1 inside the daemon (once; later calls return the same URL) and "
             "return its URL, which carries the access token"),
]

METHODS = [Method(**d) for d in DECLARATIONS]
