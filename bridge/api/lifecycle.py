"""initialize and shutdown (the `exit` notification is handled by the transport).

Calls before `initialize` are allowed (a person piping JSON lines in needs no handshake);
`initialize` is how a client checks the protocol version and learns the lake paths and limits.
After `shutdown`, requests other than `exit` are refused with code 11.
"""

from __future__ import annotations

from typing import Any

import bridge
from bridge.api._method import Context, Empty, Limits, Method, Wire
from bridge.errors import InvalidState, ValidationFailed

__all__ = ["METHODS", "ClientInfo", "InitializeParams", "InitializeResult", "UnsupportedProtocolVersion"]


class UnsupportedProtocolVersion(Exception):
    rpc_code = 10

    def __init__(self, requested: str, supported: tuple[str, ...]) -> None:
        super().__init__(f"protocol version {requested!r} is not supported; this daemon speaks {', '.join(supported)}")
        self.rpc_data = {"type": "UnsupportedProtocolVersion", "requested": requested, "supported": list(supported)}


class ClientInfo(Wire):
    name: str
    version: str | None = None


class LakeOptions(Wire):
    """The lake to serve, when the client names it at the handshake (docs/team.md). Unset fields
    come from the daemon's flags, its environment and the lake folder's lake.toml."""

    root: str | None = None
    """Local lake folder (cache, staging; the default manifest and artifacts)."""
    manifest: str | None = None
    """sqlite:///path or postgresql://user@host/db (no password here: use PGPASSWORD or ~/.pgpass)."""
    artifacts: str | None = None
    """A local folder or s3://bucket/prefix (credentials: the standard AWS variables or profile)."""
    s3_endpoint: str | None = None
    """http(s)://host:port of a non-AWS S3 server."""
    s3_region: str | None = None


class InitializeParams(Wire):
    protocol_version: str
    client_info: ClientInfo | None = None
    lake: LakeOptions | None = None


class ServerInfo(Wire):
    name: str
    version: str


class Capabilities(Wire):
    methods: list[str]
    batches: bool = True
    cancellation: bool = True
    progress: bool = True


class LakePaths(Wire):
    root: str
    manifest_db: str | None
    """The SQLite manifest file (null for a PostgreSQL manifest)."""
    artifacts: str
    """The local artifacts folder (of a local artifact store)."""
    cache: str
    staging: str
    manifest: str | None = None
    """The manifest URL, password removed."""
    artifact_store: str | None = None
    """The artifact store: a local folder or s3://bucket/prefix."""


class InitializeResult(Wire):
    protocol_version: str
    server_info: ServerInfo
    capabilities: Capabilities
    lake: LakePaths
    limits: Limits



def initialize(ctx: Context, params: InitializeParams) -> InitializeResult:
    from bridge.api import INDEX, PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS

    if params.protocol_version not in SUPPORTED_PROTOCOL_VERSIONS:
        raise UnsupportedProtocolVersion(params.protocol_version, SUPPORTED_PROTOCOL_VERSIONS)
    ctx.state["client_info"] = params.client_info
    if params.lake is not None:
        from bridge.store.lake import Lake

        o = params.lake
        ctx.set_lake(Lake(o.root or ctx.lake.root, manifest=o.manifest, artifacts=o.artifacts,
                          s3_endpoint=o.s3_endpoint, s3_region=o.s3_region))
    lake = ctx.lake
    return InitializeResult(
        protocol_version=PROTOCOL_VERSION,
        server_info=ServerInfo(name="quantbot-bridge", version=bridge.__version__),
        capabilities=Capabilities(methods=sorted(INDEX)),
        lake=LakePaths(root=str(lake.root), manifest_db=str(lake.manifest_db) if lake.manifest_db else None,
                       artifacts=str(lake.artifacts), cache=str(lake.cache), staging=str(lake.staging),
                       manifest=lake.manifest_display, artifact_store=lake.artifacts_url),
        limits=ctx.limits,
    )


def shutdown(ctx: Context, params: Empty) -> Any:
    ctx.state["shutting_down"] = True
    return None


METHODS = [
    Method("initialize", InitializeParams, InitializeResult, initialize, errors=(UnsupportedProtocolVersion, InvalidState, ValidationFailed),
           doc="Handshake: protocol version, server info, capabilities (the method list), lake paths, limits. "
               "`lake` names the lake to serve (manifest and artifact store URLs) before any other call."),
    Method("shutdown", Empty, None, shutdown,
           doc="Stop accepting requests; the client then sends the `exit` notification (or closes stdin)."),
]
