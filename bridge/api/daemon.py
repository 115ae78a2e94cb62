"""The daemon: the contract's methods served by the JSON-RPC transport over stdio."""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec

from bridge.api import METHODS, Context, Limits, Method
from bridge.api.errors import error_for
from bridge.progress import NULL_JOB, Job
from bridge.rpc import InvalidParams, Server, serve_stdio

__all__ = ["build_server", "serve"]

log = logging.getLogger(__name__)

_AT = re.compile(r" - at `(\$[^`]*)`$")
_FIELD = re.compile(r"(?:missing required|unknown) field `([^`]+)`")


def params_error(method: str, exc: Exception) -> InvalidParams:
    """-32602 with msgspec's message and the JSON path of the offending value (for a missing or
    unknown field: the path of that key), e.g. `$.limit`, `$.clientInfo.name`."""
    detail = str(exc)
    at = _AT.search(detail)
    path = at.group(1) if at else "$"
    field = _FIELD.search(detail)
    if field:
        path = f"{path}.{field.group(1)}"
    return InvalidParams(f"Invalid params: {detail}", data={"detail": detail, "path": path, "method": method})


class _Adapter:
    """A declared Method as the transport's Handler: decode params, call, encode the result."""

    def __init__(self, method: Method, ctx: Context) -> None:
        self.method = method
        self.long_running = method.long_running
        self._ctx = ctx
        self._quick_ctx = ctx.for_request(NULL_JOB, None)  # one context for every quick call
        self._encode = msgspec.json.Encoder().encode

    def call(self, params: Any, job: Job, request_id: Any) -> bytes:
        try:
            decoded = self.method.decode_params(params)  # msgspec.Raw decodes in place, no copy
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise params_error(self.method.name, exc) from None
        ctx = self._quick_ctx if job is NULL_JOB else self._ctx.for_request(job, request_id)
        return self._encode(self.method.handler(ctx, decoded))


def map_exception(exc: BaseException):
    code = getattr(exc, "rpc_code", None)
    if code is not None:
        return code, str(exc), getattr(exc, "rpc_data", None)
    return error_for(exc)


def build_server(lake, *, limits: Limits | None = None, shared: dict | None = None) -> Server:
    limits = limits or Limits()
    ctx = Context(lake, limits=limits, shared=shared)
    handlers = {m.name: _Adapter(m, ctx) for m in METHODS}
    return Server(handlers, map_error=map_exception, max_line_bytes=limits.max_line_bytes,
                  max_reply_bytes=limits.max_reply_bytes)


def serve(lake, *, limits: Limits | None = None) -> int:
    server = build_server(lake, limits=limits)
    log.info("serving %s", lake.root)
    return serve_stdio(server)
