"""The artifact store: publish (idempotent, crash-safe, concurrent), query, lineage, status.

Publish, step by step (docs/store.md has the why):
  1. check the type, the key and the inputs (unknown inputs: nothing is written);
  2. a Parquet input whose bytes are an artifact of this type+key already: deduped by file hash;
  3. canonicalise, content-hash, derive the id; same type+key+content registered: deduped;
  4. write Parquet + sidecar to staging, fsync (the last point where cancel is honoured);
  5. journal the publish (one publisher per artifact id at a time: a second one waits for the
     first), put the files at their final names (a local atomic rename, or an upload to a staging
     key, a read-back check and a server-side copy), then register the artifact, its tags,
     lineage and provenance and drop the journal row in one transaction.
A crash before 5's last transaction leaves a journal row of a dead process (SQLite: a pid of this
host; PostgreSQL: also a lease that ran out, so any host recovers it); opening the store rolls it
back (removing unregistered files). So: no registered artifact without its file, no partial file
at a final path. No database lock is held while files move.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from bridge.errors import (
    ArtifactNotFound,
    InvalidState,
    InvalidSupersession,
    UnknownInputArtifact,
    ValidationFailed,
)
from bridge.proc import crashpoint, holdpoint, pid_alive, usable_cpus
from bridge.progress import NULL_JOB, Job
from bridge.store import manifest
from bridge.store.artifact_fs import artifact_fs_for, host_id
from bridge.store.dialect import dialect_for
from bridge.store.freshness import ChangeProbe
from bridge.store.lake import Lake
from bridge.store.models import (
    Artifact,
    ArtifactPage,
    LineageEdge,
    LineageGraph,
    LineageNode,
    Provenance,
    PublishResult,
    Sidecar,
    StaleArtifact,
    StaleReason,
)
from bridge.store.spec import ArtifactSpec, get_spec
from bridge.store.timeutil import iso, now_iso, parse_iso

__all__ = ["LIST_ORDERS", "Store", "artifact_id_for"]

log = logging.getLogger(__name__)

_HOST = host_id()
_encode_json = msgspec.json.Encoder().encode
_ARTIFACT_COLUMNS = ("artifact_id, artifact_type, schema_version, logical_key, status, path_parquet, path_sidecar,"
                     " file_hash, content_hash, row_count, min_ts, max_ts, created_at")
MAX_LOGICAL_KEY = 1024  # = limits.MAX_TEXT_CHARS
LEASE_ENV = "QUANTBOT_PUBLISH_LEASE_S"
DEFAULT_LEASE_S = 60.0  # a PostgreSQL journal row not renewed for this long is recovered by any host
WAIT_FOR_PUBLISHER_S = 600.0


def artifact_id_for(artifact_type: str, schema_version: int, logical_key: str, content_hash: str) -> str:
    """Deterministic id: the same publish on any machine gives the same id."""
    ident = json.dumps(["qb-artifact-id-v1", artifact_type, schema_version, logical_key, content_hash])
    return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]


class Store:
    """One lake's artifact store. Thread-safe (a manifest connection per thread); many processes,
    on one machine or several (team backend), may use one lake at once."""

    def __init__(self, lake: Lake | str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        """Open the lake's store; `create=False` refuses a lake that does not exist (LakeNotFound)
        instead of creating it (the CLI's reading and writing commands; only `init` creates)."""
        self.lake = lake if isinstance(lake, Lake) else Lake(lake)
        if not create:
            self.lake.require()
        self.lake.ensure()
        self.dialect = dialect_for(self.lake.manifest_url)
        self.files = artifact_fs_for(self.lake)
        self._local = threading.local()
        self._generation = 0  # bumped by every write through this Store (see _cache)
        self.lease_s = float(os.environ.get(LEASE_ENV) or DEFAULT_LEASE_S)
        self.schema_version = manifest.migrate(self.connect())
        self.recover()

    # -- connections ---------------------------------------------------------------------------

    def connect(self):
        """This thread's manifest connection (sqlite3, or a pooled PostgreSQL one with the same
        surface: execute/executemany with `?` placeholders, rows by index and by name)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = self.dialect.connect()
            self._local.con = con
        return con

    def close(self) -> None:
        """Release this thread's connection (to the process's pool, for PostgreSQL)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
        self._local.probe = self._local.fast = None  # the read cache's change probe belongs to that connection (_cache)

    # -- publish -------------------------------------------------------------------------------

    def publish(
        self,
        artifact_type: str,
        schema_version: int,
        logical_key: str,
        data: Any,
        *,
        tags: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        input_artifact_ids: Sequence[str] = (),
        writer_name: str = "bridge",
        writer_version: str = "0",
        git_commit: str | None = None,
        git_dirty: bool | None = None,
        params: Mapping[str, Any] | None = None,
        revive: bool = False,
        job: Job = NULL_JOB,
    ) -> PublishResult:
        """Publish `data` as an artifact; idempotent.

        The same type + key + content as a registered artifact answers `deduped` with it; if its
        files are gone (gc, or lost) they are written again under the same id. If that artifact is
        tombstoned, the publish is refused (InvalidState) unless `revive`: then it becomes active
        again and its history records the revival. `git_commit` None: the commit and dirty state
        are detected from the working directory, else recorded as unknown.

        Raises:
            UnknownArtifactType, ValidationFailed, UnknownInputArtifact, InvalidState, Cancelled,
            Busy, StorageError.
        """
        from bridge.store import canonical
        from bridge.store.limits import check_json_size, check_text

        spec = get_spec(artifact_type, schema_version)
        _check_logical_key(logical_key)
        check_text(writer_name, "writerName")
        check_text(writer_version, "writerVersion")
        check_text(git_commit, "gitCommit", optional=True)
        tag_pairs = _tag_pairs(tags)
        inputs = sorted(set(input_artifact_ids))
        self._check_inputs(spec, inputs)
        params = dict(params or {})
        check_json_size(params, "params")
        git = _git_provenance(git_commit, git_dirty)

        job.progress(0, 4, "reading input", force=True)
        if isinstance(data, (str, Path)) and Path(data).suffix.lower() in (".parquet", ".pq"):
            hit = self._dedup_by_file(Path(data), spec, logical_key)
            if hit is not None:
                return self._existing(hit, revive, lambda: Path(data), job)
        deferred: list = []  # rule and unique checks of rows already in order: run beside the hash
        try:
            job.progress(1, 4, "validating")
            # no local name for the loaded table: canonicalize then holds its only reference
            # and can free the input while it builds the canonical copy
            table = canonical.canonicalize(canonical.load_input(data, spec), spec, logical_key, deferred=deferred)
            if table.num_rows < _OVERLAP_MIN_ROWS:
                for check in deferred:
                    check()
        except ValidationFailed as exc:
            _add_source_location(exc, data)
            raise
        staged = None  # (staging Parquet file, its sha256) when written while hashing
        try:
            if table.num_rows < _OVERLAP_MIN_ROWS:
                job.progress(2, 4, "hashing")
                chash = canonical.content_hash(table, spec)
            else:
                job.progress(2, 4, "hashing and writing")
                chash, staged = self._hash_while_writing(spec, table, logical_key, deferred, data, job)
            artifact_id = artifact_id_for(spec.artifact_type, spec.schema_version, logical_key, chash)
            existing = self._find_semantic(spec, logical_key, chash)
            if existing is not None:
                return self._existing(_deduped(self.get(existing), "content_hash"), revive, lambda: table, job)

            job.progress(3, 4, "writing")
            min_ts, max_ts = canonical.ts_range_iso(table, spec)
            row = {
                "artifact_id": artifact_id,
                "artifact_type": spec.artifact_type,
                "schema_version": spec.schema_version,
                "logical_key": logical_key,
                "status": "active",
                "file_hash": "",
                "content_hash": chash,
                "row_count": table.num_rows,
                "min_ts": min_ts,
                "max_ts": max_ts,
            }
            prov = {
                "writer_name": writer_name,
                "writer_version": writer_version,
                **git,
                "params": params,
                "canonical_form": canonical.CANONICAL_FORM,
            }
            return self._write_and_register(spec, table, row, prov, tag_pairs, inputs, job, staged=staged)
        finally:
            if staged is not None:  # registered files were moved or linked away; this is the leftover
                staged[0].unlink(missing_ok=True)

    def _hash_while_writing(self, spec, table, logical_key: str, deferred: list, data, job: Job):
        """The content hash (after the deferred checks) on another thread while this one writes the
        Parquet file to staging: the writer is single-threaded, so on two cores the hash costs
        little wall time. The checks and the hash use the cores the writer leaves (one on two
        cores: a second hashing thread would take time from the writer, whose time is the
        publish's). The id and hash go into the file's footer, written last. Between row groups:
        a cancel stops the write, as does a finished hash whose content is registered already (a
        dedup writes nothing more). Returns (content hash, (staging file, file hash)), or (content
        hash, None) when the write was abandoned for a dedup.

        Raises:
            ValidationFailed (a deferred check, with the file's location), Cancelled, StorageError.
        """
        from concurrent.futures import ThreadPoolExecutor

        from bridge.store import canonical, files

        tmp_parquet, _ = self._staging_paths()

        spare = max(1, usable_cpus() - 1)  # the writer takes one

        def check_and_hash() -> str:
            for check in deferred:
                check(single_thread=spare == 1)
            return canonical.content_hash(table, spec, threads=min(2, spare))

        looked: list[bool] = []

        def between() -> None:
            job.check()
            if not looked and hashed.done():
                looked.append(True)
                if self._find_semantic(spec, logical_key, hashed.result()) is not None:
                    raise _AlreadyRegistered

        def late() -> dict[str, str]:
            chash = hashed.result()
            return {"qb.artifact_id": artifact_id_for(spec.artifact_type, spec.schema_version, logical_key, chash),
                    "qb.content_hash": chash}

        meta = {"qb.artifact_type": spec.artifact_type, "qb.schema_version": str(spec.schema_version),
                "qb.logical_key": logical_key, "qb.canonical_form": canonical.CANONICAL_FORM}
        file_hash = None
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qb-content-hash") as pool:
                hashed = pool.submit(check_and_hash)
                try:
                    with _storage_errors(tmp_parquet):
                        file_hash = files.write_parquet(table, tmp_parquet, meta, late_metadata=late,
                                                        between_row_groups=between)
                except _AlreadyRegistered:
                    pass
                except BaseException:
                    if hashed.done() and hashed.exception() is not None:
                        raise hashed.exception() from None  # bad data outranks what it made fail
                    raise
            chash = hashed.result()
        except ValidationFailed as exc:
            tmp_parquet.unlink(missing_ok=True)
            _add_source_location(exc, data)
            raise
        except BaseException:
            tmp_parquet.unlink(missing_ok=True)
            raise
        if file_hash is None:
            tmp_parquet.unlink(missing_ok=True)
            return chash, None
        crashpoint("after_staging_parquet")
        return chash, (tmp_parquet, file_hash)

    def _staging_paths(self) -> tuple[Path, Path]:
        """A new (Parquet, sidecar) pair of staging paths of this process (`recover` removes those
        of dead processes)."""
        staging = self.lake.staging / "publish"
        with _storage_errors(staging):
            staging.mkdir(parents=True, exist_ok=True)
        token = f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex}"
        return staging / f"{token}.parquet", staging / f"{token}.json"

    def _write_and_register(self, spec, table, row, prov, tag_pairs, inputs, job: Job, *,
                            staged: tuple[Path, str] | None = None) -> PublishResult:
        """Write the files to staging (the Parquet file unless `staged` gives it and its hash),
        journal, move them into place and register."""
        from bridge.store import files

        artifact_id = row["artifact_id"]
        rel_parquet, rel_sidecar = self.lake.artifact_rel(spec.dir_name, artifact_id)
        if staged is not None:
            tmp_parquet, tmp_sidecar = staged[0], staged[0].with_suffix(".json")
        else:
            tmp_parquet, tmp_sidecar = self._staging_paths()
        try:
            if staged is not None:
                row["file_hash"] = staged[1]
            else:
                with _storage_errors(tmp_parquet):
                    row["file_hash"] = files.write_parquet(table, tmp_parquet, {
                        "qb.artifact_id": artifact_id,
                        "qb.artifact_type": spec.artifact_type,
                        "qb.schema_version": str(spec.schema_version),
                        "qb.logical_key": row["logical_key"],
                        "qb.content_hash": row["content_hash"],
                        "qb.canonical_form": prov["canonical_form"],
                    })
                crashpoint("after_staging_parquet")
            row["file_bytes"] = tmp_parquet.stat().st_size
            row["path_parquet"], row["path_sidecar"] = rel_parquet, rel_sidecar
            created_at = now_iso()
            sidecar = _sidecar(row, created_at, prov, tag_pairs, inputs)
            with _storage_errors(tmp_sidecar):
                files.write_json(sidecar, tmp_sidecar)
            files.make_read_only(tmp_parquet)
            files.make_read_only(tmp_sidecar)
            crashpoint("after_staging_sidecar")
            job.check()  # last point of no visible effect

            con = self.connect()
            journal_id = uuid.uuid4().hex
            existing = self._journal(spec, row, journal_id, created_at, job)
            if existing is not None:
                return _deduped(self.get(existing), "content_hash")
            crashpoint("after_journal")
            try:
                with self._lease(journal_id):
                    with _storage_errors(self.files.uri(rel_parquet)):
                        self.files.put(tmp_parquet, rel_parquet, sha256=row["file_hash"])  # same id -> same content
                        crashpoint("after_parquet_move")
                        self.files.put(tmp_sidecar, rel_sidecar, replace=False)  # never rewrite a registered sidecar
                    crashpoint("after_sidecar_move")
                    with manifest.write_txn(con):
                        con.execute("DELETE FROM publish_journal WHERE journal_id = ?", (journal_id,))
                        registered = self._insert(con, row, created_at, prov, tag_pairs, inputs)
                        crashpoint("before_register_commit")
            except BaseException:
                self._abandon(journal_id)  # e.g. the disk filled up under the manifest: leave the lake as it was
                raise
            crashpoint("after_register")
        finally:
            for p in (tmp_parquet, tmp_sidecar):
                p.unlink(missing_ok=True)
        self._wrote()
        artifact = self.get(artifact_id)
        if not registered:
            return _deduped(artifact, "content_hash")
        log.info("published %s %s v%s %s (%d rows)", artifact_id, spec.artifact_type, spec.schema_version,
                 row["logical_key"], row["row_count"])
        return PublishResult(deduped=False, artifact_id=artifact_id, artifact=artifact, sidecar=Sidecar(**sidecar))

    def _journal(self, spec, row, journal_id: str, created_at: str, job: Job) -> str | None:
        """Journal this publish; returns the id of an artifact that already has this content instead.
        While another publisher holds the journal row of this id, wait for it to register (then
        dedupe) or to die (then recover its row and take over)."""
        con = self.connect()
        entry = (journal_id, row["artifact_id"], row["path_parquet"], row["path_sidecar"], _HOST, os.getpid(), created_at)
        deadline = time.monotonic() + WAIT_FOR_PUBLISHER_S
        delay = 0.01
        while True:
            with manifest.write_txn(con):
                existing = self._find_semantic(spec, row["logical_key"], row["content_hash"])
                if existing is not None:
                    return existing
                if self.dialect.journal_insert(con, entry, self.lease_s):
                    return None
            job.check()
            if time.monotonic() > deadline:
                from bridge.errors import Busy

                raise Busy(f"another process has been publishing {row['artifact_id']} for "
                           f"{WAIT_FOR_PUBLISHER_S:.0f}s; retry later")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
            self.recover()

    def _lease(self, journal_id: str):
        """Keep a PostgreSQL journal row's lease alive while files move (no-op for SQLite)."""
        from contextlib import nullcontext

        if not self.dialect.leases:
            return nullcontext()
        return _LeaseKeeper(self, journal_id)

    def _abandon(self, journal_id: str) -> None:
        """Undo a publish of this process that failed after its journal row (what `recover` does
        for a dead process). Best effort: if the manifest cannot be written either, the journal
        row stays and the next open of the lake after this process ends rolls it back."""
        con = self.connect()
        try:
            with manifest.write_txn(con, timeout=5):
                r = con.execute("SELECT * FROM publish_journal WHERE journal_id = ?", (journal_id,)).fetchone()
                if r is None:
                    return
                con.execute("DELETE FROM publish_journal WHERE journal_id = ?", (journal_id,))
                registered = con.execute("SELECT 1 FROM artifacts WHERE artifact_id = ?", (r["artifact_id"],)).fetchone()
                others = con.execute("SELECT 1 FROM publish_journal WHERE artifact_id = ?", (r["artifact_id"],)).fetchone()
                if not registered and not others:
                    for rel in (r["path_parquet"], r["path_sidecar"]):
                        self.files.delete(rel)
        except Exception as exc:  # noqa: BLE001 - the original error is the one to report
            log.warning("could not undo the failed publish %s now (%s); the next open of the lake will", journal_id, exc)

    def _insert(self, con, row, created_at, prov, tag_pairs, inputs) -> bool:
        """Register the artifact; False if its id is registered already (the unique key decides)."""
        cur = con.execute(
            "INSERT INTO artifacts (artifact_id, artifact_type, schema_version, logical_key, status, path_parquet,"
            " path_sidecar, file_hash, content_hash, row_count, min_ts, max_ts, created_at, file_bytes)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (row["artifact_id"], row["artifact_type"], row["schema_version"], row["logical_key"], "active",
             row["path_parquet"], row["path_sidecar"], row["file_hash"], row["content_hash"], row["row_count"],
             row["min_ts"], row["max_ts"], created_at, row.get("file_bytes")),
        )
        if cur.rowcount != 1:
            return False
        con.executemany("INSERT INTO artifact_tags VALUES (?,?,?) ON CONFLICT DO NOTHING",
                        [(row["artifact_id"], k, v) for k, v in tag_pairs])
        con.executemany("INSERT INTO artifact_lineage VALUES (?,?) ON CONFLICT DO NOTHING",
                        [(row["artifact_id"], i) for i in inputs])
        con.execute(
            "INSERT INTO artifact_provenance (artifact_id, writer_name, writer_version, git_commit, git_dirty,"
            " params_json, canonical_form, git_source) VALUES (?,?,?,?,?,?,?,?)",
            (row["artifact_id"], prov["writer_name"], prov["writer_version"], prov["git_commit"],
             int(bool(prov["git_dirty"])), json.dumps(prov["params"], sort_keys=True), prov["canonical_form"],
             prov["git_source"]),
        )
        _event(con, row["artifact_id"], "published", None, created_at)
        return True

    def _existing(self, hit: PublishResult, revive: bool, source, job: Job) -> PublishResult:
        """A publish that matched registered artifact `hit`: refuse a tombstoned one unless
        `revive`; write its files again if they are gone. `source()` gives the data (a canonical
        table, or the path of a Parquet file with the registered bytes)."""
        art = hit.artifact
        if art.status == "tombstoned" and not revive:
            reason = self.connect().execute(
                "SELECT detail FROM artifact_events WHERE artifact_id = ? AND event = 'tombstoned'"
                " ORDER BY event_id DESC LIMIT 1", (art.artifact_id,)).fetchone()
            why = f" (reason: {reason[0]})" if reason and reason[0] else ""
            raise InvalidState(
                f"this data is artifact {art.artifact_id}, which is tombstoned{why}; to bring it back publish "
                "again with revive (CLI --revive, RPC revive: true), or publish different data",
                artifact_id=art.artifact_id, status=art.status, rule="tombstoned_needs_revive",
            )
        missing = not (self.files.exists(art.path_parquet) and self.files.exists(art.path_sidecar))
        if missing:
            self._restore_files(art, source(), job)
        if art.status == "tombstoned":
            con = self.connect()
            with manifest.write_txn(con):
                con.execute("UPDATE artifacts SET status = 'active' WHERE artifact_id = ? AND status = 'tombstoned'",
                            (art.artifact_id,))
                _event(con, art.artifact_id, "revived", "files restored" if missing else None)
            self._wrote()
            log.info("revived %s", art.artifact_id)
        if missing or art.status == "tombstoned":
            return _deduped(self.get(art.artifact_id), hit.mode or "content_hash")
        return hit

    def _restore_files(self, art: Artifact, source, job: Job) -> None:
        """Write a registered artifact's Parquet file and sidecar again (gc removed them, or they
        were lost), under its id; the sidecar comes from the manifest. Records `files_restored`."""
        from bridge.store import canonical, files

        job.check()
        spec = get_spec(art.artifact_type, art.schema_version)
        rel_parquet, rel_sidecar = self.connect().execute(
            "SELECT path_parquet, path_sidecar FROM artifacts WHERE artifact_id = ?", (art.artifact_id,)).fetchone()
        staging = self.lake.staging / "publish"
        token = f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex}"
        tmp_parquet, tmp_sidecar = staging / f"{token}.parquet", staging / f"{token}.json"
        try:
            with _storage_errors(tmp_parquet):
                staging.mkdir(parents=True, exist_ok=True)
                if isinstance(source, Path):
                    import shutil

                    shutil.copyfile(source, tmp_parquet)
                    files.fsync_file(tmp_parquet)
                    file_hash = files.sha256_file(tmp_parquet)
                else:
                    file_hash = files.write_parquet(source, tmp_parquet, {
                        "qb.artifact_id": art.artifact_id, "qb.artifact_type": art.artifact_type,
                        "qb.schema_version": str(art.schema_version), "qb.logical_key": art.logical_key,
                        "qb.content_hash": art.content_hash, "qb.canonical_form": canonical.CANONICAL_FORM,
                    })
            prov = msgspec.structs.asdict(self.provenance(art.artifact_id))
            row = {k: getattr(art, k) for k in ("artifact_id", "artifact_type", "schema_version", "logical_key",
                                                "content_hash", "row_count", "min_ts", "max_ts")}
            row["status"] = "active"  # a sidecar records the artifact as published
            row.update(file_hash=file_hash, path_parquet=rel_parquet, path_sidecar=rel_sidecar)
            tag_pairs = [(k, v) for k, vs in art.tags.items() for v in vs]
            sidecar = _sidecar(row, art.created_at, prov, tag_pairs, art.input_artifact_ids)
            with _storage_errors(tmp_sidecar):
                files.write_json(sidecar, tmp_sidecar)
                files.make_read_only(tmp_parquet)
                files.make_read_only(tmp_sidecar)
            with _storage_errors(self.files.uri(rel_parquet)):
                self.files.put(tmp_parquet, rel_parquet, sha256=file_hash)
                self.files.put(tmp_sidecar, rel_sidecar)  # the registered artifact's own sidecar, restored
            con = self.connect()
            with manifest.write_txn(con):
                # the size always (NULL before 0006); the hash if another Parquet library wrote other
                # bytes for the same content
                con.execute("UPDATE artifacts SET file_hash = ?, file_bytes = ? WHERE artifact_id = ?",
                            (file_hash, tmp_parquet.stat().st_size, art.artifact_id))
                _event(con, art.artifact_id, "files_restored", f"file_hash {file_hash}")
            self._wrote()
            log.info("restored the files of %s %s", art.artifact_id, spec.artifact_type)
        finally:
            for p in (tmp_parquet, tmp_sidecar):
                p.unlink(missing_ok=True)

    def _dedup_by_file(self, path: Path, spec: ArtifactSpec, logical_key: str) -> PublishResult | None:
        from bridge.store.files import sha256_file

        fh = sha256_file(path)
        r = self.connect().execute(
            "SELECT artifact_id FROM artifacts WHERE file_hash = ? AND artifact_type = ? AND schema_version = ?"
            " AND logical_key = ?",
            (fh, spec.artifact_type, spec.schema_version, logical_key),
        ).fetchone()
        return _deduped(self.get(r[0]), "file_hash") if r else None

    def _find_semantic(self, spec: ArtifactSpec, logical_key: str, chash: str) -> str | None:
        r = self.connect().execute(
            "SELECT artifact_id FROM artifacts WHERE artifact_type = ? AND logical_key = ? AND content_hash = ?"
            " AND schema_version = ?",
            (spec.artifact_type, logical_key, chash, spec.schema_version),
        ).fetchone()
        return r[0] if r else None

    def _check_inputs(self, spec: ArtifactSpec, inputs: list[str]) -> None:
        if spec.derived and not inputs:
            raise ValidationFailed(
                f"{spec.artifact_type} is a derived type: declare the artifacts it was made from (input_artifact_ids)",
                rule="derived_requires_inputs", field="inputArtifactIds",
            )
        if not inputs:
            return
        known = self._existing_ids(inputs)
        missing = [i for i in inputs if i not in known]
        if missing:
            raise UnknownInputArtifact(missing)

    def _existing_ids(self, ids: Sequence[str]) -> set[str]:
        con = self.connect()
        out: set[str] = set()
        for chunk in _chunks(list(ids), 500):
            q = f"SELECT artifact_id FROM artifacts WHERE artifact_id IN ({','.join('?' * len(chunk))})"
            out.update(r[0] for r in con.execute(q, chunk))
        return out

    # -- crash recovery ------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Roll back publishes of processes that died mid-way: a dead pid on this host, or (on
        PostgreSQL) a lease that ran out, on any host. Returns their artifact ids."""
        con = self.connect()
        rows = con.execute("SELECT * FROM publish_journal").fetchall()
        rolled: list[str] = []
        if rows:
            with manifest.write_txn(con):
                rows = con.execute("SELECT * FROM publish_journal").fetchall()
                expired = self.dialect.expired_journal_ids(con)
                dead = [r for r in rows if r["journal_id"] in expired or _dead(r["host"], r["pid"])]
                live = {r["artifact_id"] for r in rows} - {r["artifact_id"] for r in dead}
                for r in dead:
                    con.execute("DELETE FROM publish_journal WHERE journal_id = ?", (r["journal_id"],))
                    registered = con.execute("SELECT 1 FROM artifacts WHERE artifact_id = ?", (r["artifact_id"],)).fetchone()
                    if not registered and r["artifact_id"] not in live:
                        # inside the transaction: a new publisher of this id waits on the row we delete
                        for rel in (r["path_parquet"], r["path_sidecar"]):
                            self.files.delete(rel)
                    rolled.append(r["artifact_id"])
        for leftover in (self.lake.staging / "publish").glob(f"{_HOST}-*"):
            pid = leftover.name.split("-")[-2] if leftover.name.count("-") >= 2 else ""
            if pid.isdigit() and _dead(_HOST, int(pid)):
                leftover.unlink(missing_ok=True)
        self._wrote()
        if rolled:
            log.warning("rolled back %d interrupted publish(es): %s", len(rolled), ", ".join(rolled))
        return rolled

    # -- queries -------------------------------------------------------------------------------

    def get(self, artifact_id: str) -> Artifact:
        """Raises:
        ArtifactNotFound: no such id.
        """
        cache = self._cache()
        hit = cache.get(artifact_id)
        if hit is not None:
            return hit
        found = self._load([artifact_id])
        if not found:
            raise ArtifactNotFound(artifact_id)
        cache[artifact_id] = found[0]
        return found[0]

    def get_json(self, artifact_id: str) -> msgspec.Raw:
        """`get(artifact_id)` as JSON (`msgspec.json.encode` of the Artifact: its camelCase wire
        form), encoded once and cached with the Artifact as a `msgspec.Raw` (bytes-like; `bytes()`
        of it for bytes): the daemon's getArtifact answers it as it is.

        Raises:
        ArtifactNotFound: no such id.
        """
        try:  # the cached answer, when this thread's cache is current (what _cache checks, inline)
            read, token, generation, encoded = self._local.fast
            if generation == self._generation and read() == token:
                return encoded[artifact_id]
        except (AttributeError, KeyError, TypeError):  # first use on this thread, not cached yet, or closed
            pass
        self._cache()
        encoded = self._local.encoded
        hit = encoded.get(artifact_id)
        if hit is None:
            hit = encoded[artifact_id] = msgspec.Raw(_encode_json(self.get(artifact_id)))
        return hit

    def _cache(self) -> dict[str, Artifact]:
        """This thread's artifact cache (and its JSON encodings), emptied whenever the manifest
        may have changed, checked on every call, so a read sees every write that returned before
        it: `_generation` moves on every write through this Store (any thread), the manifest's
        change token on any commit by anyone (bridge/store/freshness.py: SQLite's wal-index
        header, read from shared memory in ~0.2 µs; else the dialect's token query)."""
        local = self._local
        probe = getattr(local, "probe", None)
        if probe is None:  # first use on this thread, or its connection was closed (see close())
            probe = local.probe = ChangeProbe(self.dialect, self.connect())
            local.cache_token = None
        token = (probe.read(), self._generation)
        if local.cache_token != token:
            local.cache, local.encoded = {}, {}
            local.cache_token = token
            # get_json's check in one thread-local read: the probe, what it read, the generation
            local.fast = (probe.read, token[0], token[1], local.encoded)
        return local.cache

    def _wrote(self) -> None:
        self._generation += 1

    def get_many(self, artifact_ids: Sequence[str]) -> list[Artifact]:
        """Artifacts in the order asked. Raises ArtifactNotFound for the first unknown id."""
        found = {a.artifact_id: a for a in self._load(list(artifact_ids))}
        for i in artifact_ids:
            if i not in found:
                raise ArtifactNotFound(i)
        return [found[i] for i in artifact_ids]

    def list(
        self,
        *,
        artifact_type: str | None = None,
        status: str | None = None,
        logical_key_prefix: str | None = None,
        tags: Mapping[str, str] | None = None,
        ts_from: str | None = None,
        ts_to: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        search: str | None = None,
        order: str = "created_at",
    ) -> ArtifactPage:
        """Artifacts matching every filter, oldest first; `next_cursor` pages on stably.

        Time filters select artifacts whose [min_ts, max_ts] overlaps [ts_from, ts_to).
        `search` keeps artifacts whose id starts with it (any case) or whose logical key contains
        it (case-sensitive: token addresses are). `order` is one of LIST_ORDERS: a column, `-`
        first for descending; ties are broken by artifact id; a cursor pages on in the order it
        was made for.
        """
        if search or order != "created_at":
            return self._list_ordered(artifact_type=artifact_type, status=status, logical_key_prefix=logical_key_prefix,
                                      tags=tags, ts_from=ts_from, ts_to=ts_to, limit=limit, cursor=cursor,
                                      search=search, order=order)
        sql, args = self._list_query(artifact_type=artifact_type, status=status, logical_key_prefix=logical_key_prefix,
                                     tags=tags, ts_from=ts_from, ts_to=ts_to, limit=limit, cursor=cursor)
        rows = self.connect().execute(sql, args).fetchall() if sql else []
        more = len(rows) > limit
        rows = rows[:limit]
        items = self._load([r[0] for r in rows])
        nxt = _encode_cursor(rows[-1][1], rows[-1][0]) if more else None
        return ArtifactPage(items=items, next_cursor=nxt)

    def _list_ordered(self, *, artifact_type, status, logical_key_prefix, tags, ts_from, ts_to, limit, cursor,
                      search, order) -> ArtifactPage:
        """`list` with a search or another order: keyset pages over (column, artifact_id), the
        column's index (migrations 0005, 0007) giving the order."""
        if limit < 1 or limit > 10_000:
            raise ValidationFailed("limit must be between 1 and 10000", field="limit", value=limit)
        if order not in LIST_ORDERS:
            raise ValidationFailed(f"order must be one of {', '.join(LIST_ORDERS)}", field="order", value=order)
        col, desc = LIST_ORDERS[order], order.startswith("-")
        where, args = [], []
        d = self.dialect
        if search:  # key text: a scan of the (logical_key, artifact_id) index, not of the table
            where.append(f"artifact_id IN (SELECT artifact_id FROM artifacts{d.indexed_by('idx_artifacts_key_id')}"
                         f" WHERE {d.contains('logical_key')}"
                         " UNION SELECT artifact_id FROM artifacts WHERE artifact_id >= ? AND artifact_id < ?)")
            args += [search, search.lower(), search.lower() + _TOP]  # ids are lowercase hex
        if artifact_type:
            where.append("artifact_type = ?")
            args.append(artifact_type)
        if status:
            if status not in ("active", "superseded", "tombstoned"):
                raise ValidationFailed("status must be active, superseded or tombstoned", field="status", value=status)
            where.append("status = ?")
            args.append(status)
        if logical_key_prefix:  # a range of the key index; the substr check keeps it exact
            where.append("logical_key >= ? AND logical_key < ? AND substr(logical_key, 1, CAST(? AS INTEGER)) = ?")
            args += [logical_key_prefix, logical_key_prefix + _TOP, len(logical_key_prefix), logical_key_prefix]
        for k, v in (tags or {}).items():  # driven by the tag index, not a probe per artifact
            where.append("artifact_id IN (SELECT t.artifact_id FROM artifact_tags t WHERE t.k = ? AND t.v = ?)")
            args += [k, v]
        if ts_from:
            where.append("max_ts >= ?")
            args.append(_norm_ts(ts_from, "tsFrom"))
        if ts_to:
            where.append("min_ts < ?")
            args.append(_norm_ts(ts_to, "tsTo"))
        if cursor:
            value, aid = _decode_cursor(cursor, order)
            where.append(f"({col}, artifact_id) {'<' if desc else '>'} (?, ?)")
            args += [value, aid]
        sql = f"SELECT artifact_id, {col} FROM artifacts a"
        if where:
            sql += " WHERE " + " AND ".join(where)
        direction = " DESC" if desc else ""
        sql += f" ORDER BY {col}{direction}, artifact_id{direction} LIMIT ?"
        rows = self.connect().execute(sql, [*args, limit + 1]).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = self._load([r[0] for r in rows])
        nxt = _encode_cursor(rows[-1][1], rows[-1][0], order) if more else None
        return ArtifactPage(items=items, next_cursor=nxt)

    def last_event_id(self) -> int:
        """The newest artifact event's number (publish, supersede, tombstone, gc): when it has not
        moved, no artifact was added or changed status since."""
        return self.connect().execute("SELECT coalesce(max(event_id), 0) FROM artifact_events").fetchone()[0]

    def counts(self) -> list[tuple[str, str, int]]:
        """(artifact type, status, number of artifacts) for every pair present, by type then status."""
        rows = self.connect().execute(
            "SELECT artifact_type, status, count(*) FROM artifacts GROUP BY artifact_type, status"
            " ORDER BY artifact_type, status").fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def stale_ids(self, artifact_ids: Sequence[str]) -> set[str]:
        """Which of `artifact_ids` are stale (active, with a superseded or tombstoned input anywhere
        upstream): the ids of `stale(artifact_ids)`, found by walking up from them only, so the
        cost is their upstream graphs, not the lake's stale set."""
        con = self.connect()
        walked: list[tuple[str, str]] = []
        ids = list(dict.fromkeys(artifact_ids))
        for chunk in _chunks(ids, 400):
            marks = ",".join("?" * len(chunk))
            walked += con.execute(
                f"""WITH RECURSIVE up(id, input, depth) AS (
                      SELECT artifact_id, input_artifact_id, 1 FROM artifact_lineage WHERE artifact_id IN ({marks})
                      UNION
                      SELECT u.id, l.input_artifact_id, u.depth + 1
                      FROM up u JOIN artifact_lineage l ON l.artifact_id = u.input WHERE u.depth < 64)
                    SELECT DISTINCT id, input FROM up""", chunk).fetchall()
        status: dict[str, str] = {}
        wanted = sorted({i for i, _ in walked} | {x for _, x in walked})
        for chunk in _chunks(wanted, 500):
            marks = ",".join("?" * len(chunk))
            status.update(con.execute(f"SELECT artifact_id, status FROM artifacts WHERE artifact_id IN ({marks})",
                                      chunk).fetchall())
        return {i for i, x in walked if status.get(i) == "active" and status.get(x, "active") != "active"}

    def downstream_count(self, artifact_id: str) -> int:
        """How many artifacts list `artifact_id` as a direct input (any status)."""
        return self.connect().execute("SELECT count(*) FROM artifact_lineage WHERE input_artifact_id = ?",
                                      (artifact_id,)).fetchone()[0]

    #: A filter matching at most this many artifacts drives a listing (see _list_query); with
    #: LIST_DRIVER_SCALE, a key prefix, tag or time filter may match more in a large manifest: up
    #: to sqrt((limit + 1) × artifacts), where driving (∝ matches) and the ordered walk
    #: (∝ (limit + 1) × artifacts / matches) cost the same.
    LIST_DRIVER_MAX = 2000
    LIST_DRIVER_SCALE = True

    def _list_query(self, *, artifact_type, status, logical_key_prefix, tags, ts_from, ts_to, limit,
                    cursor) -> tuple[str | None, list]:
        """The SQL of one page of `list` (None: nothing can match), planned here rather than by
        SQLite, which cannot tell a tag on every artifact from an absent one (no value statistics).
        On PostgreSQL the same plan is written without SQLite's hints (rowid becomes the primary
        key); its planner, which has statistics, picks the indexes (tests/store/test_list_plans.py).

        Every filter has an index that finds its matches (migrations 0005, 0008). Each is counted up
        to the driver maximum + 1 through that index; if one matches at most that many, its matches are
        fetched by rowid, filtered by the others and sorted (cost ∝ its matches). Otherwise every
        filter is common and the page is read in (created_at, artifact_id) order from the most
        specific ordered index, the other filters checked per row, stopping after limit + 1."""
        if limit < 1 or limit > 10_000:
            raise ValidationFailed("limit must be between 1 and 10000", field="limit", value=limit)
        if status and status not in ("active", "superseded", "tombstoned"):
            raise ValidationFailed("status must be active, superseded or tombstoned", field="status", value=status)
        d = self.dialect
        rid, ib = d.row_key, d.indexed_by  # SQLite: rowid and index hints; PostgreSQL: the key, no hints
        conds: list[str] = []
        args: list[Any] = []
        drivers: list[tuple[str, list]] = []  # (SELECT rowid of artifacts matching one filter, args)
        if artifact_type and status:
            drivers.append((f"SELECT {rid} FROM artifacts{ib('idx_artifacts_type_status_created')}"
                            " WHERE artifact_type = ? AND status = ?", [artifact_type, status]))
        elif artifact_type:
            drivers.append((f"SELECT {rid} FROM artifacts{ib('idx_artifacts_type_created')} WHERE artifact_type = ?",
                            [artifact_type]))
        elif status:
            drivers.append((f"SELECT {rid} FROM artifacts{ib('idx_artifacts_status_created')} WHERE status = ?",
                            [status]))
        if artifact_type:
            conds.append("a.artifact_type = ?")
            args.append(artifact_type)
        if status:
            conds.append("a.status = ?")
            args.append(status)
        if logical_key_prefix:
            upper = _prefix_upper_bound(logical_key_prefix)
            drivers.append((f"SELECT {rid} FROM artifacts{ib('idx_artifacts_key')} WHERE logical_key >= ?"
                            + (" AND logical_key < ?" if upper is not None else ""),
                            [logical_key_prefix] + ([upper] if upper is not None else [])))
            # the range too, not only the exact check: PostgreSQL's planner estimates it from the
            # key's statistics and may read the key index (SQLite's hints decide there)
            conds.append("a.logical_key >= ?" + (" AND a.logical_key < ?" if upper is not None else "")
                         + " AND substr(a.logical_key, 1, CAST(? AS INTEGER)) = ?")
            args += [logical_key_prefix, *([upper] if upper is not None else []), len(logical_key_prefix),
                     logical_key_prefix]
        tag_conds: dict[int, tuple[int, int]] = {}  # driver index -> (its EXISTS in conds, its args' offset)
        for k, v in (tags or {}).items():
            tag_conds[len(drivers)] = (len(conds), len(args))
            drivers.append((f"SELECT x.{rid} FROM artifact_tags t{ib('idx_tags_kv_artifact')}"
                            f" {d.ordered_join} artifacts x ON x.artifact_id = t.artifact_id WHERE t.k = ? AND t.v = ?",
                            [k, v]))
            conds.append("EXISTS (SELECT 1 FROM artifact_tags t WHERE t.artifact_id = a.artifact_id AND t.k = ? AND t.v = ?)")
            args += [k, v]
        norm_from = _norm_ts(ts_from, "tsFrom") if ts_from else None
        norm_to = _norm_ts(ts_to, "tsTo") if ts_to else None
        if norm_from:
            drivers.append(_overlap_driver(norm_from, norm_to, rid, artifact_type=artifact_type, status=status,
                                           hint=ib("idx_artifacts_span_min_ts")))
            conds.append("a.max_ts >= ?")
            args.append(norm_from)
        if norm_to:
            if not norm_from:
                drivers.append((f"SELECT {rid} FROM artifacts{ib('idx_artifacts_min_ts')} WHERE min_ts < ?", [norm_to]))
            conds.append("a.min_ts < ?")
            args.append(norm_to)
        if cursor:
            created, aid = _decode_cursor(cursor)
            conds.append("(a.created_at, a.artifact_id) > (?, ?)")
            args += [created, aid]

        con = self.connect()
        best: tuple[int, str, list] | None = None
        # type/status (drivers[0] when given) keep LIST_DRIVER_MAX: their ordered index reads a
        # page of theirs in limit + 1 rows; the other filters' matches are spread over the walk.
        # (SQLite only: PostgreSQL's planner has statistics and chooses for itself.)
        scaled = self.LIST_DRIVER_MAX
        if self.LIST_DRIVER_SCALE and d.name == "sqlite" and len(drivers) > (1 if artifact_type or status else 0):
            size = con.execute("SELECT coalesce(max(rowid), 0) FROM artifacts").fetchone()[0]  # rows are never deleted
            scaled = max(scaled, math.isqrt((limit + 1) * size))
        best_i = -1
        for i, (sql, dargs) in enumerate(drivers):
            driver_max = self.LIST_DRIVER_MAX if i == 0 and (artifact_type or status) else scaled
            counted = sql
            if i in tag_conds:  # (k, v, artifact_id) is the tags' key: their index alone counts the artifacts
                counted = f"SELECT 1 FROM artifact_tags t{ib('idx_tags_kv_artifact')} WHERE t.k = ? AND t.v = ?"
            n = con.execute(f"SELECT count(*) FROM ({counted} LIMIT ?) AS m", [*dargs, driver_max + 1]).fetchone()[0]
            if n == 0:
                return None, []
            if n <= driver_max and (best is None or n < best[0]):
                best, best_i = (n, sql, dargs), i
        if best_i in tag_conds:  # the driving tag holds for every row it gives: no probe per row
            at, offset = tag_conds[best_i]
            del conds[at]
            del args[offset : offset + 2]
        only_time = not (logical_key_prefix or tags)
        if best is not None and norm_from and only_time and best[1] == drivers[-1][0]:
            # the overlap (with type and status): its index holds the page's order too (no row is read)
            sql, dargs = _overlap_driver(norm_from, norm_to, "artifact_id, created_at", artifact_type=artifact_type,
                                         status=status, hint=ib("idx_artifacts_span_min_ts"))
            sql = f"SELECT artifact_id, created_at FROM ({sql}) AS o"
            if cursor:
                sql += " WHERE (created_at, artifact_id) > (?, ?)"
                dargs += [created, aid]
            return sql + " ORDER BY created_at, artifact_id LIMIT ?", [*dargs, limit + 1]
        if best is not None:
            source = f"artifacts a{d.not_indexed}"
            conds.insert(0, f"a.{rid} IN ({best[1]})")
            args[:0] = best[2]
        elif artifact_type and status:
            source = f"artifacts a{ib('idx_artifacts_type_status_created')}"
        elif artifact_type:
            source = f"artifacts a{ib('idx_artifacts_type_created')}"
        elif status:
            source = f"artifacts a{ib('idx_artifacts_status_created')}"
        else:
            source = f"artifacts a{ib('idx_artifacts_created')}"
        sql = f"SELECT a.artifact_id, a.created_at FROM {source}"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY a.created_at, a.artifact_id LIMIT ?"
        return sql, [*args, limit + 1]

    def find_by_logical_key(self, artifact_type: str, logical_key: str) -> list[Artifact]:
        """Every artifact of that type under that key, newest first (any status)."""
        rows = self.connect().execute(
            "SELECT artifact_id FROM artifacts WHERE artifact_type = ? AND logical_key = ?"
            " ORDER BY created_at DESC, artifact_id",
            (artifact_type, logical_key),
        ).fetchall()
        return self._load([r[0] for r in rows])

    def read_table(self, artifact_id: str, columns: Sequence[str] | None = None):
        """The artifact's rows as a pyarrow Table (canonical column and row order)."""
        import pyarrow.parquet as pq

        art = self.get(artifact_id)
        if not self.files.remote:
            return pq.read_table(art.path_parquet, columns=list(columns) if columns else None)
        return self.files.read_table(art.path_parquet, columns)

    def local_parquet(self, artifact: Artifact) -> Path:
        """A local file with the artifact's Parquet bytes, for DuckDB: the file itself in a local
        lake, a cached copy (checked against the file hash) when the artifacts are in a bucket."""
        return self.files.local_path(artifact.path_parquet, artifact.file_hash)

    def provenance(self, artifact_id: str) -> Provenance:
        self.get(artifact_id)
        r = self.connect().execute("SELECT * FROM artifact_provenance WHERE artifact_id = ?", (artifact_id,)).fetchone()
        if r is None:
            return Provenance()
        source = r["git_source"] or "given"
        return Provenance(
            writer_name=r["writer_name"], writer_version=r["writer_version"], git_commit=r["git_commit"],
            git_dirty=None if source == "unknown" else bool(r["git_dirty"]), git_source=source,
            params=json.loads(r["params_json"]), canonical_form=r["canonical_form"],
        )

    def _load(self, ids: list[str]) -> list[Artifact]:
        if not ids:
            return []
        con = self.connect()
        rows, tags, inputs, sup_by, sup = {}, {}, {}, {}, {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            queries = (
                (f"SELECT {_ARTIFACT_COLUMNS} FROM artifacts WHERE artifact_id IN ({marks})", chunk),
                (f"SELECT artifact_id, k, v FROM artifact_tags WHERE artifact_id IN ({marks}) ORDER BY k, v", chunk),
                (f"SELECT artifact_id, input_artifact_id FROM artifact_lineage WHERE artifact_id IN ({marks})"
                 " ORDER BY input_artifact_id", chunk),
                (f"SELECT artifact_id, supersedes_artifact_id FROM artifact_supersedes WHERE artifact_id IN ({marks})"
                 f" OR supersedes_artifact_id IN ({marks})", chunk + chunk),
            )
            # plain tuples: a page of 100 is built in a fraction of the time; PostgreSQL sends the
            # four queries in one round trip
            with self.dialect.batch(con):
                cursors = [_tuples(con).execute(sql, args) for sql, args in queries]
                c_rows, c_tags, c_inputs, c_sup = [c.fetchall() for c in cursors]
            for r in c_rows:
                rows[r[0]] = r
            for aid, k, v in c_tags:
                tags.setdefault(aid, {}).setdefault(k, []).append(v)
            for aid, inp in c_inputs:
                inputs.setdefault(aid, []).append(inp)
            for new, old in c_sup:
                sup[new] = old
                sup_by[old] = new
        uri = self.files.uri
        out = []
        for i in ids:
            r = rows.get(i)
            if r is None:
                continue
            out.append(Artifact(
                artifact_id=r[0], artifact_type=r[1], schema_version=r[2], logical_key=r[3], status=r[4],
                path_parquet=uri(r[5]), path_sidecar=uri(r[6]), file_hash=r[7], content_hash=r[8],
                row_count=r[9], min_ts=r[10], max_ts=r[11], created_at=r[12],
                tags=tags.get(i, {}), input_artifact_ids=inputs.get(i, []),
                superseded_by=sup_by.get(i), supersedes=sup.get(i),
            ))
        return out

    # -- lineage -------------------------------------------------------------------------------

    def upstream(self, artifact_id: str, depth: int | None = None) -> LineageGraph:
        """Everything `artifact_id` was made from; depth 1 = direct inputs, None = transitive."""
        return self._walk(artifact_id, depth, "upstream")

    def downstream(self, artifact_id: str, depth: int | None = None) -> LineageGraph:
        """Everything made from `artifact_id`; depth 1 = direct, None = transitive."""
        return self._walk(artifact_id, depth, "downstream")

    def _walk(self, artifact_id: str, depth: int | None, direction: str) -> LineageGraph:
        self.get(artifact_id)
        holdpoint("lineage_walk")
        if depth is not None and depth < 1:
            raise ValidationFailed("depth must be >= 1 (or omitted for the whole graph)", field="depth", value=depth)
        # Breadth-first, one indexed query per level: each node is reached once, at its least
        # depth, and its edges come with it, so the cost is that of the answer (nodes + edges).
        src = "artifact_id" if direction == "upstream" else "input_artifact_id"
        far = 1 if direction == "upstream" else 0  # the edge's end away from the walked node
        cur = _tuples(self.connect())
        level_of = {artifact_id: 0}
        edge_set: set[tuple[str, str]] = set()
        frontier, level = [artifact_id], 0
        while frontier:
            limited = depth is not None and level >= depth  # only edges among nodes already found
            nxt = []
            for chunk in _chunks(frontier, 500):
                marks = ",".join("?" * len(chunk))
                for edge in cur.execute(
                    f"SELECT artifact_id, input_artifact_id FROM artifact_lineage WHERE {src} IN ({marks})", chunk
                ):
                    other = edge[far]
                    if other not in level_of:
                        if limited:
                            continue
                        level_of[other] = level + 1
                        nxt.append(other)
                    edge_set.add(edge)
            if limited:
                break
            frontier, level = nxt, level + 1
        found = [i for i in level_of if i != artifact_id]
        meta = {}
        for chunk in _chunks(found, 500):
            marks = ",".join("?" * len(chunk))
            for r in cur.execute(f"SELECT artifact_id, artifact_type, logical_key, status FROM artifacts"
                                 f" WHERE artifact_id IN ({marks})", chunk):
                meta[r[0]] = r
        nodes = []
        for i in sorted(found, key=lambda i: (level_of[i], i)):
            r = meta.get(i)
            nodes.append(LineageNode(artifact_id=i, depth=level_of[i], artifact_type=r[1] if r else "?",
                                     logical_key=r[2] if r else "", status=r[3] if r else "tombstoned"))
        edges = [LineageEdge(artifact_id=a, input_artifact_id=b) for a, b in sorted(edge_set)]
        return LineageGraph(root=artifact_id, direction=direction, nodes=nodes, edges=edges)

    # -- status --------------------------------------------------------------------------------

    def supersede(self, new_artifact_id: str, old_artifact_id: str) -> Artifact:
        """Mark `old` superseded by `new` (same type; idempotent). Returns the old artifact.

        Raises:
            ArtifactNotFound, InvalidSupersession.
        """
        new, old = self.get(new_artifact_id), self.get(old_artifact_id)
        if new.artifact_id == old.artifact_id:
            raise InvalidSupersession("an artifact cannot supersede itself", artifact_id=new.artifact_id)
        if new.supersedes == old.artifact_id:
            return old  # idempotent
        if new.artifact_type != old.artifact_type:
            raise InvalidSupersession(
                f"types differ: {new.artifact_type} cannot supersede {old.artifact_type}",
                new_artifact_id=new.artifact_id, old_artifact_id=old.artifact_id,
            )
        if new.status != "active":
            raise InvalidSupersession(f"the new artifact is {new.status}, not active", new_artifact_id=new.artifact_id)
        if old.status != "active":
            by = f" by {old.superseded_by}" if old.superseded_by else ""
            raise InvalidSupersession(f"the old artifact is already {old.status}{by}", old_artifact_id=old.artifact_id)
        if new.supersedes is not None:
            raise InvalidSupersession(
                f"{new.artifact_id} already supersedes {new.supersedes} (one predecessor per artifact)",
                new_artifact_id=new.artifact_id,
            )
        if self._supersedes_chain(old.artifact_id).__contains__(new.artifact_id):
            raise InvalidSupersession("that would make a supersession cycle", new_artifact_id=new.artifact_id)
        con = self.connect()
        with manifest.write_txn(con):
            cur = con.execute("UPDATE artifacts SET status = 'superseded' WHERE artifact_id = ? AND status = 'active'",
                              (old.artifact_id,))
            if cur.rowcount != 1:
                raise InvalidSupersession("the old artifact changed status meanwhile; retry", old_artifact_id=old.artifact_id)
            con.execute("INSERT INTO artifact_supersedes VALUES (?, ?)", (new.artifact_id, old.artifact_id))
            _event(con, old.artifact_id, "superseded", new.artifact_id)
        self._wrote()
        return self.get(old.artifact_id)

    def _supersedes_chain(self, artifact_id: str) -> list[str]:
        rows = self.connect().execute(
            """WITH RECURSIVE chain(id) AS (
                 SELECT supersedes_artifact_id FROM artifact_supersedes WHERE artifact_id = ?
                 UNION SELECT s.supersedes_artifact_id FROM artifact_supersedes s JOIN chain c ON s.artifact_id = c.id)
               SELECT id FROM chain""",
            (artifact_id,),
        ).fetchall()
        return [r[0] for r in rows]

    def tombstone(self, artifact_id: str, reason: str = "") -> Artifact:
        """Mark an artifact tombstoned (idempotent). Its files go at the next `gc --apply`."""
        from bridge.store.limits import check_text

        check_text(reason or "", "reason", allow_empty=True)
        art = self.get(artifact_id)
        if art.status == "tombstoned":
            return art
        con = self.connect()
        with manifest.write_txn(con):
            con.execute("UPDATE artifacts SET status = 'tombstoned' WHERE artifact_id = ?", (artifact_id,))
            _event(con, artifact_id, "tombstoned", reason or None)
        self._wrote()
        return self.get(artifact_id)

    def stale(self, artifact_ids: Sequence[str] | None = None) -> list[StaleArtifact]:
        """Active artifacts with a superseded or tombstoned input anywhere upstream, with the paths."""
        holdpoint("stale")
        # From each stale root (a non-active artifact with dependents, kept by migration 0005's
        # triggers) breadth-first downstream, one indexed query per level: every artifact is
        # reached once per culprit, on a shortest path (the least by text among equals), so the
        # cost is that of the answer, never of the number of paths.
        cur = _tuples(self.connect())
        # (a scalar subquery per root: a join lets SQLite build a Bloom filter over all artifacts)
        roots = [r for r in cur.execute("SELECT artifact_id, (SELECT status FROM artifacts a WHERE"
                                        " a.artifact_id = r.artifact_id) FROM stale_roots r") if r[1] != "active"]
        found: list[tuple[str, str, str, list[str]]] = []  # (artifact, culprit, culprit status, path)
        for culprit, status in roots:
            path_of = {culprit: [culprit]}
            frontier = [culprit]
            for _ in range(64):
                best: dict[str, list[str]] = {}
                for chunk in _chunks(frontier, 500):
                    marks = ",".join("?" * len(chunk))
                    for child, parent in cur.execute(
                        f"SELECT artifact_id, input_artifact_id FROM artifact_lineage WHERE input_artifact_id IN ({marks})",
                        chunk,
                    ):
                        if child in path_of:
                            continue
                        path = [child, *path_of[parent]]
                        if child not in best or ">".join(path) < ">".join(best[child]):
                            best[child] = path
                if not best:
                    break
                path_of.update(best)
                frontier = sorted(best)
            found += [(aid, culprit, status, path) for aid, path in path_of.items() if aid != culprit]
        meta = {}
        ids = sorted({f[0] for f in found})
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for r in cur.execute(f"SELECT artifact_id, artifact_type, logical_key FROM artifacts"
                                 f" WHERE artifact_id IN ({marks}) AND status || '' = 'active'", chunk):
                meta[r[0]] = r
        rows = sorted(((aid, c, st, ">".join(path), meta[aid][1], meta[aid][2])
                       for aid, c, st, path in found if aid in meta), key=lambda r: (r[0], r[1]))
        wanted = set(artifact_ids) if artifact_ids is not None else None
        out: dict[str, StaleArtifact] = {}
        for r in rows:
            if wanted is not None and r[0] not in wanted:
                continue
            reason = StaleReason(input_artifact_id=r[1], input_status=r[2], path=r[3].split(">"))
            if r[0] in out:
                out[r[0]].reasons.append(reason)
            else:
                out[r[0]] = StaleArtifact(artifact_id=r[0], artifact_type=r[4], logical_key=r[5], reasons=[reason])
        return list(out.values())

    # -- maintenance ---------------------------------------------------------------------------

    def verify(self, *, quick: bool = False, deep: bool = False, incremental: bool = False, since: str | None = None,
               workers: int | None = None, job: Job = NULL_JOB):
        from bridge.store.maintenance import verify

        return verify(self, quick=quick, deep=deep, incremental=incremental, since=since, workers=workers, job=job)

    def gc(self, *, dry_run: bool = True, include_superseded: bool = False, job: Job = NULL_JOB):
        from bridge.store.maintenance import gc

        return gc(self, dry_run=dry_run, include_superseded=include_superseded, job=job)


# -- helpers ------------------------------------------------------------------------------------

#: From this many rows a publish hashes and checks on another thread while it writes the file
#: (below it, the thread and its DuckDB connection cost more than they save).
_OVERLAP_MIN_ROWS = 200_000


class _AlreadyRegistered(Exception):
    """The content being written is registered already: stop writing (a dedup)."""


def _deduped(artifact: Artifact, mode: str) -> PublishResult:
    return PublishResult(deduped=True, mode=mode, existing_artifact_id=artifact.artifact_id,
                         artifact_id=artifact.artifact_id, artifact=artifact)


def _sidecar(row: dict, created_at: str, prov: dict, tag_pairs, inputs) -> dict:
    tags: dict[str, list[str]] = {}
    for k, v in tag_pairs:
        tags.setdefault(k, []).append(v)
    manifest_row = {k: v for k, v in row.items() if k != "file_bytes"}  # the sidecar's format predates it
    return {**manifest_row, "created_at": created_at, **prov, "tags": tags, "input_artifact_ids": list(inputs)}


def _add_source_location(exc: ValidationFailed, data: Any) -> None:
    """For file inputs, say which file and (for CSV) which line: data row 0 is line 2."""
    if not isinstance(data, (str, Path)):
        return
    exc.data.setdefault("path", str(data))
    row = exc.data.get("row")
    if isinstance(row, int) and Path(data).suffix.lower() in (".csv", ".tsv", ".txt"):
        exc.data["line"] = row + 2
        exc.message = f"{exc.message} in {Path(data).name} line {row + 2}"
        exc.args = (exc.message,)


def _event(con, artifact_id: str, event: str, detail: str | None, at: str | None = None) -> None:
    con.execute("INSERT INTO artifact_events (artifact_id, event, at, detail) VALUES (?,?,?,?)",
                (artifact_id, event, at or now_iso(), detail))


def _check_logical_key(key: str) -> None:
    from bridge.store.limits import check_text

    check_text(key, "logicalKey")


def _git_provenance(git_commit: str | None, git_dirty: bool | None) -> dict[str, Any]:
    """Given: as given (dirty omitted = False). Omitted: detected from the working directory, or
    recorded as unknown (commit None, dirty None) outside a git checkout."""
    if git_commit is not None:
        return {"git_commit": git_commit, "git_dirty": bool(git_dirty), "git_source": "given"}
    from bridge.store.gitinfo import git_state

    st = git_state()
    return {"git_commit": st.commit, "git_dirty": st.dirty, "git_source": st.source}


class _storage_errors:
    """Turn the OS refusing a write (disk full, file too large, quota, read-only, permission)
    into StorageError naming `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ, exc, tb) -> bool:
        if exc is not None and isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            from bridge.errors import StorageError

            raise StorageError.from_os_error(exc, getattr(exc, "filename", None) or self.path) from exc
        return False


def _tag_pairs(tags) -> list[tuple[str, str]]:
    from bridge.store.limits import check_text

    if tags is None:
        return []
    pairs = list(tags.items()) if isinstance(tags, Mapping) else list(tags)
    out = []
    for item in pairs:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ValidationFailed("a tag must be a (key, value) pair", field="tags", value=item)
        k, v = item
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise ValidationFailed("tag keys must be non-empty strings and values strings", field="tags", value=[k, v])
        check_text(k, f"tags key {k[:40]!r}")
        check_text(v, f"tags[{k[:40]!r}]", allow_empty=True)
        out.append((k, v))
    return sorted(set(out))


def _norm_ts(text: str, field: str) -> str:
    try:
        return iso(parse_iso(text))
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("not an ISO-8601 timestamp", field=field, value=text) from exc


#: Migration 0008's span classes: class c holds artifacts with max_ts - min_ts <= 4**c minutes
#: (c < _SPAN_CLASSES - 1); the last class is unbounded.
_SPAN_CLASSES = 14


def _overlap_driver(ts_from: str, ts_to: str | None, columns: str = "rowid", *, artifact_type: str | None = None,
                    status: str | None = None, hint: str = " INDEXED BY idx_artifacts_span_min_ts") -> tuple[str, list]:
    """`columns` (of idx_artifacts_span_min_ts: rowid, created_at, artifact_id, the times, type,
    status) of the artifacts with max_ts >= ts_from (and min_ts < ts_to, and of that type and
    status): per span class one range of the index, since an overlapping artifact of class c
    starts at most 4**c minutes (+ 1 s for julianday's rounding) before ts_from. Reads only the
    index; cost ∝ the overlap (≤ ~4×)."""
    from datetime import timedelta

    start = parse_iso(ts_from)
    parts, args = [], []
    for c in range(_SPAN_CLASSES):
        sql = f"SELECT {columns} FROM artifacts{hint} WHERE ts_span_class = ?"
        args.append(c)
        if c < _SPAN_CLASSES - 1:
            try:
                lower = iso(start - timedelta(minutes=4**c, seconds=1))
            except OverflowError:  # before year 1
                lower = None
            if lower is not None:
                sql += " AND min_ts >= ?"
                args.append(lower)
        if ts_to is not None:
            sql += " AND min_ts < ?"
            args.append(ts_to)
        sql += " AND max_ts >= ?"
        args.append(ts_from)
        if artifact_type:
            sql += " AND artifact_type = ?"
            args.append(artifact_type)
        if status:
            sql += " AND status = ?"
            args.append(status)
        parts.append(sql)
    return " UNION ALL ".join(parts), args


def _tuples(con):
    """A cursor whose rows are plain tuples (either dialect)."""
    cur = con.cursor()
    cur.row_factory = None
    return cur


def _prefix_upper_bound(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix` (code point order is
    UTF-8 byte order, SQLite's BINARY collation); None if there is none."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        nxt = last + 1 if last + 1 != 0xD800 else 0xE000  # skip the surrogates
        if nxt <= 0x10FFFF:
            return "".join(chars) + chr(nxt)
    return None


_TOP = "\U0010ffff"  # sorts after every string that starts with a given prefix (UTF-8, BINARY)

# Store.list's orders: name -> column (each has an index ending in artifact_id: 0005, 0007).
LIST_ORDERS = {
    "created_at": "created_at", "-created_at": "created_at",
    "logical_key": "logical_key", "-logical_key": "logical_key",
    "row_count": "row_count", "-row_count": "row_count",
}


def _encode_cursor(value: Any, artifact_id: str, order: str = "created_at") -> str:
    """The default order's cursor is [created_at, id] (as before orders existed); others carry
    their order so that a cursor is never applied to another order."""
    doc = [value, artifact_id] if order == "created_at" else [order, value, artifact_id]
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str = "created_at") -> tuple[Any, str]:
    try:
        pad = "=" * (-len(cursor) % 4)
        doc = json.loads(base64.urlsafe_b64decode(cursor + pad))
        if order == "created_at":
            created, aid = doc
            return str(created), str(aid)
        made_for, value, aid = doc
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("invalid cursor: pass the nextCursor of a previous page", field="cursor") from exc
    if made_for != order:
        raise ValidationFailed(f"this cursor pages the order {made_for!r}, not {order!r}", field="cursor")
    return value, str(aid)


def _dead(host: str, pid: int) -> bool:
    """Known dead: only a process of this host can be checked; others are presumed alive (on
    PostgreSQL their lease decides)."""
    return host == _HOST and not pid_alive(pid)


class _LeaseKeeper:
    """Renews a journal row's lease every lease/3 seconds from a thread with its own connection."""

    def __init__(self, store: Store, journal_id: str) -> None:
        self.store, self.journal_id = store, journal_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="publish-lease", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        period = max(self.store.lease_s / 3, 0.05)
        con = None
        try:
            while not self.stop.wait(period):
                if con is None:
                    con = self.store.dialect.connect()
                self.store.dialect.renew_lease(con, self.journal_id, self.store.lease_s)
        except Exception as exc:  # pragma: no cover - the publish itself reports a broken manifest
            log.warning("could not renew the publish lease of %s: %s", self.journal_id, exc)
        finally:
            if con is not None:
                con.close()


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i : i + n]
