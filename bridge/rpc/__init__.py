"""JSON-RPC 2.0 over newline-delimited stdio. Transport only: framing, envelopes, dispatch to
handler objects, cancellation, progress, lifecycle. Knows nothing about artifacts."""

from bridge.rpc.errors import InternalError, InvalidParams, InvalidRequest, MethodNotFound, ParseError, RpcError
from bridge.rpc.server import Handler, Server
from bridge.rpc.stdio import claim_stdin, claim_stdout, exit_with_parent, serve_stdio

__all__ = ["Handler", "InternalError", "InvalidParams", "InvalidRequest", "MethodNotFound", "ParseError", "RpcError",
           "Server", "claim_stdin", "claim_stdout", "exit_with_parent", "serve_stdio"]
