"""Small hand-checkable candle tables and a seeding helper for the OHLCV tests."""

from __future__ import annotations


def candles(token="TokA", chain="solana", interval="1m", start="2026-01-05T00:00:00Z", n=10, step_s=60,
            skip=(), price=1.0, overrides=None):
    """A small, valid, hand-checkable candle table: candle i opens at start + i*step."""
    import pyarrow as pa

    from bridge.ohlcv.grid import parse_ts

    t0 = parse_ts(start)
    idx = [i for i in range(n) if i not in set(skip)]
    rows = {
        "token": [token] * len(idx), "chain": [chain] * len(idx), "interval": [interval] * len(idx),
        "ts": [t0 + i * step_s * 1_000_000 for i in idx],
        "open": [price + i for i in idx], "high": [price + i + 0.5 for i in idx],
        "low": [price + i - 0.5 for i in idx], "close": [price + i + 0.25 for i in idx],
        "volume": [100.0 + i for i in idx],
    }
    for (row, col), value in (overrides or {}).items():
        rows[col][row] = value
    table = pa.table(rows)
    return table.set_column(3, "ts", pa.array(rows["ts"], pa.int64()).cast(pa.timestamp("us", tz="UTC")))


def seed(source, *tables):
    """Put candle tables into the source's table (created if missing)."""
    with source.session():
        source.ensure_table()
        for t in tables:
            source.insert(t)

