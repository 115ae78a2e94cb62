"""Projection methods on the wire: buildProjection, rebuildProjection, extendProjection,
disposeProjection, listProjections, getProjection, query.

The result types are bridge.projections.models' own Structs (camelCase on the wire, declared
once): handlers turn params into a domain call and return the domain's answer as it is. Nothing
heavy is imported at module import time (pyarrow/duckdb load inside the domain's calls).

buildProjection takes the generic form `tables: {name: [artifactId, ...]}` and, for the PRD's
request shape, `artifacts: {alerts: [...], ohlcv: [...]}` with `tables: {alerts: "name", ...}`
renaming those keys (a key without a rename keeps its own name).

buildProjection, rebuildProjection and extendProjection are long-running (progress per table,
cancel through `ctx.job`, nothing visible until the build commits); query honours cancel too.
DECLARATIONS name each method once; METHODS turns them into bridge.api._method.Method objects

"""

from __future__ import annotations

from typing import Any, Literal

from bridge.api._method import Method, Wire
from bridge.errors import (
    ArtifactNotFound,
    Busy,
    Cancelled,
    IntegrityError,
    InvalidInput,
    ProjectionNotFound,
    ReadOnlyViolation,
    UnknownArtifactType,
)
from bridge.projections.models import (
    ColumnInfo,
    ProjectionInput,
    ProjectionResult,
    ProjectionStaleReason,
    QueryResult,
    TableType,
)

__all__ = [
    "DECLARATIONS",
    "METHODS",
    "BuildProjectionParams",
    "ColumnInfo",
    "DisposeProjectionParams",
    "DisposeProjectionResult",
    "ExtendProjectionParams",
    "GetProjectionParams",
    "ListProjectionsParams",
    "ListProjectionsResult",
    "ProjectionInput",
    "ProjectionResult",
    "ProjectionStaleReason",
    "QueryOutput",
    "QueryParams",
    "QueryResult",
    "RebuildProjectionParams",
    "TableType",
    "build_projection",
    "dispose_projection",
    "extend_projection",
    "get_projection",
    "list_projections",
    "query",
    "rebuild_projection",
    "resolve_tables",
]

JsonScalar = str | int | float | bool | None




# -- params ------------------------------------------------------------------------------------

class BuildProjectionParams(Wire):
    """Table name → artifact ids (any artifact types; one type per table)."""

    tables: dict[str, list[str] | str] = {}
    artifacts: dict[str, list[str]] = {}  # the PRD's form: {alerts: [...], ohlcv: [...]}, renamed by tables
    projection_id: str | None = None
    mode: Literal["table", "view"] = "table"


class RebuildProjectionParams(Wire):
    projection_id: str


class ExtendProjectionParams(Wire):
    projection_id: str
    tables: dict[str, list[str]]


class DisposeProjectionParams(Wire):
    projection_id: str


class GetProjectionParams(Wire):
    projection_id: str


class ListProjectionsParams(Wire):
    pass


class QueryOutput(Wire):
    """Write the whole result to a file instead of returning rows. `path`: a file in
    <lake>/cache/exports/ or outside the lake (default: a new file in <lake>/cache/exports/);
    an existing file is replaced only with `overwrite: true`."""

    format: Literal["parquet", "arrow", "csv"] = "parquet"
    path: str | None = None
    overwrite: bool = False


class QueryParams(Wire):
    projection_id: str
    sql: str
    params: list[JsonScalar] | dict[str, JsonScalar] | None = None
    max_rows: int = 10_000
    output: QueryOutput | None = None


# -- results ---------------------------------------------------------------------------------

class DisposeProjectionResult(Wire):
    projection_id: str
    disposed: bool = True


class ListProjectionsResult(Wire):
    projections: list[ProjectionResult]


# -- handlers ----------------------------------------------------------------------------------

def resolve_tables(params: BuildProjectionParams) -> dict[str, list[str]]:
    """The generic and the PRD forms → {table name: artifact ids}.

    Raises:
        InvalidInput: a rename names a key absent from `artifacts`, or nothing to build.
    """
    out: dict[str, list[str]] = {}
    renamed = set()
    for name, value in params.tables.items():
        if isinstance(value, str):
            if name not in params.artifacts:
                raise InvalidInput(f"tables.{name} renames artifacts.{name}, which is not given",
                                   field=f"tables.{name}")
            out.setdefault(value, []).extend(params.artifacts[name])
            renamed.add(name)
        else:
            out.setdefault(name, []).extend(value)
    for key, ids in params.artifacts.items():
        if key not in renamed:
            out.setdefault(key, []).extend(ids)
    if not out:
        raise InvalidInput("nothing to build: give tables {name: [artifactId, ...]}", field="tables")
    return out


def _projections(ctx):
    from bridge.projections import Projections

    return Projections(ctx.store)


