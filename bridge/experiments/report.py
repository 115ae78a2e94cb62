"""A self-contained HTML report of one experiment run: no scripts, no external resources.

Sections: summary and strategy (with its profit-target ladder), metrics table, equity curve and
drawdown (inline SVG), trade list (the first MAX_TRADES rows, in entry order), fills: counts by
reason and a per-trade timeline of fills (the first MAX_TIMELINES trades), skipped alerts by
reason, and the lineage of the run's frozen inputs and published outputs (ids, types, logical
keys, content hashes).
"""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["render_report", "write_report", "MAX_TRADES", "MAX_TIMELINES"]

MAX_TRADES = 1000
MAX_TIMELINES = 200
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
    out = Path(path).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render_report(store, run), encoding="utf-8")
    tmp.replace(out)
    return out


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
    if tables["equity"] is not None:
        initial = json.loads(strategy).get("initialCapital") if strategy else None
        parts.append("<h2>Equity and drawdown</h2>" + _equity_svg(tables["equity"].to_pylist(), initial))
    if tables["trades"] is not None:
        parts.append(_trades_table(tables["trades"].to_pylist()))
    if tables["fills"] is not None:
        parts.append(_fills(tables["fills"].to_pylist(), tables["trades"].to_pylist() if tables["trades"] else []))
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
                       ("output: diagnostics", o.diagnostics), ("output: fills", o.fills)):
        if aid:
            rows.append((label, store.get(aid)))
    body = "".join(
        f"<tr><td>{_e(label)}</td><td><code>{_e(a.artifact_id)}</code></td><td>{_e(a.artifact_type)} v{a.schema_version}</td>"
        f"<td><code>{_e(a.logical_key)}</code></td><td class=n>{a.row_count}</td><td>{_e(a.status)}</td>"
        f"<td><code>{_e(a.content_hash[:16])}…</code></td></tr>" for label, a in rows)
    proj = f"<p class=muted>projection <code>{_e(run.projection_id)}</code></p>" if run.projection_id else ""
    return ("<h2>Lineage</h2>" + proj + "<table><tr><th>role</th><th>artifact</th><th>type</th><th>logical key</th>"
            f"<th>rows</th><th>status</th><th>content hash</th></tr>{body}</table>")
