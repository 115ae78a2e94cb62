"""The daemon: the contract's methods served by the JSON-RPC transport over stdio.

A method's declaring module is imported when the method is first called (bridge.api.INDEX), so
start-up and `initialize` load no domain package."""

from __future__ import annotations

import functools
import gc
import logging
import re
from typing import Any

import msgspec

from bridge.api import INDEX, Context, Limits, Method, method
from bridge.api.errors import error_for
from bridge.progress import NULL_JOB, Job
from bridge.rpc import InvalidParams, Server, serve_stdio

__all__ = ["build_server", "serve"]

log = logging.getLogger(__name__)

_AT = r" - at `(\$[^`]*)`$"
_FIELD = r"(?:missing required|unknown) field `([^`]+)`"  # compiled on the first bad params, not at start


def params_error(method: str, exc: Exception) -> InvalidParams:
    """-32602 with msgspec's message and the JSON path of the offending value (for a missing or
    unknown field: the path of that key), e.g. `$.limit`, `$.clientInfo.name`."""
    detail = str(exc)
    at = re.search(_AT, detail)
    path = at.group(1) if at else "$"
    field = re.search(_FIELD, detail)
    if field:
        path = f"{path}.{field.group(1)}"
    return InvalidParams(f"Invalid params: {detail}", data={"detail": detail, "path": path, "method": method})


class _Adapter:
    """A declared Method as the transport's Handler: decode params, call, encode the result. The
    declaration is looked up (its module imported) on first use."""

    def __init__(self, name: str, ctx: Context) -> None:
        self.name = name
        self._method: Method | None = None
        self._ctx = ctx
        self._quick_ctx = ctx.for_request(NULL_JOB, None)  # one context for every quick call
        self._encode = msgspec.json.Encoder().encode

    @property
    def method(self) -> Method:
        if self._method is None:
            found = method(self.name)
            if found is None:  # _index.py is stale: scripts/gen_contract.py rewrites it
                raise RuntimeError(f"method {self.name!r} is in bridge/api/_index.py but not declared in {INDEX[self.name]}")
            self._decode, self._handler = found.decoder.decode, found.handler
            self._method = found
        return self._method

    @functools.cached_property
    def long_running(self) -> bool:  # asked per call: an attribute once known
        try:
            return self.method.long_running
        except Exception:  # noqa: BLE001 - asked on the reader thread: the call itself reports it
            return False

    def call(self, params: Any, job: Job, request_id: Any) -> bytes:
        if self._method is None:
            self.method  # noqa: B018 - import the declaring module, bind decoder and handler
        try:
            decoded = self._decode(b"{}" if params is None else params)  # msgspec.Raw decodes in place, no copy
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise params_error(self.name, exc) from None
        ctx = self._quick_ctx if job is NULL_JOB else self._ctx.for_request(job, request_id)
        return self._encode(self._handler(ctx, decoded))


def map_exception(exc: BaseException):
    code = getattr(exc, "rpc_code", None)
    if code is not None:
        return code, str(exc), getattr(exc, "rpc_data", None)
    return error_for(exc)


def build_server(lake, *, limits: Limits | None = None, shared: dict | None = None) -> Server:
    limits = limits or Limits.default()
    ctx = Context(lake, limits=limits, shared=shared)
    handlers = {name: _Adapter(name, ctx) for name in INDEX}
    return Server(handlers, map_error=map_exception, max_line_bytes=limits.max_line_bytes,
                  max_reply_bytes=limits.max_reply_bytes)


def serve(lake, *, limits: Limits | None = None) -> int:
    server = build_server(lake, limits=limits)
    # What start-up created lives as long as the daemon: keep it out of every later collection,
    # and collect again (`python -m bridge` turned collection off for start-up: bridge/__main__.py).
    gc.freeze()
    gc.enable()
    log.info("serving %s", lake.root)
    return serve_stdio(server)
