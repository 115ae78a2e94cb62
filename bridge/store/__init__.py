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

from bridge._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
