"""The vectorised backtest engine: a bounded number of set-based DuckDB statements over all
alerts and all grid points.

`run_grid(con, alerts, candles, {experiment_id: strategy})` evaluates every (strategy point,
alert) pair together; `run_backtest` is the one-point case. No Python runs per alert or per
candle: Python only sequences the statements. docs/experiments.md ("Engine rules") has every
rule with a worked example; in short:

1. Alerts are deduplicated by alert_id (conflicting rows are an error) and filtered to the date
   range [from, to) on alert_ts. Candles of the chosen resolution; identical duplicates collapse,
   duplicates with different prices are an error.
2. Entry (statement `pos`): the alert candle is the first candle with ts >= alert_ts + delay
   (skipped `entry_lag_exceeded` if later than max lag). Without a dip or rebound entry the
   position buys at its open. A dip entry buys at the first candle of the wait window whose low
   reaches alert open × (1 − dip), at min(open, level). A rebound entry buys at the first candle
   whose high reaches (lowest low of the *earlier* candles since the alert, or since the dip) ×
   (1 + rebound), at max(open, level). No trigger inside the wait window: `entry_not_triggered`.
3. Each position cycle (statement `res<k>`, one per cycle: the first position, then each
   re-entry) walks the candles from its entry to the time-exit candle in one window pass: the
   stop level of a candle is max(fixed stop, trailing level, entry if break-even triggered), all
   from *earlier* candles' highs; a candle's events in this order: time exit at the open; gap
   through the stop (remainder at the open); ladder legs at or below the open (at the open); stop
   touched (remainder at the stop level); legs touched by the high (at their levels). So the stop
   wins a candle that touches both, and a gap can fill several legs at once.
4. Re-entry (statement `cyc<k+1>`): once a cycle is flat by a stop or its last leg, buy
   reEntrySizePct of the notional at the first later candle whose low reaches reference ×
   (1 − retrace) (reference: the cycle's entry after a stop, the last leg's target after a ladder).
5. Fills, trades (one row per alert with blended prices and the realised P&L) and skips
   (statement `fills`), with entry/exit slippage and the taker fee on every fill.

Results are independent of thread count and input row order: every choice is by ts (unique per
position after dedup), and per-row arithmetic is the same whatever the plan.

Cost: entry and time-exit lookups are hash joins of the alerts with their token's candles
(min(ts) aggregates); each cycle is one window pass over the rows of its holding windows (sorted by
position and time) that shares the rows of every grid point with the same entry rules; re-entry
lookups are range joins over the candles after each flat exit. With indicator signals, the
indicators and acting flags are computed over the alerts' entry windows, then over the entered
positions' holding windows only, in rounds that stop at each position's exit signal
(docs/signals.md, "How it is computed"); the cycles read no candle after a position's exit
signal or time exit.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import InvalidInput
from bridge.experiments.signal_sql import SignalPlan, prepare_signals
from bridge.experiments.strategy import MAX_RE_ENTRIES, Strategy
from bridge.progress import NULL_JOB, Job

__all__ = ["BacktestResult", "SKIP_REASONS", "FILL_REASONS", "run_backtest", "run_grid", "ENGINE_VERSION"]

log = logging.getLogger(__name__)

ENGINE_VERSION = "2.1.0"  # 2.1: indicator signals (entry filters, exit signals, gated legs)
SKIP_REASONS = (
    "invalid_alert",            # null alert_ts or token
    "no_candles_for_token",     # the token has no candles at this resolution
    "no_candles_after_alert",   # nothing at or after alert_ts + entry delay
    "entry_lag_exceeded",       # the first candle after the alert is later than max_entry_lag
    "entry_not_triggered",      # a dip/rebound entry did not trigger within its wait limit
    "entry_signal_not_met",     # with an entry signal: no candle of the wait window entered with the signal acting
    "insufficient_horizon",     # the data ends before an exit (or the end of the entry wait) is decided
)
FILL_REASONS = ("entry", "re_entry", "take_profit", "stop_loss", "trailing_stop", "break_even", "max_hold",
                "exit_signal", "end_of_data")
_US = 1_000_000
_BIG = 9_223_372_036_854_775_807
_SHIFT = 4_294_967_296  # 2**32: ids packed as hi * 2**32 + aid


@dataclass
class BacktestResult:
    """One strategy point's outcome. `trades` has the experiment_trades columns (one row per alert
    that traded, timestamps as UTC Arrow timestamps); `fills` the experiment_fills columns;
    `skipped` has (alert_id, reason, detail); counts in `stats`."""

    experiment_id: str
    strategy: Strategy
    trades: Any                      # pyarrow.Table
    skipped: Any                     # pyarrow.Table
    stats: dict[str, int] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    fills: Any = None                # pyarrow.Table


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
    """Backtest many strategy points together (one set of statements); keys are experiment ids.

    Raises: see run_backtest.
    """
    if not points:
        raise InvalidInput("a backtest needs at least one strategy point")
    strategies = {k: s.validate() for k, s in points.items()}
    a_src, c_src = _source(alerts, "alerts"), _source(candles, "candles")
    _check_columns(con, a_src, ("alert_id", "alert_ts", "token_address", "chain"), "alerts")
    _check_columns(con, c_src, ("token", "resolution", "ts", "open", "high", "low", "close", "volume"), "candles")
    resolution = _resolution(con, c_src, {s.resolution for s in strategies.values()})
    step_us = _step_us(resolution, any(s.exit_at_end_of_data for s in strategies.values()))
    job.check()
    _check_alert_conflicts(con, a_src)
    plan = _Plan(strategies, resolution, step_us, date_from_us, date_to_us)
    try:
        plan.run(con, a_src, c_src, job)
        table, fills = plan.fetch(con)
    finally:
        plan.drop(con)
    job.check()
    if plan.dups:
        _raise_on_conflicting_candles(con, c_src, resolution)
    return _split(table, fills, strategies, con, a_src, date_from_us, date_to_us)


def _step_us(resolution: str, needed: bool) -> int:
    from bridge.ohlcv.grid import parse_resolution

    try:
        return parse_resolution(resolution).step_us
    except InvalidInput:
        if needed:
            raise InvalidInput(f"exitAtEndOfData needs the candle length, and resolution {resolution!r} does not "
                               "say it (use e.g. 1m, 5m, 1h)", field="strategy.resolution", value=resolution) from None
        return 0


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


def _raise_on_conflicting_candles(con, c_src: str, resolution: str) -> None:
    """Duplicate candles seen in a holding window: fine when identical, an error when not."""
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
# the statements
# ---------------------------------------------------------------------------------------------

def _num(v: float | None) -> str:
    return "NULL::DOUBLE" if v is None else f"{float(v)!r}::DOUBLE"


def _us(v: float | None) -> str:
    return "NULL::BIGINT" if v is None else f"{int(round(v * _US))}::BIGINT"


def _str(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


class _Plan:
    """The statements of one run_grid call, over temp tables named _bt_<random>_*."""

    def __init__(self, strategies: Mapping[str, Strategy], resolution: str, step_us: int,
                 date_from_us: int | None, date_to_us: int | None) -> None:
        self.strategies = strategies
        self.resolution = resolution
        self.step_us = step_us
        self.date_from_us, self.date_to_us = date_from_us, date_to_us
        self.prefix = f"_bt_{uuid.uuid4().hex[:10]}_"
        self.legs = max((len(s.legs()) for s in strategies.values()), default=0)
        self.trailing = any(s.trailing_stop_pct is not None for s in strategies.values())
        self.break_even = any(s.break_even_trigger_pct is not None for s in strategies.values())
        self.cycles = 1 + max((s.max_re_entries if s.re_entry_retrace_pct is not None else 0
                               for s in strategies.values()), default=0)
        assert self.cycles <= 1 + MAX_RE_ENTRIES
        self.created: list[tuple[str, str]] = []
        self.done_cycles = 0
        self.dups = 0
        # indicator signals (docs/signals.md): every distinct signal of every point, numbered
        self.signals = SignalPlan(g for st in strategies.values() for g in st.signals())
        # which of them the entry statement reads (entry signals) and which the cycles read (exit
        # signals, leg gates): each set is computed over its own candles (`run`)
        self.entry_sids = sorted({self.signals.sid(st.entry_signal) for st in strategies.values()
                                  if st.entry_signal is not None})
        self.hold_sids = sorted({self.signals.sid(g) for st in strategies.values()
                                 for g in [st.exit_signal, *(leg.signal for leg in st.legs())] if g is not None})
        self.timings: dict[str, float] = {}

    def t(self, name: str) -> str:
        return self.prefix + name

    def _create(self, con, kind: str, name: str, sql: str) -> None:
        con.execute(f"CREATE TEMP {kind} {self.t(name)} AS {sql}")
        self.created.append((kind, self.t(name)))

    def drop(self, con) -> None:
        for kind, name in reversed(self.created):
            try:
                con.execute(f"DROP {kind} IF EXISTS {name}")
            except Exception:  # noqa: BLE001 (best effort: a failed statement may have closed the transaction)
                log.debug("could not drop %s", name, exc_info=True)
        self.created.clear()

    # -- statements ------------------------------------------------------------------------------

    def act(self, sids: list[int], sid_col: str, default: str, row: str = "") -> str:
        """SQL: the acting flag (at this candle's open) of the signal numbered by `sid_col` (one of
        `sids`), `default` when the point has none."""
        if not sids:
            return default
        whens = " ".join(f"WHEN {j} THEN {row}act{j}" for j in sids)
        return f"coalesce(CASE {sid_col} {whens} END, {default})"

    def _signal_candles(self, con, name: str, sids: list[int], windows: str, through_hi: bool = False) -> None:
        """The view `name`: the candles of `windows` (deduplicated; `through_hi`: see
        prepare_signals) with act{j}, uact{j} for the signals `sids`, or all the candles (`call`)
        when there are none."""
        if not sids:
            self._create(con, "VIEW", name, f"SELECT * FROM {self.t('call')}")
            return
        self.created.append(("TABLE", self.t(f"{name}_w")))
        timings = prepare_signals(con, self.t("call"), self.signals, wide=self.t(f"{name}_w"), windows=windows,
                                  through_hi=through_hi, only=sids, carry=("open", "high", "low", "close"))
        for k, v in timings.items():
            self.timings[k] = self.timings.get(k, 0.0) + v
        acts = ", ".join(f"act{j}, uact{j}" for j in sids)
        self._create(con, "VIEW", name, f"SELECT token, ts, open, high, low, close, {acts} FROM {self.t(f'{name}_w')}")

    def run(self, con, a_src: str, c_src: str, job: Job) -> None:
        self._create(con, "TABLE", "pts", self._points_sql())
        candles = f"""
            SELECT CAST(token AS VARCHAR) AS token, epoch_us(ts) AS ts, open, high, low, close, volume
            FROM {c_src} WHERE resolution = {_str(self.resolution)}"""
        self._create(con, "VIEW", "call", candles)
        # Indicator signals (docs/signals.md, "How it is computed"): indicators once per token,
        # signals compiled to one window pass, in two rounds over the candles each statement reads:
        # the entry signals over each alert's entry window (`ce`, read by `pos`), then the exit
        # signals and leg gates over each position's holding window (`c`, read by the cycles). Each
        # view holds those candles deduplicated with the acting flags as columns, and the same
        # flags as over all the candles. `pos` reads no candle of `ce` outside the entry windows: a
        # window ends at the first candle at or after the end of its wait window (or runs to the
        # token's last candle), so "the token has candles" and "a candle at or after the end of the
        # wait window exists" are the same as over all the candles; its deadline candle comes
        # from `call`.
        self._signal_candles(con, "ce", self.entry_sids, self._windows_sql(a_src))
        job.check()
        self._create(con, "TABLE", "pos", self._pos_sql(a_src))
        job.check()
        self._hold_candles(con, job)
        job.check()
        # a position's window ends at its deadline candle, or at the first candle where the exit
        # signal of each of its points acts (`_hold_candles`): nothing after it can fill
        bound = f"LEFT JOIN {self.t('xb')} xb ON xb.wid = pos.ek * {_SHIFT} + pos.aid" if self.hold_sids else ""
        end = "least(pos.end_us, coalesce(xb.bound, pos.end_us))" if self.hold_sids else "pos.end_us"
        self._create(con, "TABLE", "cyc0", f"""
            SELECT DISTINCT pos.ek * {_SHIFT} + pos.aid AS wid, pos.token, pos.entry_ts, pos.entry_px,
                pos.entry_level, pos.intra, {end} AS end_us
            FROM {self.t('pos')} pos {bound} WHERE pos.entry_ts IS NOT NULL""")
        self._create(con, "TABLE", "map0", f"""
            SELECT ek * {_SHIFT} + aid AS wid, point, aid AS pid, deadline_us, 1.0::DOUBLE AS size
            FROM {self.t('pos')} WHERE entry_ts IS NOT NULL""")
        for k in range(self.cycles):
            if k:
                self._create(con, "TABLE", f"cyc{k}", self._re_entry_sql(k))
                self._create(con, "TABLE", f"map{k}", f"""
                    SELECT y.wid, y.point, y.pid, pos.deadline_us, p.re_size / 100 AS size
                    FROM {self.t(f'cyc{k}')} y JOIN {self.t('pos')} pos ON pos.point = y.point AND pos.aid = y.pid
                    JOIN {self.t('pts')} p ON p.point = y.point""")
                if not con.execute(f"SELECT count(*) FROM {self.t(f'cyc{k}')}").fetchone()[0]:
                    break
            job.check()
            self._create(con, "TABLE", f"res{k}", self._cycle_sql(k))
            self.done_cycles = k + 1
        if self.trailing:
            self.dups = sum(con.execute(f"SELECT coalesce(sum(dups), 0) FROM {self.t(f'res{k}')}").fetchone()[0]
                            for k in range(self.done_cycles))
        elif not self.hold_sids:  # with signals the candles come deduplicated (conflicts raise)
            self.dups = con.execute(self._dup_check_sql()).fetchone()[0]

    # the first holding window of a position with an exit signal covers this many candles; each
    # further round (for the positions whose exit signal has not acted yet) 8 times more
    HOLD_ROUND_CANDLES = 128

    def _hold_candles(self, con, job: Job) -> None:
        """The view `c` the cycles read, and the table `xb` (wid, bound): a position's last candle
        needed when its exit signals act before its deadline candle.

        With exit signals or gated legs, the signals are computed over each position's holding
        window: from its entry candle through its deadline candle (`end_us`), or the token's last
        candle. A position stops at the open of the candle after the one where its exit signal
        holds, so where every point of a position has an exit signal (and no re-entry, and a
        deadline candle) the window is computed in rounds: the first HOLD_ROUND_CANDLES candle
        lengths after the entry, then 8 times as many, ..., each round only for the positions
        whose exit signals have not all acted yet; `bound` is then the latest of the first candles
        (after the entry) where each acts. Every round computes the same flags the whole series
        gives, so the rounds change which candles are read, not a result."""
        if not self.hold_sids:
            self._create(con, "VIEW", "c", f"SELECT * FROM {self.t('call')}")
            return
        pos, pts = self.t("pos"), self.t("pts")
        # per position window: `whole` when one of its points needs every candle of the window
        self._create(con, "TABLE", "hw", f"""
            SELECT pos.ek * {_SHIFT} + pos.aid AS wid, any_value(pos.token) AS token,
                any_value(pos.entry_ts) AS entry_ts, any_value(pos.end_us) AS end_us,
                bool_or(p.xsig IS NULL OR (p.re_pct IS NOT NULL AND p.max_re >= 1) OR pos.end_us >= {_BIG}
                        OR {int(self.step_us) <= 0}) AS whole,
                list(DISTINCT p.xsig) FILTER (WHERE p.xsig IS NOT NULL) AS xsigs
            FROM {pos} pos JOIN {pts} p ON p.point = pos.point WHERE pos.entry_ts IS NOT NULL
            GROUP BY pos.ek, pos.aid""")
        self._create(con, "TABLE", "xb", "SELECT NULL::BIGINT AS wid, NULL::BIGINT AS bound WHERE FALSE")
        hw, xb = self.t("hw"), self.t("xb")
        whens = " ".join(f"WHEN {j} THEN c.act{j}" for j in self.hold_sids)
        step = max(int(self.step_us), 1)
        prev, horizon, parts = 0, self.HOLD_ROUND_CANDLES * step, []
        while True:
            k = len(parts)
            if k == 0:
                # every whole window, and the first part of the others
                windows = f"""SELECT token, entry_ts AS lo_us,
                    CASE WHEN whole THEN CASE WHEN end_us < {_BIG} THEN end_us END
                         ELSE least(end_us, entry_ts + {horizon}) END AS hi_us FROM {hw}"""
            else:
                windows = f"""SELECT token, entry_ts + {prev} AS lo_us, least(end_us, entry_ts + {horizon}) AS hi_us
                    FROM {hw} WHERE NOT whole AND end_us > entry_ts + {prev}
                    AND wid NOT IN (SELECT wid FROM {xb})"""
            name = f"hc{k}"
            # (a window ends at the deadline candle, or where the search below stops: no look-up
            # of the candle after its end)
            self._signal_candles(con, name, self.hold_sids, windows, through_hi=True)
            parts.append(self.t(name))
            job.check()
            seen = " UNION ALL ".join(f"SELECT * FROM {t}" for t in parts)
            # positions whose every exit signal acted within the candles computed so far (all
            # of [entry, entry + horizon) for each of them)
            con.execute(f"""INSERT INTO {xb}
                WITH open AS (
                    SELECT wid, token, entry_ts, end_us, unnest(xsigs) AS xsig FROM {hw}
                    WHERE NOT whole AND end_us > entry_ts + {prev} AND wid NOT IN (SELECT wid FROM {xb})),
                fx AS (
                    SELECT o.wid, o.xsig, min(c.ts) AS first_x
                    FROM open o JOIN ({seen}) c ON c.token = o.token AND c.ts > o.entry_ts
                        AND c.ts < o.entry_ts + {horizon} AND c.ts <= o.end_us AND CASE o.xsig {whens} END
                    GROUP BY o.wid, o.xsig)
                SELECT o.wid, max(fx.first_x) AS bound FROM open o LEFT JOIN fx ON fx.wid = o.wid AND fx.xsig = o.xsig
                GROUP BY o.wid HAVING count(fx.first_x) = count(*)""")
            left = con.execute(f"""SELECT count(*) FROM {hw} WHERE NOT whole AND end_us > entry_ts + {horizon}
                AND wid NOT IN (SELECT wid FROM {xb})""").fetchone()[0]
            if not left:
                break
            prev, horizon = horizon, horizon * 8
        if len(parts) == 1:
            self._create(con, "VIEW", "c", f"SELECT * FROM {parts[0]}")
        else:  # a candle two rounds computed has the same values in both
            self._create(con, "TABLE", "c", " UNION ".join(f"SELECT * FROM {t}" for t in parts))

    def _points_sql(self) -> str:
        rows = []
        for i, (exp_id, s) in enumerate(self.strategies.items()):
            legs = s.legs()
            tps = [_num(legs[j].take_profit_pct if j < len(legs) else None) for j in range(self.legs)]
            szs = [_num(legs[j].size_pct if j < len(legs) else None) for j in range(self.legs)]
            dip_or_reb = (s.entry_dip_pct is not None or s.entry_rebound_pct is not None
                          or s.entry_signal is not None)
            sids = [self.signals.sid(s.entry_signal), self.signals.sid(s.exit_signal)]
            gates = [self.signals.sid(legs[j].signal) if j < len(legs) else None for j in range(self.legs)]
            rows.append("(" + ", ".join([
                str(i), _str(exp_id), _us(s.entry_delay_seconds), _us(s.max_hold_seconds),
                _us(s.max_entry_lag_seconds), _num(s.entry_dip_pct), _num(s.entry_rebound_pct),
                _us(s.wait_seconds if dip_or_reb else None),
                _num(s.stop_loss_pct), _num(s.trailing_stop_pct), _num(s.break_even_trigger_pct),
                _num(s.re_entry_retrace_pct), str(int(s.max_re_entries if s.re_entry_retrace_pct is not None else 0)),
                _num(s.re_entry_size_pct), _num(s.fee_bps), _num(s.entry_slippage), _num(s.exit_slippage),
                _num(s.notional), "TRUE" if s.exit_at_end_of_data else "FALSE", *tps, *szs,
                *(("NULL::INTEGER" if x is None else f"{x}::INTEGER") for x in [*sids, *gates]),
            ]) + ")")
        cols = ["point", "experiment_id", "delay_us", "hold_us", "lag_us", "dip", "reb", "wait_us", "sl", "trail",
                "be", "re_pct", "max_re", "re_size", "fee", "eslip", "xslip", "notional", "eod",
                *[f"tp{j}" for j in range(self.legs)], *[f"sz{j}" for j in range(self.legs)],
                "esig", "xsig", *[f"g{j}" for j in range(self.legs)]]
        return f"SELECT * FROM (VALUES {', '.join(rows)}) AS p({', '.join(cols)})"

    def _in_range(self) -> str:
        conds = []
        if self.date_from_us is not None:
            conds.append(f"alert_us >= {int(self.date_from_us)}")
        if self.date_to_us is not None:
            conds.append(f"alert_us < {int(self.date_to_us)}")
        return " AND ".join(conds) or "TRUE"

    def _windows_sql(self, a_src: str) -> str:
        """Per alert and entry rule: (token, lo_us, hi_us) with the entry time (alert + delay) and
        the end of the entry wait window (the entry time without one): the candles `pos` reads."""
        return f"""
