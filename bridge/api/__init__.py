"""The contract: every RPC method, declared once (see _method.py), collected in METHODS.

Each area declares its methods in its own module with a module-level `METHODS` list. This
package imports no heavy library: handlers load the domain when they run.
"""

from __future__ import annotations

import importlib

from bridge.api._method import Context, Limits, Method, Wire, to_wire

__all__ = ["METHODS", "PROTOCOL_VERSION", "SUPPORTED_PROTOCOL_VERSIONS", "Context", "Limits", "Method", "Wire",
           "method_table", "to_wire"]

PROTOCOL_VERSION = "1.0"
SUPPORTED_PROTOCOL_VERSIONS = ("1.0",)

_MODULES = (
    "bridge.api.lifecycle",
    "bridge.api.store",
    "bridge.api.projections",
    "bridge.api.ingest",
    "bridge.api.ohlcv",
    "bridge.api.experiments",
    "bridge.api.strategies",
    "bridge.api.ui",
)


def _collect() -> list[Method]:
    out: list[Method] = []
    for name in _MODULES:
        module = importlib.import_module(name)
        out.extend(module.METHODS)
    names = [m.name for m in out]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"RPC methods declared twice: {sorted(dupes)}")
    return out


METHODS: list[Method] = _collect()


def method_table() -> dict[str, Method]:
    return {m.name: m for m in METHODS}
