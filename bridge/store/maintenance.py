"""verify (does the lake agree with its manifest?) and gc (remove what retention allows), on
either artifact store (a local folder or a bucket: `store.files`) and either manifest."""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import marshal
import os
import queue
import subprocess
import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from operator import itemgetter
from typing import NamedTuple

import msgspec

from bridge.proc import usable_cpus
from bridge.progress import NULL_JOB, Job
from bridge.store import filecheck, manifest
from bridge.store.artifact_fs import listing_of
from bridge.store.models import GcKept, GcReport, VerifyIssue, VerifyReport
from bridge.store.spec import get_spec
from bridge.store.timeutil import now_iso

__all__ = ["gc", "verify"]

log = logging.getLogger(__name__)


class _Task(NamedTuple):
    """A manifest row's columns that `filecheck.check` takes (its arguments, in order)."""

    path_parquet: str
    path_sidecar: str
    file_hash: str
    artifact_id: str
    content_hash: str
    row_count: int
    logical_key: str


# The manifest's columns a listing check reads: _Task's first
_Row = NamedTuple("_Row", [*_Task.__annotations__.items(), ("status", str), ("created_at", str),
                           ("file_bytes", "int | None")])


_ID = _Task._fields.index("artifact_id")  # (the checks keep rows as plain tuples: _Task's columns first)
_STATUS = _Row._fields.index("status")  # (a full verify of a local lake reads it after _Task's, when gc removed files)


class _Content(NamedTuple):
    """The columns a content check needs besides _Task's (read for the few rows it is run on)."""

    artifact_type: str
    schema_version: int
    min_ts: str | None
    max_ts: str | None


