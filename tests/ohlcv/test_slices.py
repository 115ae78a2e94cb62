"""Slice export from real chDB: exact half-open boundaries, reuse without a query, refresh,
provenance, chain filtering, quarantine of broken and duplicate candles, custom table mapping."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bridge.ohlcv.grid import parse_ts
from bridge.ohlcv.slices import export_slice
from bridge.ohlcv.source import CandleSource, ColumnMap, SourceConfig
from tests.ohlcv.helpers import candles, seed

FROM, TO = "2026-01-05T00:02:00Z", "2026-01-05T00:05:00Z"
KEY = "token=TokA/res=1m/from=2026-01-05T00:02:00Z/to=2026-01-05T00:05:00Z"


def _ts(table):
    return [t.isoformat().replace("+00:00", "Z") for t in table.column("ts").to_pylist()]


def test_half_open_boundaries_are_exact(store, source):
    base = candles(n=10)
    # a candle 1 ms before `to` belongs to the slice (off grid), one exactly at `to` does not
    edge = candles(n=1, start="2026-01-05T00:04:59.999Z")
    seed(source, base, edge)
    res = export_slice(store, source, "TokA", "solana", "1m", FROM, TO)
    assert res.logical_key == KEY and not res.reused
    got = store.read_table(res.artifact_id)
    assert _ts(got) == ["2026-01-05T00:02:00Z", "2026-01-05T00:03:00Z", "2026-01-05T00:04:00Z",
                        "2026-01-05T00:04:59.999000Z"]
    art = store.get(res.artifact_id)
    assert (art.artifact_type, art.schema_version, art.row_count) == ("ohlcv_slice", 2, 4)
    assert art.min_ts == "2026-01-05T00:02:00.000000Z" and art.max_ts == "2026-01-05T00:04:59.999000Z"
    assert got.column_names == ["token", "resolution", "ts", "open", "high", "low", "close", "volume"]
    assert got.column("open").to_pylist()[:3] == [3.0, 4.0, 5.0]


def test_tags_params_and_provenance(store, source):
    seed(source, candles(n=10))
    res = export_slice(store, source, "TokA", "solana", "1m", FROM, TO)
    art = store.get(res.artifact_id)
    assert art.tags == {"token": ["TokA"], "chain": ["solana"], "resolution": ["1m"]}
    prov = store.provenance(res.artifact_id)
    assert prov.writer_name == "bridge.ohlcv.slices" and prov.writer_version
    assert prov.git_commit is None or len(prov.git_commit) == 40
    p = prov.params
    assert (p["token"], p["chain"], p["resolution"], p["from"], p["to"]) == ("TokA", "solana", "1m",
                                                                             "2026-01-05T00:02:00Z", "2026-01-05T00:05:00Z")
    assert p["source"]["kind"] == "chdb" and p["source"]["table"] == "candles"


def test_active_slice_is_reused_without_querying(store, source):
    seed(source, candles(n=10))
    first = export_slice(store, source, "TokA", "solana", "1m", FROM, TO)
    before = source.query_count
    again = export_slice(store, source, "TokA", "solana", "1m", parse_ts(FROM), parse_ts(TO))
    assert again.reused and again.artifact_id == first.artifact_id and again.row_count == 3
    assert source.query_count == before
    # a source that cannot even be reached serves the reuse too: no query happened
    dead = CandleSource("http://u:p@127.0.0.1:9/none")
    third = export_slice(store, dead, "TokA", "solana", "1m", FROM, TO)
    assert third.reused and third.artifact_id == first.artifact_id and dead.query_count == 0


def test_refresh_requeries_and_supersedes_changed_candles(store, source):
    seed(source, candles(n=10))
    first = export_slice(store, source, "TokA", "solana", "1m", FROM, TO)
    n = source.query_count
    same = export_slice(store, source, "TokA", "solana", "1m", FROM, TO, refresh=True)
    assert source.query_count == n + 1 and same.deduped and same.artifact_id == first.artifact_id
    seed(source, candles(n=10, overrides={(3, "close"): 4.4}))
    changed = export_slice(store, source, "TokA", "solana", "1m", FROM, TO, refresh=True)
    assert changed.artifact_id != first.artifact_id and not changed.reused
    assert store.get(first.artifact_id).status == "superseded"
    assert store.get(first.artifact_id).superseded_by == changed.artifact_id
    assert store.read_table(changed.artifact_id).column("close").to_pylist() == [3.25, 4.4, 5.25]
    # the next plain export reuses the refreshed slice
    assert export_slice(store, source, "TokA", "solana", "1m", FROM, TO).artifact_id == changed.artifact_id


def test_empty_range_gives_an_empty_slice(store, source):
    seed(source, candles(n=3))
    res = export_slice(store, source, "TokA", "solana", "1m", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z")
    assert res.row_count == 0 and store.get(res.artifact_id).row_count == 0


def test_chain_and_resolution_filter(store, source):
    seed(source, candles(n=10), candles(n=10, chain="base", price=50.0), candles(n=2, interval="5m", step_s=300))
    sol = export_slice(store, source, "TokA", "solana", "1m", FROM, TO)
    base = export_slice(store, source, "TokA", "base", "1m", FROM, TO)
    assert store.read_table(sol.artifact_id).column("open").to_pylist() == [3.0, 4.0, 5.0]
    assert store.read_table(base.artifact_id).column("open").to_pylist() == [52.0, 53.0, 54.0]
    assert sol.artifact_id != base.artifact_id and sol.logical_key == base.logical_key
    assert store.get(base.artifact_id).tags["chain"] == ["base"]
    five = export_slice(store, source, "TokA", "solana", "5m", "2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z")
    assert five.row_count == 2


def test_invalid_candles_go_to_quarantine_with_reasons(store, source):
    bad = candles(n=8, start="2026-01-05T00:00:00Z", overrides={
        (2, "high"): 2.0,            # high 2.0 < close 3.25
        (3, "low"): 5.0,             # low 5.0 > open 4.0
        (4, "volume"): -1.0,
        (5, "close"): float("nan"),
        (6, "high"): 6.0, (6, "volume"): -3.0,  # two rules at once
    })
    seed(source, bad)
    res = export_slice(store, source, "TokA", "solana", "1m", "2026-01-05T00:00:00Z", "2026-01-05T00:08:00Z")
    assert res.row_count == 3 and res.quarantined == 5
    kept = store.read_table(res.artifact_id)
    assert _ts(kept) == ["2026-01-05T00:00:00Z", "2026-01-05T00:01:00Z", "2026-01-05T00:07:00Z"]
    q = store.get(res.quarantine_artifact_id)
    assert (q.artifact_type, q.logical_key, q.row_count) == ("ohlcv_quarantine", res.logical_key, 5)
    assert "_quarantine" in q.path_parquet
    rows = store.read_table(q.artifact_id).to_pylist()
    assert [r["reason"] for r in rows] == ["high_below_open_close", "low_above_open_close", "negative_volume",
                                           "non_finite", "high_below_open_close;negative_volume"]
    assert rows[3]["close"] is None and rows[3]["open"] == 6.0  # the store refuses NaN: NULL, reason says why
    # reuse reports the quarantine too
    again = export_slice(store, source, "TokA", "solana", "1m", "2026-01-05T00:00:00Z", "2026-01-05T00:08:00Z")
    assert again.reused and (again.quarantined, again.quarantine_artifact_id) == (5, res.quarantine_artifact_id)


def _raw_source(store) -> CandleSource:
    """A hand-made plain MergeTree table with other column names: duplicates survive the read."""
    cfg = SourceConfig(
        dsn=f"chdb://{store.lake.root / 'sources' / 'chdb'}", table="ohlc_raw", final=False,
        columns=ColumnMap(token="mint", chain=None, interval="res", ts="t", open="o", high="h", low="l",
                          close="c", volume="v"),
    )
    src = CandleSource(cfg)
    with src.session() as s:
        s.command("CREATE TABLE ohlc_raw (mint String, res String, t DateTime64(6, 'UTC'), o Float32, h Float32, "
                  "l Float32, c Float32, v Float64) ENGINE = MergeTree ORDER BY (mint, res, t)")
    return src


def test_custom_mapping_and_duplicate_timestamps(store):
    src = _raw_source(store)
    base = candles(n=6)
    same = candles(n=6).slice(1, 1)                          # identical copy of 00:01
    other = candles(n=6, overrides={(3, "close"): 4.5}).slice(3, 1)  # disagreeing copy of 00:03
    src.insert(pa.concat_tables([base, same, same, other]).drop_columns(["chain"]))
    res = export_slice(store, src, "TokA", None, "1m", "2026-01-05T00:00:00Z", "2026-01-05T00:06:00Z")
    kept = store.read_table(res.artifact_id)
    assert _ts(kept) == ["2026-01-05T00:00:00Z", "2026-01-05T00:01:00Z", "2026-01-05T00:02:00Z",
                         "2026-01-05T00:04:00Z", "2026-01-05T00:05:00Z"]
    assert kept.column("close").to_pylist()[1] == 2.25  # Float32 source columns arrive as float64
    reasons = sorted(r["reason"] for r in store.read_table(res.quarantine_artifact_id).to_pylist())
    assert reasons == ["duplicate_ts", "duplicate_ts", "duplicate_ts_conflict", "duplicate_ts_conflict"]
    assert "chain" not in store.get(res.artifact_id).tags


def test_missing_table_is_a_clear_error(store, source):
    from bridge.errors import SourceUnavailable

    with pytest.raises(SourceUnavailable, match="bridge ohlcv load") as err:
        export_slice(store, source, "TokA", "solana", "1m", FROM, TO)
    assert err.value.data["table"] == "candles"
    assert store.find_by_logical_key("ohlcv_slice", KEY) == []


def test_refresh_replaces_or_retires_the_quarantine(store, source):
    start, end = "2026-01-05T00:00:00Z", "2026-01-05T00:04:00Z"
    seed(source, candles(n=4, overrides={(1, "volume"): -1.0}))
    first = export_slice(store, source, "TokA", "solana", "1m", start, end)
    assert first.quarantined == 1
    seed(source, candles(n=4, overrides={(1, "volume"): -1.0, (2, "volume"): -2.0}))
    second = export_slice(store, source, "TokA", "solana", "1m", start, end, refresh=True)
    assert second.quarantined == 2
    assert store.get(first.quarantine_artifact_id).superseded_by == second.quarantine_artifact_id
    seed(source, candles(n=4))  # the provider fixed its data
    third = export_slice(store, source, "TokA", "solana", "1m", start, end, refresh=True)
    assert third.quarantined == 0 and third.row_count == 4
    assert store.get(second.quarantine_artifact_id).status == "tombstoned"
    assert export_slice(store, source, "TokA", "solana", "1m", start, end).quarantine_artifact_id is None


import itertools  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_tokens = itertools.count()


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sets(st.integers(0, 120), max_size=40), st.integers(0, 130), st.integers(1, 60),
       st.sets(st.integers(0, 120), max_size=5))
def test_slice_holds_exactly_the_valid_candles_in_range(store, source, seconds, start, length, broken):
    """Property (real chDB): the slice is exactly the candles with from <= ts < to, minus the broken
    ones, which are exactly the quarantine; the boundaries are second-exact (1s grid)."""
    token = f"P{next(_tokens)}"
    ts = sorted(seconds)
    seed(source)  # the table exists even when this example has no candles
    rows = candles(token=token, n=len(ts), step_s=1) if ts else None
    if rows is not None:
        t0 = parse_ts("2026-01-05T00:00:00Z")
        rows = rows.set_column(3, "ts", pa.array([t0 + s * 1_000_000 for s in ts], pa.int64())
                               .cast(pa.timestamp("us", tz="UTC")))
        vol = [-1.0 if s in broken else v for s, v in zip(ts, rows.column("volume").to_pylist())]
        rows = rows.set_column(8, "volume", pa.array(vol))
        seed(source, rows.set_column(2, "interval", pa.array(["1s"] * len(ts))))
    lo, hi = start, start + length
    from bridge.ohlcv.grid import format_key_ts

    t0 = parse_ts("2026-01-05T00:00:00Z")
    res = export_slice(store, source, token, "solana", "1s", format_key_ts(t0 + lo * 1_000_000),
                       format_key_ts(t0 + hi * 1_000_000))
    inside = [s for s in ts if lo <= s < hi]
    got = [int((v.timestamp() - t0 / 1_000_000)) for v in store.read_table(res.artifact_id).column("ts").to_pylist()]
    assert got == [s for s in inside if s not in broken]
    assert res.quarantined == sum(1 for s in inside if s in broken)
