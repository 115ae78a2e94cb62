"""JSON-RPC 2.0 wire errors. Each carries its code as a class attribute (pygls style)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "InternalError",
    "InvalidParams",
    "InvalidRequest",
    "MethodNotFound",
    "ParseError",
    "RequestCancelled",
    "RpcError",
]


class RpcError(Exception):
    CODE = -32603
    MESSAGE = "Internal error"

    def __init__(self, message: str | None = None, data: Any = None) -> None:
        super().__init__(message or self.MESSAGE)
        self.message = message or self.MESSAGE
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.CODE, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


class ParseError(RpcError):
    CODE = -32700
    MESSAGE = "Parse error"


class InvalidRequest(RpcError):
    CODE = -32600
    MESSAGE = "Invalid Request"


class MethodNotFound(RpcError):
    CODE = -32601
    MESSAGE = "Method not found"


class InvalidParams(RpcError):
    CODE = -32602
    MESSAGE = "Invalid params"


class InternalError(RpcError):
    CODE = -32603
    MESSAGE = "Internal error"


class RequestCancelled(RpcError):
    CODE = -32800
    MESSAGE = "Request cancelled"