def verify(store, *, quick: bool = False, deep: bool = False, incremental: bool = False, since: str | None = None,
           workers: int | None = None, job: Job = NULL_JOB) -> VerifyReport:
    """Does the lake agree with its manifest? Four depths (docs/store.md, "verify"):

    * quick: existence, size (against the size recorded at publish) and mode of every file, and
      orphans, from one walk of artifacts/ — no file is opened;
    * full (default): quick (but size_mismatch), plus every Parquet file re-hashed (sha256
      against file_hash) and every sidecar checked against the manifest, on `workers` processes
      or threads (default one per usable CPU; `_FileChecks`); a file whose bytes differ is then
      read and its content re-hashed to say what changed;
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
    # A full verify re-reads every file, so its checks start first (worker processes take a moment
    # to start) and run beside the listing's; an artifact the listing finds wrong is left out of them.
    early = None
    if not quick and since_ns is None:
        early = _FileChecks(con, fs, deep=deep, workers=workers,
                            many=cur.execute("SELECT count(*) FROM artifacts").fetchone()[0])
    try:
        removed = _files_removed(con)
        # local files the checks open anyway are statted there: then the listing needs only names, and
        # only the rows with a file not listed need looking at, and the rows only the checks' columns
        # (plain tuples, in rowid order: about half the time of reading all of _Row's, sorted)
        names_only = early is not None and not fs.remote
        if names_only:
            sql = f"SELECT {', '.join(_Task._fields)}{', status' if removed else ''} FROM artifacts"
            make = None
        else:
            sql = f"SELECT {', '.join(_Row._fields)} FROM artifacts ORDER BY created_at, artifact_id"
            make = _Row._make
        checked, rows, named = 0, [], set()
        fetched = iter(cur.execute(sql))
        # (in parts: one long call that holds the GIL, such as a set of every path at once, would
        # keep the worker processes' feeder threads from sending them their next batches)
        while part := list(itertools.islice(fetched, 2000)):  # the checks start on the first
            if make:
                part = list(map(make, part))
            checked += len(part)
            named.update(map(itemgetter(0), part))
            named.update(map(itemgetter(1), part))
            # gc removed these on purpose; a re-publish (with revive if tombstoned) restores them
            kept = [r for r in part if r[_STATUS] == "active" or r[_ID] not in removed] if removed else part
            rows += kept
            if early is not None:
                early.add(kept)
        if early is not None:
            early.add([], last=True)
        job.progress(0, len(rows), "listing files", force=True)
        listed = rows
        if names_only:
            # (the usual case: each folder's names against the paths the rows name, in C; a folder's
            # at a time, for the feeders' sake as above; a listing's dict only when they differ)
            folders = list(fs.folders("artifacts"))
            same = sum(len(names) for _, names in folders) == len(named) and all(
                named.issuperset(map(f"{rel}/".__add__, names)) for rel, names in folders)
            on_disk = {} if same else listing_of(folders)
            gone = () if same else named - on_disk.keys()
            # (_check_listing reads a _Row's other columns only for quick and since: not here)
            listed = [_Task._make(r[:7]) for r in rows if r[0] in gone or r[1] in gone] if gone else []
        else:
            on_disk = fs.walk("artifacts")
        issues, listed_bad, to_hash = _check_listing(listed, on_disk, fs, quick, since, since_ns, removed)
        if not names_only or not same:
            issues += _orphans(con, fs, on_disk, named, names_only=names_only)
        checks = early if early is not None else \
            _FileChecks(con, fs, deep=deep, workers=workers, many=len(to_hash)).add(to_hash, last=True)
        issues += checks.issues(job, skip=listed_bad)
        hashed = checks.hashed
    finally:
        if early is not None:
            early.close()
    job.progress(checked, checked, "lineage")
    issues += _check_lineage(con)
    issues.sort(key=lambda i: (i.artifact_id or "", i.kind, i.path or ""))
    issues = _with_affected(con, issues)
    report = VerifyReport(ok=not issues, checked=checked, issues=issues, mode=mode, hashed=hashed,
                          since=since)
    with manifest.write_txn(con):
        con.execute("INSERT INTO verify_runs (mode, since, started_at, finished_at, checked, hashed, issues, ok)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (mode, since, started, now_iso(), checked, hashed, len(issues), int(report.ok)))
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


def _orphans(con, fs, on_disk, named: set[str], *, names_only: bool) -> list[VerifyIssue]:
    """Files listed in `on_disk` that no manifest row (nor a publish in flight) names."""
    flight = _in_flight(con)
    orphans = on_disk.keys() - named - flight
    if orphans:  # (a row may name a file otherwise than the listing does: an absolute path into the store, `./`)
        orphans -= {fs.listed_as(ref) for ref in (named - on_disk.keys()) | flight}
    if names_only:  # a folder without subfolders was listed by its names alone: files only
        orphans = [rel for rel in orphans if os.path.isfile(fs.uri(rel))]
    return [_orphan(fs.uri(rel)) for rel in orphans]


def _in_flight(con) -> set[str]:
    """The paths (relative to the lake) of the files of publishes in flight: no orphans."""
    return {p for r in con.execute("SELECT path_parquet, path_sidecar FROM publish_journal") for p in r}


def _orphan(path: str) -> VerifyIssue:
    return VerifyIssue(kind="orphan_file", path=path,
                       detail="file under artifacts/ that no manifest row names; `gc --apply` removes it")


def _check_listing(rows, on_disk, fs, quick: bool, since, since_ns, removed):
    """(issues, artifact ids with an issue, rows to re-hash in an incremental verify) from the
    listing `on_disk` (`ArtifactFS.walk`)."""
    issues: list[VerifyIssue] = []
    listed_bad: set[str] = set()
    to_hash = []
    for row in rows:
        pst, sst = _listed(on_disk, fs, row.path_parquet), _listed(on_disk, fs, row.path_sidecar)
        bad = _check_stat(row, fs, pst, sst, quick)
        if bad:
            if row.artifact_id in removed:
                bad = [_issue("missing_file", row, fs.uri(row.path_parquet), "the artifact is active but gc "
                              "removed its files; publish the same data again to restore them")]
            issues += bad
            listed_bad.add(row.artifact_id)
        elif since_ns is not None and not quick and (row.created_at >= since
                                                       or max(pst.changed_ns, sst.changed_ns) >= since_ns):
            to_hash.append(row)  # new or changed since the last clean verify
    return issues, listed_bad, to_hash


def _listed(on_disk, fs, ref: str):
    """`ref`'s FileStat in the listing `on_disk`, also when the manifest spells it otherwise (`listed_as`)."""
    st = on_disk.get(ref)
    return st if st is not None else on_disk.get(fs.listed_as(ref))


