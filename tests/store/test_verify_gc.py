"""verify finds every kind of damage; gc removes only what retention allows."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.store.samples import candles, publish_candles, publish_metrics


def kinds(store, **kw):
    return sorted(i.kind for i in store.verify(**kw).issues)


def test_clean_lake_verifies(store):
    publish_metrics(store, [publish_candles(store).artifact_id])
    report = store.verify()
    assert report.ok and report.checked == 2 and report.issues == []


def test_missing_truncated_corrupt_and_orphans(store):
    a = publish_candles(store, seed=1).artifact
    b = publish_candles(store, key="token=B/res=1m", seed=2).artifact
    c = publish_candles(store, key="token=C/res=1m", seed=3).artifact
    fs = store.files
    fs.delete(a.path_parquet)
    data = fs.read_bytes(b.path_parquet)
    fs.write_bytes(b.path_parquet, data[: len(data) // 2])
    raw = bytearray(fs.read_bytes(c.path_parquet))
    raw[len(raw) // 3] ^= 0xFF
    fs.write_bytes(c.path_parquet, bytes(raw))
    fs.write_bytes("artifacts/stray.parquet", b"x")
    report = store.verify()
    assert not report.ok
    by_id: dict[str, set[str]] = {}
    for i in report.issues:
        by_id.setdefault(i.artifact_id, set()).add(i.kind)
    assert by_id[a.artifact_id] == {"missing_file"}
    assert by_id[b.artifact_id] == {"truncated"}
    assert "file_hash_mismatch" in by_id[c.artifact_id]
    assert any(i.kind == "orphan_file" and i.path.endswith("stray.parquet") for i in report.issues)


def test_rewritten_content_with_valid_file_is_caught(store):
    a = publish_candles(store).artifact
    other = candles(50, seed=99).append_column("token", [["ABC"] * 50]).append_column("resolution", [["1m"] * 50])
    buf = pa.BufferOutputStream()
    pq.write_table(other, buf)
    store.files.write_bytes(a.path_parquet, buf.getvalue().to_pybytes())
    assert "content_hash_mismatch" in kinds(store)
    assert kinds(store, quick=True) == ["size_mismatch"]  # quick reads no file: the size tells


def test_sidecar_and_row_count_and_lineage_problems(store):
    a = publish_candles(store).artifact
    m = publish_metrics(store, [a.artifact_id]).artifact
    side = json.loads(store.files.read_bytes(m.path_sidecar))
    side["row_count"] = 999
    store.files.write_bytes(m.path_sidecar, json.dumps(side).encode())
    con = store.connect()
    con.execute("INSERT INTO artifact_lineage VALUES (?, ?)", (m.artifact_id, "e" * 32))
    con.execute("UPDATE artifacts SET row_count = 7 WHERE artifact_id = ?", (a.artifact_id,))
    got = kinds(store)
    # the bytes are intact, so a full verify finds the edited row through the sidecar; deep re-reads the data
    assert got == ["dangling_lineage", "sidecar_mismatch", "sidecar_mismatch"]
    assert "row_count_mismatch" in kinds(store, deep=True)


def test_derived_without_inputs_is_flagged(store):
    a = publish_candles(store).artifact
    trades = store.publish("experiment_diagnostics", 1, "experiment=x/diagnostics",
                           [{"experiment_id": "x", "alert_id": None, "kind": "info", "reason": "r", "detail": None}],
                           writer_name="t", writer_version="1", input_artifact_ids=[a.artifact_id]).artifact
    store.connect().execute("DELETE FROM artifact_lineage WHERE artifact_id = ?", (trades.artifact_id,))
    assert kinds(store) == ["derived_without_inputs"]


def test_gc_dry_run_then_apply(store):
    keep_in = publish_candles(store, seed=1).artifact_id
    publish_metrics(store, [keep_in])
    store.tombstone(keep_in)  # an active artifact depends on it: kept
    gone = publish_candles(store, key="token=B/res=1m", seed=2).artifact
    store.tombstone(gone.artifact_id)
    sup_old = publish_candles(store, key="token=C/res=1m", seed=3).artifact
    store.supersede(publish_candles(store, key="token=C/res=1m", seed=4).artifact_id, sup_old.artifact_id)

    dry = store.gc()
    assert dry.dry_run and dry.removed == [gone.artifact_id] and store.files.exists(gone.path_parquet)
    assert [k.artifact_id for k in dry.kept] == [keep_in]
    done = store.gc(dry_run=False)
    assert done.removed == [gone.artifact_id] and done.bytes_freed > 0
    assert not store.files.exists(gone.path_parquet) and not store.files.exists(gone.path_sidecar)
    assert store.get(gone.artifact_id).status == "tombstoned"  # history stays
    assert store.verify().ok  # removed files are expected, not "missing"
    assert store.files.exists(sup_old.path_parquet)
    assert store.gc(dry_run=False, include_superseded=True).removed == [sup_old.artifact_id]
    assert store.gc(dry_run=False).removed == []


def test_quick_reads_no_file_and_incremental_rehashes_only_what_changed(store, monkeypatch):
    import os
    import time

    import builtins

    from bridge.store import filecheck

    local = not store.files.remote  # a bucket has no file modes, and its own reads
    a = publish_candles(store, seed=1).artifact
    b = publish_candles(store, key="token=B/res=1m", seed=2).artifact
    hashed: list[str] = []
    real = filecheck.check_many  # (a few files: checked in this process, where the patch is seen)

    def counted(tasks, **kw):
        tasks = list(tasks)
        hashed.extend(store.files.uri(t[0]) for t in tasks)
        return real(tasks, **kw)

    monkeypatch.setattr(filecheck, "check_many", counted)
    opened: list[str] = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *k, **kw: opened.append(str(f)) or real_open(f, *k, **kw))
    fs_type = type(store.files)
    real_os_open = os.open
    monkeypatch.setattr(os, "open", lambda f, *k, **kw: opened.append(str(f)) or real_os_open(f, *k, **kw))
    for name in ("open_input", "open_stream", "chunks"):
        real_m = getattr(fs_type, name)
        monkeypatch.setattr(fs_type, name, lambda self, ref, _m=real_m: opened.append(str(ref)) or _m(self, ref))
    if local:
        os.chmod(b.path_parquet, 0o200)
    report = store.verify(quick=True)
    assert hashed == [] and report.mode == "quick" and report.hashed == 0
    assert not [f for f in opened if "artifacts" in f]  # no artifact file opened
    monkeypatch.setattr(builtins, "open", real_open)
    monkeypatch.setattr(os, "open", real_os_open)
    assert [(i.kind, i.artifact_id) for i in report.issues] == ([("unreadable", b.artifact_id)] if local else [])
    if local:
        os.chmod(b.path_parquet, 0o644)
    assert store.verify(incremental=True).hashed == 2  # never verified clean: everything
    if not local:  # a bucket's last-modified may be whole seconds, counted as the end of that second
        time.sleep(1.0)
    full = store.verify()
    assert full.ok and full.mode == "full" and sorted(hashed[-2:]) == sorted([a.path_parquet, b.path_parquet])
    assert store.verify(incremental=True).hashed == 0  # nothing changed since the last clean full verify
    c = publish_candles(store, key="token=C/res=1m", seed=3).artifact
    time.sleep(0.01)
    raw = bytearray(store.files.read_bytes(a.path_parquet))
    raw[len(raw) // 3] ^= 0xFF
    store.files.write_bytes(a.path_parquet, bytes(raw))
    hashed.clear()
    report = store.verify(incremental=True)
    assert report.hashed == 2 and sorted(hashed) == sorted([a.path_parquet, c.path_parquet])
    assert {i.kind for i in report.issues if i.artifact_id == a.artifact_id} >= {"file_hash_mismatch"}
    runs = store.connect().execute("SELECT mode, ok, hashed FROM verify_runs ORDER BY run_id").fetchall()
    assert [tuple(r) for r in runs] == [("quick", 0 if local else 1, 0), ("incremental", 1, 2), ("full", 1, 2),
                                        ("incremental", 1, 0), ("incremental", 0, 2)]
    assert store.verify(since="2000-01-01T00:00:00Z").hashed == 3  # everything changed after that
    assert store.verify(since="2999-01-01T00:00:00Z").hashed == 0


def _damaged_lake(root: Path):
    """A local lake with one artifact of each kind of file damage verify finds, and two intact
    (the first of each half, in manifest order: 0 and 6)."""
    import os

    from bridge.store import Store

    store = Store(root)
    arts = [publish_candles(store, key=f"token=T{i}/res=1m", seed=i).artifact for i in range(12)]
    fs = store.files
    raw = bytearray(fs.read_bytes(arts[1].path_parquet))
    raw[len(raw) // 3] ^= 0xFF
    fs.write_bytes(arts[1].path_parquet, bytes(raw))  # bytes changed: file_hash_mismatch (+ what the content says)
    fs.write_bytes(arts[2].path_parquet, b"PAR1" + b"\0" * 64)  # no footer: truncated
    fs.write_bytes(arts[3].path_sidecar, b"{not json")  # corrupt_sidecar
    fs.write_bytes(arts[4].path_sidecar, b"[1, 2]")  # not a JSON object: corrupt_sidecar
    fs.delete(arts[5].path_parquet)  # missing_file
    side = json.loads(fs.read_bytes(arts[7].path_sidecar))
    fs.write_bytes(arts[7].path_sidecar, json.dumps({**side, "logical_key": "elsewhere"}).encode())  # sidecar_mismatch
    fs.write_bytes(arts[8].path_parquet, b"PAR1")  # under 12 bytes: truncated, from its size
    os.chmod(fs.uri(arts[9].path_parquet), 0o200)  # unreadable (by mode: root could still read it)
    os.chmod(fs.uri(arts[10].path_sidecar), 0o200)
    fs.delete(arts[11].path_sidecar)  # missing_sidecar
    return store


def _report(store, **kw):
    r = store.verify(**kw)
    return r.hashed, [(i.kind, i.artifact_id, i.path, i.detail) for i in r.issues]


def test_worker_processes_find_what_the_in_process_check_finds(tmp_path, monkeypatch):
    from bridge.store import maintenance

    store = _damaged_lake(tmp_path / "lake")
    here = _report(store)
    assert here[0] == 7 and {k for k, *_ in here[1]} >= {  # (read through: 12 less 2 missing, 2 unreadable, 1 short)
        "file_hash_mismatch", "content_hash_mismatch", "truncated", "corrupt_sidecar", "missing_file",
        "sidecar_mismatch", "unreadable", "missing_sidecar"}, here
    assert _report(store, since="2000-01-01T00:00:00Z") == here  # = the checks from a listing with stats
    spawned: list = []
    real_popen = maintenance.subprocess.Popen
    monkeypatch.setattr(maintenance.subprocess, "Popen", lambda *a, **kw: spawned.append(a) or real_popen(*a, **kw))
    monkeypatch.setattr(maintenance, "_PROCESSES_FROM", 1)
    assert _report(store, workers=2) == here and len(spawned) == 1  # one worker process and the caller's thread
    here_checked: list = []
    real_check = maintenance.filecheck.check
    monkeypatch.setattr(maintenance.filecheck, "check", lambda *a, **kw: here_checked.append(a[0]) or real_check(*a, **kw))
    monkeypatch.setattr(maintenance, "_CALLER_HELPS", False)  # the worker processes check every file
    assert _report(store, workers=2) == here and here_checked == [] and len(spawned) == 2
    assert _report(store, workers=3) == here and len(spawned) == 4 and here_checked == []
    assert _report(store, deep=True) == _report(store, deep=True, workers=1)  # workers=1: checked in-process


@pytest.mark.parametrize("reads", ["sys.stdin.buffer.read(4)", "pass"], ids=["after-its-first-batch", "at-once"])
def test_a_worker_that_dies_leaves_its_rest_to_the_caller(tmp_path, monkeypatch, caplog, reads):
    from bridge.store import filecheck, maintenance

    store = _damaged_lake(tmp_path / "lake")
    here = _report(store)
    dying = tmp_path / "dying_worker.py"  # dies after its first batch's first bytes, or before it reads any
    dying.write_text(f"import sys\n{reads}\nsys.exit('worker: out of memory')\n")
    monkeypatch.setattr(maintenance, "_PROCESSES_FROM", 1)
    monkeypatch.setattr(maintenance, "_CALLER_HELPS", False)  # so both workers surely take a batch
    monkeypatch.setattr(filecheck, "__file__", str(dying))
    assert _report(store, workers=3) == here  # nothing is lost
    assert caplog.text.count("a worker process stopped (worker: out of memory); checking its files here") >= 1


def test_a_worker_that_answers_nonsense_leaves_its_batches_to_the_caller(tmp_path, monkeypatch, caplog):
    """A reply that decodes but is not a batch's answer (here, a row index that is text) stops the
    worker as its death does: its batches are checked in this process, nothing is lost, nothing hangs."""
    from bridge.store import filecheck, maintenance

    store = _damaged_lake(tmp_path / "lake")
    here = _report(store)
    odd = tmp_path / "odd_worker.py"
    odd.write_text("import marshal, sys\n"
                   "head = sys.stdin.buffer.read(4)\n"
                   "sys.stdin.buffer.read(int.from_bytes(head, 'little'))\n"
                   "out = marshal.dumps((['x'], []))\n"
                   "sys.stdout.buffer.write(len(out).to_bytes(4, 'little') + out)\n"
                   "sys.stdout.buffer.flush()\n"
                   "sys.stdin.buffer.read()\n")
    monkeypatch.setattr(maintenance, "_PROCESSES_FROM", 1)
    monkeypatch.setattr(maintenance, "_CALLER_HELPS", False)
    monkeypatch.setattr(filecheck, "__file__", str(odd))
    got: list = []
    run = threading.Thread(target=lambda: got.append(_report(store, workers=2)), daemon=True)
    run.start()
    run.join(60)
    assert got == [here], "verify hung on a nonsense reply" if run.is_alive() else got
    assert "a worker process stopped" in caplog.text


def test_a_worker_has_its_next_batch_before_it_answers_one(tmp_path, monkeypatch):
    """While more than two batches are queued, a worker process is sent its next batch before it
    answers the one in hand (so it never waits for the caller's process to get round to sending
    one). This worker checks each batch as the real one does, then, before it answers, waits up
    to 2 s for the next request (no more after the first that does not come): sent one at a
    time, none ever would. Of 12 batches of one artifact, the 2nd to the 11th come ahead (the
    12th is sent once only two are left: the shares stay balanced at the end)."""
    from bridge.store import filecheck, maintenance

    store = _damaged_lake(tmp_path / "lake")
    here = _report(store)
    seen = tmp_path / "ahead.txt"
    eager = tmp_path / "eager_worker.py"
    eager.write_text(f"""import os, select, sys
