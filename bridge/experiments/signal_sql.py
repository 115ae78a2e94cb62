"""Signals compiled to one DuckDB SELECT over the indicator table (window functions).

`signals_sql(ind, signals)` gives, per (token, ts) of the indicator relation `ind`, for signal j:

- `s{j}`: the signal at the close of this candle (false where a condition lacks history);
- `u{j}`: some condition of the signal lacked history at this candle (warm-up);
- `act{j}`: the signal acting at this candle's open, i.e. `s{j}` of the token's previous candle
  (false on a token's first candle), and `uact{j}` its warm-up flag (true on the first candle).

Rules (docs/signals.md): comparisons are SQL comparisons of doubles; a
comparison with a null operand is false and marks the candle as warm-up; `crosses_above` at t is
`lhs[t] > rhs[t] AND lhs[t-1] <= rhs[t-1]` (`crosses_below` mirrored), t-1 being the token's
previous candle; with `lookbackBars` N / `minBarsTrue` M a condition holds at t when its
comparison held on at least M of the candles t-N+1..t of the token (fewer at the start of the
data). Identical conditions are computed once. One window pass computes everything (lags for
crosses and for "at the previous candle", window sums for lookbacks); only a cross counted over
a lookback adds a pass before it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.experiments.signals import SignalCondition, SignalGroup, column_name, condition_operands

__all__ = ["SignalPlan", "prepare_signals", "signal_depth", "signals_sql"]

_CMP = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "==": "=", "!=": "<>"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _operand(op) -> str:
    spec, fld = op
    return _q(column_name(spec, fld))


def _lag(x: str, o: int) -> str:
    return x if o == 0 else f"lag({x}, {o}) OVER w"


def _cmp_at(c: SignalCondition, lhs: str, rhs: str, const: bool, o: int) -> tuple[str, list[str]]:
    """(comparison, operands read) of one condition at candle t - o, in terms of lags."""
    r = (lambda k: rhs) if const else (lambda k: _lag(rhs, k))
    if c.operator in _CMP:
        ops = [_lag(lhs, o)] + ([] if const else [r(o)])
        return f"{_lag(lhs, o)} {_CMP[c.operator]} {r(o)}", ops
    now, before = (">", "<=") if c.operator == "crosses_above" else ("<", ">=")
    ops = [_lag(lhs, o), _lag(lhs, o + 1)] + ([] if const else [r(o), r(o + 1)])
    return f"{_lag(lhs, o)} {now} {r(o)} AND {_lag(lhs, o + 1)} {before} {r(o + 1)}", ops


def _condition_cols(k: int, c: SignalCondition) -> tuple[list[str], list[str]]:
    """(pre-level columns, window-level columns h{k}, p{k}, ok{k}, pok{k}) of one condition:
    h = holds at this candle's close, p = held at the previous candle's close (acts at this
    open), ok/pok = its operands had values (no warm-up) at this / the previous candle."""
    lhs_op, rhs_op = condition_operands(c)
    lhs = _operand(lhs_op)
    const = rhs_op is None
    rhs = f"{float(c.value)!r}::DOUBLE" if const else _operand(rhs_op)
    n, m = c.lookback_bars or 1, c.min_bars_true or 1
    pre: list[str] = []
    (e0, ops0), (e1, ops1) = _cmp_at(c, lhs, rhs, const, 0), _cmp_at(c, lhs, rhs, const, 1)
    cols = [f"({' AND '.join(f'{x} IS NOT NULL' for x in ops0)}) AS ok{k}",
            f"({' AND '.join(f'{x} IS NOT NULL' for x in ops1)}) AS pok{k}"]
    if n == 1:
        cols += [f"coalesce({e0}, false) AS h{k}", f"coalesce({e1}, false) AS p{k}"]
        return pre, cols
    if c.operator in _CMP:
        counted = f"coalesce({e0}, false)::INTEGER"  # a row-wise expression: one window level
    else:
        pre.append(f"coalesce({e0}, false)::INTEGER AS r{k}")  # a cross reads lag: counted a level later
        counted = f"r{k}"
    cols += [f"coalesce(sum({counted}) OVER (w ROWS BETWEEN {n - 1} PRECEDING AND CURRENT ROW), 0) >= {m} AS h{k}",
             f"coalesce(sum({counted}) OVER (w ROWS BETWEEN {n} PRECEDING AND 1 PRECEDING), 0) >= {m} AS p{k}"]
    return pre, cols


def _key(c: SignalCondition) -> str:
    import msgspec

    return msgspec.json.encode(c).decode()


def signals_sql(ind: str, signals: Sequence[SignalGroup], carry: Sequence[str] = (), part: str = "token") -> str:
    """One SELECT: token, ts, the `carry` columns, s{j}, u{j}, act{j}, uact{j} for every signal j
    (see module doc). `ind`: a relation name or parenthesised SELECT with token, ts, `part` and the
    indicator columns; "the previous candle" is the previous row of the same `part` value (the
    token, or a run of consecutive candles of one token)."""
    conds: dict[str, tuple[int, SignalCondition]] = {}

    def collect(g: SignalGroup) -> None:
        for c in g.conditions:
            conds.setdefault(_key(c), (len(conds), c))
        for sub in g.groups:
            collect(sub)

    for g in signals:
        collect(g)
    pre_cols, win_cols = [], []
    for k, c in conds.values():
        pre, cols = _condition_cols(k, c)
        pre_cols += pre
        win_cols += cols

    def expr(g: SignalGroup, pre: str) -> str:
        parts = [f"{pre}{conds[_key(c)][0]}" for c in g.conditions] + [expr(sub, pre) for sub in g.groups]
        return "(" + f" {g.logic} ".join(parts) + ")"

    def unready(g: SignalGroup, pre: str) -> list[str]:
        out = [f"NOT {pre}{conds[_key(c)][0]}" for c in g.conditions]
        for sub in g.groups:
            out += unready(sub, pre)
        return out

    sig_cols = []
    for j, g in enumerate(signals):
        sig_cols += [f"{expr(g, 'h')} AS s{j}", f"({' OR '.join(dict.fromkeys(unready(g, 'ok')))}) AS u{j}"]
    for j, g in enumerate(signals):
        sig_cols += [f"{expr(g, 'p')} AS act{j}", f"({' OR '.join(dict.fromkeys(unready(g, 'pok')))}) AS uact{j}"]
    win = f"WINDOW w AS (PARTITION BY {_q(part)} ORDER BY ts)"
    # One window pass (comparisons with lag for crosses and the candle before, lookback counts as
    # window sums); a cross counted over a lookback needs its own pass before (l0).
    src = ind
    head = ""
    if pre_cols:
        head = f"l0 AS (SELECT *, {', '.join(pre_cols)} FROM {ind} {win}), "
        src = "l0"
    kept = "".join(f"{_q(k)}, " for k in carry)
    l1 = f"SELECT token, ts, {kept}{', '.join(win_cols)} FROM {src} {win}"
    return f"WITH {head}l1 AS ({l1}) SELECT token, ts, {kept}{', '.join(sig_cols)} FROM l1"


def signal_depth(signals: Sequence[SignalGroup]) -> int:
    """How many earlier candles the acting flag of a candle reads (at least 1: the candle before):
    a comparison at the previous candle reads 1, a cross 2 (it also reads the candle before that),
    and `lookbackBars` N counts N of them, so N (comparison) or N + 1 (cross)."""
    depth = 1

    def walk(g: SignalGroup) -> None:
        nonlocal depth
        for c in g.conditions:
            n = c.lookback_bars or 1
            depth = max(depth, n + (0 if c.operator in _CMP else 1))
        for sub in g.groups:
            walk(sub)

    for g in signals:
        walk(g)
    return depth


class SignalPlan:
    """The distinct signals of a run (entry, exit and leg signals of every point), numbered.
    `prepare_signals` materialises them once per run; `sid(group)` is a signal's number."""

    def __init__(self, groups) -> None:
        import msgspec

        self.signals: list[SignalGroup] = []
        self._index: dict[bytes, int] = {}
        for g in groups:
            if g is None:
                continue
            k = msgspec.json.encode(g)
            if k not in self._index:
                self._index[k] = len(self.signals)
                self.signals.append(g)

    def sid(self, g: SignalGroup | None) -> int | None:
        import msgspec

        return None if g is None else self._index[msgspec.json.encode(g)]

    def __len__(self) -> int:
        return len(self.signals)


