"""listArtifacts at scale: migration 0005's indexes, the plan of every filter (EXPLAIN QUERY PLAN:
no full scan, no sort of everything), and both plans giving the answer of a reference filter."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.store import Store, manifest

TYPES = ("ohlcv_slice", "alerts_v1", "run_metrics")
STATUSES = ("active", "superseded", "tombstoned")


# spans of every size class of migration 0008, from none to decades, and across class bounds
SPANS = (timedelta(0), timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=1, microseconds=1),
         timedelta(minutes=5), timedelta(hours=3), timedelta(days=1), timedelta(days=2), timedelta(days=3),
         timedelta(days=400), timedelta(days=365 * 40))


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rows(n: int = 60, rare_every: int = 17):
    out = []
    for i in range(n):
        start = datetime(2026, 1, 1 + i % 20, (i * 5) % 24, (i * 7) % 60)
        out.append({
            "artifact_id": f"{(i * 7919) % 1000:04d}{i:028d}",
            "artifact_type": TYPES[i % 3], "status": STATUSES[(i // 3) % 3],
            "logical_key": f"token=T{i % 7}/n={i}" if i % 5 else f"token=\u00e9{i % 2}/n={i}",
            "min_ts": None if i % 11 == 0 else _ts(start),
            "max_ts": None if i % 11 == 0 else _ts(start + SPANS[i % len(SPANS)]),
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


def page_through(store, f: dict, limit: int) -> list[str]:
    """The ids of every page of `store.list(**f)`, following the cursors (at most len(ROWS) + 2
    pages, so a cursor that never ends fails the comparison instead of hanging)."""
    seen, cursor = [], None
    for _ in range(len(ROWS) + 2):
        page = store.list(limit=limit, cursor=cursor, **f)
        seen += [a.artifact_id for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    return seen


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
    "ts_from": st.sampled_from(["2026-01-05T00:00:00.000000Z", "2026-01-20T00:00:00.000000Z",
                                "2026-01-07T10:35:30.000000Z", "2026-01-12T00:00:00.000000Z", "1990-01-01T00:00:00.000000Z",
                                "2027-06-01T00:00:00.000000Z", "0500-01-01T00:00:00.000000Z"]),
    "ts_to": st.sampled_from(["2026-01-03T00:00:00.000000Z", "2026-01-15T00:00:00.000000Z",
                              "2026-01-07T10:36:00.000000Z", "2026-01-12T00:00:00.000001Z"]),
})


@settings(max_examples=60, deadline=None)
@given(f=FILTERS, limit=st.integers(1, 7), driver_max=st.sampled_from([0, 5, 2000]))
def test_every_plan_pages_through_the_reference_answer(big_store, f, limit, driver_max):
    big_store.LIST_DRIVER_MAX = driver_max  # 0: always the ordered walk; 2000: always a driver
    big_store.LIST_DRIVER_SCALE = driver_max == 5  # 5: a threshold scaled with the manifest's size
    try:
        assert page_through(big_store, f, limit) == reference(f)
    finally:
        del big_store.LIST_DRIVER_MAX
        big_store.__dict__.pop("LIST_DRIVER_SCALE", None)


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
    "time+type+status": {"ts_from": "2026-01-05T00:00:00Z", "ts_to": "2026-01-12T00:00:00Z", "artifact_type": "alerts_v1",
                         "status": "active"},
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
        if set(f) <= {"ts_from", "ts_to", "artifact_type", "status"} and "ts_from" in f:  # read from the overlap's index
            searches = [p for p in plan if p.startswith("SEARCH")]
            assert searches and all("idx_artifacts_span_min_ts" in p for p in searches), plan
        else:
            assert "SEARCH a USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan  # fetched by rowid, not scanned
        # every filter common: the page is read in order from an index and stops early (no sort)
        big_store.LIST_DRIVER_MAX = 0
        big_store.LIST_DRIVER_SCALE = False
        try:
            sql, args = big_store._list_query(limit=100, **{**dict.fromkeys(
                ("artifact_type", "status", "logical_key_prefix", "tags", "ts_from", "ts_to", "cursor")), **f, **kw})
        finally:
            del big_store.LIST_DRIVER_MAX
        big_store.__dict__.pop("LIST_DRIVER_SCALE", None)
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
        assert all(p.startswith(("SEARCH", "CO-ROUTINE", "SCAN (subquery", "SCAN m", "COMPOUND QUERY",
                                 "LEFT-MOST SUBQUERY", "UNION ALL")) for p in plan), plan


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


def test_the_time_overlap_is_one_index_range_per_span_class(big_store):
    """Migration 0008: the overlap driver reads idx_artifacts_span_min_ts by (class, min_ts range)
    in every branch (the last class has no lower bound), never a whole index or the table."""
    from bridge.store.store import _SPAN_CLASSES, _overlap_driver

    sql, args = _overlap_driver("2026-01-07T10:35:30.000000Z", "2026-01-07T10:36:00.000000Z")
    plan = _plan(big_store.connect(), sql, args)
    searches = [p for p in plan if p.startswith("SEARCH")]
    assert len(searches) == _SPAN_CLASSES, plan
    assert all("idx_artifacts_span_min_ts (ts_span_class=? AND min_ts>? AND min_ts<?)" in p for p in searches[:-1]), plan
    assert "idx_artifacts_span_min_ts (ts_span_class=? AND min_ts<?)" in searches[-1], plan
    assert not any(p.startswith("SCAN") for p in plan), plan


@settings(max_examples=40, deadline=None)
@given(span_us=st.one_of(st.integers(0, 10**9), st.integers(0, 2**62 // 10**3),
                         st.sampled_from([4**c * 60_000_000 + d for c in range(13) for d in (-1, 0, 1)])))
def test_span_class_bounds_the_span(big_store, span_us):
    """The class SQLite derives is what the driver relies on: class c < 13 means a span of at most
    4^c minutes (1 s of slack for julianday's rounding), and the class is the least such."""
    start = datetime(1990, 1, 1)
    try:
        end = start + timedelta(microseconds=span_us)
        end_text = _ts(end)
    except OverflowError:
        return
    c = big_store.connect().execute(
        "SELECT CASE WHEN :a IS NULL OR :b IS NULL THEN NULL"
        + "".join(f" WHEN (julianday(:b) - julianday(:a)) * 1440 <= {4**k} THEN {k}" for k in range(13))
        + " ELSE 13 END", {"a": _ts(start), "b": end_text}).fetchone()[0]
    # the same expression as the migration's (checked against the column itself below)
    migration = [sql for v, _, sql in manifest.migrations() if v == 8][0]
    assert all(f"<= {4**k} THEN {k}" in migration for k in range(13))
    span_min = span_us / 60e6
    if c < 13:
        assert span_min <= 4**c + 1 / 60
    if c > 0:
        assert span_min > 4 ** (c - 1) - 1 / 60


def test_the_span_class_column_matches_the_rows(big_store):
    got = dict(big_store.connect().execute("SELECT artifact_id, ts_span_class FROM artifacts").fetchall())
    for r in ROWS:
        if r["min_ts"] is None:
            assert got[r["artifact_id"]] is None
            continue
        span = (datetime.fromisoformat(r["max_ts"][:-1]) - datetime.fromisoformat(r["min_ts"][:-1])) / timedelta(minutes=1)
        c = got[r["artifact_id"]]
        assert (c == 13 and span > 4**12) or (span <= 4**c + 1e-6 and (c == 0 or span > 4 ** (c - 1) - 1e-6)), (r, c)


def test_upgrading_a_v7_manifest_classifies_existing_artifacts(tmp_path):
    lake = tmp_path / "lake"
    db = lake / "manifest" / "manifest.sqlite"
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db, isolation_level=None)
    con.executescript(manifest.manifest_sql())
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    con.execute("INSERT INTO schema_migrations VALUES (1, 'manifest_v1', 'then')")
    for version, name, sql in manifest.migrations():
        if version <= 7:
            con.executescript(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", (version, name))
    for i, (lo, hi) in enumerate([("2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:30.000000Z"),
                                  ("2026-01-01T00:00:00.000000Z", "2026-03-01T00:00:00.000000Z"),
                                  (None, None)]):
        con.execute("INSERT INTO artifacts (artifact_id, artifact_type, schema_version, logical_key, status,"
                    " path_parquet, path_sidecar, file_hash, content_hash, row_count, min_ts, max_ts, created_at)"
                    " VALUES (?, 'run_metrics', 1, ?, 'active', 'p', 's', ?, 'c', 1, ?, ?, '2026-01-01T00:00:00.000000Z')",
                    (f"a{i}", f"k{i}", f"f{i}", lo, hi))
    con.close()

    store = Store(lake)
    assert store.schema_version >= 8
    c = store.connect()
    assert c.execute("SELECT 1 FROM sqlite_master WHERE name = 'idx_artifacts_span_min_ts'").fetchone()
    assert dict(c.execute("SELECT artifact_id, ts_span_class FROM artifacts").fetchall()) == {"a0": 0, "a1": 9, "a2": None}
    page = store.list(ts_from="2026-02-01T00:00:00Z", ts_to="2026-02-01T00:01:00Z")
    assert [a.artifact_id for a in page.items] == ["a1"]
    page = store.list(ts_from="2026-01-01T00:00:10Z", ts_to="2026-01-01T00:00:11Z")
    assert [a.artifact_id for a in page.items] == ["a0", "a1"]


def test_a_window_at_the_very_end_of_each_artifact_finds_it(big_store):
    """The overlap driver's lower bound per class is the tightest it may be: a window starting at
    an artifact's max_ts (the longest reach back its class allows) still finds it."""
    big_store.LIST_DRIVER_MAX = 2000  # always the driver
    try:
        for r in ROWS:
            if r["max_ts"] is None:
                continue
            end = datetime.fromisoformat(r["max_ts"][:-1])
            ids = [a.artifact_id for a in big_store.list(limit=100, ts_from=r["max_ts"],
                                                       ts_to=_ts(end + timedelta(microseconds=1))).items]
            assert r["artifact_id"] in ids, r
    finally:
        del big_store.LIST_DRIVER_MAX
        big_store.__dict__.pop("LIST_DRIVER_SCALE", None)
