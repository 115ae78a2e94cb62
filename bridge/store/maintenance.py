"""verify (does the lake agree with its manifest?) and gc (remove what retention allows), on
either artifact store (a local folder or a bucket: `store.files`) and either manifest."""

from __future__ import annotations

import json
import logging

from bridge.progress import NULL_JOB, Job
from bridge.store import manifest
from bridge.store.models import GcReport, VerifyIssue, VerifyReport
from bridge.store.spec import get_spec
from bridge.store.timeutil import now_iso

__all__ = ["gc", "verify"]

log = logging.getLogger(__name__)


def verify(store, *, quick: bool = False, job: Job = NULL_JOB) -> VerifyReport:
    """Re-hash every artifact's bytes (and, unless quick, its content), check row counts and
    timestamps, sidecars, orphan files, dangling lineage and derived artifacts without inputs."""
    con = store.connect()
    rows = con.execute("SELECT * FROM artifacts ORDER BY created_at, artifact_id").fetchall()
    removed = _files_removed(con)
    issues: list[VerifyIssue] = []
    known_files: set[str] = set()
    fs = store.files
    for i, row in enumerate(rows):
        job.progress(i, len(rows), f"checking {row['artifact_id']}")
        parquet, sidecar = row["path_parquet"], row["path_sidecar"]
        known_files.update((fs.key(parquet), fs.key(sidecar)))
        if row["artifact_id"] in removed and row["status"] != "active":
            continue  # gc removed them on purpose; a re-publish (with revive if tombstoned) restores them
        found = _check_artifact(fs, row, parquet, sidecar, quick)
        if row["artifact_id"] in removed and found:
            found = [_issue("missing_file", row, fs.uri(parquet), "the artifact is active but gc removed its files; "
                            "publish the same data again to restore them")]
        issues += found
    job.progress(len(rows), len(rows), "lineage")
    issues += _check_lineage(con)
    issues += _check_orphans(store, known_files)
    issues = _with_affected(con, issues)
    return VerifyReport(ok=not issues, checked=len(rows), issues=issues)


def _files_removed(con) -> set[str]:
    """Artifacts whose latest file event is gc's `files_removed` (not a later `files_restored`)."""
    return {r[0] for r in con.execute(
        "SELECT artifact_id FROM artifact_events e WHERE event IN ('files_removed', 'files_restored')"
        " AND event_id = (SELECT MAX(event_id) FROM artifact_events f WHERE f.artifact_id = e.artifact_id"
        "                 AND f.event IN ('files_removed', 'files_restored')) AND event = 'files_removed'")}


def _with_affected(con, issues: list[VerifyIssue]) -> list[VerifyIssue]:
    """Each issue with the active artifacts made (transitively) from its artifact: what it reaches."""
    import msgspec

    out = []
    for issue in issues:
        if issue.artifact_id is None:
            out.append(issue)
            continue
        affected = _active_dependents(con, issue.artifact_id)
        if affected:
            issue = msgspec.structs.replace(issue, affected=affected)
        out.append(issue)
    return out


def _issue(kind: str, row, path: str | None, detail: str) -> VerifyIssue:
    return VerifyIssue(kind=kind, artifact_id=row["artifact_id"] if row is not None else None,
                       path=path or None, detail=detail)


def _check_artifact(fs, row, parquet_ref: str, sidecar_ref: str, quick: bool) -> list[VerifyIssue]:
    out: list[VerifyIssue] = []
    parquet = fs.uri(parquet_ref)
    if not fs.exists(parquet_ref):
        return [_issue("missing_file", row, parquet, "the Parquet file is gone; restore it or tombstone the artifact")]
    size, head, tail = fs.head_tail(parquet_ref)
    if size < 12 or head != b"PAR1" or tail != b"PAR1":
        return [_issue("truncated", row, parquet, f"not a whole Parquet file ({size} bytes, no PAR1 footer)")]
    actual = fs.sha256(parquet_ref)
    if actual != row["file_hash"]:
        out.append(_issue("file_hash_mismatch", row, parquet, f"bytes changed: sha256 {actual} != {row['file_hash']}"))
    out += _check_sidecar(fs, row, sidecar_ref)
    if quick and not out:
        return out
    out += _check_content(fs, row, parquet_ref)
    return out


def _check_sidecar(fs, row, sidecar_ref: str) -> list[VerifyIssue]:
    sidecar = fs.uri(sidecar_ref)
    if not fs.exists(sidecar_ref):
        return [_issue("missing_sidecar", row, sidecar, "the sidecar JSON is gone")]
    try:
        meta = json.loads(fs.read_bytes(sidecar_ref).decode("utf-8"))
    except (OSError, ValueError) as exc:
        return [_issue("corrupt_sidecar", row, sidecar, f"unreadable sidecar: {exc}")]
    bad = [k for k in ("artifact_id", "content_hash", "file_hash", "row_count", "logical_key") if meta.get(k) != row[k]]
    if bad:
        return [_issue("sidecar_mismatch", row, sidecar, f"sidecar disagrees with the manifest on {', '.join(bad)}")]
    return []


