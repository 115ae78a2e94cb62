"""The vectorised backtest engine: one DuckDB query over all alerts (and all grid points).

`run_grid(con, alerts, candles, {experiment_id: strategy})` evaluates every (strategy point,
alert) pair in a single SQL statement; `run_backtest` is the one-point case. No Python loop
runs per alert or per candle. The rules (docs/experiments.md, "Engine rules"):

1. Alerts are deduplicated by alert_id (identical rows collapse; conflicting rows are an error)
   and filtered to the date range [from, to) on alert_ts.
2. Candles of the chosen resolution only. Identical duplicate candles collapse; duplicates with
   different prices are an error (the input is ambiguous; checked only when duplicates are seen).
3. Entry: the open of the first candle with ts >= alert_ts + entry delay.
4. The position's window: candles from the entry candle up to and including the first candle
   with ts >= entry_ts + max hold (the time-exit candle), or to the end of the data.
5. Per candle, in this order (the first that holds decides, ts < deadline for 5b-5e):
   a. ts >= deadline                 -> max_hold at the open;
   b. open <= stop level             -> stop at the open (gap through the stop);
   c. open >= take-profit level      -> take_profit at the open (gap through the target);
   d. low  <= stop level             -> stop at the stop level (stop first when both touched);
   e. high >= take-profit level      -> take_profit at the level.
   The stop level is max(fixed stop, trailing level); the reason is trailing_stop when the
   trailing level is strictly above the fixed stop, else stop_loss. The trailing level of a
   candle uses the highs of the candles *before* it since entry (and the entry open), never the
   candle's own high, so there is no look-ahead inside a candle.
6. The exit is the earliest candle (by ts) with an event. None in the window: the data ended
   first -> skipped `insufficient_horizon`, or, with exit_at_end_of_data, exit at the last
   candle's close (`end_of_data`).
7. Prices: entry_price = open * (1 + slippage), exit_price = fill * (1 - slippage);
   qty = notional / entry_price; pnl = qty*exit_price*(1 - fee) - notional*(1 + fee);
   pnl_pct = pnl / notional (a fraction). Timestamps are candle open times.

Results are independent of thread count and input row order: every choice is by ts (unique
per position after dedup), and per-row arithmetic is the same whatever the plan.

Two phases: [entry, entry + max hold / 2) first, then the rest of the window only for the
(point, position) pairs still open, with the running high seeded from phase 1.

Cost: the entry and time-exit lookups and the window are hash joins of the alerts with their
token's candles (min(ts) aggregates, no sort of the candle table), so the work is proportional to
the candles of each alert's token at or after its entry time, plus one sort of the rows inside
holding windows (for the running high). Projections built from per-alert slices keep that small;
a token with very long history and many alerts costs alerts x candles of that token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import InvalidInput
from bridge.experiments.strategy import Strategy
from bridge.progress import NULL_JOB, Job

__all__ = ["BacktestResult", "SKIP_REASONS", "run_backtest", "run_grid", "ENGINE_VERSION"]

log = logging.getLogger(__name__)

ENGINE_VERSION = "1.0.0"
SKIP_REASONS = (
    "invalid_alert",            # null alert_ts or token
    "no_candles_for_token",     # the token has no candles at this resolution
    "no_candles_after_alert",   # nothing at or after alert_ts + entry delay
    "entry_lag_exceeded",       # the first candle after the alert is later than max_entry_lag
    "insufficient_horizon",     # the data ends before an exit is decided
)
_US = 1_000_000
_BIG = 9_223_372_036_854_775_807
_SPLIT_US = 6 * 3600 * _US  # phase split without a max hold


@dataclass
class BacktestResult:
    """One strategy point's outcome. `trades` has the experiment_trades columns (timestamps as
    UTC Arrow timestamps); `skipped` has (alert_id, reason, detail); counts in `stats`."""

    experiment_id: str
    strategy: Strategy
    trades: Any                      # pyarrow.Table
    skipped: Any                     # pyarrow.Table
    stats: dict[str, int] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def run_backtest(con, alerts: str, candles: str, strategy: Strategy, *, experiment_id: str = "backtest",
                 date_from_us: int | None = None, date_to_us: int | None = None,
                 job: Job = NULL_JOB) -> BacktestResult:
    """Backtest one strategy. `alerts`/`candles`: a table or view name, or a SELECT statement.

    Raises:
        InvalidInput: missing columns, ambiguous resolution, conflicting duplicates.
        ValidationFailed: strategy parameters out of range.
    """
    return run_grid(con, alerts, candles, {experiment_id: strategy}, date_from_us=date_from_us,
                    date_to_us=date_to_us, job=job)[experiment_id]


def run_grid(con, alerts: str, candles: str, points: Mapping[str, Strategy], *,
             date_from_us: int | None = None, date_to_us: int | None = None,
             job: Job = NULL_JOB) -> dict[str, BacktestResult]:
    """Backtest many strategy points in one SQL pass; keys are experiment ids.

    Raises: see run_backtest.
    """
    if not points:
        raise InvalidInput("a backtest needs at least one strategy point")
    strategies = {k: s.validate() for k, s in points.items()}
    a_src, c_src = _source(alerts, "alerts"), _source(candles, "candles")
    _check_columns(con, a_src, ("alert_id", "alert_ts", "token_address", "chain"), "alerts")
    _check_columns(con, c_src, ("token", "resolution", "ts", "open", "high", "low", "close", "volume"), "candles")
    resolution = _resolution(con, c_src, {s.resolution for s in strategies.values()})
    job.check()
    _check_alert_conflicts(con, a_src)
    sql = _grid_sql(a_src, c_src, strategies, resolution, date_from_us, date_to_us)
    job.check()
    table = con.sql(sql).to_arrow_table()
    job.check()
    _raise_on_conflicting_candles(con, table, c_src, resolution)
    return _split(table, strategies, con, a_src, date_from_us, date_to_us)


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _source(src: str, what: str) -> str:
    text = src.strip().rstrip(";")
    if re.match(r"^(select|with|from|values|\()", text, re.IGNORECASE):
        return f"({text})"
    if not _IDENT.match(text):
        raise InvalidInput(f"{what}: expected a table name or a SELECT statement, got {src!r}", source=what)
    return ".".join(f'"{p}"' for p in text.split("."))


def _check_columns(con, src: str, needed: tuple[str, ...], what: str) -> None:
    cols = {d[0] for d in con.execute(f"SELECT * FROM {src} AS t LIMIT 0").description}
    missing = [c for c in needed if c not in cols]
    if missing:
        raise InvalidInput(f"{what} lack column(s) {', '.join(missing)} (have: {', '.join(sorted(cols))})",
                           source=what, missing=missing)


def _resolution(con, c_src: str, wanted: set[str | None]) -> str:
    named = {w for w in wanted if w is not None}
    if len(named) > 1:
        raise InvalidInput(f"all points of one run must use one candle resolution, got {sorted(named)}")
    present = [r for (r,) in con.execute(f"SELECT DISTINCT resolution FROM {c_src} ORDER BY 1").fetchall()]
    if named:
        return named.pop()
    if len(present) == 1:
        return present[0]
    if not present:
        return "1m"  # no candles at all: every alert is skipped as no_candles_for_token
    raise InvalidInput(f"the candles have several resolutions {present}: set strategy.resolution",
                       field="strategy.resolution", present=present)


def _check_alert_conflicts(con, a_src: str) -> None:
    rows = con.execute(f"""
        SELECT alert_id, count(*) FROM (SELECT DISTINCT alert_id, alert_ts, token_address, chain FROM {a_src})
        GROUP BY alert_id HAVING count(*) > 1 ORDER BY alert_id LIMIT 5""").fetchall()
    if rows:
        raise InvalidInput(
            f"alert id(s) appear with different time/token/chain: {', '.join(r[0] for r in rows)}",
            alert_ids=[r[0] for r in rows])


def _raise_on_conflicting_candles(con, table, c_src: str, resolution: str) -> None:
    """Duplicate candles seen in a holding window: fine when identical, an error when not."""
    import pyarrow.compute as pc

    if not (pc.max(table.column("dups")).as_py() or 0):
        return
    row = con.execute(f"""
        SELECT token, min(ts) FROM {c_src} WHERE resolution = {_str(resolution)}
        GROUP BY token, ts HAVING count(DISTINCT struct_pack(open, high, low, close, volume)) > 1
        ORDER BY 1, 2 LIMIT 1""").fetchone()
    if row is not None:
        raise InvalidInput(
            f"candles of token {row[0]!r} at {row[1]} share a timestamp with different prices; "
            "the input is ambiguous: publish one slice per source or deduplicate first",
            token=row[0], ts=str(row[1]))


# ---------------------------------------------------------------------------------------------
# the query
# ---------------------------------------------------------------------------------------------

def _num(v: float | None) -> str:
    return "NULL::DOUBLE" if v is None else f"{float(v)!r}::DOUBLE"


def _us(v: float | None) -> str:
    return "NULL::BIGINT" if v is None else f"{int(round(v * _US))}::BIGINT"


def _str(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _points_sql(strategies: Mapping[str, Strategy]) -> str:
    rows = []
    for i, (exp_id, s) in enumerate(strategies.items()):
        rows.append("(" + ", ".join([
            str(i), _str(exp_id), _us(s.entry_delay_seconds), _us(s.max_hold_seconds),
            _us(s.max_entry_lag_seconds), _num(s.take_profit_pct), _num(s.stop_loss_pct),
            _num(s.trailing_stop_pct), _num(s.fee_bps), _num(s.slippage_bps), _num(s.notional),
            "TRUE" if s.exit_at_end_of_data else "FALSE",
        ]) + ")")
    return ("SELECT * FROM (VALUES " + ", ".join(rows) + ") AS p(point, experiment_id, delay_us, hold_us, "
            "lag_us, tp, sl, trail, fee, slip, notional, eod)")


def _grid_sql(a_src: str, c_src: str, strategies: Mapping[str, Strategy], resolution: str,
              date_from_us: int | None, date_to_us: int | None) -> str:
    trailing = any(s.trailing_stop_pct is not None for s in strategies.values())
    date_filter = []
    if date_from_us is not None:
        date_filter.append(f"alert_us >= {int(date_from_us)}")
    if date_to_us is not None:
        date_filter.append(f"alert_us < {int(date_to_us)}")
    in_range = " AND ".join(date_filter) or "TRUE"
    phases = _phases_sql(trailing)
    return f"""
