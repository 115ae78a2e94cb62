"""List filters and cursors, logical-key lookup, lineage walks, supersede, tombstone, stale."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import ArtifactNotFound, InvalidSupersession, ValidationFailed
from tests.store.samples import OHLCV_KEY, publish_candles, publish_metrics


def test_get_unknown_names_the_id(store):
    with pytest.raises(ArtifactNotFound) as err:
        store.get("f" * 32)
    assert err.value.data == {"artifact_id": "f" * 32}


def test_list_filters(store):
    c1 = publish_candles(store, tags={"token": "ABC"})
    c2 = publish_candles(store, key="token=XYZ/res=1m/from=2026-02-01T00:00:00Z/to=x", seed=3, tags={"token": "XYZ"})
    m = publish_metrics(store, inputs=[c1.artifact_id])
    ids = lambda page: [a.artifact_id for a in page.items]
    assert ids(store.list(artifact_type="ohlcv_slice")) == [c1.artifact_id, c2.artifact_id]
    assert ids(store.list(logical_key_prefix="token=XYZ")) == [c2.artifact_id]
    assert ids(store.list(tags={"token": "ABC"})) == [c1.artifact_id]
    assert ids(store.list(tags={"token": "ABC", "x": "y"})) == []
    # time overlap: candles span 2026-01-26 00:00..00:49, metrics at 2026-01-26T00:00 too
    assert set(ids(store.list(ts_from="2026-01-26T00:30:00Z", ts_to="2026-01-26T01:00:00Z"))) == {c1.artifact_id, c2.artifact_id}
    assert ids(store.list(ts_from="2026-01-26T00:50:00Z")) == []
    assert set(ids(store.list(ts_to="2026-01-26T00:00:00.000001Z"))) == {c1.artifact_id, c2.artifact_id, m.artifact_id}
    store.tombstone(c2.artifact_id)
    assert ids(store.list(status="tombstoned")) == [c2.artifact_id]
    with pytest.raises(ValidationFailed):
        store.list(status="gone")
    with pytest.raises(ValidationFailed):
        store.list(ts_from="yesterday")


@settings(max_examples=15, deadline=None)
@given(n=st.integers(0, 12), limit=st.integers(1, 5))
def test_cursor_pages_cover_everything_once(tmp_path_factory, n, limit):
    from bridge.store import Store

    store = Store(tmp_path_factory.mktemp("lake"))
    made = [publish_metrics(store, run=f"r{i}").artifact_id for i in range(n)]
    seen, cursor, late = [], None, None
    for _ in range(n + 3):
        page = store.list(limit=limit, cursor=cursor)
        seen += [a.artifact_id for a in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
        if late is None:  # an artifact published mid-listing appears at the end, never twice
            late = publish_metrics(store, run="late").artifact_id
    assert cursor is None
    assert seen[:n] == made and len(seen) == len(set(seen))
    assert seen[n:] == ([late] if late else [])


def test_bad_cursor(store):
    with pytest.raises(ValidationFailed, match="cursor"):
        store.list(cursor="garbage!")


def test_find_by_logical_key_newest_first(store):
    a = publish_candles(store, seed=1)
    b = publish_candles(store, seed=2)
    assert [x.artifact_id for x in store.find_by_logical_key("ohlcv_slice", OHLCV_KEY)] == [b.artifact_id, a.artifact_id]
    assert store.find_by_logical_key("ohlcv_slice", "nope") == []


@pytest.fixture
def chain(store):
    """c1, c2 candles → m1 (from c1, c2) → m2 (from m1) → m3 (from m2, c2)."""
    c1 = publish_candles(store, seed=1).artifact_id
    c2 = publish_candles(store, key="token=B/res=1m", seed=2).artifact_id
    m1 = publish_metrics(store, [c1, c2], run="1").artifact_id
    m2 = publish_metrics(store, [m1], run="2").artifact_id
    m3 = publish_metrics(store, [m2, c2], run="3").artifact_id
    return c1, c2, m1, m2, m3


def test_upstream_and_downstream_with_depth(store, chain):
    c1, c2, m1, m2, m3 = chain
    up = store.upstream(m3)
    assert {(n.artifact_id, n.depth) for n in up.nodes} == {(m2, 1), (c2, 1), (m1, 2), (c1, 3)}
    assert {(e.artifact_id, e.input_artifact_id) for e in up.edges} == {(m3, m2), (m3, c2), (m2, m1), (m1, c1), (m1, c2)}
    assert {n.artifact_id for n in store.upstream(m3, depth=1).nodes} == {m2, c2}
    down = store.downstream(c2)
    assert {(n.artifact_id, n.depth) for n in down.nodes} == {(m1, 1), (m3, 1), (m2, 2)}
    assert {n.artifact_id for n in store.downstream(c1, depth=2).nodes} == {m1, m2}
    assert store.get(m1).input_artifact_ids == sorted([c1, c2])
    with pytest.raises(ValidationFailed):
        store.upstream(m3, depth=0)
    with pytest.raises(ArtifactNotFound):
        store.downstream("a" * 32)


def test_supersede_rules(store, chain):
    c1, c2, m1, m2, m3 = chain
    new_c1 = publish_candles(store, seed=9).artifact_id
    old = store.supersede(new_c1, c1)
    assert old.status == "superseded" and old.superseded_by == new_c1
    assert store.get(new_c1).supersedes == c1
    assert store.supersede(new_c1, c1).status == "superseded"  # idempotent
    with pytest.raises(InvalidSupersession, match="types differ"):
        store.supersede(m1, c2)
    with pytest.raises(InvalidSupersession, match="itself"):
        store.supersede(c2, c2)
    with pytest.raises(InvalidSupersession, match="already superseded"):
        store.supersede(c2, c1)
    with pytest.raises(InvalidSupersession, match="not active"):
        store.supersede(c1, c2)  # c1 is superseded: cannot supersede anything (and no cycle)
    with pytest.raises(InvalidSupersession, match="one predecessor"):
        store.supersede(new_c1, c2)


def test_stale_follows_lineage_transitively(store, chain):
    c1, c2, m1, m2, m3 = chain
    assert store.stale() == []
    store.supersede(publish_candles(store, seed=9).artifact_id, c1)
    stale = {s.artifact_id: s for s in store.stale()}
    assert set(stale) == {m1, m2, m3}
    assert stale[m3].reasons[0].input_artifact_id == c1 and stale[m3].reasons[0].path == [m3, m2, m1, c1]
    assert stale[m1].reasons[0].input_status == "superseded"
    store.tombstone(c2, "bad feed")
    stale = {s.artifact_id: s for s in store.stale([m3])}
    assert set(stale) == {m3}
    assert {(r.input_artifact_id, r.input_status) for r in stale[m3].reasons} == {(c1, "superseded"), (c2, "tombstoned")}


def test_tombstone_is_idempotent(store):
    a = publish_candles(store).artifact_id
    assert store.tombstone(a, "oops").status == "tombstoned"
    assert store.tombstone(a).status == "tombstoned"


@settings(max_examples=15, deadline=None)
@given(edges=st.sets(st.tuples(st.integers(1, 9), st.integers(0, 8)).filter(lambda e: e[1] < e[0]), max_size=25),
       root=st.integers(0, 9), depth=st.sampled_from([None, 1, 2, 3]), direction=st.sampled_from(["upstream", "downstream"]))
def test_lineage_walk_matches_shortest_paths(tmp_path_factory, edges, root, depth, direction):
    """Nodes at their least depth (shortest path, by relaxation) and every edge between two of
    the walk's artifacts, on random DAGs written straight into the manifest."""
    from bridge.store import Store, manifest

    store = Store(tmp_path_factory.mktemp("lake"))
    con = store.connect()
    ident = lambda n: f"{n:032d}"
    with manifest.write_txn(con):
        for n in range(10):
            con.execute("INSERT INTO artifacts (artifact_id, artifact_type, schema_version, logical_key, status,"
                        " path_parquet, path_sidecar, file_hash, content_hash, row_count, created_at)"
                        " VALUES (?, 'run_metrics', 1, ?, 'active', 'p', 's', ?, 'c', 1, '2026-01-01T00:00:00Z')",
                        (ident(n), f"k{n}", f"f{n}"))
        con.executemany("INSERT INTO artifact_lineage VALUES (?, ?)", [(ident(a), ident(b)) for a, b in edges])
    store._wrote()
    step = (lambda a, b: (a, b)) if direction == "upstream" else (lambda a, b: (b, a))  # walked end -> far end
    dist = {root: 0}
    for _ in range(10):
        for a, b in edges:
            near, far = step(a, b)
            if near in dist and dist[near] + 1 < dist.get(far, 99):
                dist[far] = dist[near] + 1
    reach = {n: d for n, d in dist.items() if n != root and (depth is None or d <= depth)}
    inside = set(reach) | {root}
    graph = store.upstream(ident(root), depth) if direction == "upstream" else store.downstream(ident(root), depth)
    assert [(n.artifact_id, n.depth) for n in graph.nodes] == sorted(((ident(n), d) for n, d in reach.items()),
                                                                     key=lambda x: (x[1], x[0]))
    assert {(e.artifact_id, e.input_artifact_id) for e in graph.edges} == {
        (ident(a), ident(b)) for a, b in edges if a in inside and b in inside}


