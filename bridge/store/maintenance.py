"""verify (does the lake agree with its manifest?) and gc (remove what retention allows), on
either artifact store (a local folder or a bucket: `store.files`) and either manifest."""

from __future__ import annotations

import hashlib
import logging
import stat

import msgspec

from bridge.proc import usable_cpus
from bridge.progress import NULL_JOB, Job
from bridge.store import manifest
from bridge.store.models import GcKept, GcReport, VerifyIssue, VerifyReport
from bridge.store.spec import get_spec
from bridge.store.timeutil import now_iso

__all__ = ["gc", "verify"]

log = logging.getLogger(__name__)
_decode_json = msgspec.json.decode


_COLUMNS = ("artifact_id", "artifact_type", "schema_version", "logical_key", "status", "path_parquet", "path_sidecar",
            "file_hash", "file_bytes", "content_hash", "row_count", "min_ts", "max_ts", "created_at")


def verify(store, *, quick: bool = False, deep: bool = False, incremental: bool = False, since: str | None = None,
           workers: int | None = None, job: Job = NULL_JOB) -> VerifyReport:
    """Does the lake agree with its manifest? Four depths (docs/store.md, "verify"):

    * quick: existence, size (against the size recorded at publish) and mode of every file, and
      orphans, from one walk of artifacts/ — no file is opened;
    * full (default): quick, plus every Parquet file re-hashed (sha256 against file_hash, on
      `workers` threads, default one per core) and every sidecar checked against the manifest; a
      file whose bytes differ is then read and its content re-hashed to say what changed;
    * incremental (or since=ISO instant): full, but only for artifacts published, or files
      modified, at or after `since` (default: the start of the last clean full verify);
    * deep: full, plus every artifact's content re-derived and re-hashed (canonical form, row
      count, time range), which identical bytes can only fail through a change in the hasher.
    Every run is recorded in verify_runs; manifest-only checks (lineage) always run. In a bucket,
    "modified" is the object's last-modified time and there is no mode to check."""
    started = now_iso()
    mode = "quick" if quick else "deep" if deep else "incremental" if incremental or since else "full"
    con = store.connect()
    if mode == "incremental" and since is None:
        r = con.execute("SELECT started_at FROM verify_runs WHERE ok = 1 AND mode IN ('full', 'deep')"
                        " ORDER BY started_at DESC LIMIT 1").fetchone()
        since = r[0] if r else None  # never verified clean: everything is new
    if since:
        since, since_ns = _instant(since)
    else:
        since_ns = None
    fs = store.files
    cur = con.cursor()
    cur.row_factory = None
    rows = [dict(zip(_COLUMNS, r)) for r in cur.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM artifacts ORDER BY created_at, artifact_id")]
    removed = _files_removed(con)
    in_flight = {p for r in cur.execute("SELECT path_parquet, path_sidecar FROM publish_journal") for p in r}
    job.progress(0, len(rows), "listing files", force=True)
    on_disk = fs.walk("artifacts")
    issues: list[VerifyIssue] = []
    to_hash: list[tuple[dict, str, str, object]] = []
    for row in rows:
        gone = row["artifact_id"] in removed
        if gone and row["status"] != "active":
            continue  # gc removed them on purpose; a re-publish (with revive if tombstoned) restores them
        pst, sst = on_disk.get(row["path_parquet"]), on_disk.get(row["path_sidecar"])
        bad = _check_stat(row, fs, pst, sst, quick)
        if gone and bad:
            bad = [_issue("missing_file", row, fs.uri(row["path_parquet"]), "the artifact is active but gc removed "
                          "its files; publish the same data again to restore them")]
        issues += bad
        if bad or quick:
            continue
        if since_ns is not None and row["created_at"] < since and max(pst.changed_ns, sst.changed_ns) < since_ns:
            continue  # unchanged since the last clean verify
        to_hash.append((row, fs.uri(row["path_parquet"]), fs.uri(row["path_sidecar"]), fs))
    for rel in on_disk.keys() - {p for row in rows for p in (row["path_parquet"], row["path_sidecar"])} - in_flight:
        issues.append(VerifyIssue(kind="orphan_file", path=fs.uri(rel),
                                  detail="file under artifacts/ that no manifest row names; `gc --apply` removes it"))
    if to_hash:
        issues += _hash_all(to_hash, deep, workers, job)
    job.progress(len(rows), len(rows), "lineage")
    issues += _check_lineage(con)
    issues.sort(key=lambda i: (i.artifact_id or "", i.kind, i.path or ""))
    issues = _with_affected(con, issues)
    report = VerifyReport(ok=not issues, checked=len(rows), issues=issues, mode=mode, hashed=len(to_hash),
                          since=since)
    with manifest.write_txn(con):
        con.execute("INSERT INTO verify_runs (mode, since, started_at, finished_at, checked, hashed, issues, ok)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (mode, since, started, now_iso(), len(rows), len(to_hash), len(issues), int(report.ok)))
    return report


def _instant(text: str) -> tuple[str, int]:
    """The instant as the manifest writes timestamps, and in nanoseconds since the epoch."""
    from bridge.errors import ValidationFailed
    from bridge.store.timeutil import iso, parse_iso

    try:
        t = parse_iso(text)
        return iso(t), int(t.timestamp() * 1_000_000) * 1000
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("not an ISO-8601 timestamp", field="since", value=text) from exc


def _check_stat(row, fs, pst, sst, quick: bool) -> list[VerifyIssue]:
    """Checks from the listing alone (`ArtifactFS.walk`'s FileStat: size, mode, change time)."""
    if pst is None:
        return [_issue("missing_file", row, fs.uri(row["path_parquet"]),
                       "the Parquet file is gone; restore it or tombstone the artifact")]
    if (pst.size >= 12 and not quick and (pst.mode is None or pst.mode & stat.S_IRUSR)
            and sst is not None and (sst.mode is None or sst.mode & stat.S_IRUSR)):
        return []  # the usual case, checked without building the paths an issue would name
    parquet, sidecar = fs.uri(row["path_parquet"]), fs.uri(row["path_sidecar"])
    out = []
    size = pst.size
    if size < 12:
        out.append(_issue("truncated", row, parquet, f"not a whole Parquet file ({size} bytes)"))
    elif quick and row["file_bytes"] is not None and size != row["file_bytes"]:  # a full verify says what changed
        out.append(_issue("size_mismatch", row, parquet, f"{size} bytes, published as {row['file_bytes']} bytes"))
    if pst.mode is not None and not pst.mode & stat.S_IRUSR:
        out.append(_issue("unreadable", row, parquet, f"mode {stat.filemode(pst.mode)}: the owner cannot read it"))
    if sst is None:
        out.append(_issue("missing_sidecar", row, sidecar, "the sidecar JSON is gone"))
    elif sst.mode is not None and not sst.mode & stat.S_IRUSR:
        out.append(_issue("unreadable", row, sidecar, f"mode {stat.filemode(sst.mode)}: the owner cannot read it"))
    return out


def _hash_all(items, deep: bool, workers: int | None, job: Job) -> list[VerifyIssue]:
    """Re-hash files on a thread pool, a batch of files per task (hashlib and pyarrow release the
    GIL while they work)."""
    from concurrent.futures import ThreadPoolExecutor

    n = workers or usable_cpus()
    size = max(16, min(512, len(items) // (4 * n) or 1))
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    out: list[VerifyIssue] = []
    done = 0
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="verify") as pool:
        for batch, found in zip(batches, pool.map(lambda b: [x for it in b for x in _check_artifact(*it[:3], deep, it[3])], batches)):
            out += found
            done += len(batch)
            job.progress(done, len(items), "re-hashing")
    return out


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


def _check_artifact(row, parquet: str, sidecar: str, deep: bool, fs) -> list[VerifyIssue]:
    """`parquet` and `sidecar` are the files' uris (a local path or s3://…), which `fs` reads."""
    out: list[VerifyIssue] = []
    h = hashlib.sha256()
    head = tail = b""
    try:
        with fs.open_stream(parquet) as fh:  # one pass: hash, and the PAR1 magic at both ends
            while chunk := fh.read(1 << 20):
                if not head:
                    head = chunk[:4]
                tail = (tail + chunk[-4:])[-4:]
                h.update(chunk)
    except OSError as exc:
        return [_issue("unreadable", row, parquet, f"cannot read the Parquet file: {exc}")]
    if head != b"PAR1" or tail != b"PAR1":
        return [_issue("truncated", row, parquet, "not a whole Parquet file (no PAR1 header and footer)")]
    actual = h.hexdigest()
    changed = actual != row["file_hash"]
    if changed:
        out.append(_issue("file_hash_mismatch", row, parquet, f"bytes changed: sha256 {actual} != {row['file_hash']}"))
    out += _check_sidecar(row, sidecar, fs)
    if changed or deep:
        out += _check_content(row, parquet, fs)
    return out


def _check_sidecar(row, sidecar: str, fs) -> list[VerifyIssue]:
    try:
        with fs.open_stream(sidecar) as fh:
            meta = _decode_json(fh.read())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return [_issue("missing_sidecar", row, sidecar, "the sidecar JSON is gone")]
    except (OSError, ValueError) as exc:  # msgspec.DecodeError is a ValueError
        return [_issue("corrupt_sidecar", row, sidecar, f"unreadable sidecar: {exc}")]
    bad = [k for k in ("artifact_id", "content_hash", "file_hash", "row_count", "logical_key") if meta.get(k) != row[k]]
    if bad:
        return [_issue("sidecar_mismatch", row, sidecar, f"sidecar disagrees with the manifest on {', '.join(bad)}")]
    return []


def _check_content(row, parquet: str, fs) -> list[VerifyIssue]:
    import pyarrow as pa

    from bridge.errors import BridgeError
    from bridge.store import canonical

    spec = get_spec(row["artifact_type"], row["schema_version"])
    try:
        table = fs.read_table(parquet)
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
            kept.append(GcKept(artifact_id=r["artifact_id"], reason=f"active artifacts depend on it: {', '.join(active[:5])}"))
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
    # (status || '': a plain expression, so that SQLite does not drive this by the status index)
    rows = con.execute(
        """WITH RECURSIVE down(id) AS (
             SELECT artifact_id FROM artifact_lineage WHERE input_artifact_id = ?
             UNION SELECT l.artifact_id FROM artifact_lineage l JOIN down d ON l.input_artifact_id = d.id)
           SELECT d.id FROM down d JOIN artifacts a ON a.artifact_id = d.id
           WHERE a.status || '' = 'active' ORDER BY d.id""",
        (artifact_id,),
    ).fetchall()
    return [r[0] for r in rows]
