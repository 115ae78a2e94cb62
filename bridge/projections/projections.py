"""Projections: disposable DuckDB files built from frozen sets of artifacts (DESIGN.md §6).

Layout, all under `<lake>/cache/projections/` (deleting it loses nothing: each projection's
record is also kept in the manifest's `projection_definitions`, so `list` still shows it, without
a file, and `rebuild`/`build` make the file again):

    <projection_id>/projection.json          the sidecar: inputs, fingerprint, mode, file name, ...
    <projection_id>/<fp[:16]>-<nonce>.duckdb the built file (a new name for every build)
    <projection_id>/.tmp-<pid>-<nonce>.duckdb a build in progress (never reachable)
    .locks/<projection_id>.lock              serialises builds of one projection (flock)

The sidecar is the commit point: a build writes a temporary file, moves it to a fresh name, then
atomically replaces the sidecar that names it, then removes the previous file. A crash at any
point leaves either the old projection or the new one reachable, never a half-built file, and the
debris is swept by the next build. A fresh file name per build also keeps DuckDB's per-process
instance cache from serving an old file's contents under a reused name.

Identity: the fingerprint is SHA-256 over the builder version, the mode, and each table's sorted
(artifact_id, content_hash) pairs. Building the same inputs again reads only the sidecar and the
manifest (no DuckDB) and reuses the file; another input set under the same id rebuilds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

import msgspec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.errors import (
    ArtifactNotFound,
    Cancelled,
    IntegrityError,
    InvalidInput,
    ProjectionNotFound,
    ReadOnlyViolation,
)
from bridge.proc import crashpoint, holdpoint
from bridge.progress import NULL_JOB, Job
from bridge.projections.models import (
    ColumnInfo,
    ProjectionResult,
    ProjectionInput,
    ProjectionStaleReason,
    QueryResult,
    TableType,
)
from bridge.store.files import fsync_dir, fsync_file
from bridge.store.models import Artifact
from bridge.store.spec import get_spec
from bridge.store.timeutil import now_iso

if TYPE_CHECKING:
    import duckdb

    from bridge.projections.builder import TablePlan
    from bridge.projections.results import OutputTarget
    from bridge.store import Store

__all__ = ["BUILDER_VERSION", "MODES", "Projections", "fingerprint"]

log = logging.getLogger(__name__)

BUILDER_VERSION = "qb-projection-1"
SIDECAR_FORMAT = "qb-projection-sidecar-v1"
SIDECAR = "projection.json"
MODES = ("table", "view")
MAX_ROWS_LIMIT = 1_000_000
MAX_INLINE_BYTES = 32 << 20  # inline query rows, as JSON; more goes to a file (output)
_INLINE_BATCH = 2048  # smaller batches for inline rows: a result of wide rows stops early at the byte cap
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_RESERVED_PREFIX = "_projection"
_BATCH = 8192
_INTERRUPTED = "Query interrupted"  # DuckDB's RuntimeError when a SIGINT reaches a running query
_QUOTED_PATH = re.compile(r'file "([^"]+)"')


def fingerprint(tables: Mapping[str, Sequence[tuple[str, str]]], mode: str,
                builder_version: str = BUILDER_VERSION) -> str:
    """SHA-256 of the builder version, the mode and each table's sorted (artifact_id, content_hash)."""
    body = {
        "builder_version": builder_version,
        "mode": mode,
        "tables": {name: sorted([list(p) for p in pairs]) for name, pairs in sorted(tables.items())},
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Projections:
    """Build, reuse, extend, list, dispose and query the projections of one lake."""

    def __init__(self, store: "Store") -> None:
        self.store = store
        self.root = store.lake.cache / "projections"

    # -- build and lifecycle -------------------------------------------------------------------

    def build(self, tables: Mapping[str, Sequence[str]], *, projection_id: str | None = None,
              mode: str = "table", job: Job = NULL_JOB) -> ProjectionResult:
        """Build a projection of `tables` (name → artifact ids), or reuse it if already built.

        Raises:
            InvalidInput: a bad table name, projection id or mode, an empty table, or artifacts
                of different types in one table.
            ArtifactNotFound: an artifact id is not in the manifest.
            IntegrityError: an input's Parquet file is missing.
            Cancelled: the job was cancelled (nothing changed).
        """
        _check_mode(mode)
        plans = self._plan(tables)
        fp = _fingerprint_plans(plans, mode)
        pid = _check_id(projection_id) if projection_id is not None else f"proj-{fp[:16]}"
        with self._lock(pid):
            record = self._read(pid)
            if record is not None and self._reusable(record, fp):
                log.debug("projection %s reused (fingerprint %s)", pid, fp[:16])
                if self._definition(pid) is None:  # built before the manifest kept definitions
                    self._keep_definition(record)
                return self._info(record, reused=True)
            if record is not None:
                log.info("projection %s: inputs changed, rebuilding", pid)
            return self._info(self._commit(pid, plans, mode, fp, job=job))

    def rebuild(self, projection_id: str, *, job: Job = NULL_JOB) -> ProjectionResult:
        """Build the projection again from its recorded inputs, discarding the file.

        Raises:
            ProjectionNotFound: no such projection.
            ArtifactNotFound: an input is no longer in the manifest.
        """
        with self._lock(_check_id(projection_id)):
            record = self._require(projection_id)
            plans = self._plan(_recorded_ids(record))
            fp = _fingerprint_plans(plans, record["mode"])
            return self._info(self._commit(projection_id, plans, record["mode"], fp, job=job))

    def extend(self, projection_id: str, tables: Mapping[str, Sequence[str]], *,
               job: Job = NULL_JOB) -> ProjectionResult:
        """Add artifacts to tables (or add tables); other tables are copied, not rebuilt.

        In table mode the tables that gain artifacts are re-sorted from their current rows plus
        the new files; the result is identical to a fresh build of the whole input set.

        Raises:
            ProjectionNotFound: no such projection.
            InvalidInput, ArtifactNotFound, IntegrityError: as for build.
        """
        with self._lock(_check_id(projection_id)):
            record = self._require(projection_id)
            current = _recorded_ids(record)
            merged = {t: sorted(set(current.get(t, ())) | set(_ids(tables.get(t, ()), t)))
                      for t in {*current, *_table_names(tables)}}
            plans = self._plan(merged)
            mode = record["mode"]
            fp = _fingerprint_plans(plans, mode)
            if self._reusable(record, fp):
                return self._info(record, reused=True)
            base = self._file(projection_id, record)
            if mode == "table" and base.exists() and record.get("lake_root") == str(self.store.lake.root):
                plans = [replace(p, from_base=frozenset(current.get(p.name, ()))) for p in plans]
            else:
                base = None
            return self._info(self._commit(projection_id, plans, mode, fp, base=base, job=job))

    def dispose(self, projection_id: str) -> None:
        """Remove a projection and its files.

        Raises:
            ProjectionNotFound: no such projection.
        """
        with self._lock(_check_id(projection_id)):
            folder = self.root / projection_id
            known = self._definition(projection_id) is not None
            if not folder.is_dir() and not known:
                raise ProjectionNotFound(projection_id)
            self._forget_definition(projection_id)
            if not folder.is_dir():
                return
            trash = self.root / f".trash-{projection_id}-{uuid.uuid4().hex[:8]}"
            os.replace(folder, trash)  # atomic: the projection is gone at once
            shutil.rmtree(trash, ignore_errors=True)
            log.info("projection %s disposed", projection_id)

    # -- reading -------------------------------------------------------------------------------

    def get(self, projection_id: str) -> ProjectionResult:
        """Raises:
        ProjectionNotFound: no such projection.
        """
        return self._info(self._require(_check_id(projection_id)))

    def list(self) -> list[ProjectionResult]:
        """Every projection, by id, each with its stale flag and reasons; one whose cache folder
        was deleted is listed from the manifest with `file_present` false."""
        ids: set[str] = set(self._definitions())
        if self.root.is_dir():
            ids |= {f.name for f in self.root.iterdir() if not f.name.startswith(".") and f.is_dir()}
        out = []
        for pid in sorted(ids):
            record = self._read(pid)
            if record is not None:
                out.append(self._info(record))
        return out

    def connect_readonly(self, projection_id: str) -> "duckdb.DuckDBPyConnection":
        """A sandboxed read-only connection (see sandbox.py): the caller closes it.

        Raises:
            ProjectionNotFound: no such projection.
            IntegrityError: its DuckDB file is gone (rebuild it), or a view-mode projection was
                built in another lake location.
        """
        import duckdb

        from bridge.projections.sandbox import open_readonly

        _check_id(projection_id)
        for attempt in range(3):  # a concurrent rebuild may remove the file between the two reads
            record = self._require(projection_id)
            path = self._file(projection_id, record)
            allowed = self._allowed_paths(projection_id, record)
            if not path.exists():
                continue
            try:
                return open_readonly(path, allowed)
            except duckdb.IOException:
                if path.exists():
                    raise
        raise IntegrityError(
            f"projection {projection_id!r} has no DuckDB file (the cache was cleared?); "
            f"rebuild it with `bridge project rebuild {projection_id}`",
            projection_id=projection_id, path=str(path),
        )

    def query(self, projection_id: str, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None,
              max_rows: int = 10_000, output: Mapping[str, Any] | None = None, *,
              max_bytes: int = MAX_INLINE_BYTES, job: Job = NULL_JOB) -> QueryResult:
        """Run one read-only statement; rows inline (at most `max_rows`) or written to a file.

        `output` = {"path": optional file path (default: a new file in <lake>/cache/exports/; else
        a path in that folder or outside the lake), "format": "parquet" | "arrow" | "csv",
        "overwrite": replace an existing file (default false)}: the whole result goes to the
        file, written beside it and renamed into place.

        Inline rows are also capped by size: more than `max_bytes` of JSON (default 32 MiB) is
        refused with InvalidInput (field "output") rather than built in memory and sent.

        Raises:
            ReadOnlyViolation: the statement writes, changes settings, or reads outside the projection.
            InvalidInput: the SQL does not parse or fails to bind/run, bad max_rows/params/output, or
                the inline rows exceed `max_bytes` as JSON.
            ProjectionNotFound: no such projection.
            Cancelled: the job was cancelled.
        """
        from bridge.projections.sandbox import check_read_only

        job.check()
        _check_max_rows(max_rows)
        bound = _check_params(params)
        check_read_only(sql)
        target = self._output_target(projection_id, output) if output is not None else None
        con = self.connect_readonly(projection_id)
        try:
            return self._run(con, projection_id, sql, bound, (max_rows, max_bytes), target, job)
        finally:
            con.close()

    # -- internals: planning -------------------------------------------------------------------

    def _plan(self, tables: Mapping[str, Sequence[str]]) -> list["TablePlan"]:
        from bridge.projections.builder import TablePlan

        names = _table_names(tables)
        wanted = {name: sorted(set(_ids(tables[name], name))) for name in names}
        all_ids = sorted({i for ids in wanted.values() for i in ids})
        found = {a.artifact_id: a for a in self.store.get_many(all_ids)}
        plans = []
        for name in names:
            arts = tuple(found[i] for i in wanted[name])
            plans.append(TablePlan(name=name, spec=_table_spec(name, arts), artifacts=arts))
        return plans

    def _localise(self, plans: Sequence["TablePlan"]) -> list["TablePlan"]:
        """Artifacts in a bucket are read through a verified local copy in the lake's cache
        (Arrow's S3 file system fetches it; DuckDB then reads local files, as for a local lake)."""
        import dataclasses

        import msgspec

        if not self.store.files.remote:
            return list(plans)
        out = []
        for p in plans:
            arts = []
            for a in p.artifacts:
                if a.artifact_id in p.from_base:
                    arts.append(a)
                    continue
                try:
                    local = self.store.local_parquet(a)
                except OSError:
                    local = Path(a.path_parquet)  # gone from the bucket: _check_files names it
                arts.append(msgspec.structs.replace(a, path_parquet=str(local)))
            out.append(dataclasses.replace(p, artifacts=tuple(arts)))
        return out

    def _reusable(self, record: dict, fp: str) -> bool:
        if record.get("fingerprint") != fp or record.get("builder_version") != BUILDER_VERSION:
            return False
        if record.get("mode") == "view" and record.get("lake_root") != str(self.store.lake.root):
            return False  # views name absolute Parquet paths of the lake they were built in
        return self._file(record["projection_id"], record).exists()

    # -- internals: files ----------------------------------------------------------------------

    def _commit(self, pid: str, plans: Sequence["TablePlan"], mode: str, fp: str, *,
                base: Path | None = None, job: Job = NULL_JOB) -> dict:
        from bridge.projections.builder import build_file

        plans = self._localise(plans)
        _check_files(plans)
        folder = self.root / pid
        folder.mkdir(parents=True, exist_ok=True)
        _sweep(folder, keep=None)
        nonce = uuid.uuid4().hex[:8]
        tmp = folder / f".tmp-{os.getpid()}-{nonce}.duckdb"
        final = folder / f"{fp[:16]}-{nonce}.duckdb"
        record = self._new_record(pid, plans, mode, fp, final.name)
        meta = {k: record[k] for k in ("projection_id", "fingerprint", "mode", "builder_version", "built_at")}
        meta["sidecar"] = record
        try:
            counts = build_file(tmp, plans, mode, meta, base=base, job=job)
            job.check()
            fsync_file(tmp)
            crashpoint("projection_before_replace")
            os.replace(tmp, final)
            crashpoint("projection_before_sidecar")
            for table, n in counts.items():
                record["tables"][table]["row_count"] = n
            self._keep_definition(record)
            _write_json_atomic(folder / SIDECAR, record)
        except BaseException:
            _remove_db(tmp)
            if final.exists() and (self._read(pid) or {}).get("duckdb_file") != final.name:
                _remove_db(final)
            raise
        _sweep(folder, keep=final.name)
        log.info("projection %s built (%s, %d tables, %s rows)", pid, mode, len(plans),
                 sum(p.row_count for p in plans))
        return record

    def _new_record(self, pid: str, plans: Sequence["TablePlan"], mode: str, fp: str, file_name: str) -> dict:
        return {
            "format": SIDECAR_FORMAT,
            "projection_id": pid,
            "fingerprint": fp,
            "mode": mode,
            "builder_version": BUILDER_VERSION,
            "built_at": now_iso(),
            "duckdb_file": file_name,
            "lake_root": str(self.store.lake.root),
            "tables": {
                p.name: {
                    "artifact_type": p.spec.artifact_type,
                    "schema_version": p.spec.schema_version,
                    "row_count": p.row_count,
                    "inputs": [{"artifact_id": a.artifact_id, "content_hash": a.content_hash,
                                "row_count": a.row_count, "path_parquet": a.path_parquet} for a in p.artifacts],
                }
                for p in plans
            },
        }

    # -- internals: definitions kept in the manifest --------------------------------------------

    def _keep_definition(self, record: dict) -> None:
        from bridge.store import manifest

        con = self.store.connect()
        with manifest.write_txn(con):
            con.execute("INSERT INTO projection_definitions VALUES (?, ?, ?) ON CONFLICT (projection_id)"
                        " DO UPDATE SET record_json = excluded.record_json, updated_at = excluded.updated_at",
                        (record["projection_id"], json.dumps(record, sort_keys=True), now_iso()))

    def _forget_definition(self, pid: str) -> None:
        from bridge.store import manifest

        con = self.store.connect()
        with manifest.write_txn(con):
            con.execute("DELETE FROM projection_definitions WHERE projection_id = ?", (pid,))

    def _definition(self, pid: str) -> dict | None:
        r = self.store.connect().execute(
            "SELECT record_json FROM projection_definitions WHERE projection_id = ?", (pid,)).fetchone()
        if r is None:
            return None
        record = json.loads(r[0])
        return record if isinstance(record, dict) and record.get("format") == SIDECAR_FORMAT else None

    def _definitions(self) -> list[str]:
        return [r[0] for r in self.store.connect().execute("SELECT projection_id FROM projection_definitions")]

    def _read(self, pid: str) -> dict | None:
        """The projection's record: its sidecar in cache/, else (cache deleted) the manifest's copy."""
        path = self.root / pid / SIDECAR
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self._definition(pid)
        try:
            record = json.loads(text)
        except ValueError:
            log.warning("unreadable projection sidecar %s: ignoring it", path)
            return None
        if not isinstance(record, dict) or record.get("format") != SIDECAR_FORMAT:
            log.warning("projection sidecar %s has an unknown format: ignoring it", path)
            return None
        return record

    def _require(self, pid: str) -> dict:
        record = self._read(pid)
        if record is None:
            raise ProjectionNotFound(pid)
        return record

    def _file(self, pid: str, record: dict) -> Path:
        return self.root / pid / record["duckdb_file"]

    def _allowed_paths(self, pid: str, record: dict) -> list[Path]:
        if record["mode"] != "view":
            return []
        if record.get("lake_root") != str(self.store.lake.root):
            raise IntegrityError(
                f"view projection {pid!r} was built in another lake location ({record.get('lake_root')}); "
                f"rebuild it with `bridge project rebuild {pid}`",
                projection_id=pid,
            )
        return [Path(i["path_parquet"]) for t in record["tables"].values() for i in t["inputs"]]

    @contextlib.contextmanager
    def _lock(self, pid: str) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{pid}.lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- internals: info and staleness ---------------------------------------------------------

    def _info(self, record: dict, *, reused: bool = False) -> ProjectionResult:
        pid = record["projection_id"]
        tables = sorted(record["tables"])
        reasons = self._stale_reasons(record)
        path = self._file(pid, record)
        return ProjectionResult(
            projection_id=pid,
            duckdb_path=str(path),
            tables=tables,
            artifact_count=sum(len(record["tables"][t]["inputs"]) for t in tables),
            row_count={t: int(record["tables"][t]["row_count"]) for t in tables},
            fingerprint=record["fingerprint"],
            mode=record["mode"],
            builder_version=record["builder_version"],
            built_at=record["built_at"],
            inputs={t: [ProjectionInput(artifact_id=i["artifact_id"], content_hash=i["content_hash"])
                        for i in record["tables"][t]["inputs"]] for t in tables},
            table_types={t: TableType(artifact_type=record["tables"][t]["artifact_type"],
                                      schema_version=int(record["tables"][t]["schema_version"])) for t in tables},
            reused=reused,
            stale=bool(reasons),
            stale_reasons=reasons,
            file_present=path.exists(),
        )

    def _stale_reasons(self, record: dict) -> list[ProjectionStaleReason]:
        where: dict[str, list[str]] = {}
        for table, t in sorted(record["tables"].items()):
            for i in t["inputs"]:
                where.setdefault(i["artifact_id"], []).append(table)
        found = {a.artifact_id: a for a in self._load(list(where))}
        reasons = []
        for aid, tables in where.items():
            reason = _own_reason(aid, found.get(aid))
            if reason is not None:
                reasons.extend(msgspec.structs.replace(reason, table=t) for t in tables)
        active = [aid for aid in where if aid in found and found[aid].status == "active"]
        for stale in self.store.stale(active) if active else []:
            for r in stale.reasons:
                text = (f"upstream input {r.input_artifact_id} is {r.input_status} "
                        f"(lineage {' > '.join(r.path)})")
                reasons.extend(ProjectionStaleReason(table=t, artifact_id=stale.artifact_id, status="active",
                                                     reason=text, upstream_artifact_id=r.input_artifact_id)
                               for t in where[stale.artifact_id])
        return sorted(reasons, key=lambda r: (r.table, r.artifact_id, r.upstream_artifact_id or ""))

    def _load(self, ids: list[str]) -> list[Artifact]:
        try:
            return self.store.get_many(ids)
        except ArtifactNotFound:
            out = []
            for i in ids:
                with contextlib.suppress(ArtifactNotFound):
                    out.append(self.store.get(i))
            return out

    # -- internals: queries --------------------------------------------------------------------

    def exports_dir(self) -> Path:
        """`<lake>/cache/exports/`: the one folder inside the lake that query output may write to."""
        return self.store.lake.cache / "exports"

    def _output_target(self, pid: str, output: Mapping[str, Any]) -> "OutputTarget":
        """Where query output goes: the exports folder (default) or a path outside the lake; never
        over an existing file unless `overwrite`, never over the lake's own files.

        Raises:
            InvalidInput: bad format, a path inside the lake but outside the exports folder (or the
                manifest database wherever it is), a directory, or an existing file without overwrite.
        """
        from bridge.projections.results import FORMATS, OutputTarget

        if not isinstance(output, Mapping):
            raise InvalidInput("output must be an object {path?, format, overwrite?}", field="output")
        fmt = output.get("format") or "parquet"
        if fmt not in FORMATS:
            raise InvalidInput(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}",
                               field="output.format", value=fmt)
        overwrite = output.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise InvalidInput("output.overwrite must be true or false", field="output.overwrite")
        exports = self.exports_dir()
        raw = output.get("path")
        if not raw:
            return OutputTarget(exports / f"{pid}-{uuid.uuid4().hex[:12]}{FORMATS[fmt]}", fmt, overwrite=False)
        path = Path(str(raw)).expanduser().resolve()
        lake = self.store.lake
        if path.is_relative_to(lake.root) and not path.is_relative_to(exports):
            raise InvalidInput(
                f"output path {path} is inside the lake but not in its exports folder {exports}: the lake's own "
                "files (artifacts, manifest, projections) are never written by a query; write to a path outside "
                f"the lake, or into {exports}",
                field="output.path", value=str(path), exports_dir=str(exports),
            )
        manifest = lake.manifest_db.resolve()
        if path in (manifest, manifest.with_name(manifest.name + "-wal"), manifest.with_name(manifest.name + "-shm"),
                    manifest.with_name(manifest.name + "-journal")):
            raise InvalidInput(f"output path {path} is the lake's manifest database; choose another path",
                               field="output.path", value=str(path))
        if path.is_dir():
            raise InvalidInput(f"output path {path} is a directory; name a file", field="output.path", value=str(path))
        if path.exists() and not overwrite:
            raise InvalidInput(
                f"output file {path} already exists; choose another path, or pass overwrite (CLI: --overwrite) "
                "to replace it",
                field="output.path", value=str(path),
            )
        return OutputTarget(path, fmt, overwrite=overwrite)

    def _run(self, con: "duckdb.DuckDBPyConnection", pid: str, sql: str, params: Any, cap: tuple[int, int],
             target: "OutputTarget | None", job: Job) -> QueryResult:
        import duckdb

        from bridge.projections.builder import interrupt_on_cancel
        from bridge.projections.results import write_batches

        try:
            with interrupt_on_cancel(con, job):
                holdpoint("projection_query")  # the tests: the statement runs next
                rel = con.sql(sql, params=params)
                if rel is None:
                    return QueryResult(columns=[], rows=[], row_count=0)
                columns = [ColumnInfo(name=n, type=str(t)) for n, t in zip(rel.columns, rel.types)]
                reader = rel.to_arrow_reader(_BATCH if target is not None else _INLINE_BATCH)
                if target is not None:
                    n = write_batches(reader, target.path, target.fmt, overwrite=target.overwrite)
                    return QueryResult(columns=columns, rows=[], row_count=n,
                                       output_path=str(target.path), output_format=target.fmt)
                rows, truncated = _take(reader, *cap)
                return QueryResult(columns=columns, rows=rows, row_count=len(rows), truncated=truncated)
        except RuntimeError as exc:
            if _INTERRUPTED in str(exc):  # DuckDB saw SIGINT (Ctrl-C) in this thread: it is one
                raise KeyboardInterrupt from exc
            raise
        except duckdb.Error as exc:
            if isinstance(exc, duckdb.PermissionException):
                self._raise_if_inputs_missing(pid, exc)
            raise _map_error(exc, pid, job) from exc

    def _raise_if_inputs_missing(self, pid: str, exc: Exception) -> None:
        """A view over a Parquet file that is gone fails as a sandbox refusal (DuckDB then looks for
        `<file>/**/*.parquet`, outside the allowed paths): report it as the integrity problem it is."""
        record = self._read(pid)
        if record is None or record.get("mode") != "view":
            return
        missing = [(i["artifact_id"], i["path_parquet"]) for t in record["tables"].values() for i in t["inputs"]
                   if not Path(i["path_parquet"]).is_file()]
        if not missing:
            return
        named = _QUOTED_PATH.search(str(exc))
        hit = [m for m in missing if named is None or named.group(1) == m[1] or named.group(1).startswith(m[1] + "/")]
        if not hit:
            return
        aid, path = hit[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise IntegrityError(
            f"view projection {pid!r} reads artifact {aid}, whose Parquet file is missing ({path}){more}; "
            "run `bridge verify` to see what the lake lost",
            projection_id=pid, artifact_id=aid, path=path, missing=[m[0] for m in missing],
        ) from exc


# -- helpers ---------------------------------------------------------------------------------

def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise InvalidInput(f"unknown projection mode {mode!r}; use 'table' or 'view'", field="mode", value=mode)


def _check_id(pid: Any) -> str:
    if not isinstance(pid, str) or not _ID_RE.match(pid):
        raise InvalidInput(
            f"bad projection id {pid!r}: use 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit",
            field="projection_id", value=pid if isinstance(pid, str) else repr(pid),
        )
    return pid


def _table_names(tables: Any) -> list[str]:
    if not isinstance(tables, Mapping) or not tables:
        raise InvalidInput("tables must map at least one table name to artifact ids", field="tables")
    seen: dict[str, str] = {}
    for name in tables:
        if not isinstance(name, str) or not _TABLE_RE.match(name):
            raise InvalidInput(
                f"bad table name {name!r}: use a SQL identifier (letters, digits and '_', not starting with a digit, "
                "at most 63 characters)",
                field="tables", table=name if isinstance(name, str) else repr(name),
            )
        if name.lower().startswith(_RESERVED_PREFIX):
            raise InvalidInput(f"table name {name!r} is reserved (names starting with {_RESERVED_PREFIX!r} hold "
                               "projection metadata)", field="tables", table=name)
        if name.lower() in seen:
            raise InvalidInput(f"table names {seen[name.lower()]!r} and {name!r} differ only in case; SQL "
                               "identifiers are case-insensitive", field="tables", table=name)
        seen[name.lower()] = name
    return sorted(tables)


def _ids(ids: Any, table: str) -> list[str]:
    if isinstance(ids, str) or not isinstance(ids, Sequence) or not all(isinstance(i, str) for i in ids):
        raise InvalidInput(f"table {table!r}: expected a list of artifact ids", field=f"tables.{table}")
    return list(ids)


def _table_spec(name: str, arts: Sequence[Artifact]):
    if not arts:
        raise InvalidInput(f"table {name!r} has no artifacts; give at least one artifact id",
                           field=f"tables.{name}", table=name)
    first = arts[0]
    for a in arts[1:]:
        if (a.artifact_type, a.schema_version) != (first.artifact_type, first.schema_version):
            raise InvalidInput(
                f"table {name!r} mixes artifact types: {first.artifact_id} is {first.artifact_type} "
                f"v{first.schema_version} but {a.artifact_id} is {a.artifact_type} v{a.schema_version}; "
                "put each type in its own table",
                field=f"tables.{name}", table=name,
            )
    return get_spec(first.artifact_type, first.schema_version)


def _check_files(plans: Sequence["TablePlan"]) -> None:
    """Every Parquet file the build will read exists (rows copied from a base file need none)."""
    for plan in plans:
        for a in plan.new_artifacts:
            if not Path(a.path_parquet).is_file():
                raise IntegrityError(
                    f"artifact {a.artifact_id}'s Parquet file is missing ({a.path_parquet}); run `bridge verify`",
                    artifact_id=a.artifact_id, path=a.path_parquet,
                )


def _fingerprint_plans(plans: Sequence["TablePlan"], mode: str) -> str:
    return fingerprint({p.name: [(a.artifact_id, a.content_hash) for a in p.artifacts] for p in plans}, mode)


def _recorded_ids(record: dict) -> dict[str, list[str]]:
    return {t: [i["artifact_id"] for i in v["inputs"]] for t, v in record["tables"].items()}


def _own_reason(aid: str, art: Artifact | None) -> ProjectionStaleReason | None:
    if art is None:
        return ProjectionStaleReason(table="", artifact_id=aid, status="missing",
                                     reason=f"input {aid} is no longer in the manifest")
    if art.status == "superseded":
        by = f" by {art.superseded_by}" if art.superseded_by else ""
        return ProjectionStaleReason(table="", artifact_id=aid, status="superseded",
                                     reason=f"input {aid} was superseded{by}", superseded_by=art.superseded_by)
    if art.status == "tombstoned":
        return ProjectionStaleReason(table="", artifact_id=aid, status="tombstoned", reason=f"input {aid} was tombstoned")
    return None


def _check_max_rows(max_rows: Any) -> None:
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or not 0 <= max_rows <= MAX_ROWS_LIMIT:
        raise InvalidInput(f"max_rows must be an integer from 0 to {MAX_ROWS_LIMIT:,}; for more rows pass output "
                           "to write the result to a file", field="max_rows", value=repr(max_rows))


def _check_params(params: Any) -> Any:
    if params is None:
        return None
    if isinstance(params, Mapping):
        return dict(params)
    if isinstance(params, (list, tuple)):
        return list(params)
    raise InvalidInput("params must be a list (for ? and $1) or an object (for $name)", field="params")


def _take(reader, max_rows: int, max_bytes: int) -> tuple[list[list[Any]], bool]:
    """The first `max_rows` rows as JSON-safe lists, and whether there were more.

    Raises:
        InvalidInput: the rows come to more than `max_bytes` of JSON (counted batch by batch, so a
            huge result stops early instead of being built whole).
    """
    import pyarrow as pa

    from bridge.projections.results import json_rows

    rows: list[list[Any]] = []
    size = 0
    while len(rows) <= max_rows:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        part = json_rows(pa.Table.from_batches([batch]).slice(0, max_rows + 1 - len(rows)))
        size += len(msgspec.json.encode(part[: max_rows - len(rows)]))
        if size > max_bytes:
            raise InvalidInput(
                f"the result is too large to return inline: more than {_mib(max_bytes)} of JSON after "
                f"{len(rows) + len(part):,} rows; pass output {{path, format}} to write it to a file "
                "(CLI: --output FILE), or select fewer rows or columns",
                field="output", limit_bytes=max_bytes, rows_read=len(rows) + len(part),
            )
        rows.extend(part)
    return rows[:max_rows], len(rows) > max_rows


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def _map_error(exc: Exception, pid: str, job: Job) -> Exception:
    import duckdb

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, duckdb.InterruptException) or job.cancelled:
        return Cancelled()
    if isinstance(exc, duckdb.PermissionException) or "read-only" in message or "has been locked" in message:
        return ReadOnlyViolation(f"refused by the projection sandbox: {message}", projection_id=pid, layer="engine")
    if isinstance(exc, duckdb.IOException):
        return IntegrityError(f"projection {pid!r} could not read its data: {message}; rebuild it with "
                              f"`bridge project rebuild {pid}`", projection_id=pid)
    return InvalidInput(f"query failed: {message}", field="sql", projection_id=pid)


def _sweep(folder: Path, keep: str | None) -> None:
    """Remove temporary builds and, once a build committed (`keep`), the files it replaced.

    Called with the projection's lock held, so no temporary file here belongs to a live build.
    """
    for entry in folder.iterdir():
        name = entry.name
        if name == SIDECAR:
            continue
        is_tmp = name.startswith((".tmp-", ".sidecar-"))
        is_old = keep is not None and not name.startswith(keep)
        if is_tmp or is_old:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _remove_db(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".sidecar-{uuid.uuid4().hex[:8]}.json")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
