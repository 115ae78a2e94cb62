"""The store's read cache (Store.get / Store.get_json): exact, never stale.

A read that starts after a write returned sees it, whoever wrote: this Store, another Store on
the same lake (another process's view: its writes do not move this Store's generation), or
another process; checked on every backend. The cached JSON is byte for byte what encoding a fresh
load gives (hypothesis, over random interleavings of reads and writes)."""

from __future__ import annotations

import os
import subprocess
import sys

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import InvalidState, InvalidSupersession
from tests.conftest import REPO
from tests.store.samples import publish_candles


def fresh(store, artifact_id):
    """The artifact as the manifest has it now, read past every cache."""
    return store._load([artifact_id])[0]


def test_a_write_by_another_store_is_seen_by_the_next_read(lake_dir):
    """No time window: the reader asked its cache a moment before (the old once-per-ms probe
    answered from the stale cache here)."""
    from bridge.store import Store

    reader, writer = Store(lake_dir), Store(lake_dir)
    try:
        ids = [publish_candles(writer, seed=s).artifact_id for s in range(4)]
        for old, new in zip(ids, ids[1:]):
            assert reader.get(old).status == "active" and reader.get_json(old)  # cached now
            writer.supersede(new, old)
            assert reader.get(old).status == "superseded" and reader.get(old).superseded_by == new
            assert msgspec.json.decode(reader.get_json(old))["supersededBy"] == new
            assert reader.get(new).supersedes == old
        writer.tombstone(ids[-1], "bad feed")
        assert reader.get(ids[-1]).status == "tombstoned"
        assert bytes(reader.get_json(ids[-1])) == msgspec.json.encode(fresh(writer, ids[-1]))
    finally:
        reader.close()
        writer.close()


def test_a_write_by_another_process_is_seen_by_the_next_read(store):
    a = publish_candles(store, seed=1).artifact_id
    b = publish_candles(store, seed=2).artifact_id
    assert store.get(a).status == "active" and store.get_json(a)  # cached now
    subprocess.run([sys.executable, "-m", "bridge", "supersede", b, a, "--lake", str(store.lake.root)], check=True,
                   capture_output=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                             **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}})
    assert store.get(a).status == "superseded" and store.get(a).superseded_by == b  # no wait
    assert msgspec.json.decode(store.get_json(a))["status"] == "superseded"
    store.tombstone(b)  # own writes too
    assert store.get(b).status == "tombstoned" and msgspec.json.decode(store.get_json(b))["status"] == "tombstoned"


def test_any_commit_empties_the_cache_and_a_closed_connection_gets_a_new_probe(lake_dir):
    """A raw commit on another connection (a tag added by hand) is seen; after close() the store
    opens a new connection and a new probe, and still sees writes."""
    from bridge.store import Store

    reader, writer = Store(lake_dir), Store(lake_dir)
    try:
        a = publish_candles(writer).artifact_id
        assert reader.get(a).tags.get("by") is None
        if writer.dialect.name == "sqlite":
            assert reader._local.probe.shared_memory  # the wal-index, no query per read
        con = writer.connect()
        with writer.dialect.write_txn(con):
            con.execute("INSERT INTO artifact_tags (artifact_id, k, v) VALUES (?, 'by', 'hand')", (a,))
        assert reader.get(a).tags == {"by": ["hand"]}
        assert msgspec.json.decode(reader.get_json(a))["tags"] == {"by": ["hand"]}
        reader.close()
        writer.tombstone(a)
        assert reader.get(a).status == "tombstoned"
    finally:
        reader.close()
        writer.close()


_ops = st.lists(st.one_of(
    st.tuples(st.just("read"), st.integers(0, 3)),
    st.tuples(st.just("supersede"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("tombstone"), st.integers(0, 3)),
    st.tuples(st.just("tag"), st.integers(0, 3), st.sampled_from(["x", "y"])),
), min_size=1, max_size=12)


@settings(max_examples=12, deadline=None)
@given(ops=_ops)
def test_cached_reads_equal_a_fresh_load_and_encode(tmp_path_factory, ops):
    """After every write by another Store, the reader's get and get_json equal a fresh load of the
    manifest and its msgspec encoding, for every artifact (cached or not)."""
    from bridge.store import Store

    lake = tmp_path_factory.mktemp("lake")
    reader, writer = Store(lake), Store(lake)
    try:
        ids = [publish_candles(writer, seed=s).artifact_id for s in range(4)]
        n_tags = 0
        for op in ops:
            if op[0] == "supersede":
                try:
                    writer.supersede(ids[op[1]], ids[op[2]])
                except (InvalidSupersession, InvalidState):
                    pass  # the same artifact, a cycle, a tombstoned one: refused, nothing written
            elif op[0] == "tombstone":
                writer.tombstone(ids[op[1]], "test")
            elif op[0] == "tag":
                n_tags += 1
                con = writer.connect()
                with writer.dialect.write_txn(con):
                    con.execute("INSERT INTO artifact_tags (artifact_id, k, v) VALUES (?, ?, ?)",
                                (ids[op[1]], op[2], str(n_tags)))
            for i in ids if op[0] != "read" else [ids[op[1]]]:
                truth = fresh(writer, i)
                assert reader.get(i) == truth
                assert bytes(reader.get_json(i)) == msgspec.json.encode(truth)
                assert msgspec.json.decode(reader.get_json(i), type=type(truth)) == truth
    finally:
        reader.close()
        writer.close()


def test_get_json_of_an_unknown_id_raises_not_found(store):
    from bridge.errors import ArtifactNotFound

    with pytest.raises(ArtifactNotFound):
        store.get_json("f" * 32)


_LOCK_CHECK = """
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
# would a write lock on SQLite's "dead man switch" byte of the wal-index (offset 128) conflict?
got = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 128, 1, 0))
print("held" if struct.unpack("hhqqi", got)[0] != fcntl.F_UNLCK else "free")
"""


def test_the_probe_leaves_sqlite_s_locks_alone(tmp_path):
    """Regression: the probe once closed its own descriptor of the `-shm` file, which releases
    every POSIX lock the process holds on that file, SQLite's WAL locks included (other processes
    then saw "locking protocol" errors). The lock SQLite holds on the wal-index while a
    connection is open is still held after the read cache made its probe, on several threads."""
    import threading

    from bridge.store import Store

    store = Store(tmp_path / "lake")
    try:
        a = publish_candles(store).artifact_id
        shm = f"{store.dialect.path}-shm"
        held = lambda: subprocess.run([sys.executable, "-c", _LOCK_CHECK, shm], capture_output=True,  # noqa: E731
                                      check=True).stdout.strip() == b"held"
        assert held()
        assert store.get_json(a) and store._local.probe.shared_memory  # the probe is made
        threads = [threading.Thread(target=lambda: (store.get(a), store.close())) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert held()
        assert store.get(a).artifact_id == a
    finally:
        store.close()