def _job(ctx):
    from bridge.progress import NULL_JOB

    return getattr(ctx, "job", None) or NULL_JOB


def build_projection(ctx, params: BuildProjectionParams) -> ProjectionResult:
    return _projections(ctx).build(resolve_tables(params), projection_id=params.projection_id, mode=params.mode,
                                   job=_job(ctx))


def rebuild_projection(ctx, params: RebuildProjectionParams) -> ProjectionResult:
    return _projections(ctx).rebuild(params.projection_id, job=_job(ctx))


def extend_projection(ctx, params: ExtendProjectionParams) -> ProjectionResult:
    return _projections(ctx).extend(params.projection_id, params.tables, job=_job(ctx))


def dispose_projection(ctx, params: DisposeProjectionParams) -> DisposeProjectionResult:
    _projections(ctx).dispose(params.projection_id)
    return DisposeProjectionResult(projection_id=params.projection_id)


def get_projection(ctx, params: GetProjectionParams) -> ProjectionResult:
    return _projections(ctx).get(params.projection_id)


def list_projections(ctx, params: ListProjectionsParams) -> ListProjectionsResult:
    return ListProjectionsResult(projections=_projections(ctx).list())


def query(ctx, params: QueryParams) -> QueryResult:
    limits = getattr(ctx, "limits", None)
    if limits is not None and params.output is None and params.max_rows > limits.max_result_rows:
        raise InvalidInput(
            f"maxRows {params.max_rows} exceeds the daemon's limit of {limits.max_result_rows} inline rows; "
            "pass output {path, format} to write the whole result to a file",
            field="maxRows", value=params.max_rows, limit=limits.max_result_rows,
        )
    output = None if params.output is None else {"path": params.output.path, "format": params.output.format,
                                                 "overwrite": params.output.overwrite}
    max_bytes = {} if limits is None else {"max_bytes": limits.max_result_bytes}
    return _projections(ctx).query(params.projection_id, params.sql, params=params.params, max_rows=params.max_rows,
                                   output=output, job=_job(ctx), **max_bytes)


# -- declarations ------------------------------------------------------------------------------

_BUILD_ERRORS = (InvalidInput, ArtifactNotFound, UnknownArtifactType, IntegrityError, Busy, Cancelled)

DECLARATIONS: list[dict[str, Any]] = [
    dict(name="buildProjection", params=BuildProjectionParams, result=ProjectionResult, errors=_BUILD_ERRORS,
         handler=build_projection, long_running=True,
         doc="Build a DuckDB projection of artifacts (table name → artifact ids; mode table or view), rows in "
             "canonical order; the same inputs reuse the existing file without rebuilding (reused: true)."),
    dict(name="rebuildProjection", params=RebuildProjectionParams, result=ProjectionResult,
         errors=(ProjectionNotFound, *_BUILD_ERRORS), handler=rebuild_projection, long_running=True,
         doc="Build a projection again from its recorded inputs, discarding the file."),
    dict(name="extendProjection", params=ExtendProjectionParams, result=ProjectionResult,
         errors=(ProjectionNotFound, *_BUILD_ERRORS), handler=extend_projection, long_running=True,
         doc="Add artifacts to a projection's tables (or add tables); untouched tables are copied, not rebuilt. "
             "The result equals a fresh build of all inputs."),
    dict(name="disposeProjection", params=DisposeProjectionParams, result=DisposeProjectionResult,
         errors=(ProjectionNotFound,), handler=dispose_projection, long_running=True,
         doc="Delete a projection and its files (the artifacts are untouched)."),
    dict(name="listProjections", params=ListProjectionsParams, result=ListProjectionsResult, errors=(),
         handler=list_projections, long_running=True,
         doc="Every projection with its inputs, row counts and a stale flag with reasons (an input superseded, "
             "tombstoned, or stale upstream)."),
    dict(name="getProjection", params=GetProjectionParams, result=ProjectionResult, errors=(ProjectionNotFound,),
         handler=get_projection, long_running=True, doc="One projection: inputs, row counts, staleness."),
    dict(name="query", params=QueryParams, result=QueryResult,
         errors=(ReadOnlyViolation, InvalidInput, ProjectionNotFound, IntegrityError, Cancelled),
         handler=query, long_running=True,
         doc="Run one read-only SQL statement on a projection (opened read-only, external access off). Writes, "
             "settings and reads outside the projection raise ReadOnlyViolation. Rows inline up to maxRows "
             "(truncated flag, column types, JSON-safe values) and up to limits.maxResultBytes of JSON (more is "
             "InvalidInput: use output), or the whole result written to a Parquet/Arrow/CSV file (in "
             "<lake>/cache/exports/ or outside the lake; an existing file only with overwrite) whose path is "
             "returned."),
]


METHODS = [Method(**d) for d in DECLARATIONS]