WITH a AS (SELECT DISTINCT CAST(token_address AS VARCHAR) AS token, epoch_us(alert_ts) AS alert_us FROM {a_src})
SELECT a.token, a.alert_us + p.delay_us AS lo_us, a.alert_us + p.delay_us + coalesce(p.wait_us, 0) AS hi_us
FROM (SELECT * FROM a WHERE token IS NOT NULL AND alert_us IS NOT NULL AND {self._in_range()}) a
CROSS JOIN (SELECT DISTINCT delay_us, wait_us FROM {self.t('pts')}) p"""

    def _pos_sql(self, a_src: str) -> str:
        """One row per (point, alert): the entry (or why there is none), deadline and window end."""
        in_range = self._in_range()
        c, pts = self.t("ce"), self.t("pts")
        return f"""
WITH
eks AS MATERIALIZED (
    SELECT *, row_number() OVER (ORDER BY delay_us, hold_us NULLS FIRST, lag_us NULLS FIRST, dip NULLS FIRST,
        reb NULLS FIRST, wait_us NULLS FIRST, esig NULLS FIRST) AS ek
    FROM (SELECT DISTINCT delay_us, hold_us, lag_us, dip, reb, wait_us, esig FROM {pts})),
pk AS MATERIALIZED (
    SELECT p.point, p.experiment_id, eks.ek FROM {pts} p JOIN eks ON p.delay_us = eks.delay_us
        AND p.hold_us IS NOT DISTINCT FROM eks.hold_us AND p.lag_us IS NOT DISTINCT FROM eks.lag_us
        AND p.dip IS NOT DISTINCT FROM eks.dip AND p.reb IS NOT DISTINCT FROM eks.reb
        AND p.wait_us IS NOT DISTINCT FROM eks.wait_us AND p.esig IS NOT DISTINCT FROM eks.esig),
