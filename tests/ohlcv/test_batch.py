"""Batch export around the alerts of an alerts artifact: merged windows, reuse, progress, cancel."""

from __future__ import annotations

import pytest

from bridge.errors import Cancelled, InvalidInput
from bridge.ohlcv.grid import parse_resolution
from bridge.ohlcv.sample import generate_candles
from bridge.ohlcv.slices import alert_windows, export_slices_for_alerts, read_alerts
from bridge.progress import Job
from tests.ohlcv.helpers import seed

ALERTS = [
    ("a1", "2026-01-05T01:00:00Z", "TokA"),
    ("a2", "2026-01-05T01:20:30Z", "TokA"),  # overlaps a1's window: merged
    ("a3", "2026-01-05T03:00:00Z", "TokA"),  # adjacent to the merged window's end: merged
    ("a4", "2026-01-05T09:00:00Z", "TokA"),  # apart
    ("b1", "2026-01-05T01:10:00Z", "TokB"),  # other token: its own window
]


def _publish_alerts(store, rows=ALERTS):
    return store.publish("alerts", 1, "alerts/test", [
        {"alert_id": aid, "alert_ts": ts, "token_address": tok, "chain": "solana"} for aid, ts, tok in rows
    ]).artifact_id


def _iso(us):
    from bridge.ohlcv.grid import format_key_ts

    return format_key_ts(us)


def test_windows_are_widened_to_the_grid_and_merged(store):
    alerts = read_alerts(store, _publish_alerts(store))
    ws = alert_windows(alerts, parse_resolution("5m"), 30 * 60_000_000, 90 * 60_000_000)
    got = [(w.token, _iso(w.start_us), _iso(w.end_us), w.alerts) for w in ws]
    # a1 [00:30, 02:30), a2 [00:50:30, 02:50:30) → [00:50, 02:55), a3 [02:30, 04:30): one island
    assert got == [("TokA", "2026-01-05T00:30:00Z", "2026-01-05T04:30:00Z", 3),
                   ("TokA", "2026-01-05T08:30:00Z", "2026-01-05T10:30:00Z", 1),
                   ("TokB", "2026-01-05T00:40:00Z", "2026-01-05T02:40:00Z", 1)]
    # a2's window is widened outwards to the 5m grid: [00:50, 02:55), not [00:50:30, 02:50:30)
    assert all(w.start_us % 300_000_000 == 0 and w.end_us % 300_000_000 == 0 for w in ws)