def _check_stat(row, fs, pst, sst, quick: bool) -> list[VerifyIssue]:
    """Checks from the listing alone (`ArtifactFS.walk`'s FileStat: size, mode, change time)."""
    found = filecheck.listing_findings(*(pst[:2] if pst is not None else (None, None)),
                                       sst.mode if sst is not None else None,
                                       parquet_gone=pst is None, sidecar_gone=sst is None)
    if quick and pst is not None and pst.size >= 12 and row.file_bytes is not None and pst.size != row.file_bytes:
        found.append(("size_mismatch", False, f"{pst.size} bytes, published as {row.file_bytes} bytes"))
    return [_issue(kind, row, fs.uri(row.path_sidecar if on_sidecar else row.path_parquet), detail)
            for kind, on_sidecar, detail in found]


_PROCESSES_FROM = 2000  # artifacts: fewer are checked in-process (a worker process costs ~40 ms to start)
_CALLER_HELPS = True  # verify's own thread checks batches too, once its listing is done (tests turn it off)
_MSGSPEC_DIR = os.path.dirname(os.path.dirname(msgspec.__file__))  # a worker runs without site: msgspec is here


class _Link:
    """What a worker process's two threads share (`_FileChecks._feed` and `_replies`): the batches
    it holds, unanswered, in order; whether it is gone, and whether its input is closed; a
    condition to wait on any of them."""

    def __init__(self) -> None:
        self.sent: collections.deque[tuple[int, int]] = collections.deque()
        self.gone = False  # it ended, or died: what it held is answered or being checked here
        self.closing = False  # its input is (being) closed: no more batches
        self.changed = threading.Condition()