a AS MATERIALIZED (
    SELECT *, row_number() OVER (ORDER BY alert_id) AS aid FROM (
        SELECT DISTINCT CAST(alert_id AS VARCHAR) AS alert_id, epoch_us(alert_ts) AS alert_us,
               CAST(token_address AS VARCHAR) AS token, CAST(chain AS VARCHAR) AS chain
        FROM {a_src})),
ar AS MATERIALIZED (SELECT * FROM a WHERE {in_range} OR alert_us IS NULL),
tokens AS MATERIALIZED (SELECT token, max(ts) AS last_ts FROM {c} GROUP BY token),
p0 AS (
    SELECT ar.aid, ar.token, eks.*, ar.alert_us + eks.delay_us AS target_us
    FROM ar CROSS JOIN eks WHERE ar.alert_us IS NOT NULL AND ar.token IS NOT NULL),
ac AS (
    SELECT p0.ek, p0.aid, min(c.ts) AS ac_ts, arg_min(c.open, c.ts) AS ac_open
    FROM p0 JOIN {c} c ON c.token = p0.token AND c.ts >= p0.target_us GROUP BY p0.ek, p0.aid),
e0 AS MATERIALIZED (
    SELECT p0.*, ac.ac_ts, ac.ac_open,
        (ac.ac_ts IS NOT NULL AND (p0.lag_us IS NULL OR ac.ac_ts - p0.target_us <= p0.lag_us)) AS enters
    FROM p0 LEFT JOIN ac ON ac.ek = p0.ek AND ac.aid = p0.aid),