def test_exactly_adjacent_windows_merge():
    import pyarrow as pa

    from bridge.ohlcv.grid import parse_ts

    alerts = pa.table({"alert_ts": pa.array([parse_ts("2026-01-05T00:00:00Z"), parse_ts("2026-01-05T01:00:00Z")],
                                            pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                       "token_address": ["T", "T"], "chain": ["solana", "solana"]})
    ws = alert_windows(alerts, parse_resolution("1m"), 0, 60 * 60_000_000)
    assert [(w.start_us, w.end_us, w.alerts) for w in ws] == [
        (parse_ts("2026-01-05T00:00:00Z"), parse_ts("2026-01-05T02:00:00Z"), 2)]
    with pytest.raises(InvalidInput):
        alert_windows(alerts, parse_resolution("1m"), 0, 0)


def test_batch_export_progress_and_reuse(store, source):
    seed(source, generate_candles(["TokA", "TokB"], "2026-01-05T00:00:00Z", "2026-01-05T12:00:00Z", "1m", seed=2))
    alerts = _publish_alerts(store)
    events = []
    job = Job(lambda done, total, msg: events.append((done, total)), min_interval=0)
    res = export_slices_for_alerts(store, source, alerts, "30m", "90m", "5m", job=job)
    # 5m candles do not exist in the source (only 1m): slices are empty but exported
    assert (res.windows, res.exported, res.reused) == (3, 3, 0)
    assert events[0] == (0, 3) and events[-1] == (3, 3)
    res1 = export_slices_for_alerts(store, source, alerts, "30m", "90m", "1m")
    assert res1.exported == 3 and res1.row_count == 240 + 120 + 120
    keys = [s.logical_key for s in res1.slices]
    assert keys[0] == "token=TokA/res=1m/from=2026-01-05T00:30:00Z/to=2026-01-05T04:30:00Z"
    for s in res1.slices:
        art = store.get(s.artifact_id)
        assert art.tags["token"] == [s.token] and art.tags["chain"] == ["solana"]
    n = source.query_count
    again = export_slices_for_alerts(store, source, alerts, "30m", "90m", "1m")
    assert (again.exported, again.reused) == (0, 3) and source.query_count == n
    assert [s.artifact_id for s in again.slices] == [s.artifact_id for s in res1.slices]


def test_cancel_between_slices_keeps_finished_ones(store, source):
    seed(source, generate_candles(["TokA", "TokB"], "2026-01-05T00:00:00Z", "2026-01-05T12:00:00Z", "1m", seed=2))
    alerts = _publish_alerts(store)
    job = Job(min_interval=0)
    seen = []

    def sink(done, total, msg):
        seen.append(done)
        if done == 1:
            job.cancel()

    job._sink = sink  # the sink needs the job it cancels
    with pytest.raises(Cancelled):
        export_slices_for_alerts(store, source, alerts, "30m", "90m", "1m", job=job)
    published = store.list(artifact_type="ohlcv_slice").items
    assert len(published) == 1
    resumed = export_slices_for_alerts(store, source, alerts, "30m", "90m", "1m")
    assert (resumed.reused, resumed.exported) == (1, 2)


def test_batch_refuses_non_alert_artifacts(store, source):
    seed(source, generate_candles(["TokA"], "2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z", "1m"))
    from bridge.ohlcv.slices import export_slice

    sl = export_slice(store, source, "TokA", "solana", "1m", "2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z")
    with pytest.raises(InvalidInput, match="not an alerts artifact"):
        export_slices_for_alerts(store, source, sl.artifact_id, "1h", "1h", "1m")


def test_candles_many_matches_one_query_per_window(store, source):
    from bridge.ohlcv.grid import TimeRange

    from tests.ohlcv.helpers import candles

    seed(source, candles(n=10), candles(n=10, chain="base", price=50.0), candles(token="TokB", n=10))
    res = parse_resolution("1m")
    reqs = [
        ("TokA", "solana", TimeRange.parse("2026-01-05T00:02:00Z", "2026-01-05T00:05:00Z")),
        ("TokA", "solana", TimeRange.parse("2026-01-05T00:04:00Z", "2026-01-05T00:06:00Z")),  # overlaps the first
        ("TokA", "base", TimeRange.parse("2026-01-05T00:00:00Z", "2026-01-05T00:02:00Z")),
        ("TokB", None, TimeRange.parse("2026-01-05T00:09:00Z", "2026-01-05T01:00:00Z")),
        ("TokC", "solana", TimeRange.parse("2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z")),  # nothing
    ]
    n = source.query_count
    many = source.candles_many(reqs, res)
    assert source.query_count == n + 1
    for i, (tok, chain, rng) in enumerate(reqs):
        import pyarrow.compute as pc

        part = many.filter(pc.equal(many.column("w"), i)).drop_columns(["w"])
        assert part.equals(source.candles(tok, chain, res, rng)), f"window {i}"
    assert many.column("w").to_pylist() == [0, 0, 0, 1, 1, 2, 2, 3]
    assert source.candles_many([], res).num_rows == 0


def test_chunked_batch_gives_the_same_slices(store, source, monkeypatch, tmp_path):
    import bridge.ohlcv.slices as slices
    from bridge.store import Store

    seed(source, generate_candles(["TokA", "TokB"], "2026-01-05T00:00:00Z", "2026-01-05T12:00:00Z", "1m", seed=2,
                                  missing_ratio=0.05, invalid_ratio=0.02))
    alerts = _publish_alerts(store)
    whole = export_slices_for_alerts(store, source, alerts, "30m", "90m", "1m")
    other = Store(tmp_path / "other")
    other_alerts = _publish_alerts(other)
    monkeypatch.setattr(slices, "BATCH_WINDOWS", 1)
    n = source.query_count
    one_by_one = export_slices_for_alerts(other, source, other_alerts, "30m", "90m", "1m")
    assert source.query_count == n + 3  # one query per window now
    assert [s.artifact_id for s in one_by_one.slices] == [s.artifact_id for s in whole.slices]
    assert [s.quarantined for s in one_by_one.slices] == [s.quarantined for s in whole.slices]
    assert whole.quarantined > 0
    other.close()


def test_alerts_with_unknown_chain_read_candles_of_any_chain(store, source):
    seed(source, generate_candles(["TokA"], "2026-01-05T00:00:00Z", "2026-01-05T06:00:00Z", "1m", chain="base"))
    alerts = store.publish("alerts", 1, "unknown-chain", [
        {"alert_id": "u", "alert_ts": "2026-01-05T01:00:00Z", "token_address": "TokA", "chain": "unknown"},
        {"alert_id": "s", "alert_ts": "2026-01-05T04:00:00Z", "token_address": "TokA", "chain": "solana"},
    ]).artifact_id
    res = export_slices_for_alerts(store, source, alerts, "0s", "30m", "1m")
    by_chain = {s.chain: s.row_count for s in res.slices}
    assert by_chain == {None: 30, "solana": 0}
    anychain = next(s for s in res.slices if s.chain is None)
    assert "chain" not in store.get(anychain.artifact_id).tags


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.integers(0, 600)), min_size=1, max_size=25),
       st.integers(0, 30), st.integers(1, 30), st.sampled_from(["1m", "5m"]))
def test_merged_windows_are_the_union_of_alert_windows(alerts, before_min, after_min, res_text):
    """Property: per token, merged windows are disjoint and not touching, on the grid, each alert's
    own window lies inside exactly one of them, and every merged window is covered by alert windows."""
    import pyarrow as pa

    res = parse_resolution(res_text)
    minute = 60_000_000
    base = 1_767_571_200_000_000
    table = pa.table({"alert_ts": pa.array([base + m * minute + 7_000_000 for _, m in alerts], pa.int64())
                      .cast(pa.timestamp("us", tz="UTC")),
                      "token_address": [t for t, _ in alerts], "chain": ["solana"] * len(alerts)})
    ws = alert_windows(table, res, before_min * minute, after_min * minute)
    assert sum(w.alerts for w in ws) == len(alerts)
    for tok in {"A", "B"}:
        mine = sorted((w.start_us, w.end_us) for w in ws if w.token == tok)
        assert all(a_end < b_start for (_, a_end), (b_start, _) in zip(mine, mine[1:]))  # disjoint, not touching
        own = sorted((res.floor(base + m * minute + 7_000_000 - before_min * minute),
                      res.ceil(base + m * minute + 7_000_000 + after_min * minute)) for t, m in alerts if t == tok)
        for lo, hi in own:
            assert sum(1 for s, e in mine if s <= lo and hi <= e) == 1
        for s, e in mine:  # no part of a merged window is outside every alert window
            assert s == min(lo for lo, hi in own if lo >= s) and e == max(hi for lo, hi in own if hi <= e)
            reach = s
            for lo, hi in (o for o in own if s <= o[0] < e):
                assert lo <= reach
                reach = max(reach, hi)
            assert reach == e
