"""The daemon: the contract's methods served by the JSON-RPC transport over stdio.

A method's declaring module is imported when the method is first called (bridge.api.INDEX), so
start-up and `initialize` load no domain package."""

from __future__ import annotations

import functools
import gc
import logging
import re
from collections.abc import Callable
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
    declaration is looked up (its module imported) on first use; from then on `call` is a closure
    over the decoder, the handler and the context (an instance attribute shadowing the method: the
    server's hot loop calls it per request, and a closure reads its names without attribute lookups).
    A handler may return a `msgspec.Raw` (JSON it already has, as getArtifact does): it goes out as it is."""

    def __init__(self, name: str, ctx: Context) -> None:
        self.name = name
        self._method: Method | None = None
        self._ctx = ctx

    @property
    def method(self) -> Method:
        if self._method is None:
            found = method(self.name)
            if found is None:  # _index.py is stale: scripts/gen_contract.py rewrites it
                raise RuntimeError(f"method {self.name!r} is in bridge/api/_index.py but not declared in {INDEX[self.name]}")
            self.call = self._bind(found)
            self._method = found
        return self._method

    @functools.cached_property
    def long_running(self) -> bool:  # asked per call: an attribute once known
        try:
            return self.method.long_running
        except Exception:  # noqa: BLE001 - asked on the reader thread: the call itself reports it
            return False

    def call(self, params: Any, job: Job, request_id: Any) -> bytes | msgspec.Raw:
        """The first call: binds the method (which replaces this with the closure), then runs it."""
        self.method  # noqa: B018 - import the declaring module, bind `call`
        return self.call(params, job, request_id)

    def _bind(self, found: Method) -> Callable[[Any, Job, Any], bytes | msgspec.Raw]:
        decode, handler, name, ctx = found.decoder.decode, found.handler, self.name, self._ctx
        quick_ctx = ctx.for_request(NULL_JOB, None)  # one context for every quick call
        encode, raw = msgspec.json.Encoder().encode, msgspec.Raw

        def call(params: Any, job: Job, request_id: Any) -> bytes | msgspec.Raw:
            try:
                decoded = decode(b"{}" if params is None else params)  # msgspec.Raw decodes in place, no copy
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise params_error(name, exc) from None
            result = handler(quick_ctx if job is NULL_JOB else ctx.for_request(job, request_id), decoded)
            return result if result.__class__ is raw else encode(result)

        return call


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