sys.path.append(sys.argv[1])
sys.path.insert(0, {str(Path(filecheck.__file__).parent)!r})
import marshal, filecheck
buf, ahead, batches, waiting = b"", 0, 0, True
def complete():
    return len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[:4], "little")
def fill():
    global buf
    more = os.read(0, 1 << 16)
    buf += more
    return bool(more)
def frame():
    global buf
    while not complete():
        if not fill():
            return None
    n = int.from_bytes(buf[:4], "little")
    body, buf = buf[4:4 + n], buf[4 + n:]
    return marshal.loads(body)
while (tasks := frame()) is not None:
    batches += 1
    unread, found = [], []
    for i, task in enumerate(tasks):
        read, findings = filecheck.check(*task)
        if not read:
            unread.append(i)
        found += [(i, *f) for f in findings]
    while waiting and not complete() and select.select([0], [], [], 2.0)[0] and fill():
        pass
    waiting = complete()
    ahead += waiting
    open({str(seen)!r}, "w").write(f"{{ahead}} {{batches}}")
    out = marshal.dumps((unread, found))
    sys.stdout.buffer.write(len(out).to_bytes(4, "little") + out)
    sys.stdout.buffer.flush()
""")
    monkeypatch.setattr(maintenance, "_PROCESSES_FROM", 1)
    monkeypatch.setattr(maintenance, "_CALLER_HELPS", False)  # the worker checks every batch
    monkeypatch.setattr(filecheck, "__file__", str(eager))
    assert _report(store, workers=2) == here
    ahead, batches = map(int, seen.read_text().split())
    assert (ahead, batches) == (10, 12)


def test_a_listing_by_names_finds_what_a_listing_with_stats_finds(tmp_path, monkeypatch):
    """A full verify lists a folder without subfolders by its names alone (walk(stats=False): every
    entry, FIFOs too). What it reports must be what a listing with stats (`--since`) reports: a
    FIFO or a folder in a file's place is gone, a stray FIFO is no orphan, stray files are."""
    import os

    from bridge.store import Store, artifact_fs, maintenance

    store = Store(tmp_path / "lake")
    arts = [publish_candles(store, key=f"token=T{i}/res=1m", seed=i).artifact for i in range(4)]
    fs = store.files
    loop = Path(fs.uri(arts[3].path_sidecar))
    loop.unlink()
    loop.symlink_to(loop.name)  # a symlink in a loop: gone, not an error
    fifo = Path(fs.uri(arts[0].path_parquet))
    fifo.unlink()
    os.mkfifo(fifo)
    folder = Path(fs.uri(arts[1].path_sidecar))
    folder.unlink()
    folder.mkdir()
    leaf = fifo.parent
    assert leaf != folder.parent and os.stat(leaf).st_nlink == 2  # (a folder without subfolders)
    counted = artifact_fs._fs_type(str(leaf)) in artifact_fs._COUNTED_LINKS  # (then listed by its names)
    os.mkfifo(leaf / "stray.fifo")
    (leaf / "stray.loop").symlink_to("stray.loop")
    (leaf / "stray.parquet").write_bytes(b"x")
    (folder / "deeper.json").write_text("{}")
    rel = lambda p: Path(p).relative_to(store.files.url).as_posix()  # noqa: E731
    by_names, with_stats = fs.walk("artifacts", stats=False), fs.walk("artifacts")
    odd = {rel(fifo), rel(leaf / "stray.fifo"), rel(leaf / "stray.loop")} | ({rel(loop)} if loop.parent != folder.parent else set())
    assert by_names.keys() - with_stats.keys() == (odd if counted else set())  # a leaf's names: all
    full = _report(store)
    assert sorted((kind, path) for kind, _, path, _ in full[1]) == sorted([
        ("missing_file", str(fifo)), ("missing_sidecar", str(folder)), ("missing_sidecar", str(loop)),
        ("orphan_file", str(leaf / "stray.parquet")), ("orphan_file", str(folder / "deeper.json"))])
    assert full[0] == 1  # only the third artifact's Parquet file was read through
    assert _report(store, since="2000-01-01T00:00:00Z") == full
    monkeypatch.setattr(maintenance, "_PROCESSES_FROM", 1)
    monkeypatch.setattr(maintenance, "_CALLER_HELPS", False)
    assert _report(store, workers=2) == full


