"""The Starlette application: one HTML shell, the static files (all in the package, so the UI works
offline), and the JSON endpoints the pages call. Every endpoint reads; none writes the lake.

    GET  /                               the single-page app (routes after '#')
    GET  /api/types                      artifact types with counts by status
    GET  /api/artifacts?type&status&prefix&tag=k=v&from&to&q&sort&limit&cursor
    GET  /api/artifacts/{id}             entry, provenance, schema, first rows, column stats, stale reasons
    GET  /api/artifacts/{id}/node        one lineage node (for the graph's root)
    GET  /api/lineage/{id}?direction=upstream|downstream   direct neighbours (expanded on click)
    GET  /api/runs?status&experiment&sweep&q&limit
    GET  /api/runs/{id}                  everything the run's report shows
    GET  /api/runs/{id}/trades/{trade}   that trade and the candles around it
    GET  /api/compare?runs=a,b           runs side by side
    GET  /api/sweeps, /api/sweeps/{id}
    GET  /api/coverage?artifact=
    GET  /api/projections
    POST /api/query {projectionId, sql}  the read-only sandbox, with row and byte limits
    GET  /docs/{name}                    docs/<name>.md as HTML (the pages link to definitions)
"""

from __future__ import annotations

import logging
import time
from importlib import resources
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bridge.errors import BridgeError, NotFound, ReadOnlyViolation
from bridge.store import Store
from bridge.ui.security import Guard
from bridge.ui.views import Views

__all__ = ["POST_PATHS", "create_app"]

log = logging.getLogger(__name__)

POST_PATHS = ("/api/query",)
_MAX_BODY = 256 * 1024


class _Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


def _error(exc: BaseException) -> Response:
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, ReadOnlyViolation):
        status = 403
    elif isinstance(exc, BridgeError):
        status = 400
    else:
        log.exception("UI request failed")
        return JSONResponse({"error": {"type": "InternalError", "message": f"{type(exc).__name__}: {exc}"}},
                            status_code=500, headers={"cache-control": "no-store"})
    return _Json({"error": {"type": type(exc).__name__, "message": str(exc), "data": getattr(exc, "data", {})}},
                 status_code=status, headers={"cache-control": "no-store"})


def create_app(store: Store, *, token: str, port: int) -> Guard:
    """The ASGI app for `store`'s lake, guarded (security.Guard) for `token` on `port`."""
    views = Views(store)
    static_dir = resources.files("bridge.ui").joinpath("static")
    index = static_dir.joinpath("index.html").read_bytes()

    def endpoint(fn):
        def handle(request: Request) -> Response:
            t0 = time.perf_counter()
            try:
                result = fn(request)
            except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
                return _error(exc)
            ms = (time.perf_counter() - t0) * 1000
            return _Json(result, headers={"cache-control": "no-store", "server-timing": f"app;dur={ms:.1f}"})
        return handle

    def home(request: Request) -> Response:
        return Response(index, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})

    def doc(request: Request) -> Response:
        from bridge.ui.docs import render_doc

        try:
            page = render_doc(request.path_params["name"])
        except NotFound as exc:
            return Response(f"{exc}\n", status_code=404, media_type="text/plain; charset=utf-8")
        return Response(page, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})

    async def query(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        raw = await request.body()
        if len(raw) > _MAX_BODY:
            return _error(BridgeError(f"request body over {_MAX_BODY} bytes"))
        try:
            body = msgspec.json.decode(raw) if raw else {}
        except msgspec.DecodeError as exc:
            return _error(BridgeError(f"the body is not JSON: {exc}"))
        if not isinstance(body, dict):
            return _error(BridgeError("the body is a JSON object {projectionId, sql}"))
        t0 = time.perf_counter()
        try:
            result = await run_in_threadpool(views.query, body)
        except Exception as exc:  # noqa: BLE001
            return _error(exc)
        ms = (time.perf_counter() - t0) * 1000
        return _Json(result, headers={"cache-control": "no-store", "server-timing": f"app;dur={ms:.1f}"})

    p = lambda r, k: r.path_params[k]  # noqa: E731
    routes = [
        Route("/", home),
        Route("/api/types", endpoint(lambda r: views.artifact_types())),
        Route("/api/artifacts", endpoint(lambda r: views.artifacts(r.query_params))),
        Route("/api/artifacts/{aid}", endpoint(lambda r: views.artifact(p(r, "aid")))),
        Route("/api/artifacts/{aid}/node", endpoint(lambda r: views.node(p(r, "aid")))),
        Route("/api/lineage/{aid}", endpoint(lambda r: views.lineage(p(r, "aid"),
                                                                    r.query_params.get("direction", "upstream")))),
        Route("/api/runs", endpoint(lambda r: views.runs(r.query_params))),
        Route("/api/runs/{rid}", endpoint(lambda r: views.run(p(r, "rid")))),
        Route("/api/runs/{rid}/trades/{tid}", endpoint(lambda r: views.trade(p(r, "rid"), p(r, "tid")))),
        Route("/api/compare", endpoint(lambda r: views.compare(r.query_params))),
        Route("/api/sweeps", endpoint(lambda r: views.sweeps())),
        Route("/api/sweeps/{sid}", endpoint(lambda r: views.sweep(p(r, "sid")))),
        Route("/api/coverage", endpoint(lambda r: views.coverage(r.query_params))),
        Route("/api/projections", endpoint(lambda r: views.projection_list())),
        Route("/api/query", query, methods=["POST"]),
        Route("/docs/{name}", doc),
        Mount("/static", StaticFiles(directory=str(static_dir))),
    ]
    app = Starlette(routes=routes)
    return Guard(app, token=token, port=port, post_paths=POST_PATHS)
