"""How an RPC method is declared: once, with its name, params type, result type, errors and doc.

Everything else comes from these declarations: the decoder of each method's params (built once,
at registration), the JSON Schemas and OpenRPC document in schemas/ (scripts/gen_contract.py),
the TypeScript types (ts-client/scripts/gen-types.mjs), and the dispatcher's method table.

    class GetArtifactParams(Wire):
        artifact_id: str                       # "artifactId" on the wire

    def get_artifact(ctx: Context, params: GetArtifactParams) -> Artifact:
        return ctx.store.get(params.artifact_id)

    METHODS = [Method("getArtifact", GetArtifactParams, Artifact, get_artifact,
                      errors=(ArtifactNotFound,), doc="One artifact's manifest entry.")]

Handlers are thin: params in, one domain call, the domain's object out. A result type is the
domain's own msgspec Struct (`rename="camel"`: snake_case in Python, camelCase when encoded),
declared once and encoded as it is; a `Wire` struct here is for params and for the few results
that exist nowhere else. Long work is declared
`long_running=True`: it runs on the worker pool, reports through `ctx.job.progress(...)` and
stops at `ctx.job.check()` when the caller sends `$/cancelRequest`. Nothing here imports
pyarrow, DuckDB, pandas or chDB: handlers import the domain when they run.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from bridge.progress import NULL_JOB, Job

__all__ = ["DEFAULT_LIMITS", "Context", "Empty", "Limits", "Method", "Wire"]


class Wire(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every wire type: snake_case in Python, camelCase on the wire, unknown keys refused."""


class Empty(Wire):
    """Params of a method that takes none."""


# Also `initialize`'s `limits` (camelCase on the wire). A Struct, not a dataclass: `dataclasses`
# costs the cold start. Every field is required, so the contract says each is always sent;
# `Limits.default(...)` gives the daemon's defaults with some changed.
class Limits(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The daemon's limits: request line size, inline publish rows, inline query rows and bytes
    (JSON), and the largest reply it sends (a bigger one is replaced by an error)."""

    max_line_bytes: int
    max_inline_rows: int
    max_result_rows: int
    max_result_bytes: int  # inline query rows as JSON (bridge.projections MAX_INLINE_BYTES)
    max_reply_bytes: int  # any reply frame; the transport answers a bigger one with an error

    @classmethod
    def default(cls, **changes: int) -> "Limits":
        """The daemon's defaults, with `changes` applied: `Limits.default(max_line_bytes=1 << 20)`."""
        return msgspec.structs.replace(DEFAULT_LIMITS, **changes) if changes else DEFAULT_LIMITS


DEFAULT_LIMITS = Limits(max_line_bytes=64 * 1024 * 1024, max_inline_rows=100_000, max_result_rows=10_000,
                        max_result_bytes=32 * 1024 * 1024, max_reply_bytes=128 * 1024 * 1024)


class Context:
    """What a handler may use: the lake, a shared lazily-opened Store, this request's Job,
    limits, and a per-daemon `state` dict for caches (e.g. an open projection registry).
    Quick (not long-running) calls share one context (job NULL_JOB, request_id None)."""

    def __init__(self, lake, *, limits: Limits | None = None, shared: dict | None = None,
                 job: Job = NULL_JOB, request_id: Any = None) -> None:
        self._lake = lake
        self.limits = limits or DEFAULT_LIMITS
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

    @functools.cached_property
    def store(self):  # an attribute of this context once asked (the Store itself is shared)
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


class Method:
    """One method's declaration (a plain class, not a dataclass: `dataclasses` costs the daemon's
    cold start, and every declaring module builds dozens of these)."""

    __slots__ = ("name", "params", "result", "handler", "errors", "doc", "long_running", "__dict__")

    def __init__(self, name: str, params: type, result: Any, handler: Callable[[Context, Any], Any],
                 errors: tuple[type[BaseException], ...] = (), doc: str = "", long_running: bool = False) -> None:
        self.name, self.params, self.result, self.handler = name, params, result, handler
        self.errors, self.doc, self.long_running = tuple(errors), doc, long_running

    def __repr__(self) -> str:
        return f"Method({self.name!r}, long_running={self.long_running})"

    @functools.cached_property
    def decoder(self) -> msgspec.json.Decoder:
        """Built on the method's first call: building every method's at import would cost the
        daemon's cold start more than the rest of its imports."""
        return msgspec.json.Decoder(self.params)

    def decode_params(self, raw: bytes | None) -> Any:
        """Raises msgspec.ValidationError / DecodeError (the dispatcher maps them to -32602)."""
        return self.decoder.decode(raw if raw is not None else b"{}")

