"""The team backend's own guarantees: the PostgreSQL schema, two "machines" (two lake folders
configured on one database and one bucket) publishing at once, and a publisher that died on
machine A recovered by machine B once its lease ran out (no pid check can see across hosts)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from bridge.store import Store
from bridge.store.dialect import PostgresDialect, SqliteDialect
from tests.store.test_crash_and_concurrency import assert_consistent, run_publisher
from tests.store.samples import publish_candles
from tests.store.test_manifest import PRD_COLUMNS

TEAM = ["pg-local", "pg-s3"]


@pytest.fixture(params=TEAM)
def team(request):
    from tests.backends import Backend

    return Backend(request.param, request)


def test_postgres_schema_has_the_prd_tables_and_the_same_migrations(team, tmp_path):
    store = Store(team.lake(tmp_path / "lake"))
    con = store.connect()

    def columns(table):
        return [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", (table,))]

    for table, cols in PRD_COLUMNS.items():  # the PRD's columns first, in order; later migrations append
        assert columns(table)[:len(cols)] == cols
    # the migrated schema is the SQLite one's twin: the same tables, columns, indexes and triggers
    lite = Store(tmp_path / "sqlite-lake")
    lcon = lite.connect()
    lite_tables = {r[0] for r in lcon.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                              " AND name NOT LIKE 'sqlite_%'")}
    assert store.dialect.tables(con) == lite_tables
    only_pg = {"publish_journal": ["lease_expires_at"]}  # leases instead of pid checks (0002)
    for table in lite_tables:
        # table_xinfo: generated columns too (0008's span class)
        want = [r[1] for r in lcon.execute(f"PRAGMA table_xinfo({table})")] + only_pg.get(table, [])
        assert columns(table) == want, table
    lite_idx = {r[0] for r in lcon.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%'")}
    assert {r[0] for r in con.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'idx_%'")} == lite_idx
    lite_trig = {r[0] for r in lcon.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {r[0] for r in con.execute("SELECT DISTINCT trigger_name FROM information_schema.triggers")} == lite_trig
    lite.close()
    # one numbered migration per SQLite migration: a SQLite-only schema change fails here until ported
    sqlite_versions = [(v, n) for v, n, _ in SqliteDialect(tmp_path / "x").migrations()]
    assert [(v, n) for v, n, _ in PostgresDialect(team.manifest).migrations()] == sqlite_versions
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [1] + [v for v, _ in sqlite_versions] and store.schema_version == versions[-1]
    store.close()


def test_many_openers_migrate_once(team, tmp_path):
    import threading

    lake = team.lake(tmp_path / "lake")
    errors = []

    def open_it():
        try:
            Store(lake).close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    count = Store(lake).connect().execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    assert count == len(PostgresDialect(team.manifest).migrations()) + 1


def test_two_machines_publishing_overlapping_data(team, tmp_path):
    lake_a, lake_b = team.lake(tmp_path / "machine-a"), team.lake(tmp_path / "machine-b")
    seeds = list(range(8))
    procs = [run_publisher(lake, seeds[i:] + seeds[:i], n=2000, env={"QUANTBOT_HOST_ID": host})
             for lake, host, i in ((lake_a, "machine-a", 0), (lake_a, "machine-a", 2),
                                   (lake_b, "machine-b", 4), (lake_b, "machine-b", 6))]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        results += [json.loads(line) for line in out.splitlines()]
    assert len(results) == 4 * len(seeds)
    by_seed: dict[int, set[str]] = {}
    for seed, aid, _ in results:
        by_seed.setdefault(seed, set()).add(aid)
    assert all(len(ids) == 1 for ids in by_seed.values())
    assert sum(1 for _, _, deduped in results if not deduped) == len(seeds)
    a, b = assert_consistent(lake_a), assert_consistent(lake_b)
    assert [x.artifact_id for x in a.list().items] == [x.artifact_id for x in b.list().items]
    assert len(a.list().items) == len(seeds)


def test_publisher_dead_on_machine_a_is_recovered_by_machine_b(team, tmp_path):
    lake_a, lake_b = team.lake(tmp_path / "machine-a"), team.lake(tmp_path / "machine-b")
    proc = run_publisher(lake_a, [3], env={"QB_CRASH_AT": "after_parquet_move", "QUANTBOT_HOST_ID": "machine-a",
                                           "QUANTBOT_PUBLISH_LEASE_S": "1"})
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    b = Store(lake_b)  # this process is another host: it cannot check machine-a's pid
    row = b.connect().execute("SELECT host, artifact_id, path_parquet FROM publish_journal").fetchone()
    assert row is not None and row["host"] == "machine-a"
    assert b.files.exists(row["path_parquet"])  # the unregistered file machine A left
    deadline = time.monotonic() + 60
    while not b.recover():
        assert time.monotonic() < deadline, "the lease never ran out"
        time.sleep(0.2)
    assert not b.files.exists(row["path_parquet"])
    assert b.connect().execute("SELECT COUNT(*) FROM publish_journal").fetchone()[0] == 0
    assert_consistent(lake_b)
    out, err = run_publisher(lake_b, [3]).communicate(timeout=120)
    assert json.loads(out.splitlines()[-1])[1] == row["artifact_id"], err


def test_a_live_lease_is_not_recovered_by_another_host(team, tmp_path):
    lake = team.lake(tmp_path / "lake")
    store = Store(lake)
    con = store.connect()
    with store.dialect.write_txn(con):
        assert store.dialect.journal_insert(con, ("j1", "a" * 32, "artifacts/x.parquet", "artifacts/x.json",
                                                  "machine-z", 1, "2026-01-01T00:00:00Z"), 60)
        # a second publisher of the same id is refused the row (it waits instead of racing)
        assert not store.dialect.journal_insert(con, ("j2", "a" * 32, "p", "s", "machine-y", 2, "t"), 60)
    assert store.recover() == []  # another host's live lease: left alone
    con.execute("UPDATE publish_journal SET lease_expires_at = now() - interval '1 second'")
    assert store.recover() == ["a" * 32]


def test_gc_removes_staging_keys_of_dead_publishers_from_the_bucket(tmp_path, s3_server):
    from bridge.store.artifact_fs import host_id
    from tests.backends import write_lake

    store = Store(write_lake(tmp_path / "lake", artifacts=s3_server.new_prefix(), endpoint=s3_server.endpoint))
    live = publish_candles(store).artifact
    dead_key = f"staging/{host_id()}-999999999-{'0' * 32}.parquet"  # a pid that cannot be alive
    other_host = f"staging/elsewhere-1-{'1' * 32}.parquet"  # another host's, recent: kept
    store.files.write_bytes(dead_key, b"partial upload")
    store.files.write_bytes(other_host, b"in flight elsewhere")
    assert store.verify().ok  # staging keys are not artifacts
    store.gc(dry_run=False)
    assert not store.files.exists(dead_key) and store.files.exists(other_host)
    assert store.files.exists(live.path_parquet) and store.verify().ok


def test_an_artifact_folder_on_another_file_system(tmp_path):
    """A shared mount: staging (in the lake folder) and the artifacts are on different file
    systems, so files are copied next to their final name and renamed (no hard link across)."""
    import os
    import shutil
    import tempfile

    from tests.backends import write_lake

    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.fail("this machine has no second file system at /dev/shm to test with")
    shared = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="qb-shared-"))
    try:
        store = Store(write_lake(tmp_path / "lake", artifacts=str(shared)))
        a = publish_candles(store).artifact
        assert a.path_parquet.startswith(str(shared)) and store.verify().ok
        assert not [p for p in shared.rglob(".*.tmp")] and not list((tmp_path / "lake" / "staging").rglob("*.link"))
        assert publish_candles(store).deduped
    finally:
        shutil.rmtree(shared, ignore_errors=True)