def test_a_lost_file_and_a_stray_one_are_both_found_and_gc_removed_files_said_alike(tmp_path):
    """A file lost and a stray one added leave as many files as named: both are still found (the
    names are compared, not counted). An active artifact whose files gc removed is reported as such,
    the same by a full verify (names-only listing) and by `--since` (listing with stats)."""
    from bridge.store import Store

    store = Store(tmp_path / "lake")
    arts = [publish_candles(store, key=f"token=T{i}/res=1m", seed=i).artifact for i in range(4)]
    fs = store.files
    fs.delete(arts[1].path_sidecar)
    fs.write_bytes("artifacts/stray.json", b"{}")  # as many files as before
    full = _report(store)
    assert sorted((kind, path) for kind, _, path, _ in full[1]) == [
        ("missing_sidecar", fs.uri(arts[1].path_sidecar)), ("orphan_file", fs.uri("artifacts/stray.json"))]
    assert _report(store, since="2000-01-01T00:00:00Z") == full
    fs.delete("artifacts/stray.json")
    store.tombstone(arts[2].artifact_id, reason="old")
    store.gc(dry_run=False)
    con = sqlite3.connect(store.lake.manifest_db, isolation_level=None)
    con.execute("UPDATE artifacts SET status = 'active' WHERE artifact_id = ?", (arts[2].artifact_id,))  # files lost
    con.close()
    full = _report(store)
    assert [(kind, aid, detail) for kind, aid, _, detail in full[1] if aid == arts[2].artifact_id] == [
        ("missing_file", arts[2].artifact_id, "the artifact is active but gc removed its files; publish the same data "
                                              "again to restore them")]
    assert _report(store, since="2000-01-01T00:00:00Z") == full


