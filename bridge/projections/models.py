"""Value types of projections: snake_case in Python, camelCase when encoded (rename="camel").
They are also the RPC contract's types: bridge.api.projections returns them as they are, so each
field is declared once and a reply is encoded straight from these objects. (The CLI's --json
output goes through msgspec.structs.asdict and keeps the snake_case names.)

`ProjectionResult` (the PRD's name) describes one built projection as its JSON sidecar records it, plus what is
known only when asked: whether this call reused the file, and whether any input has since been
superseded or tombstoned. `QueryResult` is one read-only query's answer.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "ColumnInfo",
    "Mode",
    "ProjectionInput",
    "ProjectionResult",
    "ProjectionStaleReason",
    "QueryResult",
    "TableType",
]

Mode = Literal["table", "view"]


class ProjectionInput(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """One artifact frozen into a projection table."""

    artifact_id: str
    content_hash: str


class TableType(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The artifact type every artifact of one projection table shares."""

    artifact_type: str
    schema_version: int


class ProjectionStaleReason(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Why a projection is stale: one of its inputs (in `table`) is no longer current.

    `status` is the input's own status (`superseded`, `tombstoned`, or `active` when the problem is
    further upstream, or `missing` when the manifest no longer knows it); `reason` says it in words.
    """

    table: str
    artifact_id: str
    status: str
    reason: str
    superseded_by: str | None = None
    upstream_artifact_id: str | None = None


class ProjectionResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The PRD's ProjectionResult plus identity, reuse and staleness."""

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


class ColumnInfo(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    name: str
    type: str  # DuckDB's type name, e.g. "TIMESTAMP WITH TIME ZONE", "DOUBLE", "VARCHAR"


class QueryResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """A query's answer: rows inline (JSON-safe values, see docs/projections.md), or a file.

    The row count is the number of rows inline, or of rows written to the output file when one was
    asked for. `truncated` is true when the query had more rows than the row limit and only the
    first rows up to it are inline.
    """

    columns: list[ColumnInfo]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = False
    output_path: str | None = None
    output_format: str | None = None
