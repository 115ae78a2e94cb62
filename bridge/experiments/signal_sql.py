"""Signals compiled to one DuckDB SELECT over the indicator table (window functions).

`signals_sql(ind, signals)` gives, per (token, ts) of the indicator relation `ind`, for signal j:

- `s{j}`: the signal at the close of this candle (false where a condition lacks history);
- `u{j}`: some condition of the signal lacked history at this candle (warm-up);
- `act{j}`: the signal acting at this candle's open, i.e. `s{j}` of the token's previous candle
  (false on a token's first candle), and `uact{j}` its warm-up flag (true on the first candle).

Rules (docs/experiments.md, "Signals"): comparisons are SQL comparisons of doubles; a
comparison with a null operand is false and marks the candle as warm-up; `crosses_above` at t is
`lhs[t] > rhs[t] AND lhs[t-1] <= rhs[t-1]` (`crosses_below` mirrored), t-1 being the token's
previous candle; with `lookbackBars` N / `minBarsTrue` M a condition holds at t when its
comparison held on at least M of the candles t-N+1..t of the token (fewer at the start of the
data). Identical conditions are computed once.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.experiments.signals import SignalCondition, SignalGroup, column_name, condition_operands

__all__ = ["signals_sql"]

_CMP = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "==": "=", "!=": "<>"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _operand(op) -> str:
    spec, fld = op
    return _q(column_name(spec, fld))


def _raw(c: SignalCondition) -> tuple[str, str]:
    """(comparison, ready) expressions of one condition at the current candle."""
    lhs_op, rhs_op = condition_operands(c)
    lhs = _operand(lhs_op)
    rhs = _operand(rhs_op) if rhs_op is not None else f"{float(c.value)!r}::DOUBLE"
    operands = [lhs] + ([rhs] if rhs_op is not None else [])
    if c.operator in _CMP:
        cmp = f"coalesce({lhs} {_CMP[c.operator]} {rhs}, false)"
        ready = " AND ".join(f"{x} IS NOT NULL" for x in operands)
        return cmp, ready
    plhs = f"lag({lhs}) OVER w"
    prhs = f"lag({rhs}) OVER w" if rhs_op is not None else rhs
    now, before = (">", "<=") if c.operator == "crosses_above" else ("<", ">=")
    cmp = f"coalesce({lhs} {now} {rhs} AND {plhs} {before} {prhs}, false)"
    prev = [plhs] + ([prhs] if rhs_op is not None else [])
    ready = " AND ".join(f"{x} IS NOT NULL" for x in operands + prev)
    return cmp, ready


def _key(c: SignalCondition) -> str:
    import msgspec

    return msgspec.json.encode(c).decode()


def signals_sql(ind: str, signals: Sequence[SignalGroup]) -> str:
    """One SELECT: token, ts, s{j}, u{j}, act{j}, uact{j} for every signal j (see module doc).
    `ind`: a relation name or parenthesised SELECT with token, ts and the indicator columns."""
    conds: dict[str, tuple[int, SignalCondition]] = {}

    def collect(g: SignalGroup) -> None:
        for c in g.conditions:
            conds.setdefault(_key(c), (len(conds), c))
        for sub in g.groups:
            collect(sub)

    for g in signals:
        collect(g)
    raw_cols, ready_cols, held_cols = [], [], []
    for k, c in conds.values():
        cmp, ready = _raw(c)
        raw_cols.append(f"{cmp} AS r{k}")
        ready_cols.append(f"({ready}) AS ok{k}")
        n, m = c.lookback_bars or 1, c.min_bars_true or 1
        if n == 1:
            held_cols.append(f"r{k} AS h{k}")
        else:
            held_cols.append(f"(sum(r{k}::INTEGER) OVER (w ROWS BETWEEN {n - 1} PRECEDING AND CURRENT ROW)) >= {m} AS h{k}")

    def expr(g: SignalGroup) -> str:
        parts = [f"h{conds[_key(c)][0]}" for c in g.conditions] + [expr(sub) for sub in g.groups]
        return "(" + f" {g.logic} ".join(parts) + ")"

    def unready(g: SignalGroup) -> list[str]:
        out = [f"NOT ok{conds[_key(c)][0]}" for c in g.conditions]
        for sub in g.groups:
            out += unready(sub)
        return out

    sig_cols, act_cols = [], []
    for j, g in enumerate(signals):
        sig_cols.append(f"{expr(g)} AS s{j}")
        sig_cols.append(f"({' OR '.join(dict.fromkeys(unready(g)))}) AS u{j}")
        act_cols.append(f"coalesce(lag(s{j}) OVER w, false) AS act{j}")
        act_cols.append(f"coalesce(lag(u{j}) OVER w, true) AS uact{j}")
    win = "WINDOW w AS (PARTITION BY token ORDER BY ts)"
    l1 = f"SELECT token, ts, {', '.join(raw_cols + ready_cols)} FROM {ind} {win}"
    l2 = f"SELECT token, ts, {', '.join(held_cols)}, {', '.join(f'ok{k}' for k, _ in conds.values())} FROM l1 {win}"
    l3 = f"SELECT token, ts, {', '.join(sig_cols)} FROM l2"
    return (f"WITH l1 AS ({l1}), l2 AS ({l2}), l3 AS ({l3}) "
            f"SELECT token, ts, {', '.join(f's{j}, u{j}' for j in range(len(signals)))}, {', '.join(act_cols)} "
            f"FROM l3 {win}")