WITH
pts AS MATERIALIZED ({_points_sql(strategies)}),
wins AS MATERIALIZED (
    SELECT delay_us, hold_us, lag_us, row_number() OVER (ORDER BY delay_us, hold_us NULLS FIRST, lag_us NULLS FIRST) AS wk
    FROM (SELECT DISTINCT delay_us, hold_us, lag_us FROM pts)),
pw AS MATERIALIZED (SELECT pts.*, wins.wk FROM pts JOIN wins
    ON pts.delay_us = wins.delay_us AND pts.hold_us IS NOT DISTINCT FROM wins.hold_us
    AND pts.lag_us IS NOT DISTINCT FROM wins.lag_us),
a AS MATERIALIZED (
    SELECT *, row_number() OVER (ORDER BY alert_id) AS aid FROM (
        SELECT DISTINCT CAST(alert_id AS VARCHAR) AS alert_id, epoch_us(alert_ts) AS alert_us,
               CAST(token_address AS VARCHAR) AS token, CAST(chain AS VARCHAR) AS chain
        FROM {a_src})),
ar AS MATERIALIZED (SELECT * FROM a WHERE {in_range} OR alert_us IS NULL),
c AS MATERIALIZED (
    SELECT CAST(token AS VARCHAR) AS token, epoch_us(ts) AS ts, open, high, low, close, volume
    FROM {c_src} WHERE resolution = {_str(resolution)}),
