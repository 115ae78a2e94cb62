"""The sample candle generator: deterministic, on the grid, valid OHLC, with the gaps asked for."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from bridge.errors import InvalidInput
from bridge.ohlcv.load import read_candle_file
from bridge.ohlcv.sample import generate_candles, write_candles
from bridge.ohlcv.validate import split_candles


def test_deterministic_on_grid_and_valid():
    a = generate_candles(["A", "B"], "2026-01-05T00:00:00Z", "2026-01-05T10:00:00Z", "5m", seed=4)
    b = generate_candles(["A", "B"], "2026-01-05T00:00:00Z", "2026-01-05T10:00:00Z", "5m", seed=4)
    c = generate_candles(["A", "B"], "2026-01-05T00:00:00Z", "2026-01-05T10:00:00Z", "5m", seed=5)
    assert a.equals(b) and not a.equals(c)
    assert a.num_rows == 2 * 120
    ts = pc.cast(a.column("ts"), "int64")
    assert pc.all(pc.equal(pc.divide(ts, 300_000_000), pc.divide(pc.cast(ts, "double"), 300_000_000))).as_py()
    renamed = a.rename_columns(["token", "chain", "resolution", *a.column_names[3:]])
    assert split_candles(renamed.drop_columns(["chain"])).rejected.num_rows == 0
    # tokens walk independently, and open continues the previous close
    closes = a.filter(pc.equal(a.column("token"), "A")).column("close").to_pylist()
    opens = a.filter(pc.equal(a.column("token"), "A")).column("open").to_pylist()
    assert opens[1:] == closes[:-1]


def test_gaps_missing_and_invalid():
    t = generate_candles(["A"], "2026-01-02T00:00:00Z", "2026-01-06T00:00:00Z", "1h", weekend_gaps=True,
                         gaps=[("2026-01-05T03:00:00Z", "2026-01-05T05:00:00Z")])
    assert t.num_rows == 96 - 48 - 2
    noisy = generate_candles(["A"], "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "1m", missing_ratio=0.1,
                             invalid_ratio=0.05, seed=9)
    assert 1200 < noisy.num_rows < 1390
    renamed = noisy.rename_columns(["token", "chain", "resolution", *noisy.column_names[3:]]).drop_columns(["chain"])
    assert 20 < split_candles(renamed).rejected.num_rows < 120
    with pytest.raises(InvalidInput):
        generate_candles(["A"], "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", missing_ratio=1.0)


def test_round_trip_through_files(tmp_path):
    t = generate_candles(["A"], "2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z", "1m")
    for name in ("c.csv", "c.parquet"):
        back = read_candle_file(write_candles(t, tmp_path / name))
        assert back.column("ts").equals(t.column("ts"))
        assert back.column("close").to_pylist() == pytest.approx(t.column("close").to_pylist(), rel=1e-15)
