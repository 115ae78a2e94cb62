"""The artifact store: immutable, content-addressed Parquet artifacts in a lake, registered in
a SQLite manifest with tags, lineage and supersession (PRD "artifact_store", DESIGN.md §3).

    from bridge.store import Store
    store = Store("./lake")
    res = store.publish("ohlcv_slice", 2, "token=ABC/res=1m/from=.../to=...", "candles.csv",
                        writer_name="me", writer_version="1")

The names below load on first use (PEP 562), so `from bridge.store.lake import Lake` or
`bridge.store.models` do not import the store itself (the daemon's cold start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.store.lake import LAKE_ENV, Lake
    from bridge.store.models import (
        Artifact,
        ArtifactPage,
        GcReport,
        LineageEdge,
        LineageGraph,
        LineageNode,
        PublishResult,
        StaleArtifact,
        StaleReason,
        VerifyIssue,
        VerifyReport,
    )
    from bridge.store.store import Store, artifact_id_for

_WHERE = {
    "LAKE_ENV": "bridge.store.lake",
    "Lake": "bridge.store.lake",
    "Store": "bridge.store.store",
    "artifact_id_for": "bridge.store.store",
    **{name: "bridge.store.models" for name in (
        "Artifact", "ArtifactPage", "GcReport", "LineageEdge", "LineageGraph", "LineageNode", "PublishResult",
        "StaleArtifact", "StaleReason", "VerifyIssue", "VerifyReport")},
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
