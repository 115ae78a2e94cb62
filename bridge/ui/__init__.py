"""`bridge ui`: a local, read-only web app to browse a lake — artifacts, lineage graphs,
experiment runs side by side, sweeps, coverage, projections and a read-only SQL console.

    from bridge.ui import UiServer
    ui = UiServer.start("./lake")        # 127.0.0.1, a random port and token
    print(ui.url)                        # http://127.0.0.1:PORT/?token=…

Every page reads the lake through the domain packages (bridge.store, bridge.projections,
bridge.experiments, bridge.ohlcv); security.py says what protects it. Starlette and uvicorn are
imported only when a server is made.
"""

from bridge.ui.server import HOST, UiServer, open_store

__all__ = ["HOST", "UiServer", "open_store"]