wr AS MATERIALIZED (
    SELECT e0.ek, e0.aid, e0.dip, e0.reb, e0.ac_open, e0.esig, c.ts, c.open, c.high, c.low,
        {self.act(self.entry_sids, "e0.esig", "TRUE", "c.")} AS ok,
        {self.act(self.entry_sids, "e0.esig", "FALSE", "c.u")} AS unready
    FROM e0 JOIN {c} c ON c.token = e0.token AND c.ts >= e0.ac_ts AND c.ts < e0.target_us + e0.wait_us
    WHERE e0.enters AND (e0.dip IS NOT NULL OR e0.reb IS NOT NULL OR e0.esig IS NOT NULL)),
arm AS (
    SELECT ek, aid,
        CASE WHEN any_value(dip) IS NULL THEN min(ts)
             ELSE min(ts) FILTER (WHERE low <= ac_open * (1 - dip / 100)) END AS arm_ts,
        arg_min(open, ts) FILTER (WHERE low <= ac_open * (1 - dip / 100)) AS arm_open,
        min(ts) FILTER (WHERE low <= ac_open * (1 - dip / 100) AND ok) AS garm_ts,
        arg_min(open, ts) FILTER (WHERE low <= ac_open * (1 - dip / 100) AND ok) AS garm_open,
        min(ts) FILTER (WHERE ok) AS sig_ts, arg_min(open, ts) FILTER (WHERE ok) AS sig_open,
        count(*) FILTER (WHERE unready) AS warmup
    FROM wr GROUP BY ek, aid),