tokens AS MATERIALIZED (SELECT DISTINCT token FROM c),
pos AS (
    SELECT ar.*, wins.wk, wins.hold_us, wins.lag_us, ar.alert_us + wins.delay_us AS target_us
    FROM ar CROSS JOIN wins WHERE ar.alert_us IS NOT NULL AND ar.token IS NOT NULL),
ent AS MATERIALIZED (
    SELECT pos.*, e.entry_us, e.entry_open FROM pos LEFT JOIN (
        SELECT pos.wk, pos.aid, min(c.ts) AS entry_us, arg_min(c.open, c.ts) AS entry_open
        FROM pos JOIN c ON c.token = pos.token AND c.ts >= pos.target_us GROUP BY pos.wk, pos.aid) e
    ON e.wk = pos.wk AND e.aid = pos.aid),
dlc AS (
    SELECT ent.wk, ent.aid, min(c.ts) AS deadline_candle_us
    FROM ent JOIN c ON c.token = ent.token AND c.ts >= ent.entry_us + ent.hold_us GROUP BY ent.wk, ent.aid),
dl AS MATERIALIZED (
    SELECT ent.*, dlc.deadline_candle_us, ent.entry_us + ent.hold_us AS deadline_us,
           ent.wk * 4294967296 + ent.aid AS pid,
           ent.entry_us + coalesce(ent.hold_us // 2, {_SPLIT_US}) AS split_us,
           (ent.entry_us IS NOT NULL AND (ent.lag_us IS NULL OR ent.entry_us - ent.target_us <= ent.lag_us)) AS enters
    FROM ent LEFT JOIN dlc ON dlc.wk = ent.wk AND dlc.aid = ent.aid),
{phases}
res AS (
    SELECT pw.point, pw.experiment_id, ar.alert_id, ar.token, ar.chain, ar.alert_us,
        dl.entry_us, dl.target_us, dl.enters, (ar.token IN (SELECT token FROM tokens)) AS token_known,
        pw.fee, pw.slip, pw.notional, pw.eod, dl.entry_open, agg.hit, agg.last_ts, agg.last_close,
        coalesce(agg.dups, 0) AS dups
    FROM ar JOIN pw ON TRUE
    LEFT JOIN dl ON dl.aid = ar.aid AND dl.wk = pw.wk
    LEFT JOIN agg ON agg.pid = dl.pid AND agg.point = pw.point),
fin AS (
    SELECT *,
        CASE WHEN hit IS NOT NULL THEN hit.ts WHEN eod AND enters THEN last_ts END AS exit_us,
        CASE WHEN hit IS NOT NULL THEN hit.reason WHEN eod AND enters THEN 'end_of_data' END AS exit_reason,
        CASE WHEN hit IS NOT NULL THEN hit.fill WHEN eod AND enters THEN last_close END AS exit_fill
    FROM res)
SELECT point, experiment_id, alert_id, token, chain, alert_us, entry_us, exit_us, exit_reason, dups,
    CASE WHEN alert_us IS NULL OR token IS NULL THEN 'invalid_alert'
         WHEN NOT token_known THEN 'no_candles_for_token'
         WHEN entry_us IS NULL THEN 'no_candles_after_alert'
         WHEN NOT enters THEN 'entry_lag_exceeded'
         WHEN exit_us IS NULL THEN 'insufficient_horizon' END AS skip_reason,
    CASE WHEN alert_us IS NULL OR token IS NULL THEN NULL
         WHEN NOT token_known THEN 'token ' || token
         WHEN entry_us IS NOT NULL AND NOT enters
             THEN 'first candle ' || ((entry_us - target_us) / 1000000.0)::VARCHAR || 's after the entry time'
    END AS skip_detail,
    entry_us - target_us AS entry_lag_us,
    entry_open * (1 + slip / 10000) AS entry_price,
    exit_fill * (1 - slip / 10000) AS exit_price,
    notional / (entry_open * (1 + slip / 10000)) AS qty,
    fee, notional,
    substr(sha256(experiment_id || '|' || alert_id), 1, 32) AS trade_id
FROM fin
ORDER BY point, alert_id
"""


def _phase_sql(n: int, rows: str, trailing: bool, seed: str | None, pairs: str) -> str:
    """CTEs r{n} (rows), w{n} (window), e{n} (events per point), a{n} (first event per point, position)."""
    prior = ("max(high) OVER (win ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)" if trailing else "NULL::DOUBLE")
    seed_join = f"LEFT JOIN {seed} ON {seed}.pid = w{n}.pid" if seed else ""
    seeded = f"greatest(dl.entry_open, {seed}.hi, w{n}.prior_high)" if seed else f"greatest(dl.entry_open, w{n}.prior_high)"
    return f"""
r{n} AS ({rows}),
w{n} AS (
    SELECT *, {prior} AS prior_high, lag(ts) OVER win AS prev_ts
    FROM r{n} WINDOW win AS (PARTITION BY pid ORDER BY ts)),
e{n} AS (
    SELECT pw.point, w{n}.pid, w{n}.ts, w{n}.open, w{n}.low, w{n}.high, w{n}.close, dl.deadline_us,
        (w{n}.prev_ts IS NOT DISTINCT FROM w{n}.ts) AS dup,
        dl.entry_open * (1 + pw.tp / 100) AS tp_level,
        dl.entry_open * (1 - pw.sl / 100) AS sl_level,
        {seeded} * (1 - pw.trail / 100) AS trail_level
    FROM w{n} JOIN dl ON dl.pid = w{n}.pid {seed_join}
    JOIN {pairs}),
s{n} AS (
    SELECT *, greatest(sl_level, trail_level) AS stop_level,
        CASE WHEN trail_level > sl_level OR (sl_level IS NULL AND trail_level IS NOT NULL)
             THEN 'trailing_stop' ELSE 'stop_loss' END AS stop_reason
    FROM e{n}),
x{n} AS (
    SELECT point, pid, ts, close, dup,
        CASE WHEN dup THEN NULL
             WHEN ts >= deadline_us THEN 'max_hold'
             WHEN open <= stop_level THEN stop_reason
             WHEN open >= tp_level THEN 'take_profit'
             WHEN low <= stop_level THEN stop_reason
             WHEN high >= tp_level THEN 'take_profit' END AS reason,
        CASE WHEN dup THEN NULL
             WHEN ts >= deadline_us THEN open
             WHEN open <= stop_level THEN open
             WHEN open >= tp_level THEN open
             WHEN low <= stop_level THEN stop_level
             WHEN high >= tp_level THEN tp_level END AS fill
    FROM s{n}),
a{n} AS (
    SELECT point, pid,
        arg_min(struct_pack(ts, reason, fill), ts) FILTER (WHERE reason IS NOT NULL) AS hit,
        max(ts) AS last_ts, arg_max(close, ts) AS last_close,
        count(*) FILTER (WHERE dup) AS dups
    FROM x{n} GROUP BY point, pid),"""


def _phases_sql(trailing: bool) -> str:
    """Two phases, so positions that exit early are not carried through their whole window:
    phase 1 covers [entry, split) (split = entry + max hold / 2, or 6 h without max hold),
    phase 2 the rest of the window, only for (point, position) pairs phase 1 left open, with the
    running high seeded by phase 1's highs. Same rules, same results as one pass."""
    rows1 = f"""SELECT dl.pid, c.ts, c.open, c.high, c.low, c.close
        FROM dl JOIN c ON c.token = dl.token AND c.ts >= dl.entry_us AND c.ts < dl.split_us
            AND c.ts <= coalesce(dl.deadline_candle_us, {_BIG})
        WHERE dl.enters"""
    rows2 = f"""SELECT dl.pid, c.ts, c.open, c.high, c.low, c.close
        FROM dl JOIN (SELECT DISTINCT pid FROM open2) n ON n.pid = dl.pid
        JOIN c ON c.token = dl.token AND c.ts >= dl.split_us AND c.ts <= coalesce(dl.deadline_candle_us, {_BIG})"""
    hi1 = "hi1 AS (SELECT pid, max(high) AS hi FROM r1 GROUP BY pid)," if trailing else \
        "hi1 AS (SELECT pid, NULL::DOUBLE AS hi FROM r1 WHERE FALSE GROUP BY pid),"
    open2 = """open2 AS MATERIALIZED (
    SELECT pw.point, dl.pid FROM dl JOIN pw ON pw.wk = dl.wk
    LEFT JOIN a1 ON a1.point = pw.point AND a1.pid = dl.pid
    WHERE dl.enters AND a1.hit IS NULL),"""
    return "\n".join([
        _phase_sql(1, rows1, trailing, None, "pw ON pw.wk = dl.wk"),
        hi1, open2,
        _phase_sql(2, rows2, trailing, "hi1", "open2 o ON o.pid = w2.pid JOIN pw ON pw.point = o.point"),
        """agg AS (
    SELECT coalesce(a1.point, a2.point) AS point, coalesce(a1.pid, a2.pid) AS pid,
        coalesce(a1.hit, a2.hit) AS hit,
        coalesce(a2.last_ts, a1.last_ts) AS last_ts,
        CASE WHEN a2.last_ts IS NOT NULL THEN a2.last_close ELSE a1.last_close END AS last_close,
        coalesce(a1.dups, 0) + coalesce(a2.dups, 0) AS dups
    FROM a1 FULL OUTER JOIN a2 ON a1.point = a2.point AND a1.pid = a2.pid),""",
    ])


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------

def _split(table, strategies: Mapping[str, Strategy], con, a_src: str,
           date_from_us: int | None, date_to_us: int | None) -> dict[str, BacktestResult]:
    import pyarrow as pa
    import pyarrow.compute as pc

    outside = _count_outside(con, a_src, date_from_us, date_to_us)
    out: dict[str, BacktestResult] = {}
    for i, (exp_id, strategy) in enumerate(strategies.items()):
        part = table.filter(pc.equal(table.column("point"), i))
        traded = part.filter(pc.is_null(part.column("skip_reason")))
        skipped = part.filter(pc.is_valid(part.column("skip_reason")))
        trades = _trades_table(traded, exp_id)
        skipped_t = pa.table({
            "alert_id": skipped.column("alert_id"),
            "reason": skipped.column("skip_reason"),
            "detail": skipped.column("skip_detail"),
        })
        reasons = {}
        for r in skipped_t.column("reason").to_pylist():
            reasons[r] = reasons.get(r, 0) + 1
        stats = {"alerts_in_range": part.num_rows, "alerts_outside_range": outside,
                 "trades": trades.num_rows, "skipped": skipped_t.num_rows,
                 **{f"skipped_{k}": v for k, v in sorted(reasons.items())}}
        out[exp_id] = BacktestResult(exp_id, strategy, trades, skipped_t, stats)
    return out


def _trades_table(t, exp_id: str):
    import pyarrow as pa
    import pyarrow.compute as pc

    qty, fee, notional = t.column("qty"), t.column("fee"), t.column("notional")
    exit_price = t.column("exit_price")
    fee_frac = pc.divide(fee, 10000.0)
    gross = pc.multiply(pc.multiply(qty, exit_price), pc.subtract(1.0, fee_frac))
    cost = pc.multiply(notional, pc.add(1.0, fee_frac))
    pnl = pc.subtract(gross, cost)
    ts_type = pa.timestamp("us", tz="UTC")
    entry_us, exit_us = t.column("entry_us"), t.column("exit_us")
    return pa.table({
        "experiment_id": pa.array([exp_id] * t.num_rows, pa.string()),
        "alert_id": t.column("alert_id"),
        "trade_id": t.column("trade_id"),
        "token": t.column("token"),
        "chain": t.column("chain"),
        "entry_ts": pc.cast(entry_us, ts_type),
        "exit_ts": pc.cast(exit_us, ts_type),
        "entry_price": t.column("entry_price"),
        "exit_price": exit_price,
        "pnl": pnl,
        "pnl_pct": pc.divide(pnl, notional),
        "duration_ms": pc.divide(pc.subtract(exit_us, entry_us), 1000),
        "exit_reason": t.column("exit_reason"),
    })


def _count_outside(con, a_src: str, date_from_us: int | None, date_to_us: int | None) -> int:
    if date_from_us is None and date_to_us is None:
        return 0
    conds = []
    if date_from_us is not None:
        conds.append(f"alert_us < {int(date_from_us)}")
    if date_to_us is not None:
        conds.append(f"alert_us >= {int(date_to_us)}")
    return con.execute(f"""SELECT count(*) FROM (SELECT DISTINCT alert_id, epoch_us(alert_ts) AS alert_us FROM {a_src})
        WHERE {' OR '.join(conds)}""").fetchone()[0]
