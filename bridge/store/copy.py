"""`bridge lake copy SRC DST`: copy a whole lake between any two backends (SQLite or PostgreSQL
manifest, local folder or bucket), idempotently, checking every file as it goes.

Per artifact, oldest first: the Parquet file and the sidecar are fetched from the source, their
SHA-256 checked against the manifest's file hash, put at the same relative key in the
destination (which checks the upload again), and only then the manifest rows (artifact, tags,
lineage, supersession, provenance, events) are inserted in one transaction. Ids, hashes, paths
relative to the store and timestamps are copied unchanged, so a lake can go to the team backend
and back with every artifact id the same. Experiment run records follow.

Running it again copies only what is missing: an artifact already in the destination with the
same file hash is skipped (its files are put back if they are gone); one with another file hash
under the same id is a conflict and stops the copy.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import msgspec

from bridge.errors import IntegrityError
from bridge.progress import NULL_JOB, Job
from bridge.store import manifest

__all__ = ["CopyReport", "copy_lake"]

log = logging.getLogger(__name__)

_ARTIFACT_COLS = ("artifact_id", "artifact_type", "schema_version", "logical_key", "status", "path_parquet",
                  "path_sidecar", "file_hash", "content_hash", "row_count", "min_ts", "max_ts", "created_at", "file_bytes")
_RUN_TABLES = (("experiment_sweeps", ("sweep_id",)), ("experiment_runs", ("run_id",)),
               ("experiment_run_inputs", ("run_id", "role", "artifact_id")))


class CopyReport(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    destination: str
    artifacts: int  # artifacts in the source
    copied: int  # newly registered in the destination
    skipped: int  # already there with the same file hash
    files_copied: int  # files uploaded/written (new artifacts, and missing files put back)
    bytes_copied: int
    status_updated: int  # artifacts whose status the destination had older
    runs_copied: int


def copy_lake(src, dst, *, job: Job = NULL_JOB) -> CopyReport:
    """Copy every manifest row and file of `src` (a Store) into `dst` (a Store). Idempotent.

    Raises:
        IntegrityError: a source file does not have the bytes its manifest row names, or the
            destination holds another file under an artifact id.
    """
    scon, dcon = src.connect(), dst.connect()
    rows = scon.execute("SELECT * FROM artifacts ORDER BY created_at, artifact_id").fetchall()
    removed = {r[0] for r in scon.execute("SELECT artifact_id FROM artifact_events WHERE event = 'files_removed'")}
    tmp_dir = dst.lake.staging / "copy"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    copied = skipped = files = nbytes = updated = 0
    for i, row in enumerate(rows):
        job.progress(i, len(rows), row["artifact_id"])
        aid = row["artifact_id"]
        have = dcon.execute("SELECT file_hash, status FROM artifacts WHERE artifact_id = ?", (aid,)).fetchone()
        if have is not None and have["file_hash"] != row["file_hash"]:
            raise IntegrityError(f"artifact {aid} has another file hash in the destination ({have['file_hash']} != "
                                 f"{row['file_hash']}): these are two different lakes", artifact_id=aid)
        rel_pq, rel_sc = _rel(row["path_parquet"]), _rel(row["path_sidecar"])
        if aid not in removed:
            for ref, rel, expected in ((row["path_parquet"], rel_pq, row["file_hash"]), (row["path_sidecar"], rel_sc, None)):
                if dst.files.exists(rel) and (expected is None or have is not None):
                    continue
                n = _copy_file(src.files, ref, dst.files, rel, expected, tmp_dir, aid)
                files += 1
                nbytes += n
        if have is not None:
            skipped += 1
            if have["status"] != row["status"]:
                with manifest.write_txn(dcon):
                    dcon.execute("UPDATE artifacts SET status = ? WHERE artifact_id = ?", (row["status"], aid))
                    _copy_children(scon, dcon, aid)
                updated += 1
            else:
                with manifest.write_txn(dcon):
                    _copy_children(scon, dcon, aid)
            continue
        with manifest.write_txn(dcon):
            values = [row[c] for c in _ARTIFACT_COLS]
            values[5], values[6] = rel_pq, rel_sc
            dcon.execute(f"INSERT INTO artifacts ({', '.join(_ARTIFACT_COLS)}) VALUES ({', '.join('?' * len(values))})"
                         " ON CONFLICT DO NOTHING", values)
            _copy_children(scon, dcon, aid)
        copied += 1
    runs = _copy_runs(scon, dcon)
    if copied or updated or runs:
        dst.dialect.analyze(dcon)  # fresh statistics for the bulk-loaded rows (PostgreSQL)
    src._wrote()
    dst._wrote()
    job.progress(len(rows), len(rows), "done")
    return CopyReport(source=_name(src), destination=_name(dst), artifacts=len(rows), copied=copied, skipped=skipped,
                      files_copied=files, bytes_copied=nbytes, status_updated=updated, runs_copied=runs)


def _name(store) -> str:
    return f"{store.lake.manifest_display} + {store.files.url}"


def _rel(path: str) -> str:
    """The key relative to the artifact store (an absolute path of an old manifest keeps its
    name under artifacts/_imported/)."""
    if path.startswith("/"):
        return f"artifacts/_imported/{Path(path).name}"
    return path


def _copy_file(src_fs, ref: str, dst_fs, rel: str, expected: str | None, tmp_dir: Path, aid: str) -> int:
    from bridge.store.files import sha256_file

    tmp = tmp_dir / f"{uuid.uuid4().hex}{Path(rel).suffix}"
    try:
        try:
            with src_fs.open_input(ref) as fh, open(tmp, "wb") as out:
                while chunk := fh.read(8 << 20):
                    out.write(chunk)
        except (FileNotFoundError, OSError) as exc:
            raise IntegrityError(f"artifact {aid}: cannot read {src_fs.uri(ref)} ({exc}); run `bridge verify` on the source",
                                 artifact_id=aid, path=src_fs.uri(ref)) from exc
        digest = sha256_file(tmp)
        if expected is not None and digest != expected:
            raise IntegrityError(f"artifact {aid}: {src_fs.uri(ref)} does not have the bytes the manifest names "
                                 f"(sha256 {digest} != {expected}); run `bridge verify` on the source",
                                 artifact_id=aid, path=src_fs.uri(ref))
        dst_fs.put(tmp, rel, sha256=digest, replace=expected is not None)
        if dst_fs.size(rel) != tmp.stat().st_size:
            raise IntegrityError(f"artifact {aid}: the copy at {dst_fs.uri(rel)} has the wrong size", artifact_id=aid)
        return tmp.stat().st_size
    finally:
        tmp.unlink(missing_ok=True)


def _copy_children(scon, dcon, aid: str) -> None:
    """Tags, lineage, supersession, provenance and events of one artifact (missing ones only)."""
    dcon.executemany("INSERT INTO artifact_tags VALUES (?,?,?) ON CONFLICT DO NOTHING",
                     [(r[0], r[1], r[2]) for r in scon.execute("SELECT artifact_id, k, v FROM artifact_tags WHERE artifact_id = ?", (aid,))])
    dcon.executemany("INSERT INTO artifact_lineage VALUES (?,?) ON CONFLICT DO NOTHING",
                     [(r[0], r[1]) for r in scon.execute(
                         "SELECT artifact_id, input_artifact_id FROM artifact_lineage WHERE artifact_id = ?", (aid,))])
    dcon.executemany("INSERT INTO artifact_supersedes VALUES (?,?) ON CONFLICT DO NOTHING",
                     [(r[0], r[1]) for r in scon.execute(
                         "SELECT artifact_id, supersedes_artifact_id FROM artifact_supersedes WHERE artifact_id = ?", (aid,))])
    cur = scon.execute("SELECT * FROM artifact_provenance WHERE artifact_id = ?", (aid,))
    prov = cur.fetchone()
    if prov is not None:  # both manifests are at the newest schema (opening a Store migrates it)
        cols = [d[0] for d in cur.description]
        dcon.execute(f"INSERT INTO artifact_provenance ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                     " ON CONFLICT DO NOTHING", tuple(prov))
    have = {tuple(r) for r in dcon.execute("SELECT event, at, detail FROM artifact_events WHERE artifact_id = ?", (aid,))}
    for r in scon.execute("SELECT event, at, detail FROM artifact_events WHERE artifact_id = ? ORDER BY event_id", (aid,)):
        if tuple(r) not in have:
            dcon.execute("INSERT INTO artifact_events (artifact_id, event, at, detail) VALUES (?,?,?,?)", (aid, *r))


def _copy_runs(scon, dcon) -> int:
    n = 0
    stables, dtables = scon.dialect.tables(scon), dcon.dialect.tables(dcon)
    for table, key in _RUN_TABLES:
        if table not in stables or table not in dtables:
            continue
        cur = scon.execute(f"SELECT * FROM {table}")
        cols = [d[0] for d in cur.description]
        rows = [tuple(r) for r in cur.fetchall()]
        if not rows:
            continue
        with manifest.write_txn(dcon):
            before = dcon.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            dcon.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                             f" ON CONFLICT ({', '.join(key)}) DO NOTHING", rows)
            after = dcon.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        if table == "experiment_runs":
            n = after - before
    return n