rb AS (
    SELECT wr.ek, wr.aid, wr.ts, wr.open, wr.high, wr.reb, wr.ok, arm.arm_ts,
        (wr.dip IS NULL OR wr.ts > arm.arm_ts) AS cand,
        least(CASE WHEN wr.dip IS NULL THEN wr.ac_open ELSE wr.ac_open * (1 - wr.dip / 100) END,
              min(wr.low) OVER (PARTITION BY wr.ek, wr.aid ORDER BY wr.ts
                                RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS prior_low
    FROM wr JOIN arm ON arm.ek = wr.ek AND arm.aid = wr.aid
    WHERE wr.reb IS NOT NULL AND wr.ts >= arm.arm_ts),
rt AS (
    SELECT ek, aid, arg_min(struct_pack(ts := ts, open := open, lvl := trig), ts)
        FILTER (WHERE cand AND high >= trig AND ok) AS hit
    FROM (SELECT *, prior_low * (1 + reb / 100) AS trig FROM rb) GROUP BY ek, aid),
ent AS MATERIALIZED (
    SELECT e0.*, (tokens.token IS NOT NULL) AS token_known,
        (tokens.last_ts >= e0.target_us + e0.wait_us) AS wait_covered,
        CASE WHEN NOT e0.enters THEN NULL
             WHEN e0.reb IS NOT NULL THEN rt.hit.ts
             WHEN e0.dip IS NOT NULL THEN arm.garm_ts
             WHEN e0.esig IS NOT NULL THEN arm.sig_ts
             ELSE e0.ac_ts END AS entry_ts,
        CASE WHEN NOT e0.enters THEN NULL
             WHEN e0.reb IS NOT NULL THEN greatest(rt.hit.open, rt.hit.lvl)
             WHEN e0.dip IS NOT NULL THEN least(arm.garm_open, e0.ac_open * (1 - e0.dip / 100))
             WHEN e0.esig IS NOT NULL THEN arm.sig_open
             ELSE e0.ac_open END AS entry_px,
        CASE WHEN e0.reb IS NOT NULL THEN rt.hit.lvl
             WHEN e0.dip IS NOT NULL THEN e0.ac_open * (1 - e0.dip / 100) END AS entry_level,
        CASE WHEN e0.reb IS NOT NULL THEN rt.hit.open < rt.hit.lvl
             WHEN e0.dip IS NOT NULL THEN arm.garm_open > e0.ac_open * (1 - e0.dip / 100)
             ELSE FALSE END AS intra, coalesce(arm.warmup, 0) AS warmup
    FROM e0 LEFT JOIN arm ON arm.ek = e0.ek AND arm.aid = e0.aid
    LEFT JOIN rt ON rt.ek = e0.ek AND rt.aid = e0.aid
    LEFT JOIN tokens ON tokens.token = e0.token),
dlc AS (
    SELECT ent.ek, ent.aid, min(c.ts) AS dl_candle
    FROM ent JOIN {self.t('call')} c ON c.token = ent.token AND c.ts >= ent.entry_ts + ent.hold_us
    GROUP BY ent.ek, ent.aid)
SELECT pk.point, pk.experiment_id, pk.ek, ar.aid, ar.alert_id, ar.token, ar.chain, ar.alert_us,
    ent.target_us, ent.ac_ts, ent.entry_ts, ent.entry_px, ent.entry_level, coalesce(ent.intra, FALSE) AS intra,
    coalesce(ent.warmup, 0) AS warmup, (ent.esig IS NOT NULL) AS filtered,
    coalesce(ent.entry_ts + ent.hold_us, {_BIG}) AS deadline_us, coalesce(dlc.dl_candle, {_BIG}) AS end_us,
    CASE WHEN ar.alert_us IS NULL OR ar.token IS NULL THEN 'invalid_alert'
         WHEN ar.token NOT IN (SELECT token FROM tokens) THEN 'no_candles_for_token'
         WHEN ent.ac_ts IS NULL THEN 'no_candles_after_alert'
         WHEN NOT ent.enters THEN 'entry_lag_exceeded'
         WHEN ent.entry_ts IS NULL AND ent.wait_covered AND ent.esig IS NOT NULL THEN 'entry_signal_not_met'
         WHEN ent.entry_ts IS NULL AND ent.wait_covered THEN 'entry_not_triggered'
         WHEN ent.entry_ts IS NULL THEN 'insufficient_horizon' END AS pre_skip,
    CASE WHEN ar.alert_us IS NULL OR ar.token IS NULL THEN NULL
         WHEN ar.token NOT IN (SELECT token FROM tokens) THEN 'token ' || ar.token
         WHEN ent.ac_ts IS NOT NULL AND NOT ent.enters
             THEN 'first candle ' || ((ent.ac_ts - ent.target_us) / 1000000.0)::VARCHAR || 's after the entry time'
         WHEN ent.entry_ts IS NULL AND ent.ac_ts IS NOT NULL AND ent.wait_covered
             THEN 'no entry within ' || (ent.wait_us / 1000000.0)::VARCHAR || 's of the entry time'
                  || CASE WHEN ent.warmup > 0 THEN ' (the entry signal lacked indicator history on '
                          || ent.warmup::VARCHAR || ' candle(s) of the wait window)' ELSE '' END
         WHEN ent.entry_ts IS NULL AND ent.ac_ts IS NOT NULL
             THEN 'the data ends inside the entry wait window' END AS pre_detail
FROM ar JOIN pk ON TRUE
LEFT JOIN ent ON ent.aid = ar.aid AND ent.ek = pk.ek
LEFT JOIN dlc ON dlc.aid = ar.aid AND dlc.ek = pk.ek
"""

    def _cycle_sql(self, k: int) -> str:
        """One cycle of every open (point, position): events in one window pass, first of each."""
        c, pts, cyc, mp = self.t("c"), self.t("pts"), self.t(f"cyc{k}"), self.t(f"map{k}")
        n = self.legs
        lv = [f"w.entry_px * (1 + p.tp{j} / 100) AS l{j}" for j in range(n)]
        # leg j is reached at a candle whose high reaches its level (and, for a gated leg, where its
        # signal acts); nothing is reached at a time exit, an exit signal or an intra-candle entry
        hits = [f"(NOT blocked AND coalesce(high >= l{j}, FALSE) AND gate{j}) AS h{j}" for j in range(n)]
        leg_aggs = [f"min(ts) FILTER (WHERE h{j}) AS t{j}, arg_min(open, ts) FILTER (WHERE h{j}) AS o{j}"
                    for j in range(n)]
        xact = f"(w.ts > w.entry_ts AND {self.act(self.hold_sids, 'p.xsig', 'FALSE', 'w.')})"
        acts = "".join(f", c.act{j}" for j in self.hold_sids)
        # columns of `e` for the signals: the exit signal acting at this candle's open (not at
        # the entry candle's), and each leg's gate
        extra = [f"{xact} AS xact"] + [f"{self.act(self.hold_sids, f'p.g{j}', 'TRUE', 'w.')} AS gate{j}"
                                       for j in range(n)]
        filled = [f"(a.t{j} IS NOT NULL AND (a.x IS NULL OR a.t{j} < a.x.ts OR (a.t{j} = a.x.ts AND a.x.kind = 2 "
                  f"AND a.o{j} >= a.l{j})))" for j in range(n)]
        leg_cols = [f"CASE WHEN {filled[j]} THEN a.t{j} END AS f{j}_ts, "
                    f"CASE WHEN {filled[j]} THEN greatest(a.o{j}, a.l{j}) END AS f{j}_fill, "
                    f"CASE WHEN {filled[j]} THEN a.o{j} >= a.l{j} END AS f{j}_open, a.l{j}, a.sz{j}" for j in range(n)]
        filled_pct = " + ".join(f"CASE WHEN f{j}_ts IS NOT NULL THEN sz{j} ELSE 0 END" for j in range(n)) or "0"
        last_leg = " ".join(f"WHEN f{j}_ts IS NOT NULL THEN l{j}" for j in reversed(range(n)))
        last_leg_ts = f"greatest({', '.join(f'f{j}_ts' for j in range(n))})" if n else "NULL::BIGINT"
        return f"""
WITH
r AS (
    SELECT y.wid, y.entry_ts, y.entry_px, y.intra, c.ts, c.open, c.high, c.low, c.close{acts}
    FROM {cyc} y JOIN {c} c ON c.token = y.token AND c.ts >= y.entry_ts AND c.ts <= y.end_us),
{self._levels_sql(mp, pts, lv + extra)},
s AS (SELECT *, greatest(sl_level, trail_level, be_level) AS stop,
        (dup OR ts >= deadline_us OR first_intra OR xact) AS blocked FROM e),
x AS (
    SELECT point, pid, ts, open, close, dup, stop,
        CASE WHEN dup THEN NULL
             WHEN ts >= deadline_us THEN 0
             WHEN xact THEN 3
             WHEN NOT first_intra AND open <= stop THEN 1
             WHEN low <= stop THEN 2 END AS kind,
        CASE WHEN stop = sl_level THEN 'stop_loss' WHEN stop = be_level THEN 'break_even'
             ELSE 'trailing_stop' END AS stop_reason
        {''.join(', ' + x for x in hits)}
    FROM s),
agg AS (
    SELECT point, pid,
        arg_min(struct_pack(ts := ts, kind := kind, reason := CASE kind WHEN 0 THEN 'max_hold' WHEN 3 THEN 'exit_signal' ELSE stop_reason END,
                            fill := CASE kind WHEN 2 THEN stop ELSE open END, stop := stop), ts)
            FILTER (WHERE kind IS NOT NULL) AS x,
        {''.join(x + ', ' for x in leg_aggs)}
        max(ts) AS last_ts, arg_max(close, ts) AS last_close, count(*) FILTER (WHERE dup) AS dups
    FROM x GROUP BY point, pid),
lg AS (
    SELECT a.*, y.entry_ts, y.entry_px, y.entry_level, m.size, m.deadline_us
        {''.join(f', y.entry_px * (1 + p.tp{j} / 100) AS l{j}, p.sz{j}' for j in range(n))}
    FROM agg a JOIN {mp} m ON m.point = a.point AND m.pid = a.pid JOIN {cyc} y ON y.wid = m.wid
    JOIN {pts} p ON p.point = a.point),
f AS (
    SELECT a.point, a.pid, a.entry_ts, a.entry_px, a.entry_level, a.size, a.deadline_us,
        a.x.ts AS x_ts, a.x.kind AS x_kind, a.x.reason AS x_reason, a.x.fill AS x_fill, a.x.stop AS x_stop,
        a.last_ts, a.last_close, a.dups
        {''.join(', ' + x for x in leg_cols)}
    FROM lg a),
g AS (SELECT *, ({filled_pct}) AS filled_pct, {last_leg_ts} AS last_leg_ts FROM f)
SELECT *, {k} AS cycle,
    (filled_pct >= 100 - 1e-9) AS by_legs,
    CASE WHEN filled_pct >= 100 - 1e-9 THEN last_leg_ts ELSE x_ts END AS flat_ts,
    CASE WHEN filled_pct >= 100 - 1e-9 THEN 'take_profit' ELSE x_reason END AS flat_reason,
    {f"CASE {last_leg} END" if n else "NULL::DOUBLE"} AS last_target
FROM g
"""

    def _levels_sql(self, mp: str, pts: str, lv: list[str]) -> str:
        """CTE `e`: the rows with their stop levels. With a trailing stop among the points: one
        window pass (the highest earlier high, and a flag on the second of two duplicate rows).
        Without one, no sort: the break-even level only needs the first candle whose high reached
        the trigger (an aggregate), and identical duplicate rows give identical events, so the
        first event is the same (conflicting duplicates are found by `dup_check_sql`)."""
        legs = "".join(", " + x for x in lv)
        if self.trailing:
            prior = ("max(CASE WHEN ts > entry_ts OR NOT intra THEN high END) OVER "
                     "(win ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)")
            return f"""w AS (
    SELECT *, greatest(entry_px, {prior}) AS prior_high, coalesce(lag(ts) OVER win = ts, FALSE) AS dup
    FROM r WINDOW win AS (PARTITION BY wid ORDER BY ts)),
e AS (
    SELECT m.point, m.pid, w.ts, w.open, w.high, w.low, w.close, w.dup, m.deadline_us, w.entry_px,
        (w.ts = w.entry_ts AND w.intra) AS first_intra,
        w.entry_px * (1 - p.sl / 100) AS sl_level,
        w.prior_high * (1 - p.trail / 100) AS trail_level,
        CASE WHEN w.prior_high >= w.entry_px * (1 + p.be / 100) THEN w.entry_px END AS be_level
        {legs}
    FROM w JOIN {mp} m ON m.wid = w.wid JOIN {pts} p ON p.point = m.point)"""
        be = ""
        be_join = ""
        be_level = "NULL::DOUBLE"
        if self.break_even:
            be = f"""bt AS (
    SELECT m.point, m.pid, min(r.ts) FILTER (WHERE (r.ts > r.entry_ts OR NOT r.intra)
        AND r.high >= r.entry_px * (1 + p.be / 100)) AS be_ts
    FROM r JOIN {mp} m ON m.wid = r.wid JOIN {pts} p ON p.point = m.point GROUP BY m.point, m.pid),
"""
            be_join = "LEFT JOIN bt ON bt.point = m.point AND bt.pid = m.pid"
            be_level = "CASE WHEN w.ts > bt.be_ts THEN w.entry_px END"
        return f"""{be}e AS (
    SELECT m.point, m.pid, w.ts, w.open, w.high, w.low, w.close, FALSE AS dup, m.deadline_us, w.entry_px,
        (w.ts = w.entry_ts AND w.intra) AS first_intra,
        w.entry_px * (1 - p.sl / 100) AS sl_level,
        NULL::DOUBLE AS trail_level,
        {be_level} AS be_level
        {legs}
    FROM r w JOIN {mp} m ON m.wid = w.wid JOIN {pts} p ON p.point = m.point {be_join})"""

    def _dup_check_sql(self) -> str:
        """Duplicate rows inside the first cycle's windows (later cycles' windows lie inside them)."""
        c, cyc = self.t("c"), self.t("cyc0")
        return f"""
SELECT count(*) FROM (
    SELECT lag(c.ts) OVER (PARTITION BY y.wid ORDER BY c.ts) = c.ts AS d
    FROM {cyc} y JOIN {c} c ON c.token = y.token AND c.ts >= y.entry_ts AND c.ts <= y.end_us)
WHERE d"""

    def _re_entry_sql(self, k: int) -> str:
        """The cycle-k entries: the first candle after a flat exit of cycle k-1 whose low reaches the
        re-entry level (stop exit: the cycle's entry price; last leg: its target) × (1 − retrace)."""
        c, pts, res, pos = self.t("c"), self.t("pts"), self.t(f"res{k - 1}"), self.t("pos")
        return f"""
WITH q AS (
    SELECT r.point, r.pid, r.flat_ts, pos.token, pos.deadline_us, pos.end_us,
        CASE WHEN r.by_legs THEN r.last_target ELSE r.entry_px END * (1 - p.re_pct / 100) AS lvl
    FROM {res} r JOIN {pts} p ON p.point = r.point JOIN {pos} pos ON pos.point = r.point AND pos.aid = r.pid
    WHERE p.re_pct IS NOT NULL AND p.max_re >= {k} AND r.flat_ts IS NOT NULL
        AND (r.by_legs OR r.x_kind NOT IN (0, 3))),
h AS (
    SELECT q.point, q.pid, any_value(q.token) AS token, any_value(q.end_us) AS end_us, any_value(q.lvl) AS lvl,
        min(c.ts) AS ts, arg_min(c.open, c.ts) AS open
    FROM q JOIN {c} c ON c.token = q.token AND c.ts > q.flat_ts AND c.ts < q.deadline_us AND c.low <= q.lvl
    GROUP BY q.point, q.pid)
SELECT point * {_SHIFT} + pid AS wid, point, pid, token, ts AS entry_ts, least(open, lvl) AS entry_px,
    lvl AS entry_level, open > lvl AS intra, end_us
FROM h
"""

    # -- results ---------------------------------------------------------------------------------

    def fetch(self, con):
        """(one row per (point, alert) with the trade or the skip, the fills)."""
        res = " UNION ALL ".join(f"SELECT * FROM {self.t(f'res{k}')}" for k in range(self.done_cycles))
        n = self.legs
        pos, pts = self.t("pos"), self.t("pts")
        legs = "".join(f"""
    UNION ALL SELECT r.point, r.pid, r.cycle, r.f{j}_ts, CASE WHEN r.f{j}_open THEN 1 ELSE 3 END, {j}, 'sell',
        'take_profit', r.l{j}, r.f{j}_fill * (1 - p.xslip / 10000), q.qty * (r.sz{j} / 100)
    FROM res r JOIN buys q ON q.point = r.point AND q.pid = r.pid AND q.cycle = r.cycle
    JOIN {pts} p ON p.point = r.point WHERE r.f{j}_ts IS NOT NULL""" for j in range(n))
        self._create(con, "TABLE", "fills", f"""
WITH
res AS MATERIALIZED ({res}),
op AS (SELECT point, pid, bool_or(flat_ts IS NULL) AS open_end FROM res GROUP BY point, pid),
buys AS MATERIALIZED (
    SELECT r.point, r.pid, r.cycle, r.entry_ts AS ts, r.entry_level AS level,
        r.entry_px * (1 + p.eslip / 10000) AS price, r.size * p.notional AS notional_f,
        (r.size * p.notional) / (r.entry_px * (1 + p.eslip / 10000)) AS qty
    FROM res r JOIN {pts} p ON p.point = r.point),
sells AS (
    SELECT r.point, r.pid, r.cycle, r.x_ts AS ts, CASE r.x_kind WHEN 2 THEN 2 ELSE 1 END AS rnk, NULL::INTEGER AS leg,
        'sell' AS side, r.x_reason AS reason, CASE WHEN r.x_kind IN (0, 3) THEN NULL ELSE r.x_stop END AS level,
        r.x_fill * (1 - p.xslip / 10000) AS price, q.qty * ((100 - r.filled_pct) / 100) AS qty
    FROM res r JOIN buys q ON q.point = r.point AND q.pid = r.pid AND q.cycle = r.cycle
    JOIN {pts} p ON p.point = r.point WHERE NOT r.by_legs AND r.x_ts IS NOT NULL
    UNION ALL
    SELECT r.point, r.pid, r.cycle, r.last_ts + {int(self.step_us)}, 4, NULL, 'sell', 'end_of_data', NULL,
        r.last_close * (1 - p.xslip / 10000), q.qty * ((100 - r.filled_pct) / 100)
    FROM res r JOIN buys q ON q.point = r.point AND q.pid = r.pid AND q.cycle = r.cycle
    JOIN {pts} p ON p.point = r.point WHERE r.flat_ts IS NULL AND p.eod
    {legs}),
allf AS (
    SELECT point, pid, cycle, ts, 0 AS rnk, NULL::INTEGER AS leg, 'buy' AS side,
        CASE WHEN cycle = 0 THEN 'entry' ELSE 're_entry' END AS reason, level, price, qty, notional_f AS notional
    FROM buys
    UNION ALL
    SELECT point, pid, cycle, ts, rnk, leg, side, reason, level, price, qty, qty * price AS notional FROM sells)
SELECT allf.*, allf.notional * (p.fee / 10000) AS fee_paid,
    row_number() OVER (PARTITION BY allf.point, allf.pid ORDER BY allf.ts, allf.cycle, allf.rnk, allf.leg) - 1 AS fill_seq
FROM allf JOIN {pts} p ON p.point = allf.point
JOIN op ON op.point = allf.point AND op.pid = allf.pid
WHERE NOT op.open_end OR p.eod
""")
        table = con.sql(f"""
WITH
res AS ({res}),
op AS (SELECT point, pid, bool_or(flat_ts IS NULL) AS open_end FROM res GROUP BY point, pid),
tr AS (
    SELECT point, pid, min(ts) FILTER (WHERE side = 'buy') AS entry_us, max(ts) AS exit_us,
        count(*) FILTER (WHERE side = 'buy') AS n_buys, count(*) FILTER (WHERE side = 'sell') AS n_sells,
        arg_min(price, fill_seq) AS first_price,
        sum(notional) FILTER (WHERE side = 'buy') AS buy_notional, sum(qty) FILTER (WHERE side = 'buy') AS buy_qty,
        arg_max(price, fill_seq) AS last_price, arg_max(reason, fill_seq) AS exit_reason,
        sum(qty * price) FILTER (WHERE side = 'sell') AS sell_value, sum(qty) FILTER (WHERE side = 'sell') AS sell_qty,
        sum((qty * price) * (1 - fee / 10000)) FILTER (WHERE side = 'sell') AS proceeds,
        sum(notional * (1 + fee / 10000)) FILTER (WHERE side = 'buy') AS cost,
        any_value(notional0) AS notional0
    FROM (SELECT f.*, p.fee, p.notional AS notional0 FROM {self.t('fills')} f JOIN {pts} p ON p.point = f.point)
    GROUP BY point, pid)
SELECT pos.point, pos.experiment_id, pos.alert_id, pos.token, pos.chain, pos.alert_us,
    CASE WHEN pos.pre_skip IS NOT NULL THEN pos.pre_skip
         WHEN tr.pid IS NULL THEN 'insufficient_horizon' END AS skip_reason,
    pos.pre_detail AS skip_detail, pos.warmup, pos.filtered,
    tr.entry_us, tr.exit_us, tr.exit_reason,
    CASE WHEN tr.n_buys = 1 THEN tr.first_price ELSE tr.buy_notional / tr.buy_qty END AS entry_price,
    CASE WHEN tr.n_sells = 1 THEN tr.last_price ELSE tr.sell_value / tr.sell_qty END AS exit_price,
    tr.proceeds - tr.cost AS pnl, (tr.proceeds - tr.cost) / tr.notional0 AS pnl_pct,
    (tr.exit_us - tr.entry_us) // 1000 AS duration_ms,
    substr(sha256(pos.experiment_id || '|' || pos.alert_id), 1, 32) AS trade_id
FROM {pos} pos LEFT JOIN tr ON tr.point = pos.point AND tr.pid = pos.aid
ORDER BY pos.point, pos.alert_id
""").to_arrow_table()
        fills = con.sql(f"""
SELECT f.point, pos.experiment_id, pos.alert_id, substr(sha256(pos.experiment_id || '|' || pos.alert_id), 1, 32) AS trade_id,
    f.fill_seq, f.cycle, f.side, f.reason, f.leg, f.ts, f.level, f.price, f.qty, f.notional, f.fee_paid AS fee
FROM {self.t('fills')} f JOIN {pos} pos ON pos.point = f.point AND pos.aid = f.pid
ORDER BY f.point, pos.alert_id, f.fill_seq
""").to_arrow_table()
        return table, fills


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------

def _split(table, fills, strategies: Mapping[str, Strategy], con, a_src: str,
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
        reasons: dict[str, int] = {}
        for r in skipped_t.column("reason").to_pylist():
            reasons[r] = reasons.get(r, 0) + 1
        stats = {"alerts_in_range": part.num_rows, "alerts_outside_range": outside,
                 "trades": trades.num_rows, "skipped": skipped_t.num_rows,
                 **{f"skipped_{k}": v for k, v in sorted(reasons.items())}}
        if strategy.entry_signal is not None:
            # candles of the entry wait windows at whose open the entry signal lacked indicator
            # history (counted false), and the alerts that had any
            warm = part.column("warmup")
            stats["entry_signal_warmup_candles"] = int(pc.sum(warm).as_py() or 0)
            stats["entry_signal_warmup_alerts"] = int(pc.sum(pc.greater(warm, 0).cast("int64")).as_py() or 0)
        fp = fills.filter(pc.equal(fills.column("point"), i))
        out[exp_id] = BacktestResult(exp_id, strategy, trades, skipped_t, stats, fills=_fills_table(fp))
    return out


def _trades_table(t, exp_id: str):
    import pyarrow as pa
    import pyarrow.compute as pc

    ts_type = pa.timestamp("us", tz="UTC")
    return pa.table({
        "experiment_id": pa.array([exp_id] * t.num_rows, pa.string()),
        "alert_id": t.column("alert_id"),
        "trade_id": t.column("trade_id"),
        "token": t.column("token"),
        "chain": t.column("chain"),
        "entry_ts": pc.cast(t.column("entry_us"), ts_type),
        "exit_ts": pc.cast(t.column("exit_us"), ts_type),
        "entry_price": t.column("entry_price"),
        "exit_price": t.column("exit_price"),
        "pnl": t.column("pnl"),
        "pnl_pct": t.column("pnl_pct"),
        "duration_ms": t.column("duration_ms"),
        "exit_reason": t.column("exit_reason"),
    })


def _fills_table(f):
    import pyarrow as pa
    import pyarrow.compute as pc

    ts_type = pa.timestamp("us", tz="UTC")
    return pa.table({
        "experiment_id": f.column("experiment_id"),
        "alert_id": f.column("alert_id"),
        "trade_id": f.column("trade_id"),
        "fill_seq": pc.cast(f.column("fill_seq"), pa.int64()),
        "cycle": pc.cast(f.column("cycle"), pa.int64()),
        "side": f.column("side"),
        "reason": f.column("reason"),
        "leg": pc.cast(f.column("leg"), pa.int64()),
        "ts": pc.cast(f.column("ts"), ts_type),
        "level": f.column("level"),
        "price": f.column("price"),
        "qty": f.column("qty"),
        "notional": f.column("notional"),
        "fee": f.column("fee"),
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
