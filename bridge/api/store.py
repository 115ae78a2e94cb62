"""Artifact store methods: the PRD's ArtifactStoreClient API plus tombstone, stale, verify, gc,
provenance and the type registry."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from bridge.api._method import Context, Empty, Method, Wire, to_wire
from bridge.store import models
from bridge.errors import (
    ArtifactNotFound,
    Busy,
    InvalidState,
    InvalidSupersession,
    UnknownArtifactType,
    UnknownInputArtifact,
    ValidationFailed,
)

__all__ = ["METHODS"]

# The store's own types are the wire types (camelCase, declared once in bridge.store.models).
Artifact = models.Artifact
ArtifactPage = models.ArtifactPage
LineageNode = models.LineageNode
LineageEdge = models.LineageEdge
StaleReason = models.StaleReason
StaleArtifact = models.StaleArtifact
VerifyIssue = models.VerifyIssue
VerifyReport = models.VerifyReport

Status = Literal["active", "superseded", "tombstoned"]


class GetArtifactParams(Wire):
    artifact_id: str


class ListArtifactsParams(Wire):
    artifact_type: str | None = None
    status: Status | None = None
    logical_key_prefix: str | None = None
    tags: dict[str, str] | None = None
    ts_from: str | None = None
    ts_to: str | None = None
    limit: int = 100
    cursor: str | None = None




class FindByLogicalKeyParams(Wire):
    artifact_type: str
    logical_key: str


class PublishRequest(Wire):
    """The PRD's PublishRequest. `data_frame` is inline rows (objects of column → value) or the
    path of a CSV, TSV, Parquet or Arrow IPC file readable by the daemon."""

    artifact_type: str
    schema_version: int
    logical_key: str
    data_frame: list[dict[str, Any]] | str
    writer_name: str
    writer_version: str
    tags: dict[str, str] | None = None
    input_artifact_ids: list[str] = []
    git_commit: str | None = None  # omitted: detected from the daemon's working directory, else recorded unknown
    git_dirty: bool | None = None  # omitted with gitCommit given: false
    params: dict[str, Any] | None = None
    revive: bool = False  # the data is a tombstoned artifact's: bring it back (else InvalidState)


class Sidecar(Wire):
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


class PublishResult(Wire):
    deduped: bool
    artifact_id: str
    artifact: Artifact
    mode: Literal["file_hash", "content_hash"] | None = None
    existing_artifact_id: str | None = None
    sidecar: Sidecar | None = None


class GetLineageParams(Wire):
    artifact_id: str
    direction: Literal["upstream", "downstream"] = "upstream"
    depth: int | None = None






class ArtifactLineage(Wire):
    root: str
    direction: Literal["upstream", "downstream"]
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class GetDownstreamParams(Wire):
    artifact_id: str
    depth: int | None = None


class SupersedeParams(Wire):
    new_artifact_id: str
    old_artifact_id: str


class TombstoneParams(Wire):
    artifact_id: str
    reason: str = ""


class ListStaleParams(Wire):
    artifact_ids: list[str] | None = None






class VerifyParams(Wire):
    quick: bool = False
    deep: bool = False
    incremental: bool = False
    since: str | None = None






class GcParams(Wire):
    dry_run: bool = True
    include_superseded: bool = False


class GcKept(Wire):
    artifact_id: str
    reason: str


class GcReport(Wire):
    dry_run: bool
    removed: list[str]
    bytes_freed: int
    kept: list[GcKept] = []
    orphan_files: list[str] = []


class Provenance(Wire):
    writer_name: str | None = None
    writer_version: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None  # null: unknown
    git_source: Literal["given", "detected", "unknown"] | None = None
    params: dict[str, Any] = {}
    canonical_form: str | None = None



class ColumnSpec(Wire):
    name: str
    type: Literal["string", "int64", "float64", "bool", "timestamp"]
    nullable: bool
    doc: str = ""


class ArtifactTypeSpec(Wire):
    artifact_type: str
    schema_version: int
    columns: list[ColumnSpec]
    sort_key: list[str]
    ts_column: str | None = None
    unique_key: list[str] = []
    key_columns: dict[str, str] = {}
    derived: bool = False
    doc: str = ""


# -- handlers ------------------------------------------------------------------------------------

def get_artifact(ctx: Context, p: GetArtifactParams) -> Artifact:
    return ctx.store.get(p.artifact_id)


def list_artifacts(ctx: Context, p: ListArtifactsParams) -> ArtifactPage:
    page = ctx.store.list(artifact_type=p.artifact_type, status=p.status, logical_key_prefix=p.logical_key_prefix,
                          tags=p.tags, ts_from=p.ts_from, ts_to=p.ts_to, limit=p.limit, cursor=p.cursor)
    return page


def find_by_logical_key(ctx: Context, p: FindByLogicalKeyParams) -> list[Artifact]:
    return ctx.store.find_by_logical_key(p.artifact_type, p.logical_key)


def publish_data_frame(ctx: Context, p: PublishRequest) -> PublishResult:
    data: Any = p.data_frame
    if isinstance(data, list) and len(data) > ctx.limits.max_inline_rows:
        raise ValidationFailed(
            f"{len(data)} inline rows exceed the limit of {ctx.limits.max_inline_rows}: write them to a CSV, "
            "Parquet or Arrow file and pass its path as dataFrame", field="dataFrame",
        )
    if isinstance(data, str):
        from pathlib import Path

        data = Path(data)
    res = ctx.store.publish(
        p.artifact_type, p.schema_version, p.logical_key, data, tags=p.tags, input_artifact_ids=p.input_artifact_ids,
        writer_name=p.writer_name, writer_version=p.writer_version, git_commit=p.git_commit, git_dirty=p.git_dirty,
        params=p.params, revive=p.revive, job=ctx.job,
    )
    sidecar = None
    if res.sidecar is not None:
        sidecar = msgspec.convert({_camel(k): v for k, v in res.sidecar.items()}, Sidecar)
    return PublishResult(deduped=res.deduped, artifact_id=res.artifact_id, artifact=res.artifact,
                         mode=res.mode, existing_artifact_id=res.existing_artifact_id, sidecar=sidecar)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def get_lineage(ctx: Context, p: GetLineageParams) -> ArtifactLineage:
    walk = ctx.store.upstream if p.direction == "upstream" else ctx.store.downstream
    return to_wire(walk(p.artifact_id, p.depth), ArtifactLineage)


def get_downstream(ctx: Context, p: GetDownstreamParams) -> list[Artifact]:
    graph = ctx.store.downstream(p.artifact_id, p.depth)
    return ctx.store.get_many([n.artifact_id for n in graph.nodes])


def supersede(ctx: Context, p: SupersedeParams) -> Artifact:
    return ctx.store.supersede(p.new_artifact_id, p.old_artifact_id)


def tombstone(ctx: Context, p: TombstoneParams) -> Artifact:
    return ctx.store.tombstone(p.artifact_id, p.reason)


def list_stale(ctx: Context, p: ListStaleParams) -> list[StaleArtifact]:
    return ctx.store.stale(p.artifact_ids)


def verify(ctx: Context, p: VerifyParams) -> VerifyReport:
    return ctx.store.verify(quick=p.quick, deep=p.deep, incremental=p.incremental, since=p.since, job=ctx.job)


def gc(ctx: Context, p: GcParams) -> GcReport:
    report = ctx.store.gc(dry_run=p.dry_run, include_superseded=p.include_superseded, job=ctx.job)
    return GcReport(dry_run=report.dry_run, removed=report.removed, bytes_freed=report.bytes_freed,
                    kept=[GcKept(artifact_id=k["artifact_id"], reason=k["reason"]) for k in report.kept],
                    orphan_files=report.orphan_files)


def get_provenance(ctx: Context, p: GetArtifactParams) -> Provenance:
    prov = ctx.store.provenance(p.artifact_id)
    return Provenance(**prov) if prov else Provenance()


def list_artifact_types(ctx: Context, p: Empty) -> list[ArtifactTypeSpec]:
    from bridge.store.spec import SPECS

    return [
        ArtifactTypeSpec(
            artifact_type=s.artifact_type, schema_version=s.schema_version,
            columns=[ColumnSpec(name=c.name, type=c.type, nullable=c.nullable, doc=c.doc) for c in s.columns],
            sort_key=list(s.sort_key), ts_column=s.ts_column, unique_key=list(s.unique_key),
            key_columns=dict(s.key_columns), derived=s.derived, doc=s.doc,
        )
        for s in SPECS.values()
    ]


NF = (ArtifactNotFound,)
METHODS = [
    Method("getArtifact", GetArtifactParams, Artifact, get_artifact, errors=NF,
           doc="One artifact's manifest entry, with its tags and direct inputs."),
    Method("listArtifacts", ListArtifactsParams, ArtifactPage, list_artifacts, errors=(ValidationFailed,),
           doc="Artifacts matching every filter, oldest first; pass nextCursor to page on. Time filters select "
               "artifacts whose [minTs, maxTs] overlaps [tsFrom, tsTo)."),
    Method("findByLogicalKey", FindByLogicalKeyParams, list[Artifact], find_by_logical_key,
           doc="Every artifact of a type under a logical key, newest first, any status."),
    Method("publishDataFrame", PublishRequest, PublishResult, publish_data_frame, long_running=True,
           errors=(ValidationFailed, UnknownArtifactType, UnknownInputArtifact, Busy),
           doc="Publish rows (inline, small) or a CSV/TSV/Parquet/Arrow file as an artifact. Idempotent: the same "
               "data under the same key returns the existing artifact (deduped, mode). Reports $/progress; a "
               "cancelled publish registers nothing."),
    Method("getLineage", GetLineageParams, ArtifactLineage, get_lineage, errors=NF,
           long_running=True,
           doc="Upstream (what it was made from) or downstream lineage; depth 1 = direct, omitted = transitive."),
    Method("getDownstream", GetDownstreamParams, list[Artifact], get_downstream, errors=NF,
           long_running=True,
           doc="The artifacts made from this one (transitively unless depth is given)."),
    Method("supersede", SupersedeParams, Artifact, supersede, errors=(ArtifactNotFound, InvalidSupersession),
           long_running=True,
           doc="Mark oldArtifactId superseded by newArtifactId (same type; idempotent). Returns the old artifact."),
    Method("tombstone", TombstoneParams, Artifact, tombstone, errors=NF,
           long_running=True,
           doc="Mark an artifact tombstoned (idempotent); gc removes its files once nothing active needs them."),
    Method("listStale", ListStaleParams, list[StaleArtifact], list_stale,
           long_running=True,
           doc="Active artifacts with a superseded or tombstoned input anywhere upstream, with the path to it."),
    Method("verify", VerifyParams, VerifyReport, verify, long_running=True,
           doc="Check the lake against its manifest: quick (existence, size, mode; no file read), full (default: "
               "re-hash every file's bytes, check sidecars, re-hash the content of a file whose bytes changed), "
               "incremental or since (full for what was published or modified since the last clean full verify, "
               "or since the given instant), deep (full plus every artifact's content re-hashed). Reports missing, "
               "truncated, unreadable, corrupt and orphan files, dangling lineage, derived artifacts without inputs."),
    Method("gc", GcParams, GcReport, gc, long_running=True, errors=(InvalidState,),
           doc="Remove files of tombstoned (optionally superseded) artifacts nothing active depends on. Dry run "
               "unless dryRun is false."),
    Method("getProvenance", GetArtifactParams, Provenance, get_provenance, errors=NF,
           doc="Writer name/version, git commit/dirty, params and canonical form of an artifact."),
    Method("listArtifactTypes", Empty, list[ArtifactTypeSpec], list_artifact_types,
           doc="The artifact type registry: columns, sort key, unique key, key columns, derived."),
]
