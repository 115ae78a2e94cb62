"""How an RPC method is declared: once, with its name, params type, result type, errors and doc.

Everything else comes from these declarations: the decoder of each method's params (built once,
at registration), the JSON Schemas and OpenRPC document in schemas/ (scripts/gen_contract.py),
the TypeScript types (ts-client/scripts/gen-types.mjs), and the dispatcher's method table.

    class GetArtifactParams(Wire):
        artifact_id: str                       # "artifactId" on the wire

    def get_artifact(ctx: Context, params: GetArtifactParams) -> ArtifactWire:
        return to_wire(ctx.store.get(params.artifact_id), ArtifactWire)

    METHODS = [Method("getArtifact", GetArtifactParams, ArtifactWire, get_artifact,
                      errors=(ArtifactNotFound,), doc="One artifact's manifest entry.")]

Handlers are thin: params in, one domain call, wire type out. Long work is declared
`long_running=True`: it runs on the worker pool, reports through `ctx.job.progress(...)` and
stops at `ctx.job.check()` when the caller sends `$/cancelRequest`. Nothing here imports
pyarrow, DuckDB, pandas or chDB: handlers import the domain when they run.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from bridge.progress import NULL_JOB, Job

__all__ = ["Context", "Empty", "Limits", "Method", "Wire", "to_wire"]


class Wire(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every wire type: snake_case in Python, camelCase on the wire, unknown keys refused."""


class Empty(Wire):
    """Params of a method that takes none."""


@dataclass(frozen=True)
class Limits:
    max_line_bytes: int = 64 * 1024 * 1024
    max_inline_rows: int = 100_000
    max_result_rows: int = 10_000
    max_result_bytes: int = 32 * 1024 * 1024  # inline query rows as JSON (bridge.projections MAX_INLINE_BYTES)
    max_reply_bytes: int = 128 * 1024 * 1024  # any reply frame; the transport answers a bigger one with an error


class Context:
    """What a handler may use: the lake, a shared lazily-opened Store, this request's Job,
    limits, and a per-daemon `state` dict for caches (e.g. an open projection registry).
    Quick (not long-running) calls share one context (job NULL_JOB, request_id None)."""

    def __init__(self, lake, *, limits: Limits | None = None, shared: dict | None = None,
                 job: Job = NULL_JOB, request_id: Any = None) -> None:
        self._lake = lake
        self.limits = limits or Limits()
        self.state: dict = shared if shared is not None else {}
        self.job = job
        self.request_id = request_id
        self.state.setdefault("_lock", threading.Lock())

    @property
    def lake(self):
        """The daemon's lake: the one it was started with, or the one `initialize` named."""
        return self.state.get("lake") or self._lake

    def set_lake(self, lake) -> None:
        """Serve another lake (from `initialize`'s options), before the store is opened.

        Raises:
            InvalidState: the store is already open on a different lake.
        """
        from bridge.errors import InvalidState

        with self.state["_lock"]:
            store = self.state.get("store")
            same = lambda a, b: (a.root, a.manifest_url, a.artifacts_url, a.s3_endpoint) == (  # noqa: E731
                b.root, b.manifest_url, b.artifacts_url, b.s3_endpoint)
            if store is not None and not same(store.lake, lake):
                raise InvalidState("this daemon already serves another lake; name the lake before any other call "
                                   "(or start another daemon)", lake=str(store.lake.root))
            self.state["lake"] = lake

    @property
    def store(self):
        store = self.state.get("store")
        if store is None:
            with self.state["_lock"]:
                store = self.state.get("store")
                if store is None:
                    from bridge.store import Store

                    store = Store(self.lake)
                    self.state["store"] = store
        return store

    def for_request(self, job: Job, request_id: Any) -> "Context":
        return Context(self._lake, limits=self.limits, shared=self.state, job=job, request_id=request_id)


@dataclass(frozen=True)
class Method:
    name: str
    params: type
    result: Any
    handler: Callable[[Context, Any], Any]
    errors: tuple[type[BaseException], ...] = ()
    doc: str = ""
    long_running: bool = False

    @functools.cached_property
    def decoder(self) -> msgspec.json.Decoder:
        """Built on the method's first call: building every method's at import would cost the
        daemon's cold start more than the rest of its imports."""
        return msgspec.json.Decoder(self.params)

    def decode_params(self, raw: bytes | None) -> Any:
        """Raises msgspec.ValidationError / DecodeError (the dispatcher maps them to -32602)."""
        return self.decoder.decode(raw if raw is not None else b"{}")


def to_wire(obj: Any, wire_type: Any) -> Any:
    """A domain value (msgspec Struct, dataclass, any object with the fields as attributes,
    nested) as the given wire type; attributes the wire type lacks are left out. A dict must
    already use the wire's camelCase keys."""
    return msgspec.convert(obj, wire_type, from_attributes=True)
