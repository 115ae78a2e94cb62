"""Loading CSV/Parquet candle files into the embedded chDB table (real chDB via clickhouse-connect)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bridge.errors import InvalidInput, ValidationFailed
from bridge.ohlcv.grid import TimeRange, parse_resolution
from bridge.ohlcv.load import load_candles, read_candle_file
from bridge.ohlcv.sample import generate_candles, write_candles
from tests.ohlcv.helpers import candles


def _day(source, token="TokA"):
    return source.candles(token, "solana", parse_resolution("1m"),
                          TimeRange.parse("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"))


def test_load_csv_and_parquet_then_query(source, tmp_path):
    csv = write_candles(candles(token="TokA", n=5), tmp_path / "a.csv")
    parquet = write_candles(candles(token="TokB", n=7), tmp_path / "b.parquet")
    res = load_candles(source, [csv, parquet])
    assert res.rows_read == 12 and res.rows_visible == 12
    assert [f.rows for f in res.files] == [5, 7]
    a = _day(source, "TokA")
    assert a.num_rows == 5
    assert a.column("ts")[1].as_py().isoformat() == "2026-01-05T00:01:00+00:00"
    assert a.column("close").to_pylist() == [1.25, 2.25, 3.25, 4.25, 5.25]
    assert a.schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_loading_the_same_file_twice_does_not_double_rows(source, tmp_path):
    path = write_candles(generate_candles(["TokA"], "2026-01-05T00:00:00Z", "2026-01-05T06:00:00Z", "1m", seed=3),
                         tmp_path / "c.parquet")
    first = load_candles(source, [path])
    second = load_candles(source, [path])
    assert first.rows_visible == second.rows_visible == 360
    assert _day(source).num_rows == 360


def test_reloading_a_corrected_candle_replaces_it(source, tmp_path):
    load_candles(source, [write_candles(candles(n=3), tmp_path / "v1.parquet")])
    fixed = candles(n=3, overrides={(1, "close"): 2.4})
    load_candles(source, [write_candles(fixed, tmp_path / "v2.parquet")])
    assert _day(source).column("close").to_pylist() == [1.25, 2.4, 3.25]


def test_whole_file_token_chain_interval_and_aliases(source, tmp_path):
    path = tmp_path / "bare.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    "2026-01-05T00:00:00Z,1,2,0.5,1.5,10\n"
                    "2026-01-05T01:01:00+01:00,1.5,2,1,1.8,11\n", encoding="utf-8")
    load_candles(source, [path], token="TokA", chain="solana", interval="1m")
    got = _day(source)
    assert got.num_rows == 2
    assert got.column("ts")[1].as_py().isoformat() == "2026-01-05T00:01:00+00:00"  # offset honoured
    assert got.column("token").to_pylist() == ["TokA", "TokA"]


def test_integer_epochs_need_a_unit(source, tmp_path):
    path = tmp_path / "epoch.parquet"
    pq.write_table(pa.table({"token": ["TokA"], "chain": ["solana"], "interval": ["1m"],
                             "ts": pa.array([1_767_571_200], pa.int64()),  # 2026-01-05T00:00:00Z
                             "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0], "volume": [0.0]}), path)
    with pytest.raises(ValidationFailed, match="ts_unit"):
        read_candle_file(path)
    load_candles(source, [path], ts_unit="s")
    assert _day(source).column("ts")[0].as_py().isoformat() == "2026-01-05T00:00:00+00:00"


def test_bad_files_name_file_column_and_row(source, tmp_path):
    missing = tmp_path / "missing.csv"
    missing.write_text("token,chain,interval,ts,open,high,low,close\nA,s,1m,2026-01-05T00:00:00Z,1,1,1,1\n",
                       encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        load_candles(source, [missing])
    assert err.value.data["column"] == "volume" and str(missing) in str(err.value)

    empty = tmp_path / "empty.csv"
    empty.write_text("token,chain,interval,ts,open,high,low,close,volume\n"
                     "A,s,1m,2026-01-05T00:00:00Z,1,1,1,1,1\n"
                     "A,s,1m,2026-01-05T00:01:00Z,1,,1,1,1\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        load_candles(source, [empty])
    assert (err.value.data["column"], err.value.data["row"]) == ("high", 1)

    bad_ts = tmp_path / "bad_ts.csv"
    bad_ts.write_text("token,chain,interval,ts,open,high,low,close,volume\n"
                      "A,s,1m,2026-01-05T00:00:00Z,1,1,1,1,1\nA,s,1m,soon,1,1,1,1,1\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        load_candles(source, [bad_ts])
    assert (err.value.data["column"], err.value.data["row"], err.value.data["value"]) == ("ts", 1, "soon")

    with pytest.raises(InvalidInput, match="does not exist"):
        load_candles(source, [tmp_path / "nope.csv"])
    with pytest.raises(InvalidInput, match="unsupported format"):
        (tmp_path / "x.json").write_text("{}", encoding="utf-8")
        load_candles(source, [tmp_path / "x.json"])
    # nothing was inserted by any failed load
    assert source.query_count == 0


def test_extra_columns_are_refused_like_publish_does(tmp_path):
    from bridge.errors import ValidationFailed
    from bridge.ohlcv.load import read_candle_file

    path = tmp_path / "extra.csv"
    path.write_text("token,chain,interval,ts,open,high,low,close,volume,trades,Note\n"
                    "T,solana,1m,2026-01-01T00:00:00Z,1,2,0.5,1.5,10,3,x\n")
    with pytest.raises(ValidationFailed, match=r"unexpected column\(s\) 'trades', 'note'") as info:
        read_candle_file(path)
    assert info.value.data["rule"] == "unknown_column" and info.value.data["extra"] == ["trades", "note"]
    assert info.value.data["path"] == str(path)
