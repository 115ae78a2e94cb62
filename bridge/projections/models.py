"""Value types of projections (snake_case; the API layer renames them for the wire).

`ProjectionInfo` describes one built projection as its JSON sidecar records it, plus what is
known only when asked: whether this call reused the file, and whether any input has since been
superseded or tombstoned. `QueryResult` is one read-only query's answer.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "ColumnInfo",
    "Mode",
    "ProjectionInfo",
    "ProjectionInput",
    "ProjectionStaleReason",
    "QueryResult",
    "TableType",
]

Mode = Literal["table", "view"]


class ProjectionInput(msgspec.Struct, frozen=True, kw_only=True):
    """One artifact frozen into a projection table."""

    artifact_id: str
    content_hash: str


class TableType(msgspec.Struct, frozen=True, kw_only=True):
    """The artifact type every artifact of one projection table shares."""

    artifact_type: str
    schema_version: int


class ProjectionStaleReason(msgspec.Struct, frozen=True, kw_only=True):
    """Why a projection is stale: one of its inputs (`artifact_id`, in `table`) is no longer current.

    `status` is the input's own status (`superseded`, `tombstoned`, or `active` when the problem is
    further upstream, or `missing` when the manifest no longer knows it); `reason` says it in words.
    """

    table: str
    artifact_id: str
    status: str
    reason: str
    superseded_by: str | None = None
    upstream_artifact_id: str | None = None


class ProjectionInfo(msgspec.Struct, frozen=True, kw_only=True):
    projection_id: str
    duckdb_path: str
    tables: list[str]
    artifact_count: int
    row_count: dict[str, int]
    fingerprint: str
    mode: Mode
    builder_version: str
    built_at: str
    inputs: dict[str, list[ProjectionInput]]
    table_types: dict[str, TableType] = {}
    reused: bool = False
    stale: bool = False
    stale_reasons: list[ProjectionStaleReason] = []
    file_present: bool = True


class ColumnInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str  # DuckDB's type name, e.g. "TIMESTAMP WITH TIME ZONE", "DOUBLE", "VARCHAR"


class QueryResult(msgspec.Struct, frozen=True, kw_only=True):
    """A query's answer: rows inline (JSON-safe values, see docs/projections.md), or a file.

    `row_count` is the number of rows in `rows`, or written to `output_path` when a file was asked
    for. `truncated` is true when the query had more than `max_rows` rows and only the first
    `max_rows` are inline.
    """

    columns: list[ColumnInfo]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = False
    output_path: str | None = None
    output_format: str | None = None