@settings(max_examples=15, deadline=None)
@given(edges=st.lists(st.tuples(st.integers(1, 7), st.integers(0, 6)).filter(lambda e: e[1] < e[0]), max_size=14),
       changes=st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["active", "superseded", "tombstoned"])),
                        max_size=10),
       split=st.integers(0, 14))
def test_stale_matches_a_reference_through_any_order_of_changes(tmp_path_factory, edges, changes, split):
    """Status changes and new edges in any order (the manifest's own triggers keep the stale roots):
    stale() lists every active artifact with a non-active artifact anywhere upstream, and only those."""
    from bridge.store import Store, manifest

    store = Store(tmp_path_factory.mktemp("lake"))
    con = store.connect()
    ident = lambda n: f"{n:032d}"
    half = len(changes) // 2
    with manifest.write_txn(con):
        for n in range(8):
            con.execute("INSERT INTO artifacts (artifact_id, artifact_type, schema_version, logical_key, status,"
                        " path_parquet, path_sidecar, file_hash, content_hash, row_count, created_at)"
                        " VALUES (?, 'run_metrics', 1, ?, 'active', 'p', 's', ?, 'c', 1, '2026-01-01T00:00:00Z')",
                        (ident(n), f"k{n}", f"f{n}"))
        for step, batch in enumerate((edges[:split], changes[:half], edges[split:], changes[half:])):
            if step % 2 == 0:
                con.executemany("INSERT OR IGNORE INTO artifact_lineage VALUES (?, ?)",
                                [(ident(a), ident(b)) for a, b in batch])
            else:
                for n, status in batch:
                    con.execute("UPDATE artifacts SET status = ? WHERE artifact_id = ?", (status, ident(n)))
    store._wrote()
    status = {n: "active" for n in range(8)}
    for n, s in changes:
        status[n] = s
    inputs = {n: {b for a, b in edges if a == n} for n in range(8)}

    def upstream(n, seen):
        for i in inputs[n] - seen:
            seen.add(i)
            upstream(i, seen)
        return seen

    want = {(ident(n), ident(c)) for n in range(8) if status[n] == "active"
            for c in upstream(n, set()) if status[c] != "active"}
    got = {(s.artifact_id, r.input_artifact_id) for s in store.stale() for r in s.reasons}
    assert got == want
