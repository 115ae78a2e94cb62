"""Value types of the artifact store: snake_case in Python, camelCase when encoded (rename="camel").
They are also the RPC contract's types: bridge.api.store returns them as they are, so each field is
declared once and a reply is encoded straight from the store's objects. (The CLI's --json output
goes through msgspec.structs.asdict and keeps the snake_case names.)"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "Artifact",
    "ArtifactPage",
    "GcKept",
    "GcReport",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "Provenance",
    "PublishResult",
    "Sidecar",
    "StaleArtifact",
    "StaleReason",
    "VerifyIssue",
    "VerifyReport",
]

Status = Literal["active", "superseded", "tombstoned"]


class Artifact(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """One manifest row, plus its tags and direct inputs (also the RPC contract's type, camelCase on the wire)."""

    artifact_id: str
    artifact_type: str
    schema_version: int
    logical_key: str
    status: Status
    path_parquet: str
    path_sidecar: str
    file_hash: str
    content_hash: str
    row_count: int
    created_at: str
    min_ts: str | None = None
    max_ts: str | None = None
    tags: dict[str, list[str]] = {}
    input_artifact_ids: list[str] = []
    superseded_by: str | None = None
    supersedes: str | None = None


class Sidecar(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The JSON file written beside a new artifact's Parquet (docs/store.md): the manifest row plus
    provenance, tags and inputs. On disk its keys are snake_case; on the wire, camelCase like
    every result (`params` and `tags` keep the writer's own keys)."""

    artifact_id: str
    artifact_type: str
    schema_version: int
    logical_key: str
    status: Status
    file_hash: str
    content_hash: str
    row_count: int
    path_parquet: str
    path_sidecar: str
    created_at: str
    writer_name: str
    writer_version: str
    canonical_form: str
    min_ts: str | None = None
    max_ts: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None  # null: unknown (gitSource "unknown")
    git_source: Literal["given", "detected", "unknown"] | None = None
    params: dict[str, Any] = {}
    tags: dict[str, list[str]] = {}
    input_artifact_ids: list[str] = []


class Provenance(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Who wrote an artifact and how (docs/store.md, Provenance): the writer, the git commit and
    dirty flag with where they came from, the writer's params and the canonical form. Every field
    is null (params empty) for an artifact the manifest has no provenance row for."""

    writer_name: str | None = None
    writer_version: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None  # null: unknown (gitSource "unknown")
    git_source: Literal["given", "detected", "unknown"] | None = None
    params: dict[str, Any] = {}
    canonical_form: str | None = None


class PublishResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The PRD's PublishResult: `artifact_id` is always set (the new or the existing artifact);
    `sidecar` only for a new artifact."""

    deduped: bool
    artifact_id: str
    artifact: Artifact
    mode: Literal["file_hash", "content_hash"] | None = None
    existing_artifact_id: str | None = None
    sidecar: Sidecar | None = None


class ArtifactPage(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    items: list[Artifact]
    next_cursor: str | None = None


class LineageNode(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    artifact_id: str
    artifact_type: str
    logical_key: str
    status: Status
    depth: int


class LineageEdge(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    artifact_id: str
    input_artifact_id: str


class LineageGraph(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Nodes reachable from `root` in `direction`, with their depth (1 = direct), and the edges."""

    root: str
    direction: Literal["upstream", "downstream"]
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class StaleReason(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    input_artifact_id: str
    input_status: Status
    path: list[str]  # from the stale artifact down to the superseded/tombstoned input


class StaleArtifact(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    artifact_id: str
    artifact_type: str
    logical_key: str
    reasons: list[StaleReason]


class VerifyIssue(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    kind: str  # missing_file | truncated | corrupt | file_hash_mismatch | content_hash_mismatch | ...
    detail: str
    artifact_id: str | None = None
    path: str | None = None
    affected: list[str] = []  # active artifacts made (transitively) from `artifact_id`


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    ok: bool
    checked: int
    issues: list[VerifyIssue]
    mode: Literal["quick", "full", "incremental", "deep"] = "full"
    hashed: int = 0  # files re-hashed
    since: str | None = None  # incremental: what changed at or after this instant was re-hashed


class GcKept(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """A gc candidate kept because something active depends on it."""

    artifact_id: str
    reason: str


class GcReport(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    dry_run: bool
    removed: list[str]  # artifact ids whose files are (or would be) removed
    bytes_freed: int
    kept: list[GcKept] = []
    orphan_files: list[str] = []  # unregistered files under artifacts/ (removed unless dry-run)
