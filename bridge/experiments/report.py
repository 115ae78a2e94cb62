"""A self-contained HTML report of one experiment run: no scripts, no external resources.

Sections: summary and strategy (with its profit-target ladder), metrics table, equity curve and
drawdown (inline SVG), trade list (the first MAX_TRADES rows, in entry order), fills: counts by
reason and a per-trade timeline of fills (the first MAX_TIMELINES trades), price charts of the
first MAX_CHARTS trades (candle closes around the trade, every fill marked, and the indicators the
strategy's signals read: price-scaled ones over the price, oscillators in a panel below), skipped
alerts by reason, and the lineage of the run's frozen inputs and published outputs (ids, types, logical
keys, content hashes).
"""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["render_report", "write_report", "MAX_TRADES", "MAX_TIMELINES", "MAX_CHARTS"]

MAX_TRADES = 1000
MAX_TIMELINES = 200
MAX_CHARTS = 12
_CONTEXT = 30  # candles shown before the entry and after the exit
_W, _H, _PAD = 860, 220, 48

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:960px;color:#1d2330}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #dde;padding-bottom:4px}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{padding:3px 8px;border-bottom:1px solid #eef;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums} .muted{color:#667} code{font-size:12px}
.bad{color:#b3261e} .good{color:#1b7f3b} svg{background:#fafbff;border:1px solid #e4e6f0}
"""


def write_report(store, run, path: Any) -> Path:
    """Render and write the report of `run` (an ExperimentResult); returns the absolute path."""
    from bridge.experiments.report_sections import write_html

    return write_html(render_report(store, run), path)


def render_report(store, run) -> str:
    o = run.outputs
    tables = {k: (store.read_table(aid) if aid else None)
              for k, aid in (("trades", o.trades), ("metrics", o.metrics), ("equity", o.curves),
                             ("diagnostics", o.diagnostics), ("fills", o.fills))}
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(run.name)} · {_e(run.experiment_id)}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{_e(run.name)}</h1><div class=muted>experiment <code>{_e(run.experiment_id)}</code> · run "
             f"<code>{_e(run.run_id)}</code> · status <b>{_e(run.status)}</b> · started {_e(run.execution.started_at)} · "
             f"{_e(_fmt(run.execution.duration))} ms</div>"]
    if run.execution.error:
        parts.append(f"<p class=bad>error ({_e(run.execution.error_type)}): {_e(run.execution.error)}</p>")
    diags = tables["diagnostics"].to_pylist() if tables["diagnostics"] is not None else []
    strategy = next((r["detail"] for r in diags if r["reason"] == "strategy"), None)
    if strategy:
        parts.append("<h2>Strategy</h2>" + _strategy(json.loads(strategy)))
    if tables["metrics"] is not None:
        parts.append("<h2>Metrics</h2>" + _metrics_table(tables["metrics"].to_pylist()))
    initial = json.loads(strategy).get("initialCapital") if strategy else None
    portfolio = next((json.loads(r["detail"]) for r in diags if r["reason"] == "portfolio"), None)
    if portfolio:  # portfolio mode: the account's capital, a mark-to-market curve
        initial = portfolio.get("initialCapital", initial)
        parts.append("<h2>Portfolio</h2>" + _kv_table(portfolio))
    if tables["equity"] is not None:
        from bridge.experiments.report_sections import downsample

        title = "Mark-to-market equity and drawdown" if portfolio else "Equity and drawdown"
        parts.append(f"<h2>{title}</h2>" + _equity_svg(downsample(tables["equity"].to_pylist()), initial))
    from bridge.experiments.report_sections import run_sections

    parts.extend(run_sections(tables["equity"], store.read_table(o.breakdown) if o.breakdown else None, initial))
    if tables["trades"] is not None:
        parts.append(_trades_table(tables["trades"].to_pylist()))
    if tables["fills"] is not None:
        parts.append(_fills(tables["fills"].to_pylist(), tables["trades"].to_pylist() if tables["trades"] else []))
    if tables["trades"] is not None and tables["trades"].num_rows:
        parts.append(_trade_charts(store, run, tables["trades"].to_pylist(),
                                   tables["fills"].to_pylist() if tables["fills"] is not None else [],
                                   json.loads(strategy) if strategy else {}))
    if diags:
        parts.append(_diagnostics(diags))
    parts.append(_lineage(store, run))
    parts.append("</body></html>")
    return "\n".join(parts)


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _fmt(v: Any, digits: int = 6) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _kv_table(d: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt(v))}</td></tr>" for k, v in d.items())
    return f"<table>{rows}</table>"


def _strategy(d: dict[str, Any]) -> str:
    ladder = d.get("ladder")
    if ladder is None and d.get("takeProfitPct") is not None:
        ladder = [{"takeProfitPct": d["takeProfitPct"], "sizePct": 100.0}]
    out = _kv_table({k: v for k, v in d.items() if k != "ladder"})
    if ladder:
        rows = "".join(f"<tr><td class=n>{i}</td><td class=n>{_e(_fmt(1 + leg['takeProfitPct'] / 100))}×</td>"
                       f"<td class=n>+{_e(_fmt(leg['takeProfitPct']))} %</td><td class=n>{_e(_fmt(leg['sizePct']))} %</td></tr>"
                       for i, leg in enumerate(ladder))
        rest = 100 - sum(leg["sizePct"] for leg in ladder)
        note = (f"<p class=muted>{rest:g} % of each position is left for the stop, the time exit or the end of the "
                "data</p>" if rest > 1e-9 else "")
        out += ("<h3>Profit-target ladder</h3><table><tr><th>leg</th><th>target</th><th>gain</th>"
                f"<th>size (of the position)</th></tr>{rows}</table>{note}")
    return out


def _fills(fills: list[dict], trades: list[dict]) -> str:
    counts = Counter((f["side"], f["reason"]) for f in fills)
    body = "".join(f"<tr><td>{_e(side)}</td><td>{_e(reason)}</td><td class=n>{n}</td></tr>"
                   for (side, reason), n in sorted(counts.items()))
    out = (f"<h2>Fills ({len(fills)})</h2><table><tr><th>side</th><th>reason</th><th>fills</th></tr>{body}</table>")
    by_trade: dict[str, list[dict]] = {}
    for f in fills:
        by_trade.setdefault(f["trade_id"], []).append(f)
    order = [t["trade_id"] for t in sorted(trades, key=lambda t: (t["entry_ts"], t["trade_id"]))]
    rows = []
    for tid in order[:MAX_TIMELINES]:
        fs = sorted(by_trade.get(tid, []), key=lambda f: f["fill_seq"])
        if not fs:
            continue
        t0 = fs[0]["ts"]
        steps = " → ".join(
            f"<span class={'good' if f['side'] == 'sell' and f['price'] >= fs[0]['price'] else 'bad' if f['side'] == 'sell' else 'muted'}>"
            f"+{_e(_dur((f['ts'] - t0).total_seconds()))} {_e(f['side'])} {_e(f['reason'])}"
            f"{'' if f['leg'] is None else ' #' + str(f['leg'])} {_e(_fmt(f['qty'], 4))} @ {_e(_fmt(f['price'], 6))}</span>"
            for f in fs)
        rows.append(f"<tr><td><code>{_e(fs[0]['alert_id'])}</code><br><span class=muted>{_e(t0.isoformat())}</span></td>"
                    f"<td>{steps}</td></tr>")
    more = (f"<p class=muted>timelines of the first {MAX_TIMELINES} of {len(order)} trades; every fill is in the "
            "fills artifact</p>" if len(order) > MAX_TIMELINES else "")
    return out + (f"<h3>Fills per trade</h3>{more}<table><tr><th>trade</th><th>fills (time after entry, side, "
                  f"reason, leg, quantity @ price)</th></tr>{''.join(rows)}</table>" if rows else "")


def _dur(seconds: float) -> str:
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if s % 60 else f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _metrics_table(rows: list[dict]) -> str:
    body = "".join(f"<tr><td>{_e(r['metric_name'])}</td><td class=n>{_e(_fmt(r['metric_value']))}</td>"
                   f"<td class=muted>{_e(r['metric_unit'])}</td></tr>" for r in rows)
    return f"<table><tr><th>metric</th><th>value</th><th>unit</th></tr>{body}</table>"


def _equity_svg(rows: list[dict], initial: float | None) -> str:
    if not rows:
        return "<p class=muted>no trades, no equity curve</p>"
    ts = [r["ts"].timestamp() for r in rows]
    eq = [r["equity"] for r in rows]
    dd = [r["drawdown_pct"] for r in rows]
    if initial is not None:
        ts, eq, dd = [ts[0]] + ts, [initial] + eq, [0.0] + dd
    t0, t1 = min(ts), max(ts)
    span = (t1 - t0) or 1.0

    def x(t: float) -> float:
        return _PAD + (t - t0) / span * (_W - 2 * _PAD)

    lo, hi = min(eq), max(eq)
    rng = (hi - lo) or 1.0

    def y(v: float) -> float:
        return 10 + (hi - v) / rng * (_H - 40)

    pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(ts, eq))
    eq_svg = (f"<svg width={_W} height={_H} viewBox='0 0 {_W} {_H}' role=img aria-label='equity curve'>"
              f"<polyline fill=none stroke='#2456c8' stroke-width=1.6 points='{pts}'/>"
              f"<text x=4 y=16 font-size=11>{_e(_fmt(hi))}</text><text x=4 y={_H - 24} font-size=11>{_e(_fmt(lo))}</text>"
              f"<text x={_PAD} y={_H - 6} font-size=11>{_e(rows[0]['ts'].isoformat())}</text>"
              f"<text x={_W - _PAD} y={_H - 6} font-size=11 text-anchor=end>{_e(rows[-1]['ts'].isoformat())}</text></svg>")
    dmax = max(dd) or 1.0
    dh = 120
    area = " ".join(f"{x(t):.1f},{10 + v / dmax * (dh - 20):.1f}" for t, v in zip(ts, dd))
    dd_svg = (f"<svg width={_W} height={dh} viewBox='0 0 {_W} {dh}' role=img aria-label='drawdown'>"
              f"<polygon fill='#e8a0a0' stroke='#b3261e' stroke-width=1 "
              f"points='{x(ts[0]):.1f},10 {area} {x(ts[-1]):.1f},10'/>"
              f"<text x=4 y={dh - 6} font-size=11>max drawdown {max(dd) * 100:.2f}%</text></svg>")
    return f"<div>{eq_svg}</div><div>{dd_svg}</div>"


_PRICE_SCALED = {"sma", "ema", "vwma", "bbands", "ichimoku_cloud", "price"}
_COLORS = ("#d9822b", "#7a3fb0", "#178a8a", "#b3261e", "#6b8e23", "#c2185b", "#455a64")


def _trade_charts(store, run, trades: list[dict], fills: list[dict], strategy: dict) -> str:
    """Price charts of the first MAX_CHARTS trades with their fills and signal indicators. The
    indicators are recomputed from the run's candles with the engine's own indicator code (each
    token's whole series, so the values are the ones the signals saw)."""
    import numpy as np
    import pyarrow.parquet as pq

    from bridge.experiments.indicators import compute_series
    from bridge.experiments.signals import column_name, signal_indicators
    from bridge.experiments.strategy import strategy_from_mapping

    try:
        st = strategy_from_mapping(strategy) if strategy else None
    except Exception:  # noqa: BLE001 (a report of an older strategy still renders)
        st = None
    needed = sorted({x for g in (st.signals() if st else []) for x in signal_indicators(g)},
                    key=lambda x: (x[0].key, x[1]))
    shown = trades[:MAX_CHARTS]
    tokens = sorted({t["token"] for t in shown})
    resolution = strategy.get("resolution")
    parts = []
    for f in run.inputs:
        if f.role != "ohlcv":
            continue
        art = store.get(f.artifact_id)
        filters = [("token", "in", tokens)] + ([("resolution", "=", resolution)] if resolution else [])
        parts.append(pq.read_table(art.path_parquet, filters=filters,
                                   columns=["token", "resolution", "ts", "open", "high", "low", "close", "volume"]))
    if not parts:
        return ""
    import pyarrow as pa

    import pyarrow.compute as pc

    tbl = pa.concat_tables(parts)
    tbl = tbl.append_column("ts_us", pc.cast(pc.cast(tbl.column("ts"), pa.timestamp("us", tz="UTC")), pa.int64()))
    candles = tbl.drop_columns(["ts"]).to_pandas()
    candles = candles.drop_duplicates(subset=["token", "ts_us"]).sort_values(["token", "ts_us"])
    by_trade: dict[str, list[dict]] = {}
    for x in fills:
        by_trade.setdefault(x["trade_id"], []).append(x)
    names = ", ".join(f"{s.key}.{fl}" for s, fl in needed) or "none (the strategy has no signals)"
    out = [f"<h2>Trade charts (first {len(shown)} of {len(trades)})</h2>"
           f"<p class=muted>close per candle; ▲ buy, ▼ sell at the fill price (the fill's time is its candle's open); "
           f"indicators: {_e(names)}</p>"]
    for t in shown:
        g = candles[candles["token"] == t["token"]]
        if g.empty:
            continue
        arrays = {k: g[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume")}
        arrays["token"] = np.zeros(len(g))
        vals = compute_series(arrays, needed)
        ts = g["ts_us"].to_numpy()
        e_us, x_us = int(t["entry_ts"].timestamp() * 1e6), int(t["exit_ts"].timestamp() * 1e6)
        i0 = max(0, int(np.searchsorted(ts, e_us)) - _CONTEXT)
        i1 = min(len(ts), int(np.searchsorted(ts, x_us, side="right")) + _CONTEXT)
        sl = slice(i0, i1)
        over = [(f"{s.key}.{fl}", vals[column_name(s, fl)][sl]) for s, fl in needed if s.name in _PRICE_SCALED]
        under = [(f"{s.key}.{fl}", vals[column_name(s, fl)][sl]) for s, fl in needed if s.name not in _PRICE_SCALED]
        marks = [(int(x["ts"].timestamp() * 1e6), x["price"], x["side"], x["reason"]) for x in by_trade.get(t["trade_id"], [])]
        out.append(f"<h3 style='font-size:14px;margin:14px 0 4px'><code>{_e(t['token'])}</code> · alert "
                   f"<code>{_e(t['alert_id'])}</code> · {_e(t['exit_reason'])} · pnl {t['pnl_pct'] * 100:.2f}%</h3>")
        out.append(_price_svg(ts[sl], arrays["close"][sl], over, marks))
        if under:
            out.append(_panel_svg(ts[sl], under))
    return "".join(out)


def _scale(values, lo_pad: float = 0.0):
    import math

    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi == lo:
        hi, lo = hi + 1e-12 + abs(hi) * 0.01, lo - 1e-12 - abs(lo) * 0.01
    return lo, hi


def _polyline(xs, ys, y, color: str, width: float = 1.2) -> str:
    import math

    segs, cur = [], []
    for a, b in zip(xs, ys):
        if b is None or not math.isfinite(b):
            if cur:
                segs.append(cur)
            cur = []
            continue
        cur.append(f"{a:.1f},{y(b):.1f}")
    if cur:
        segs.append(cur)
    return "".join(f"<polyline fill=none stroke='{color}' stroke-width={width} points='{' '.join(p)}'/>" for p in segs)


def _price_svg(ts, close, over, marks) -> str:
    h = 200
    t0, t1 = float(ts[0]), float(ts[-1])
    span = (t1 - t0) or 1.0

    def x(t):
        return _PAD + (float(t) - t0) / span * (_W - 2 * _PAD)

    lo, hi = _scale(list(close) + [v for _, arr in over for v in arr] + [m[1] for m in marks])

    def y(v):
        return 8 + (hi - v) / (hi - lo) * (h - 30)

    xs = [x(t) for t in ts]
    body = [_polyline(xs, list(close), y, "#2456c8", 1.4)]
    legend = ["<tspan fill='#2456c8'>close</tspan>"]
    for k, (name, arr) in enumerate(over):
        color = _COLORS[k % len(_COLORS)]
        body.append(_polyline(xs, list(arr), y, color, 1.0))
        legend.append(f"<tspan fill='{color}'> {_e(name)}</tspan>")
    for m_ts, price, side, reason in marks:
        mx, my = x(m_ts), y(price)
        pts = (f"{mx - 5:.1f},{my + 7:.1f} {mx + 5:.1f},{my + 7:.1f} {mx:.1f},{my - 1:.1f}" if side == "buy"
               else f"{mx - 5:.1f},{my - 7:.1f} {mx + 5:.1f},{my - 7:.1f} {mx:.1f},{my + 1:.1f}")
        color = "#1b7f3b" if side == "buy" else "#b3261e"
        body.append(f"<polygon fill='{color}' points='{pts}'><title>{_e(side)} {_e(reason)} {_e(_fmt(price))}</title>"
                    "</polygon>")
    return (f"<svg width={_W} height={h} viewBox='0 0 {_W} {h}' role=img aria-label='price chart'>{''.join(body)}"
            f"<text x=4 y=14 font-size=11>{_e(_fmt(hi))}</text><text x=4 y={h - 24} font-size=11>{_e(_fmt(lo))}</text>"
            f"<text x={_PAD} y={h - 6} font-size=11>{''.join(legend)}</text></svg>")


def _panel_svg(ts, series) -> str:
    h = 110
    t0, t1 = float(ts[0]), float(ts[-1])
    span = (t1 - t0) or 1.0
    xs = [_PAD + (float(t) - t0) / span * (_W - 2 * _PAD) for t in ts]
    body, legend = [], []
    for k, (name, arr) in enumerate(series):  # each on its own scale, named with its range
        lo, hi = _scale(list(arr))
        color = _COLORS[(k + 3) % len(_COLORS)]
        body.append(_polyline(xs, list(arr), lambda v, lo=lo, hi=hi: 6 + (hi - v) / (hi - lo) * (h - 28), color, 1.1))
        legend.append(f"<tspan fill='{color}'>{_e(name)} [{_e(_fmt(lo, 4))}, {_e(_fmt(hi, 4))}] </tspan>")
    return (f"<svg width={_W} height={h} viewBox='0 0 {_W} {h}' role=img aria-label='indicator panel'>{''.join(body)}"
            f"<text x={_PAD} y={h - 6} font-size=11>{''.join(legend)}</text></svg>")


def _trades_table(rows: list[dict]) -> str:
    head = ("<tr><th>entry</th><th>exit</th><th>token</th><th>chain</th><th>entry px</th><th>exit px</th>"
            "<th>pnl</th><th>pnl %</th><th>hold s</th><th>reason</th><th>alert</th></tr>")
    body = []
    for r in rows[:MAX_TRADES]:
        cls = "good" if r["pnl"] > 0 else "bad" if r["pnl"] < 0 else ""
        body.append(
            f"<tr><td>{_e(r['entry_ts'].isoformat())}</td><td>{_e(r['exit_ts'].isoformat())}</td>"
            f"<td><code>{_e(r['token'])}</code></td><td>{_e(r['chain'])}</td>"
            f"<td class=n>{_e(_fmt(r['entry_price']))}</td><td class=n>{_e(_fmt(r['exit_price']))}</td>"
            f"<td class='n {cls}'>{_e(_fmt(r['pnl'], 5))}</td><td class='n {cls}'>{r['pnl_pct'] * 100:.2f}</td>"
            f"<td class=n>{r['duration_ms'] / 1000:g}</td><td>{_e(r['exit_reason'])}</td>"
            f"<td><code>{_e(r['alert_id'])}</code></td></tr>")
    more = (f"<p class=muted>showing the first {MAX_TRADES} of {len(rows)} trades; the full list is the trades artifact</p>"
            if len(rows) > MAX_TRADES else "")
    return f"<h2>Trades ({len(rows)})</h2>{more}<table>{head}{''.join(body)}</table>"


def _diagnostics(diags: list[dict]) -> str:
    skipped = Counter(r["reason"] for r in diags if r["kind"] == "skipped")
    notes = [r for r in diags if r["kind"] in ("warning",)]
    body = "".join(f"<tr><td>{_e(k)}</td><td class=n>{v}</td></tr>" for k, v in sorted(skipped.items()))
    out = f"<h2>Skipped alerts ({sum(skipped.values())})</h2><table><tr><th>reason</th><th>alerts</th></tr>{body}</table>"
    if notes:
        out += "<h2>Warnings</h2><ul>" + "".join(f"<li>{_e(r['reason'])}: {_e(r['detail'])}</li>" for r in notes) + "</ul>"
    return out


def _lineage(store, run) -> str:
    rows = []
    for f in run.inputs:
        art = store.get(f.artifact_id)
        rows.append(("input: " + f.role, art))
    o = run.outputs
    for label, aid in (("output: trades", o.trades), ("output: metrics", o.metrics), ("output: equity", o.curves),
                       ("output: diagnostics", o.diagnostics), ("output: fills", o.fills),
                       ("output: breakdown", o.breakdown)):
        if aid:
            rows.append((label, store.get(aid)))
    body = "".join(
        f"<tr><td>{_e(label)}</td><td><code>{_e(a.artifact_id)}</code></td><td>{_e(a.artifact_type)} v{a.schema_version}</td>"
        f"<td><code>{_e(a.logical_key)}</code></td><td class=n>{a.row_count}</td><td>{_e(a.status)}</td>"
        f"<td><code>{_e(a.content_hash[:16])}…</code></td></tr>" for label, a in rows)
    proj = f"<p class=muted>projection <code>{_e(run.projection_id)}</code></p>" if run.projection_id else ""
    return ("<h2>Lineage</h2>" + proj + "<table><tr><th>role</th><th>artifact</th><th>type</th><th>logical key</th>"
            f"<th>rows</th><th>status</th><th>content hash</th></tr>{body}</table>")