def prepare_signals(con, candles: str, plan: SignalPlan, *, tokens: str | None = None,
                    windows: str | None = None, through_hi: bool = False, only: Sequence[int] | None = None,
                    wide: str = "sig_wide", carry: Sequence[str] = ()) -> dict[str, float]:
    """Compute the indicators every signal of `plan` reads (each distinct one once per token) and
    create the temp table `wide`: one row per candle (deduplicated), token, ts, the `carry` candle
    columns, and act{j}, uact{j} for every signal j (acting at this candle's open; lacking history).
    `candles`: a relation with token, ts (BIGINT µs), open, high, low, close, volume.

    With `windows` (a SELECT of token, lo_us, hi_us: see `indicators.indicator_table`), the table
    holds only the candles of the windows (each from its token's first candle at or after lo_us
    through its first candle at or after hi_us; a token's last candle when it has none at or after
    lo_us), with the acting flags those candles have in the token's whole series: the indicators
    are computed from each token's first candle, and the window pass also reads the
    `signal_depth` candles before each window, so every lag and lookback the flags read is there.
    `through_hi`: windows end at their last candle at or before hi_us. `only`: the signal numbers to compute (default: all). Returns timings in seconds
    (indicators, signals)."""
    import time

    from bridge.experiments.indicators import indicator_table
    from bridge.experiments.signals import signal_indicators

    t0 = time.perf_counter()
    sids = list(range(len(plan))) if only is None else list(only)
    signals = [plan.signals[j] for j in sids]
    cols = set()
    for g in signals:
        cols |= signal_indicators(g)
    ind = indicator_table(con, candles, cols, tokens=tokens, windows=windows, depth=signal_depth(signals),
                          through_hi=through_hi, prices=tuple(carry))
    t1 = time.perf_counter()
    name = f"_ind_{id(ind)}"
    con.register(name, ind)
    try:
        sel = ", ".join(f"act{i} AS act{j}, uact{i} AS uact{j}" for i, j in enumerate(sids))
        kept = "".join(f"{_q(k)}, " for k in carry)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {wide} AS SELECT CAST(token AS VARCHAR) AS token, ts, {kept}{sel} "
                    f"FROM ({signals_sql(name, signals, (*carry, 'core'), part='seg')}) WHERE core")
    finally:
        con.unregister(name)
    return {"indicators_s": t1 - t0, "signals_s": time.perf_counter() - t1}