def _check_content(fs, row, parquet_ref: str) -> list[VerifyIssue]:
    import pyarrow as pa

    from bridge.errors import BridgeError
    from bridge.store import canonical

    parquet = fs.uri(parquet_ref)
    spec = get_spec(row["artifact_type"], row["schema_version"])
    try:
        table = fs.read_table(parquet_ref)
    except (pa.ArrowException, OSError) as exc:
        return [_issue("corrupt", row, parquet, f"cannot read the Parquet file: {exc}")]
    out = []
    if table.num_rows != row["row_count"]:
        out.append(_issue("row_count_mismatch", row, parquet, f"{table.num_rows} rows, manifest says {row['row_count']}"))
    try:
        canon = canonical.canonicalize(table, spec, row["logical_key"])
    except BridgeError as exc:
        return [*out, _issue("invalid_content", row, parquet, f"no longer fits {spec.artifact_type}: {exc}")]
    chash = canonical.content_hash(canon, spec)
    if chash != row["content_hash"]:
        out.append(_issue("content_hash_mismatch", row, parquet, f"content hash {chash} != {row['content_hash']}"))
    lo_s, hi_s = canonical.ts_range_iso(canon, spec)
    if (lo_s, hi_s) != (row["min_ts"], row["max_ts"]):
        out.append(_issue("ts_range_mismatch", row, parquet,
                          f"timestamps span {lo_s}..{hi_s}, manifest says {row['min_ts']}..{row['max_ts']}"))
    return out


def _check_lineage(con) -> list[VerifyIssue]:
    out = []
    for r in con.execute(
        "SELECT l.artifact_id, l.input_artifact_id FROM artifact_lineage l"
        " LEFT JOIN artifacts a ON a.artifact_id = l.input_artifact_id"
        " LEFT JOIN artifacts b ON b.artifact_id = l.artifact_id WHERE a.artifact_id IS NULL OR b.artifact_id IS NULL"
    ):
        out.append(VerifyIssue(kind="dangling_lineage", artifact_id=r[0],
                               detail=f"lineage edge {r[0]} -> {r[1]} names an artifact the manifest does not have"))
    derived = [(t, v) for (t, v), s in _specs().items() if s.derived]
    for t, v in derived:
        for r in con.execute(
            "SELECT artifact_id FROM artifacts a WHERE artifact_type = ? AND schema_version = ?"
            " AND NOT EXISTS (SELECT 1 FROM artifact_lineage l WHERE l.artifact_id = a.artifact_id)",
            (t, v),
        ):
            out.append(VerifyIssue(kind="derived_without_inputs", artifact_id=r[0],
                                   detail=f"{t} is derived but declares no input artifacts (PRD invariant 4)"))
    return out


def _specs():
    from bridge.store.spec import SPECS

    return SPECS


def _check_orphans(store, known: set[str]) -> list[VerifyIssue]:
    con = store.connect()
    fs = store.files
    in_flight = {fs.key(r[0]) for r in con.execute("SELECT path_parquet FROM publish_journal")}
    in_flight |= {fs.key(r[0]) for r in con.execute("SELECT path_sidecar FROM publish_journal")}
    out = []
    for key in fs.list_keys("artifacts"):
        if key not in known and key not in in_flight:
            out.append(VerifyIssue(kind="orphan_file", path=key,
                                   detail="file under artifacts/ that no manifest row names; `gc --apply` removes it"))
    return out


def gc(store, *, dry_run: bool = True, include_superseded: bool = False, job: Job = NULL_JOB) -> GcReport:
    """Remove files of tombstoned (and optionally superseded) artifacts that no active artifact
    depends on (transitively), plus orphan files and dead staging leftovers. Dry-run by default.
    Manifest rows stay (history); an event `files_removed` records the removal."""
    con = store.connect()
    statuses = ("tombstoned", "superseded") if include_superseded else ("tombstoned",)
    marks = ",".join("?" * len(statuses))
    removed_before = _files_removed(con)
    candidates = [r for r in con.execute(f"SELECT * FROM artifacts WHERE status IN ({marks}) ORDER BY artifact_id", statuses)
                  if r["artifact_id"] not in removed_before]
    removed, kept, freed = [], [], 0
    for i, r in enumerate(candidates):
        job.progress(i, len(candidates), r["artifact_id"])
        active = _active_dependents(con, r["artifact_id"])
        if active:
            kept.append({"artifact_id": r["artifact_id"], "reason": f"active artifacts depend on it: {', '.join(active[:5])}"})
            continue
        refs = [r["path_parquet"], r["path_sidecar"]]
        freed += sum(store.files.size(p) or 0 for p in refs)
        removed.append(r["artifact_id"])
        if not dry_run:
            with manifest.write_txn(con):
                con.execute("INSERT INTO artifact_events (artifact_id, event, at, detail) VALUES (?, 'files_removed', ?, NULL)",
                            (r["artifact_id"], now_iso()))
            store._wrote()
            for p in refs:
                store.files.delete(p)
    orphans = [i.path for i in _check_orphans(store, _registered_files(store))]
    if not dry_run:
        for p in orphans:
            freed += store.files.size(p) or 0
            store.files.delete(p)
        store.recover()
        store.files.remove_staging_leftovers(_dead)
    return GcReport(dry_run=dry_run, removed=removed, bytes_freed=freed, kept=kept, orphan_files=orphans)


def _registered_files(store) -> set[str]:
    out = set()
    for r in store.connect().execute("SELECT path_parquet, path_sidecar FROM artifacts"):
        out.add(store.files.key(r[0]))
        out.add(store.files.key(r[1]))
    return out


def _dead(host: str, pid: int) -> bool:
    from bridge.store.store import _dead as dead

    return dead(host, pid)


def _active_dependents(con, artifact_id: str) -> list[str]:
    rows = con.execute(
        """WITH RECURSIVE down(id) AS (
             SELECT artifact_id FROM artifact_lineage WHERE input_artifact_id = ?
             UNION SELECT l.artifact_id FROM artifact_lineage l JOIN down d ON l.input_artifact_id = d.id)
           SELECT d.id FROM down d JOIN artifacts a ON a.artifact_id = d.id WHERE a.status = 'active' ORDER BY d.id""",
        (artifact_id,),
    ).fetchall()
    return [r[0] for r in rows]
