"""Running the UI: a uvicorn server on 127.0.0.1 with a fresh random token, in the foreground
(`bridge ui`) or on a background thread (the daemon's `openUi`).

    ui = UiServer.start("./lake", port=0)   # background thread; ui.url has the token
    ...
    ui.stop()
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import threading
from pathlib import Path

from bridge.errors import InvalidInput

__all__ = ["HOST", "UiServer", "open_store"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # loopback only, never configurable


def open_store(lake):
    """The lake's Store, refusing to create a lake: the UI only reads existing ones.

    Raises:
        InvalidInput: no manifest at that path.
    """
    from bridge.store import Lake, Store

    lk = lake if isinstance(lake, Lake) else Lake(lake)
    if not lk.exists():  # a SQLite manifest file; a PostgreSQL manifest is checked when connecting
        raise InvalidInput(f"no lake at {lk.root} (no {Path(lk.manifest_db).name}); pass --lake DIR of an existing "
                           "lake, or create one with `bridge init`", path=str(lk.root))
    return Store(lk)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise InvalidInput(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}; choose another --port "
                           "(0 picks a free one)", field="port", value=port) from None
    sock.listen(128)
    return sock


def _warm_up() -> None:
    """Import what the pages use now, so the first page is not the one paying for it."""
    import duckdb  # noqa: F401
    import pyarrow.compute  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    import pyarrow.parquet  # noqa: F401


class UiServer:
    """One UI server. `url` (with the token) is known once it is bound."""

    def __init__(self, store, *, port: int = 0, token: str | None = None) -> None:
        import uvicorn

        from bridge.ui.app import create_app

        if not 0 <= int(port) <= 65535:
            raise InvalidInput("port must be between 0 and 65535", field="port", value=port)
        self.store = store
        _warm_up()
        self.token = token or secrets.token_hex(24)
        self._sock = _bind(int(port))
        self.port = self._sock.getsockname()[1]
        self.app = create_app(store, token=self.token, port=self.port)
        # log_config=None: leave logging alone (inside the daemon, stdout is the JSON-RPC channel)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", log_config=None,
                                server_header=False, date_header=False)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def url(self) -> str:
        return f"{self.base_url}?token={self.token}"

    @classmethod
    def start(cls, lake_or_store, *, port: int = 0, token: str | None = None) -> "UiServer":
        """Serve on a daemon thread; returns once the server accepts connections."""
        from bridge.store import Store

        store = lake_or_store if isinstance(lake_or_store, Store) else open_store(lake_or_store)
        ui = cls(store, port=port, token=token)
        ui._thread = threading.Thread(target=ui._run, name=f"bridge-ui-{ui.port}", daemon=True)
        ui._thread.start()
        # the socket is already listening: connections queue until uvicorn accepts them
        return ui

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (uvicorn handles the signals)."""
        self._run()

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()
