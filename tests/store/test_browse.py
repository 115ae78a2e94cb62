"""Browsing a lake: list orders, search and cursors; stale(ids) against the whole-lake walk;
a file's first rows and footer statistics against pyarrow reading the whole file."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import ValidationFailed
from bridge.store import Store
from bridge.store.store import LIST_ORDERS
from bridge.store.inspect import column_stats, head
from tests.store.samples import publish_candles, publish_metrics


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("browse"))
    for i in range(5):
        publish_candles(store, key=f"token=T{i % 3}/res=1m/n={i}", n=10 + (i * 7) % 13, seed=i)
    for i in range(4):
        publish_metrics(store, run=f"Run{i}")
    return store


def _key(a, order):
    col = LIST_ORDERS[order]
    return (getattr(a, col), a.artifact_id)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.sampled_from(sorted(LIST_ORDERS)), limit=st.integers(1, 4),
       search=st.sampled_from([None, "T1", "t1", "run=", "Run2", "zzz"]), prefix=st.sampled_from([None, "token=T", "run="]))
def test_every_order_pages_through_its_matches_once_in_order(lake, order, limit, search, prefix):
    everything = lake.list(limit=10_000).items
    expected = [a for a in everything
                if (search is None or search in a.logical_key or a.artifact_id.startswith(search.lower()))
                and (prefix is None or a.logical_key.startswith(prefix))]
    expected.sort(key=lambda a: _key(a, order), reverse=order.startswith("-"))
    seen, cursor = [], None
    for _ in range(len(everything) + 2):
        page = lake.list(order=order, limit=limit, cursor=cursor, search=search, logical_key_prefix=prefix)
        seen += [a.artifact_id for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [a.artifact_id for a in expected]


def test_search_by_id_prefix_in_any_case(lake):
    a = lake.list(limit=1).items[0]
    assert a.artifact_id in [x.artifact_id for x in lake.list(search=a.artifact_id[:5].upper()).items]


def test_a_cursor_belongs_to_its_order(lake):
    page = lake.list(order="-row_count", limit=1)
    with pytest.raises(ValidationFailed, match="row_count"):
        lake.list(order="logical_key", cursor=page.next_cursor)
    with pytest.raises(ValidationFailed, match="cursor"):
        lake.list(cursor=page.next_cursor)  # the default order's cursors are [created_at, id]
    with pytest.raises(ValidationFailed, match="order must be one of"):
        lake.list(order="status")


def test_counts_by_type_and_status(lake):
    assert lake.counts() == [("ohlcv_slice", "active", 5), ("run_metrics", "active", 4)]


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_stale_of_some_ids_is_the_whole_lake_answer_for_them(tmp_path_factory, data):
    store = Store(tmp_path_factory.mktemp("stale"))
    n = data.draw(st.integers(2, 6), label="nodes")
    ids: list[str] = []
    for i in range(n):
        inputs = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=3), label=f"inputs{i}") if ids else []
        if inputs:
            ids.append(publish_metrics(store, inputs, run=f"m{i}").artifact_id)
        else:
            ids.append(publish_candles(store, key=f"token=X{i}/res=1m", seed=i).artifact_id)
    for aid in data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=2), label="tombstoned"):
        store.tombstone(aid)
    whole = {s.artifact_id: s for s in store.stale()}
    some = data.draw(st.lists(st.sampled_from(ids), unique=True, min_size=1), label="asked")
    assert store.stale(some) == [whole[i] for i in sorted(set(some)) if i in whole]
    assert store.stale_ids(some) == set(some) & set(whole)  # the upward walk agrees


def test_head_and_column_stats_match_reading_the_whole_file(tmp_path):
    store = Store(tmp_path / "lake")
    aid = publish_candles(store, n=200).artifact_id
    full = store.read_table(aid)
    assert head(store, aid, 7).equals(full.slice(0, 7))
    assert head(store, aid, 0).num_rows == 0 and head(store, aid, 0).schema == full.schema
    assert head(store, aid, 10_000).equals(full)
    stats = {s.name: s for s in column_stats(store, aid)}
    assert list(stats) == full.column_names
    for name in full.column_names:
        col = full.column(name)
        mm = pc.min_max(col)
        assert (stats[name].min, stats[name].max) == (mm["min"].as_py(), mm["max"].as_py()), name
        assert stats[name].null_count == col.null_count
