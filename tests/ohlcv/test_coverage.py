"""Coverage on the grid (real chDB → slices → DuckDB): weekend gaps, single missing candles,
edges, off-grid and duplicate candles, lineage; alert forward coverage."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bridge.errors import InvalidInput
from bridge.ohlcv.coverage import alert_forward_coverage, compute_slice_coverage, slice_coverage
from bridge.ohlcv.sample import generate_candles
from bridge.ohlcv.slices import export_slice
from bridge.ohlcv.source import CandleSource, ColumnMap, SourceConfig
from tests.ohlcv.helpers import candles, seed

FRI, TUE = "2026-01-02T00:00:00Z", "2026-01-06T00:00:00Z"


def _iso(v):
    return v.isoformat().replace("+00:00", "Z")


def test_weekend_gap_and_a_single_missing_candle(store, source):
    seed(source, generate_candles(["TokA"], FRI, TUE, "1h", weekend_gaps=True,
                                  gaps=[("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z")], seed=1))
    sl = export_slice(store, source, "TokA", "solana", "1h", FRI, TUE)
    cov = slice_coverage(store, [sl.artifact_id])
    s = cov.summary.to_pylist()[0]
    assert (s["expected"], s["present"], s["missing"], s["duplicates"], s["off_grid"]) == (96, 47, 49, 0, 0)
    assert s["coverage_ratio"] == pytest.approx(47 / 96)
    gaps = [(_iso(g["gap_start"]), _iso(g["gap_end"]), g["missing_count"]) for g in cov.gaps.to_pylist()]
    assert gaps == [("2026-01-03T00:00:00Z", "2026-01-05T00:00:00Z", 48),
                    ("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", 1)]
    # published, with lineage to the slice
    summary = store.get(cov.summary_artifact_id)
    gaps_art = store.get(cov.gaps_artifact_id)
    assert (summary.artifact_type, gaps_art.artifact_type) == ("coverage_summary", "coverage_gaps")
    assert summary.input_artifact_ids == [sl.artifact_id] == gaps_art.input_artifact_ids
    assert summary.logical_key == sl.logical_key
    assert store.read_table(cov.gaps_artifact_id).num_rows == 2
    assert store.read_table(cov.summary_artifact_id).column("missing").to_pylist() == [49]
    assert cov.result().gap_count == 2


def test_gaps_at_both_edges_unaligned_range_and_empty_slice(store, source):
    seed(source, candles(n=10, skip=(0, 1, 9)))  # 00:00..00:09, first two and last missing
    sl = export_slice(store, source, "TokA", "solana", "1m", "2026-01-04T23:59:30Z", "2026-01-05T00:09:30Z")
    empty = export_slice(store, source, "TokA", "solana", "1m", "2026-02-01T00:00:00Z", "2026-02-01T00:03:00Z")
    cov = slice_coverage(store, [sl.artifact_id, empty.artifact_id])
    a, b = cov.summary.to_pylist()
    # grid points in [23:59:30, 00:09:30): 00:00 .. 00:09 = 10
    assert (a["expected"], a["present"], a["missing"]) == (10, 7, 3)
    assert (b["expected"], b["present"], b["missing"], b["coverage_ratio"]) == (3, 0, 3, 0.0)
    gaps = [(g["token"], _iso(g["gap_start"]), _iso(g["gap_end"]), g["missing_count"]) for g in cov.gaps.to_pylist()]
    assert gaps == [("TokA", "2026-01-05T00:00:00Z", "2026-01-05T00:02:00Z", 2),
                    ("TokA", "2026-01-05T00:09:00Z", "2026-01-05T00:10:00Z", 1),
                    ("TokA", "2026-02-01T00:00:00Z", "2026-02-01T00:03:00Z", 3)]
    assert sorted(store.get(cov.summary_artifact_id).input_artifact_ids) == sorted([sl.artifact_id, empty.artifact_id])
    assert store.get(cov.summary_artifact_id).logical_key.startswith("slices=2/digest=")


def test_off_grid_and_quarantined_duplicates_are_counted(store):
    cfg = SourceConfig(dsn=f"chdb://{store.lake.root / 'sources' / 'chdb'}", table="raw", final=False,
                       columns=ColumnMap(chain=None))
    src = CandleSource(cfg)
    with src.session() as s:
        s.command("CREATE TABLE raw (token String, interval String, ts DateTime64(6, 'UTC'), open Float64, "
                  "high Float64, low Float64, close Float64, volume Float64) ENGINE = MergeTree ORDER BY ts")
    base = candles(n=5).drop_columns(["chain"])
    off = candles(n=1, start="2026-01-05T00:02:30Z").drop_columns(["chain"])
    src.insert(pa.concat_tables([base, base.slice(1, 1), off]))
    sl = export_slice(store, src, "TokA", None, "1m", "2026-01-05T00:00:00Z", "2026-01-05T00:05:00Z")
    cov = slice_coverage(store, [sl.artifact_id])
    s = cov.summary.to_pylist()[0]
    assert (s["expected"], s["present"], s["missing"], s["duplicates"], s["off_grid"]) == (5, 5, 0, 1, 1)
    assert cov.gaps.num_rows == 0
    # the quarantine that holds the duplicate is an input of the coverage too
    assert sorted(store.get(cov.summary_artifact_id).input_artifact_ids) == sorted(
        [sl.artifact_id, sl.quarantine_artifact_id])


def test_compute_is_pure_and_vectorised_over_many_slices():
    slices = pa.table({"sid": [0, 1], "token": ["A", "B"], "resolution": ["1m", "1m"],
                       "step": [60_000_000] * 2, "from_us": [0, 0], "to_us": [600_000_000, 120_000_000]})
    cand = pa.table({"sid": [0, 0, 0, 1], "t": [0, 60_000_000, 540_000_000, 60_000_000]})
    summary, gaps = compute_slice_coverage(slices, cand)
    assert summary.column("present").to_pylist() == [3, 1]
    assert gaps.select(["sid", "gap_start", "gap_end", "missing_count"]).to_pylist() == [
        {"sid": 0, "gap_start": 120_000_000, "gap_end": 540_000_000, "missing_count": 7},
        {"sid": 1, "gap_start": 0, "gap_end": 60_000_000, "missing_count": 1},
    ]


def test_coverage_refuses_other_types(store):
    res = store.publish("alerts", 1, "x", [{"alert_id": "a", "alert_ts": "2026-01-05T00:00:00Z",
                                           "token_address": "TokA", "chain": "solana"}])
    with pytest.raises(InvalidInput, match="not an ohlcv_slice"):
        slice_coverage(store, [res.artifact_id])


def _alerts(store, rows, key="test-alerts"):
    return store.publish("alerts", 1, key, [
        {"alert_id": aid, "alert_ts": ts, "token_address": tok, "chain": "solana"} for aid, ts, tok in rows
    ]).artifact_id


def test_alert_forward_coverage(store, source):
    seed(source, candles(n=60, skip=(35,)), candles(token="TokB", n=10))
    a = export_slice(store, source, "TokA", "solana", "1m", "2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z")
    b = export_slice(store, source, "TokB", "solana", "1m", "2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z")
    alerts = _alerts(store, [
        ("full", "2026-01-05T00:00:00Z", "TokA"),     # 00:00..00:29: all there
        ("hole", "2026-01-05T00:20:00Z", "TokA"),     # 00:20..00:49 minus 00:35
        ("late", "2026-01-05T00:45:30Z", "TokA"),     # 00:45..01:15 (31 candles, 15 in the slice)
        ("short", "2026-01-05T00:05:00Z", "TokB"),    # TokB has 00:00..00:09
        ("none", "2026-01-05T00:00:00Z", "TokC"),     # no slice at all
    ])
    cov = alert_forward_coverage(store, alerts, "30m", "1m")
    rows = {r["alert_id"]: r for r in cov.table.to_pylist()}
    got = {k: (r["expected"], r["present"], r["fully_covered"]) for k, r in rows.items()}
    assert got == {"full": (30, 30, True), "hole": (30, 29, False), "late": (31, 15, False),
                   "short": (30, 5, False), "none": (30, 0, False)}
    assert rows["hole"]["coverage_ratio"] == pytest.approx(29 / 30)
    assert _iso(rows["late"]["horizon_end"]) == "2026-01-05T01:15:30Z"
    art = store.get(cov.artifact_id)
    assert art.artifact_type == "alert_forward_coverage" and art.row_count == 5
    assert sorted(art.input_artifact_ids) == sorted([alerts, a.artifact_id, b.artifact_id])
    assert art.logical_key == f"alerts={alerts}/res=1m/horizon=30m"
    assert cov.result().fully_covered == 1
    # explicit slices: only TokB's candles count
    only_b = alert_forward_coverage(store, alerts, "30m", "1m", slice_ids=[b.artifact_id], publish=False)
    assert {r["alert_id"]: r["present"] for r in only_b.table.to_pylist()}["full"] == 0


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

STEP = 60_000_000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 50), st.integers(1, 60), st.sets(st.integers(-5, 70), max_size=40),
       st.integers(0, STEP - 1), st.integers(0, STEP - 1))
def test_gaps_account_for_every_missing_grid_point(start_min, length_min, minutes, start_jitter, end_jitter):
    """Property: present + missing = expected, the gaps are disjoint, inside the grid range, and
    their missing counts add up to `missing`; every grid point is either present or in one gap."""
    lo = start_min * STEP + start_jitter
    hi = (start_min + length_min) * STEP + end_jitter
    pts = sorted(m * STEP for m in minutes if lo <= m * STEP < hi)
    slices = pa.table({"sid": [0], "token": ["A"], "resolution": ["1m"], "step": [STEP], "from_us": [lo],
                       "to_us": [hi]})
    summary, gaps = compute_slice_coverage(slices, pa.table({"sid": pa.array([0] * len(pts), pa.int64()),
                                                             "t": pa.array(pts, pa.int64())}))
    s = summary.to_pylist()[0]
    grid = [g for g in range(-(-lo // STEP) * STEP, hi, STEP)]
    assert s["expected"] == len(grid)
    assert s["present"] == len(pts) and s["present"] + s["missing"] == s["expected"]
    covered_by_gaps = []
    for g in gaps.to_pylist():
        assert g["gap_start"] < g["gap_end"] and (g["gap_end"] - g["gap_start"]) // STEP == g["missing_count"]
        covered_by_gaps += list(range(g["gap_start"], g["gap_end"], STEP))
    assert sorted(covered_by_gaps + pts) == grid
