"""The artifact store: immutable, content-addressed Parquet artifacts in a lake, registered in
a SQLite manifest with tags, lineage and supersession (PRD "artifact_store", DESIGN.md §3).

    from bridge.store import Store
    store = Store("./lake")
    res = store.publish("ohlcv_slice", 2, "token=ABC/res=1m/from=.../to=...", "candles.csv",
                        writer_name="me", writer_version="1")
"""

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

__all__ = [
    "LAKE_ENV",
    "Artifact",
    "ArtifactPage",
    "GcReport",
    "Lake",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "PublishResult",
    "StaleArtifact",
    "StaleReason",
    "Store",
    "VerifyIssue",
    "VerifyReport",
    "artifact_id_for",
]
