"""The contract: every RPC method, declared once (see _method.py), collected in METHODS.

Each area declares its methods in its own module with a module-level `METHODS` list. Importing
this package imports none of them: `METHODS` (every declaration) loads them all on first use
(the contract generator, tests), while the daemon looks a method up in `_index.INDEX` (method
name → declaring module, generated from the declarations by scripts/gen_contract.py and checked
for drift) and imports that module when the method is first called. So `initialize` answers
without loading the store, the experiments or any heavy library.
"""

from __future__ import annotations

import importlib
from typing import Any

from bridge.api._index import INDEX
from bridge.api._method import Context, Limits, Method, Wire

__all__ = ["INDEX", "METHODS", "MODULES", "PROTOCOL_VERSION", "SUPPORTED_PROTOCOL_VERSIONS", "Context", "Limits",
           "Method", "Wire", "declaring_modules", "method", "method_table"]

PROTOCOL_VERSION = "1.0"
SUPPORTED_PROTOCOL_VERSIONS = ("1.0",)

# The modules that declare methods, in contract order.
MODULES = (
    "bridge.api.lifecycle",
    "bridge.api.store",
    "bridge.api.projections",
    "bridge.api.ingest",
    "bridge.api.ohlcv",
    "bridge.api.experiments",
    "bridge.api.strategies",
    "bridge.api.ui",
)


def _declarations() -> dict[str, tuple[str, Method]]:
    """{method name: (the module declaring it, its declaration)}, in contract order (imports every
    module); a name declared twice is an error."""
    out: dict[str, tuple[str, Method]] = {}
    for module in MODULES:
        for m in importlib.import_module(module).METHODS:
            if m.name in out:
                raise RuntimeError(f"RPC method {m.name!r} declared twice: in {out[m.name][0]} and {module}")
            out[m.name] = (module, m)
    return out


def declaring_modules() -> dict[str, str]:
    """{method name: the module declaring it}, in contract order, from the declarations themselves
    (imports every module). scripts/gen_contract.py writes it to _index.py."""
    return {name: module for name, (module, _) in _declarations().items()}


def method(name: str) -> Method | None:
    """One method's declaration, importing only its module; None if no such method."""
    module = INDEX.get(name)
    if module is None:
        return None
    return next((m for m in importlib.import_module(module).METHODS if m.name == name), None)


def method_table() -> dict[str, Method]:
    return {m.name: m for m in __getattr__("METHODS")}


def __getattr__(name: str) -> Any:
    if name == "METHODS":  # every declaration, loaded on first use and kept
        methods = [m for _, m in _declarations().values()]
        globals()["METHODS"] = methods
        return methods
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