class _FileChecks:
    """Check the files of many artifacts (`filecheck.check`), in batches taken from one queue by
    helpers and, in `issues()`, by the caller's thread too. The helpers: for a local lake of
    `_PROCESSES_FROM` artifacts or more, worker processes, one per usable CPU but the caller's (on
    small files the work is mostly Python per file, which threads would only take turns at under
    the GIL); else, for a bucket or fewer artifacts, threads (network reads and hashlib on big
    files release the GIL), none when there is nothing to check. Then a file whose
    bytes changed, or with deep=True every file, is read and its content re-hashed (on threads:
    pyarrow releases the GIL), to say what changed."""

    def __init__(self, con, fs, *, deep: bool, workers: int | None, many: int) -> None:
        """`many`: about how many artifacts will come (worker processes start now, for many)."""
        self.con, self.fs, self.deep, self.rows = con, fs, deep, []
        self._n = workers or usable_cpus()
        self._batch = max(1, min(500, -(-many // (8 * self._n))))
        self._queued = 0  # rows[:_queued] are in batches
        self._todo: queue.SimpleQueue = queue.SimpleQueue()  # (lo, hi) batches not yet taken; None: no more
        self._done: queue.SimpleQueue = queue.SimpleQueue()  # (lo, hi, findings or an exception)
        self._closed = False
        # local files by their paths relative to the lake's folder, as a worker opens them from its own
        # (closed once no thread can use it: when this object is collected)
        self._dir_fd = None
        if many and not fs.remote and os.open in os.supports_dir_fd:
            try:
                self._dir_fd = os.open(fs.url, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
            except OSError:  # (gone, not readable: each check says what it finds, by the whole path)
                pass
            else:
                weakref.finalize(self, os.close, self._dir_fd)
        self._procs: list[subprocess.Popen] = []
        if not fs.remote and self._n > 1 and many >= _PROCESSES_FROM and sys.executable:
            self._procs = [p for p in (self._spawn() for _ in range(self._n - 1)) if p is not None]
        # no worker processes: threads (hashlib releases the GIL on big files; a bucket's reads wait)
        helpers = [(self._feed, (p,)) for p in self._procs] if self._procs else \
            [(self._help, ())] * (self._n - 1) if many else []  # (nothing to check: no thread)
        for target, args in helpers:
            threading.Thread(target=target, args=args, daemon=True, name="verify").start()
        self._alone = not helpers

    def _spawn(self) -> subprocess.Popen | None:
        """A worker process (`filecheck` as a script; no site, so that it starts in a few ms)."""
        try:
            return subprocess.Popen([sys.executable, "-I", "-S", filecheck.__file__, _MSGSPEC_DIR], cwd=self.fs.url,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)  # Ctrl-C reaches this process, which stops them
        except OSError as exc:
            log.warning("verify: cannot start a worker process (%s); checking in this one", exc)
            return None

    def add(self, rows, *, last: bool = False) -> _FileChecks:
        """More rows to check (the helpers start on them at once); last=True: no more will come.
        Rows with more columns than the checks take (a listing's) are cut to _Task's here, once."""
        self.rows += rows if not rows or len(rows[0]) == len(_Task._fields) else [r[:len(_Task._fields)] for r in rows]
        while len(self.rows) - self._queued >= self._batch or (last and self._queued < len(self.rows)):
            hi = min(self._queued + self._batch, len(self.rows))
            self._todo.put((self._queued, hi))
            self._queued = hi
        if last:
            self._todo.put(None)
        return self

    def _take(self) -> tuple[int, int] | None:
        """The next batch, waiting for one; None when there is none and will be none."""
        batch = None if self._closed else self._todo.get()
        if batch is None:
            self._todo.put(None)  # for the next taker
        return batch

    def _here(self, lo: int, hi: int) -> tuple[list[int], list]:
        """rows[lo:hi] checked on this thread: (the row indices whose Parquet file was not read
        through, [(row index, kind, on_sidecar, detail)])."""
        rows, chunks, dir_fd = self.rows[lo:hi], None, self._dir_fd
        if self.fs.remote:
            chunks = self.fs.chunks
        elif dir_fd is None:  # (no dir_fd here: the files by their whole paths)
            rows = [(self.fs.uri(r[0]), self.fs.uri(r[1]), *r[2:7]) for r in rows]
        # (stop: the caller gave up, this batch is not needed)
        return filecheck.check_many(rows, start=lo, chunks=chunks, dir_fd=dir_fd, stop=lambda: self._closed)

    def _help(self) -> None:
        """A helper thread: batches checked here until none is left."""
        while (batch := self._take()) is not None:
            try:
                self._done.put((*batch, self._here(*batch)))
            except BaseException as exc:  # noqa: BLE001 - raised again by issues(), on the caller's thread
                self._done.put((*batch, exc))

    def _feed(self, proc: subprocess.Popen) -> None:
        """A worker process's thread: batches sent to it until none is left, and the worker's
        replies read on a second thread (`_replies`). While more than two batches are queued, the
        worker holds two, so that it starts on the next as it answers one rather than when this
        thread next gets the GIL from the caller's (fed one at a time, a worker stood idle for about
        a seventh of a full verify); its replies are read meanwhile, so neither end can block the
        other on a full pipe, whatever the size of a batch or of its findings. If the worker dies,
        its unanswered batches, and the batches after them, are checked in this process, with a
        warning."""
        encode = marshal.dumps  # (filecheck._serve: the same interpreter at both ends)
        link = _Link()
        reader = threading.Thread(target=self._replies, args=(proc, link), daemon=True, name="verify")
        reader.start()
        batch = None
        try:
            while True:
                with link.changed:
                    link.changed.wait_for(lambda: link.gone or not link.sent or
                                          (len(link.sent) < 2 and self._todo.qsize() > 2))
                    if link.gone:
                        break
                batch = self._take()
                if batch is None:
                    break
                frame = encode(self.rows[batch[0]:batch[1]])
                with link.changed:
                    if link.gone:  # (died meanwhile: its unanswered batches are being checked here already)
                        self._done.put((*batch, self._here(*batch)))
                        break
                    link.sent.append(batch)  # before the write: should it fail, the reply reader re-checks it
                batch = None
                try:
                    proc.stdin.write(len(frame).to_bytes(4, "little") + frame)
                    proc.stdin.flush()
                except (OSError, ValueError):  # it died: the reply reader sees its end
                    break
        except BaseException as exc:  # noqa: BLE001 - raised again by issues(), on the caller's thread
            self._done.put((*(batch or (0, 0)), exc))
        finally:
            with link.changed:
                link.closing = True
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()  # the worker exits once it has answered what it holds
        reader.join()
        if link.gone and not self._closed:
            self._help()  # the batches it would have taken (none left when it simply ended)

    def _replies(self, proc: subprocess.Popen, link: _Link) -> None:
        """The worker's replies, in the order of its batches, until its output ends; a reply that
        does not come (it died, or a broken frame) has its unanswered batches checked here."""
        decode = marshal.loads
        try:
            while True:
                head = proc.stdout.read(4)
                if len(head) < 4:
                    with link.changed:
                        if not link.sent and link.closing:  # its input closed after the last batch, all answered
                            link.gone = True
                            link.changed.notify_all()
                            return
                    raise OSError("it exited")  # (before its input closed: it died, between batches or not)
                unread, found = decode(proc.stdout.read(int.from_bytes(head, "little")))
                with link.changed:
                    lo, hi = link.sent[0]
                result = [lo + i for i in unread], [(lo + i, *f) for i, *f in found]  # (a misshapen reply raises here,
                with link.changed:                                                # its batch still the worker's)
                    link.sent.popleft()
                    link.changed.notify_all()
                self._done.put((lo, hi, result))
        except (OSError, ValueError, EOFError, TypeError, IndexError) as exc:  # it died, a broken frame, a reply too many
            proc.kill()
            try:
                err = proc.stderr.read().decode(errors="replace").strip()
            except (OSError, ValueError):  # (closed by close(): the caller gave up)
                err = ""
            proc.wait()
            with link.changed:
                link.gone = True
                redo, link.sent = list(link.sent), collections.deque()
                link.changed.notify_all()
            if not self._closed:
                log.warning("verify: a worker process stopped (%s); checking its files here",
                            err.splitlines()[-1] if err else exc)
                for lo, hi in redo:
                    self._done.put((lo, hi, self._here(lo, hi)))
        except BaseException as exc:  # noqa: BLE001 - raised again by issues(), on the caller's thread
            with link.changed:
                link.gone = True
                lo, hi = link.sent[0] if link.sent else (0, 0)
                link.changed.notify_all()
            self._done.put((lo, hi, exc))

    def issues(self, job: Job, skip: set[str] = frozenset()) -> list[VerifyIssue]:
        """Every finding, as issues (rows whose artifact_id is in `skip` left out); the caller's
        thread checks batches too until none is left. Sets `hashed`: how many Parquet files (not
        skipped) were read through."""
        unread, found, done, count = set(), [], 0, len(self.rows)

        def collect(block: bool) -> None:
            nonlocal done
            while done < count and (block or not self._done.empty()):
                lo, hi, part = self._done.get()
                if isinstance(part, BaseException):
                    raise part
                unread.update(part[0])
                found.extend(part[1])
                done += hi - lo
                job.progress(done, count, "re-hashing")

        try:
            while (_CALLER_HELPS or self._alone) and (batch := self._take()) is not None:
                self._done.put((*batch, self._here(*batch)))
                collect(False)
            collect(True)
            rows = self.rows
            skipped = {i for i in range(count) if rows[i][_ID] in skip} if skip else set()
            self.hashed = count - len(unread | skipped)
            out, changed, broken = [], set(), unread | skipped  # broken: no Parquet file to read content from
            for i, kind, on_sidecar, detail in found:
                if i not in skipped:
                    row = _Task._make(rows[i])
                    out.append(_issue(kind, row, self.fs.uri(row.path_sidecar if on_sidecar else row.path_parquet), detail))
                    if kind == "file_hash_mismatch":
                        changed.add(i)
                    elif kind in ("truncated", "unreadable") and not on_sidecar:
                        broken.add(i)
            again = [_Task._make(rows[i]) for i in (range(count) if self.deep else sorted(changed)) if i not in broken]
            with ThreadPoolExecutor(max_workers=self._n, thread_name_prefix="verify") as pool:
                content = self._content([r.artifact_id for r in again])
                for more in pool.map(lambda r: _check_content(r, content[r.artifact_id], self.fs), again):
                    out += more
            return out
        finally:
            self.close()

    def _content(self, ids: list[str]) -> dict[str, _Content]:
        out = {}
        for k in range(0, len(ids), 500):
            part = ids[k:k + 500]
            out.update((r[0], _Content._make(r[1:])) for r in self.con.execute(
                f"SELECT artifact_id, {', '.join(_Content._fields)} FROM artifacts"
                f" WHERE artifact_id IN ({', '.join('?' * len(part))})", part))
        return out

    def close(self) -> None:
        """Stop what is still running (the caller gave up: an error, Ctrl-C; or it is done)."""
        self._closed = True
        self._todo.put(None)  # wakes a helper waiting for a batch
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                with contextlib.suppress(OSError):
                    stream.close()


def _files_removed(con) -> set[str]:
    """Artifacts whose latest file event is gc's `files_removed` (not a later `files_restored`)."""
    return {r[0] for r in con.execute(
        "SELECT artifact_id FROM artifact_events e WHERE event IN ('files_removed', 'files_restored')"
        " AND event_id = (SELECT MAX(event_id) FROM artifact_events f WHERE f.artifact_id = e.artifact_id"
        "                 AND f.event IN ('files_removed', 'files_restored')) AND event = 'files_removed'")}


def _with_affected(con, issues: list[VerifyIssue]) -> list[VerifyIssue]:
    """Each issue with the active artifacts made (transitively) from its artifact: what it reaches."""
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
    return VerifyIssue(kind=kind, artifact_id=row.artifact_id if row is not None else None,
                       path=path or None, detail=detail)


def _check_content(row, content: _Content, fs) -> list[VerifyIssue]:
    import pyarrow as pa

    from bridge.errors import BridgeError
    from bridge.store import canonical

    spec = get_spec(content.artifact_type, content.schema_version)
    parquet = fs.uri(row.path_parquet)
    try:
        table = fs.read_table(parquet)
    except (pa.ArrowException, OSError) as exc:
        return [_issue("corrupt", row, parquet, f"cannot read the Parquet file: {exc}")]
    out = []
    if table.num_rows != row.row_count:
        out.append(_issue("row_count_mismatch", row, parquet, f"{table.num_rows} rows, manifest says {row.row_count}"))
    try:
        canon = canonical.canonicalize(table, spec, row.logical_key)
    except BridgeError as exc:
        return [*out, _issue("invalid_content", row, parquet, f"no longer fits {spec.artifact_type}: {exc}")]
    chash = canonical.content_hash(canon, spec)
    if chash != row.content_hash:
        out.append(_issue("content_hash_mismatch", row, parquet, f"content hash {chash} != {row.content_hash}"))
    lo_s, hi_s = canonical.ts_range_iso(canon, spec)
    if (lo_s, hi_s) != (content.min_ts, content.max_ts):
        out.append(_issue("ts_range_mismatch", row, parquet,
                          f"timestamps span {lo_s}..{hi_s}, manifest says {content.min_ts}..{content.max_ts}"))
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
    in_flight = {fs.key(p) for p in _in_flight(con)}
    return [_orphan(key) for key in fs.list_keys("artifacts") if key not in known and key not in in_flight]


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