def test_a_lost_artifact_store_folder_is_reported_not_raised(tmp_path):
    """The artifact store's folder gone (an unmounted disk): every file is missing, in every mode."""
    from bridge.store import Store
    from bridge.store.lake import Lake

    store = Store(Lake(tmp_path / "lake", artifacts=str(tmp_path / "disk")))
    arts = [publish_candles(store, key=f"token=T{i}/res=1m", seed=i).artifact for i in range(2)]
    (tmp_path / "disk").rename(tmp_path / "unmounted")
    for kw in ({}, {"quick": True}, {"since": "2000-01-01T00:00:00Z"}):
        report = store.verify(**kw)
        assert sorted((i.kind, i.artifact_id) for i in report.issues) == sorted(
            ("missing_file", a.artifact_id) for a in arts), kw


def test_a_file_the_manifest_names_otherwise_than_the_listing_is_neither_missing_nor_orphan(tmp_path):
    """A manifest row may spell its file's path otherwise than the listing does (an absolute path
    into the store, also through a symlink to the lake, `./`, `//`, `..`): the file is the same, so no verify depth calls it missing
    and an orphan at once (they did, before). A real stray file and a real lost one beside them are
    still found, and gc sees no orphan either."""
    import os

    from bridge.store import Store

    store = Store(tmp_path / "lake")
    arts = [publish_candles(store, key=f"token=T{i}/res=1m", seed=i).artifact for i in range(5)]
    fs = store.files
    con = sqlite3.connect(store.lake.manifest_db, isolation_level=None)
    rel = {a: (p, s) for a, p, s in con.execute("SELECT artifact_id, path_parquet, path_sidecar FROM artifacts")}
    (p0, s0), (p1, s1), (p2, s2), (_, lost), (p4, s4) = (rel[a.artifact_id] for a in arts)
    up = f"{os.path.dirname(s1)}/../{os.path.basename(os.path.dirname(s1))}/{os.path.basename(s1)}"
    (tmp_path / "link").symlink_to(tmp_path / "lake")  # (absolute, through a symlink to the lake)
    linked = fs.uri(p4).replace(str(tmp_path / "lake"), str(tmp_path / "link"), 1)
    assert linked != fs.uri(p4)
    odd = {arts[0].artifact_id: (fs.uri(p0), s0.replace("/", "//", 1)),
           arts[1].artifact_id: ("./" + p1, up),
           arts[2].artifact_id: (p2.replace("/", "/./", 2), fs.uri(s2)),
           arts[4].artifact_id: (linked, s4)}
    for aid, (parquet, sidecar) in odd.items():
        con.execute("UPDATE artifacts SET path_parquet = ?, path_sidecar = ? WHERE artifact_id = ?", (parquet, sidecar, aid))
    con.close()
    assert all(os.path.isfile(fs.uri(p)) for pair in odd.values() for p in pair)  # (the same files, spelled otherwise)
    store = Store(tmp_path / "lake")
    for kw in ({}, {"quick": True}, {"since": "2000-01-01T00:00:00Z"}):
        assert store.verify(**kw).issues == [], kw
    assert store.gc(dry_run=True).orphan_files == []
    fs.write_bytes("artifacts/stray.json", b"{}")
    fs.delete(lost)
    for kw in ({}, {"quick": True}, {"since": "2000-01-01T00:00:00Z"}):
        assert sorted((i.kind, i.path) for i in store.verify(**kw).issues) == [
            ("missing_sidecar", fs.uri(lost)), ("orphan_file", fs.uri("artifacts/stray.json"))], kw
    # A spelling the OS cannot open (normpath would drop `ghost/../`, but there is no folder
    # ghost) names no file: missing, and the file it does not reach an orphan, at every depth.
    ghost = "artifacts/ghost/../" + p1[len("artifacts/"):]
    con = sqlite3.connect(store.lake.manifest_db, isolation_level=None)
    con.execute("UPDATE artifacts SET path_parquet = ? WHERE artifact_id = ?", (ghost, arts[1].artifact_id))
    con.close()
    store = Store(tmp_path / "lake")
    for kw in ({}, {"quick": True}, {"since": "2000-01-01T00:00:00Z"}):
        found = sorted((i.kind, i.path) for i in store.verify(**kw).issues)
        assert ("missing_file", fs.uri(ghost)) in found and ("orphan_file", fs.uri(p1)) in found, (kw, found)
