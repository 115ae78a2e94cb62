"""Writing projection files: the only code in the bridge that opens a DuckDB file for writing.

A build writes a fresh DuckDB file at a temporary path chosen by the caller (never the final
one): one table (mode "table") or view (mode "view") per logical table, plus two metadata
tables, `_projection_meta` (key, value) and `_projection_inputs` (one row per input artifact).
The caller moves the finished file into place.

Row order. An artifact's rows are already in its type's canonical order (the store sorts on
publish and the content hash covers the order), so a table made of one artifact is copied in
file order. A table made of several artifacts is sorted by the spec's sort key, then by every
other column (artifacts may overlap on the sort key, and only a total order is deterministic),
ascending with NULLs last, as the store sorts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.errors import Cancelled, IntegrityError
from bridge.progress import NULL_JOB, Job
from bridge.store.models import Artifact
from bridge.store.spec import ArtifactSpec

if TYPE_CHECKING:
    import duckdb

__all__ = ["META_TABLES", "TablePlan", "build_file", "interrupt_on_cancel", "order_by", "quote_ident", "select_list"]

log = logging.getLogger(__name__)

META_TABLES = ("_projection_meta", "_projection_inputs")


@dataclass(frozen=True)
class TablePlan:
    """One logical table: its name, the artifacts' spec, and the artifacts (sorted by id).

    `from_base` names the artifacts already in the same table of the base file (extend): those
    rows are copied from there instead of being read from Parquet again.
    """

    name: str
    spec: ArtifactSpec
    artifacts: tuple[Artifact, ...]
    from_base: frozenset[str] = frozenset()

    @property
    def new_artifacts(self) -> tuple[Artifact, ...]:
        return tuple(a for a in self.artifacts if a.artifact_id not in self.from_base)

    @property
    def row_count(self) -> int:
        return sum(a.row_count for a in self.artifacts)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def select_list(spec: ArtifactSpec) -> str:
    return ", ".join(quote_ident(c) for c in spec.column_names)


def order_by(spec: ArtifactSpec) -> str:
    """The spec's sort key, then a tie-break among rows equal on it (artifacts may overlap):
    every other column when there are few, else one hash of them (a narrower sort key: DuckDB's
    sort memory grows with key width; rows that tie on the hash are identical but for 2^-64)."""
    rest = [c for c in spec.column_names if c not in spec.sort_key]
    keys = [f"{quote_ident(c)} ASC NULLS LAST" for c in spec.sort_key]
    if len(rest) <= 2:
        keys += [f"{quote_ident(c)} ASC NULLS LAST" for c in rest]
    elif rest:
        keys.append(f"hash({', '.join(quote_ident(c) for c in rest)}) ASC")
    return ", ".join(keys)


def _parquet_source(spec: ArtifactSpec, artifacts: Sequence[Artifact]) -> str:
    files = ", ".join(_quote_str(a.path_parquet) for a in artifacts)
    return f"SELECT {select_list(spec)} FROM read_parquet([{files}])"


def table_sql(plan: TablePlan, mode: str) -> str:
    """The CREATE statement for one table; the base file is attached as `base` when needed."""
    name = quote_ident(plan.name)
    sources = []
    if plan.from_base:
        sources.append(f"SELECT {select_list(plan.spec)} FROM base.{name}")
    if plan.new_artifacts:
        sources.append(_parquet_source(plan.spec, plan.new_artifacts))
    body = " UNION ALL ".join(sources)
    if len(plan.artifacts) > 1:
        body = f"SELECT * FROM ({body}) ORDER BY {order_by(plan.spec)}"
    kind = "VIEW" if mode == "view" else "TABLE"
    return f"CREATE {kind} {name} AS {body}"


def build_file(path: Path, plans: Sequence[TablePlan], mode: str, meta: dict[str, Any], *,
               base: Path | None = None, job: Job = NULL_JOB) -> dict[str, int]:
    """Write a projection file at `path` (which must not exist); return the row count per table.

    Raises:
        Cancelled: the job was cancelled (the partial file is left for the caller to remove).
        IntegrityError: a table's row count disagrees with the manifest's row counts.
    """
    import duckdb

    total = len(plans) + 1
    con = duckdb.connect(str(path))
    try:
        with interrupt_on_cancel(con, job):
            if base is not None and any(p.from_base for p in plans):
                con.execute(f"ATTACH {_quote_str(str(base))} AS base (READ_ONLY)")
            counts = {}
            for i, plan in enumerate(plans):
                job.progress(i, total, f"table {plan.name}")
                con.execute(table_sql(plan, mode))
                counts[plan.name] = _count(con, plan, mode)
            if base is not None and any(p.from_base for p in plans):
                con.execute("DETACH base")
            job.progress(len(plans), total, "metadata")
            _write_meta(con, plans, meta, counts)
            con.execute("CHECKPOINT")
    except duckdb.InterruptException as exc:
        raise Cancelled() from exc
    finally:
        con.close()
    job.progress(total, total, "built", force=True)
    return counts


def _count(con: "duckdb.DuckDBPyConnection", plan: TablePlan, mode: str) -> int:
    expected = plan.row_count
    if mode == "view":
        return expected  # counting would scan the files on every build; the manifest has the counts
    got = con.execute(f"SELECT count(*) FROM {quote_ident(plan.name)}").fetchone()[0]
    if got != expected:
        raise IntegrityError(
            f"projection table {plan.name!r} has {got} rows but its artifacts hold {expected} per the manifest; "
            "run `bridge verify`",
            table=plan.name, rows=got, expected=expected,
        )
    return int(got)


def _write_meta(con: "duckdb.DuckDBPyConnection", plans: Sequence[TablePlan], meta: dict[str, Any],
                counts: dict[str, int]) -> None:
    rows = [(k, v if isinstance(v, str) else json.dumps(v, sort_keys=True)) for k, v in sorted(meta.items())]
    con.execute("CREATE TABLE _projection_meta (key VARCHAR NOT NULL, value VARCHAR NOT NULL)")
    _insert(con, "_projection_meta", rows)
    con.execute(
        "CREATE TABLE _projection_inputs (table_name VARCHAR NOT NULL, artifact_id VARCHAR NOT NULL, "
        "content_hash VARCHAR NOT NULL, artifact_type VARCHAR NOT NULL, schema_version INTEGER NOT NULL, "
        "row_count BIGINT NOT NULL)"
    )
    _insert(con, "_projection_inputs", [(p.name, a.artifact_id, a.content_hash, a.artifact_type, a.schema_version,
                                         a.row_count) for p in plans for a in p.artifacts])
    log.debug("projection tables %s", counts)


def _insert(con: "duckdb.DuckDBPyConnection", table: str, rows: Sequence[tuple]) -> None:
    """One multi-row INSERT (executemany costs a round of planning per row)."""
    if not rows:
        return
    width = len(rows[0])
    marks = ", ".join("(" + ", ".join("?" * width) + ")" for _ in rows)
    con.execute(f"INSERT INTO {table} VALUES {marks}", [v for r in rows for v in r])


@contextlib.contextmanager
def interrupt_on_cancel(con: "duckdb.DuckDBPyConnection", job: Job) -> Iterator[None]:
    """Interrupt the running statement as soon as the job is cancelled (polled every 50 ms), and
    every statement after it until the block ends: DuckDB drops an interrupt that arrives while no
    statement runs (before the first starts, between two), so a cancelled job interrupts again at
    every poll. Clean-up statements inside the block are interrupted too once the job is cancelled
    (a DROP of temporary tables fails, logged): a caller closes the connection after a cancel."""
    if job is NULL_JOB:
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            if job.cancelled:
                con.interrupt()

    watcher = threading.Thread(target=watch, name="projection-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
