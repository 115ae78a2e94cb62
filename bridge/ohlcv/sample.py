"""Realistic sample candles: a geometric random walk per token, on the resolution's grid, with
configurable gaps (weekends, explicit outages, randomly missing single candles) and, optionally,
a few broken candles for quarantine demos. Vectorised numpy; deterministic for a seed.

    table = generate_candles(["TokA", "TokB"], "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z", "1m",
                             seed=7, weekend_gaps=True, missing_ratio=0.001)
    write_candles(table, "candles.parquet")   # then: bridge ohlcv load candles.parquet
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.errors import InvalidInput
from bridge.ohlcv.grid import TimeRange, parse_resolution

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["generate_candles", "write_candles"]

_DAY_US = 86_400_000_000


def generate_candles(
    tokens: Sequence[str],
    start: Any,
    end: Any,
    resolution: str = "1m",
    *,
    chain: str = "solana",
    seed: int = 0,
    start_price: float = 1.0,
    volatility: float = 0.002,
    weekend_gaps: bool = False,
    gaps: Sequence[tuple[Any, Any]] = (),
    missing_ratio: float = 0.0,
    invalid_ratio: float = 0.0,
) -> "pa.Table":
    """Candles for each token over [start, end) at `resolution`.

    Columns: token, chain, interval, ts (timestamp µs UTC), open, high, low, close, volume; rows in
    (token, ts) order. `volatility` is the per-candle standard deviation of log returns.
    `gaps` are [from, to) ranges with no candles (all tokens); `weekend_gaps` drops Saturday and
    Sunday (UTC); `missing_ratio` drops that share of single candles at random; `invalid_ratio`
    breaks that share of candles (high below the body, or negative volume).
    """
    import numpy as np
    import pyarrow as pa

    res = parse_resolution(resolution)
    rng_t = TimeRange.parse(start, end)
    for name, ratio in (("missing_ratio", missing_ratio), ("invalid_ratio", invalid_ratio)):
        if not 0.0 <= ratio < 1.0:
            raise InvalidInput(f"{name} must be in [0, 1)", field=name, value=ratio)
    first = res.ceil(rng_t.start)
    grid = np.arange(first, rng_t.end, res.step_us, dtype=np.int64)
    keep = _keep_mask(grid, weekend_gaps, gaps)
    parts = [_token_candles(tok, grid, keep, chain, res.text, seed, start_price, volatility, missing_ratio,
                            invalid_ratio) for tok in tokens]
    if not parts:
        return _empty()
    return pa.concat_tables(parts)


def _keep_mask(grid, weekend_gaps: bool, gaps):
    import numpy as np

    keep = np.ones(len(grid), dtype=bool)
    if weekend_gaps:
        weekday = ((grid // _DAY_US) + 3) % 7  # 1970-01-01 was a Thursday: Monday = 0
        keep &= weekday < 5
    for lo, hi in gaps:
        r = TimeRange.parse(lo, hi)
        keep &= ~((grid >= r.start) & (grid < r.end))
    return keep


def _token_candles(token, grid, keep, chain, interval, seed, start_price, volatility, missing_ratio, invalid_ratio):
    import numpy as np
    import pyarrow as pa

    digest = hashlib.sha256(f"{seed}|{token}".encode("utf-8")).digest()
    rnd = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    n = len(grid)
    rets = rnd.normal(0.0, volatility, n)
    close = start_price * np.exp(np.cumsum(rets))
    open_ = np.concatenate(([start_price], close[:-1]))
    body_hi, body_lo = np.maximum(open_, close), np.minimum(open_, close)
    high = body_hi * (1.0 + np.abs(rnd.normal(0.0, volatility / 2, n)))
    low = body_lo * (1.0 - np.abs(rnd.normal(0.0, volatility / 2, n)))
    volume = np.round(rnd.lognormal(6.0, 1.0, n), 2)
    mask = keep.copy()
    if missing_ratio:
        mask &= rnd.random(n) >= missing_ratio
    if invalid_ratio:
        broken = rnd.random(n) < invalid_ratio
        flip = rnd.random(n) < 0.5
        high = np.where(broken & flip, body_lo * 0.99, high)
        volume = np.where(broken & ~flip, -volume, volume)
    idx = np.flatnonzero(mask)
    m = len(idx)
    return pa.table({
        "token": pa.array([token] * m, pa.string()),
        "chain": pa.array([chain] * m, pa.string()),
        "interval": pa.array([interval] * m, pa.string()),
        "ts": pa.array(grid[idx], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "open": open_[idx], "high": high[idx], "low": low[idx], "close": close[idx], "volume": volume[idx],
    })


def _empty() -> "pa.Table":
    import pyarrow as pa

    return pa.table({
        "token": pa.array([], pa.string()), "chain": pa.array([], pa.string()),
        "interval": pa.array([], pa.string()), "ts": pa.array([], pa.timestamp("us", tz="UTC")),
        **{c: pa.array([], pa.float64()) for c in ("open", "high", "low", "close", "volume")},
    })


def write_candles(table: "pa.Table", path: str | Path) -> Path:
    """Write candles as .parquet or .csv (ISO timestamps with Z)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        pq.write_table(table, path)
    elif path.suffix.lower() == ".csv":
        import pyarrow as pa
        import pyarrow.compute as pc

        ts = pc.strftime(table.column("ts").cast(pa.timestamp("us", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")  # %S has the µs
        pacsv.write_csv(table.set_column(table.schema.get_field_index("ts"), "ts", ts.cast(pa.string())), path)
    else:
        raise InvalidInput(f"write_candles: unsupported format {path.suffix!r} (use .parquet or .csv)", path=str(path))
    return path

