"""Artifact store methods: the PRD's ArtifactStoreClient API plus tombstone, stale, verify, gc,
provenance and the type registry."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from bridge.api._method import Context, Empty, Method, Wire
from bridge.store import models
from bridge.store.spec import ArtifactTypeSpec
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

# The store's own types are the wire types (camelCase, declared once in bridge.store.models): the
# handlers return the store's objects and the daemon encodes them as they are.
Artifact = models.Artifact
ArtifactPage = models.ArtifactPage
LineageNode = models.LineageNode
LineageEdge = models.LineageEdge
StaleReason = models.StaleReason
StaleArtifact = models.StaleArtifact
VerifyIssue = models.VerifyIssue
VerifyReport = models.VerifyReport
Sidecar = models.Sidecar
PublishResult = models.PublishResult
GcKept = models.GcKept
GcReport = models.GcReport
Provenance = models.Provenance


# The contract's name for the store's LineageGraph: no field of its own, and the handler returns
# the LineageGraph itself (the subclass only names the schema, as clients already know it).
class ArtifactLineage(models.LineageGraph):
    """Nodes reachable from `root` in `direction`, with their depth (1 = direct), and the edges."""

Status = models.Status


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


class GetLineageParams(Wire):
    artifact_id: str
    direction: Literal["upstream", "downstream"] = "upstream"
    depth: int | None = None






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






# -- handlers ------------------------------------------------------------------------------------

def get_artifact(ctx: Context, p: GetArtifactParams) -> Artifact:
    # The Artifact's JSON, encoded once per manifest change and kept as a msgspec.Raw
    # (Store.get_json): the reply carries it as it is, the same bytes an encode would give.
    return ctx.store.get_json(p.artifact_id)  # type: ignore[return-value]


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
    return ctx.store.publish(
        p.artifact_type, p.schema_version, p.logical_key, data, tags=p.tags, input_artifact_ids=p.input_artifact_ids,
        writer_name=p.writer_name, writer_version=p.writer_version, git_commit=p.git_commit, git_dirty=p.git_dirty,
        params=p.params, revive=p.revive, job=ctx.job,
    )


def get_lineage(ctx: Context, p: GetLineageParams) -> models.LineageGraph:
    walk = ctx.store.upstream if p.direction == "upstream" else ctx.store.downstream
    return walk(p.artifact_id, p.depth)


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
    return ctx.store.gc(dry_run=p.dry_run, include_superseded=p.include_superseded, job=ctx.job)


def get_provenance(ctx: Context, p: GetArtifactParams) -> Provenance:
    return ctx.store.provenance(p.artifact_id)


def list_artifact_types(ctx: Context, p: Empty) -> list[ArtifactTypeSpec]:
    from bridge.store.spec import SPECS

    return list(SPECS.values())


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
           doc="The artifact type registry: columns, sort key, unique key, key columns, row rules, derived, quarantine."),
]
