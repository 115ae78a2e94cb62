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
from tests.store.test_list_plans import CASES, FILTERS, ROWS, _rows, fill, reference

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
        seen, cursor = [], None
        for _ in range(len(ROWS) + 2):
            page = pg_small.list(limit=limit, cursor=cursor, **f)
            seen += [a.artifact_id for a in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == reference(f)
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
