"""listArtifacts at scale: migration 0005's indexes, the plan of every filter (EXPLAIN QUERY PLAN:
no full scan, no sort of everything), and both plans giving the answer of a reference filter."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.store import Store, manifest

TYPES = ("ohlcv_slice", "alerts_v1", "run_metrics")
STATUSES = ("active", "superseded", "tombstoned")


def _rows(n: int = 60, rare_every: int = 17):
    out = []
    for i in range(n):
        out.append({
            "artifact_id": f"{(i * 7919) % 1000:04d}{i:028d}",
            "artifact_type": TYPES[i % 3], "status": STATUSES[(i // 3) % 3],
            "logical_key": f"token=T{i % 7}/n={i}" if i % 5 else f"token=\u00e9{i % 2}/n={i}",
            "min_ts": None if i % 11 == 0 else f"2026-01-{1 + i % 20:02d}T00:00:00.000000Z",
            "max_ts": None if i % 11 == 0 else f"2026-01-{2 + i % 20 + i % 4:02d}T00:00:00.000000Z",
            "created_at": f"2026-02-01T00:00:{i % 30:02d}.000000Z",  # ties: artifact_id breaks them
            "tags": {("res", "1m" if i % 4 else "1s")} | ({("rare", "yes")} if i % rare_every == 3 else set()),
        })
    return out


ROWS = _rows()


def fill(store: Store, rows: list[dict]) -> Store:
    """Manifest rows only (no files): what listing reads."""
    con = store.connect()
    with manifest.write_txn(con):
        con.executemany(
            "INSERT INTO artifacts (artifact_id, artifact_type, schema_version, logical_key, status, path_parquet,"
            " path_sidecar, file_hash, content_hash, row_count, min_ts, max_ts, created_at)"
            " VALUES (?,?,1,?,?,'p','s',?,'c',1,?,?,?)",
            [(r["artifact_id"], r["artifact_type"], r["logical_key"], r["status"], "f" + r["artifact_id"],
              r["min_ts"], r["max_ts"], r["created_at"]) for r in rows])
        con.executemany("INSERT INTO artifact_tags VALUES (?,?,?)",
                        [(r["artifact_id"], k, v) for r in rows for k, v in sorted(r["tags"])])
    store._wrote()
    return store


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    return fill(Store(tmp_path_factory.mktemp("lake")), ROWS)


def reference(f: dict, rows: list[dict] = ROWS) -> list[str]:
    """The filters as the docs state them, on plain Python rows."""
    out = []
    for r in rows:
        if f.get("artifact_type") and r["artifact_type"] != f["artifact_type"]:
            continue
        if f.get("status") and r["status"] != f["status"]:
            continue
        if f.get("logical_key_prefix") and not r["logical_key"].startswith(f["logical_key_prefix"]):
            continue
        if any((k, v) not in r["tags"] for k, v in (f.get("tags") or {}).items()):
            continue
        if f.get("ts_from") and not (r["max_ts"] is not None and r["max_ts"] >= f["ts_from"]):
            continue
        if f.get("ts_to") and not (r["min_ts"] is not None and r["min_ts"] < f["ts_to"]):
            continue
        out.append(r)
    return [r["artifact_id"] for r in sorted(out, key=lambda r: (r["created_at"], r["artifact_id"]))]


FILTERS = st.fixed_dictionaries({}, optional={
    "artifact_type": st.sampled_from([*TYPES, "nope"]),
    "status": st.sampled_from(STATUSES),
    "logical_key_prefix": st.sampled_from(["token=T1", "token=T", "token=\u00e9", "token=\u00e91/", "zz"]),
    "tags": st.sampled_from([{"res": "1m"}, {"res": "1s"}, {"rare": "yes"}, {"res": "5m"}, {"res": "1m", "rare": "yes"}]),
    "ts_from": st.sampled_from(["2026-01-05T00:00:00.000000Z", "2026-01-20T00:00:00.000000Z"]),
    "ts_to": st.sampled_from(["2026-01-03T00:00:00.000000Z", "2026-01-15T00:00:00.000000Z"]),
})


@settings(max_examples=60, deadline=None)
@given(f=FILTERS, limit=st.integers(1, 7), driver_max=st.sampled_from([0, 5, 2000]))
def test_every_plan_pages_through_the_reference_answer(big_store, f, limit, driver_max):
    big_store.LIST_DRIVER_MAX = driver_max  # 0: always the ordered walk; 2000: always a driver
    try:
        seen, cursor = [], None
        for _ in range(len(ROWS) + 2):
            page = big_store.list(limit=limit, cursor=cursor, **f)
            seen += [a.artifact_id for a in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == reference(f)
    finally:
        del big_store.LIST_DRIVER_MAX


def _plan(con: sqlite3.Connection, sql: str, args) -> list[str]:
    return [r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql, args)]


_FULL_SCAN = re.compile(r"^SCAN (a|x|t|artifacts|artifact_tags)$")  # a scan through no index at all

CASES = {
    "type": {"artifact_type": "alerts_v1"},
    "status": {"status": "tombstoned"},
    "type+status": {"artifact_type": "alerts_v1", "status": "active"},
    "key prefix": {"logical_key_prefix": "token=T1"},
    "tag": {"tags": {"rare": "yes"}},
    "two tags": {"tags": {"rare": "yes", "res": "1m"}},
    "time from": {"ts_from": "2026-01-20T00:00:00Z"},
    "time to": {"ts_to": "2026-01-03T00:00:00Z"},
    "time overlap": {"ts_from": "2026-01-05T00:00:00Z", "ts_to": "2026-01-06T00:00:00Z"},
    "type+tag+prefix": {"artifact_type": "alerts_v1", "tags": {"res": "1m"}, "logical_key_prefix": "token=T"},
}


@pytest.mark.parametrize("name", CASES)
def test_each_filter_is_answered_through_an_index(big_store, name):
    f = CASES[name]
    con = big_store.connect()
    cursor = big_store.list(limit=1, **f).next_cursor
    assert cursor, "the case must match more than one artifact"
    for kw in ({}, {"cursor": cursor}):
        # a filter with few matches drives: its index is searched, the matches sorted
        sql, args = big_store._list_query(limit=100, **{**dict.fromkeys(
            ("artifact_type", "status", "logical_key_prefix", "tags", "ts_from", "ts_to", "cursor")), **f, **kw})
        plan = _plan(con, sql, args)
        assert not any(_FULL_SCAN.match(p) for p in plan), plan
        assert any(p.startswith("SEARCH") and "USING" in p for p in plan), plan
        assert "SEARCH a USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan  # fetched by rowid, not scanned
        # every filter common: the page is read in order from an index and stops early (no sort)
        big_store.LIST_DRIVER_MAX = 0
        try:
            sql, args = big_store._list_query(limit=100, **{**dict.fromkeys(
                ("artifact_type", "status", "logical_key_prefix", "tags", "ts_from", "ts_to", "cursor")), **f, **kw})
        finally:
            del big_store.LIST_DRIVER_MAX
        plan = _plan(con, sql, args)
        assert not any(_FULL_SCAN.match(p) for p in plan), plan
        assert not any("TEMP B-TREE" in p for p in plan), plan
        if f.get("artifact_type") or f.get("status"):
            assert plan[0].startswith("SEARCH a USING"), plan


@pytest.mark.parametrize("name", CASES)
def test_counting_a_filter_searches_its_index(big_store, name):
    con = big_store.connect()
    ran: list[str] = []
    con.set_trace_callback(ran.append)  # the statements as run, parameters inlined
    try:
        big_store.list(**CASES[name])
    finally:
        con.set_trace_callback(None)
    counted = [sql for sql in ran if sql.startswith("SELECT count(*)")]
    assert counted
    for sql in counted:
        plan = _plan(con, sql, ())
        assert all(p.startswith(("SEARCH", "CO-ROUTINE", "SCAN (subquery", "SCAN m")) for p in plan), plan


def test_upgrading_a_v4_manifest_adds_the_indexes(tmp_path):
    lake = tmp_path / "lake"
    db = lake / "manifest" / "manifest.sqlite"
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db, isolation_level=None)
    con.executescript(manifest.manifest_sql())
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    con.execute("INSERT INTO schema_migrations VALUES (1, 'manifest_v1', 'then')")
    for version, name, sql in manifest.migrations():
        if version <= 4:
            con.executescript(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", (version, name))
    con.execute("INSERT INTO artifacts VALUES ('old', 'run_metrics', 1, 'run=old', 'active', 'p', 's', 'f', 'c', 1,"
                " NULL, NULL, '2026-01-01T00:00:00.000000Z')")
    con.execute("INSERT INTO artifact_tags VALUES ('old', 'res', '1m')")
    con.close()

    store = Store(lake)
    assert store.schema_version == manifest.migrations()[-1][0] >= 5
    indexes = {r[0] for r in store.connect().execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_artifacts_type_created", "idx_artifacts_status_created", "idx_artifacts_type_status_created",
            "idx_artifacts_key", "idx_artifacts_min_ts", "idx_artifacts_max_ts", "idx_tags_kv_artifact"} <= indexes
    assert "idx_tags_kv" not in indexes
    assert [a.artifact_id for a in store.list(tags={"res": "1m"}).items] == ["old"]
    assert [a.artifact_id for a in store.list(logical_key_prefix="run=o", artifact_type="run_metrics").items] == ["old"]
