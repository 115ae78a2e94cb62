"""listArtifacts on PostgreSQL: the list planner (Store._list_query) writes its plan without
SQLite's hints there, and PostgreSQL's planner, which has statistics, must still answer every
filter through migration 0005's indexes.

How this is checked: EXPLAIN on a real server, on 20,000 artifacts after VACUUM ANALYZE (a size
where an index beats reading the table, so the planner's own choice is what is asserted: no
`Seq Scan` of artifacts or artifact_tags anywhere in the plan), for the page query of each filter,
both as the planner writes it (a small filter drives) and with every filter common (the ordered
walk), and for every driver count the planner runs (there a scan that stops at the count's LIMIT
is allowed: PostgreSQL picks it when the filter is common, where it is the cheaper read). We did not use `enable_seqscan = off`: that
shows an index *can* be used, not that the planner *does* use it. The answers are checked against
the reference filter on the 60-row lake of test_list_plans.py, through every plan."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.store import Store
from bridge.store.dialect import PgConnection
from tests.backends import write_lake
from tests.store.test_list_plans import CASES, FILTERS, ROWS, _rows, fill, page_through, reference

BIG = _rows(20_000, rare_every=997)
_KEYS = ("artifact_type", "status", "logical_key_prefix", "tags", "ts_from", "ts_to", "cursor")


def _pg_store(pg_server, folder, rows) -> tuple[Store, str]:
    url = pg_server.create_database()
    store = fill(Store(write_lake(folder, manifest=url, artifacts=str(folder / "files"))), rows)
    store.connect().execute("VACUUM ANALYZE")
    return store, url


@pytest.fixture(scope="module")
def pg_big(pg_server, tmp_path_factory):
    store, url = _pg_store(pg_server, tmp_path_factory.mktemp("pg-big"), BIG)
    yield store
    store.close()
    pg_server.drop_database(url)


@pytest.fixture(scope="module")
def pg_small(pg_server, tmp_path_factory):
    store, url = _pg_store(pg_server, tmp_path_factory.mktemp("pg-small"), ROWS)
    yield store
    store.close()
    pg_server.drop_database(url)


def _nodes(plan: dict, above: tuple[str, ...] = ()):
    yield plan, above
    for child in plan.get("Plans", []):
        yield from _nodes(child, (*above, plan["Node Type"]))


def _seq_scans(con, sql: str, args, *, under_limit_ok: bool = False) -> list[str]:
    """Sequential scans of the manifest's big tables in the plan PostgreSQL chooses. A count of a
    driver (`SELECT count(*) FROM (… LIMIT 2001)`) may read the table until the limit when its
    filter is common: that scan stops after LIMIT matches, which costs less than the index at
    that density, so with under_limit_ok a scan below a Limit is allowed."""
    doc = con.execute("EXPLAIN (FORMAT JSON) " + sql, args).fetchone()[0]
    plan = doc[0]["Plan"]
    return [f"{n['Node Type']} on {n.get('Relation Name')} below {' > '.join(above)}" for n, above in _nodes(plan)
            if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in ("artifacts", "artifact_tags")
            and not (under_limit_ok and "Limit" in above)]


@pytest.mark.parametrize("name", CASES)
def test_each_filter_uses_an_index_on_postgresql(pg_big, name, monkeypatch):
    f = CASES[name]
    con = pg_big.connect()
    assert reference(f, BIG), "the case must match something"
    cursor = pg_big.list(limit=1, **f).next_cursor
    assert cursor
    ran: list[tuple[str, list]] = []
    real = PgConnection.execute
    monkeypatch.setattr(PgConnection, "execute", lambda self, sql, params=(): ran.append((sql, list(params)))
                        or real(self, sql, params))
    for kw in ({}, {"cursor": cursor}):
        for driver_max in (pg_big.LIST_DRIVER_MAX, 0):  # as planned; every filter common (ordered walk)
            pg_big.LIST_DRIVER_MAX = driver_max
            try:
                ran.clear()
                sql, args = pg_big._list_query(limit=100, **{**dict.fromkeys(_KEYS), **f, **kw})
            finally:
                del pg_big.LIST_DRIVER_MAX
            counts = [(s, a) for s, a in ran if s.startswith("SELECT count(*)")]
            assert counts and sql is not None
            for s, a in counts:
                assert _seq_scans(con, s, a, under_limit_ok=True) == [], (name, kw, driver_max, s)
            assert _seq_scans(con, sql, args) == [], (name, kw, driver_max, sql)


@settings(max_examples=25, deadline=None)
@given(f=FILTERS, limit=st.integers(1, 7), driver_max=st.sampled_from([0, 5, 2000]))
def test_every_plan_pages_through_the_reference_answer_on_postgresql(pg_small, f, limit, driver_max):
    pg_small.LIST_DRIVER_MAX = driver_max
    try:
        assert page_through(pg_small, f, limit) == reference(f)
    finally:
        del pg_small.LIST_DRIVER_MAX


@pytest.mark.parametrize("order", ["logical_key", "-row_count", "-created_at"])
def test_other_orders_and_search_use_an_index_on_postgresql(pg_big, order, monkeypatch):
    ran: list[tuple[str, list]] = []
    real = PgConnection.execute
    monkeypatch.setattr(PgConnection, "execute", lambda self, sql, params=(): ran.append((sql, list(params)))
                        or real(self, sql, params))
    pg_big.list(order=order, limit=50)
    page_sql = [(s, a) for s, a in ran if s.startswith("SELECT artifact_id,")]
    assert page_sql
    for s, a in page_sql:
        assert _seq_scans(pg_big.connect(), s, a) == [], s


def test_upgrading_a_v4_postgresql_manifest_adds_the_indexes_and_stale_roots(pg_server, tmp_path):
    """A team manifest made before 0005: its rows stay, the indexes appear, and stale_roots is
    filled from the existing rows (the PL/pgSQL triggers keep it from then on)."""
    import psycopg

    from bridge.store.dialect import PostgresDialect

    url = pg_server.create_database()
    try:
        d = PostgresDialect(url)
        with psycopg.connect(url, autocommit=True) as raw:
            raw.execute(d.manifest_sql())
            raw.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                        " applied_at TEXT NOT NULL)")
            raw.execute("INSERT INTO schema_migrations VALUES (1, 'manifest_v1', 'then')")
            for version, name, sql in d.migrations():
                if version <= 4:
                    raw.execute(sql)
                    raw.execute("INSERT INTO schema_migrations VALUES (%s, %s, 'then')", (version, name))
            for aid, status in (("old", "superseded"), ("new", "active")):
                raw.execute("INSERT INTO artifacts VALUES (%s, 'run_metrics', 1, %s, %s, 'p', 's', %s, 'c', 1,"
                            " NULL, NULL, '2026-01-01T00:00:00.000000Z')", (aid, f"run={aid}", status, f"f{aid}"))
            raw.execute("INSERT INTO artifact_tags VALUES ('new', 'res', '1m')")
            raw.execute("INSERT INTO artifact_lineage VALUES ('new', 'old')")
        store = Store(write_lake(tmp_path / "lake", manifest=url, artifacts=str(tmp_path / "files")))
        con = store.connect()
        assert store.schema_version == d.migrations()[-1][0] >= 7
        indexes = {r[0] for r in con.execute("SELECT indexname FROM pg_indexes WHERE tablename IN"
                                             " ('artifacts', 'artifact_tags')")}
        assert {"idx_artifacts_type_created", "idx_artifacts_status_created", "idx_artifacts_type_status_created",
                "idx_artifacts_key", "idx_artifacts_min_ts", "idx_artifacts_max_ts", "idx_tags_kv_artifact",
                "idx_artifacts_key_id", "idx_artifacts_rows_id"} <= indexes
        assert "idx_tags_kv" not in indexes
        assert [r[0] for r in con.execute("SELECT artifact_id FROM stale_roots")] == ["old"]
        assert [s.artifact_id for s in store.stale()] == ["new"]
        assert [a.artifact_id for a in store.list(tags={"res": "1m"}).items] == ["new"]
        assert [a.artifact_id for a in store.list(logical_key_prefix="run=o", artifact_type="run_metrics").items] == ["old"]
        con.execute("UPDATE artifacts SET status = 'active' WHERE artifact_id = 'old'")  # the trigger keeps it
        assert store.connect().execute("SELECT count(*) FROM stale_roots").fetchone()[0] == 0
        store.close()
    finally:
        pg_server.drop_database(url)


@pytest.mark.parametrize("first", ["edge", "status"])
def test_a_new_edge_and_its_inputs_status_change_at_once_keep_the_stale_root(pg_server, tmp_path, first):
    """PostgreSQL does not serialise writers as SQLite does: a lineage edge to X and X's status
    change in two open transactions. Whichever commits second must see the first (the edge
    trigger reads X FOR SHARE), so X ends up a stale root either way."""
    import threading

    import psycopg

    url = pg_server.create_database()
    try:
        Store(write_lake(tmp_path / "lake", manifest=url, artifacts=str(tmp_path / "files"))).close()
        with psycopg.connect(url, autocommit=True) as raw:
            for aid in ("x", "child"):
                raw.execute("INSERT INTO artifacts VALUES (%s, 'run_metrics', 1, %s, 'active', 'p', 's', %s, 'c', 1,"
                            " NULL, NULL, '2026-01-01T00:00:00.000000Z')", (aid, f"run={aid}", f"f{aid}"))
        steps = {"edge": "INSERT INTO artifact_lineage VALUES ('child', 'x')",
                 "status": "UPDATE artifacts SET status = 'superseded' WHERE artifact_id = 'x'"}
        second = "status" if first == "edge" else "edge"
        a, b = psycopg.connect(url), psycopg.connect(url)  # not autocommit: each holds its transaction
        a.execute(steps[first])
        done = threading.Event()

        def run_second():
            b.execute(steps[second])
            b.commit()
            done.set()

        t = threading.Thread(target=run_second)
        t.start()
        waited = not done.wait(0.5)  # the second waits on x's row while the first is open
        a.commit()
        t.join(30)
        assert waited and done.is_set()
        with psycopg.connect(url, autocommit=True) as raw:
            assert [r[0] for r in raw.execute("SELECT artifact_id FROM stale_roots")] == ["x"]
        a.close()
        b.close()
    finally:
        pg_server.drop_database(url)
