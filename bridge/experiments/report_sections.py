"""Report sections for portfolio runs, breakdowns and sweeps (inline SVG and tables; no scripts,
no external resources, so the HTML stays one file that opens offline).

Run report (added by report.render_report): daily return distribution and monthly return table
(mark-to-market runs), the caller leaderboard (ranked groups by the lower bound of the mean
return's interval, then the groups below the minimum count, marked) and the chain breakdown.
Sweep report (`render_sweep_report`): the points, a heat map of two parameters, the in-sample
vs out-of-sample folds, the deflated Sharpe ratio and the PBO.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["downsample", "render_sweep_report", "run_sections", "write_sweep_report"]

MAX_SVG_POINTS = 2000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _h():
    from bridge.experiments.report import _CSS, _e, _fmt

    return _CSS, _e, _fmt


def downsample(rows: list[dict]) -> list[dict]:
    """At most MAX_SVG_POINTS rows for a chart: evenly spaced, plus the deepest drawdown and the last."""
    if len(rows) <= MAX_SVG_POINTS:
        return rows
    step = math.ceil(len(rows) / MAX_SVG_POINTS)
    keep = set(range(0, len(rows), step)) | {len(rows) - 1}
    keep.add(max(range(len(rows)), key=lambda i: rows[i]["drawdown_pct"]))
    return [rows[i] for i in sorted(keep)]


def run_sections(equity, breakdown, initial: float | None) -> list[str]:
    """HTML sections for a run: daily returns and monthly table (v2 equity), breakdown tables."""
    out = []
    if equity is not None and "exposure" in equity.column_names and equity.num_rows:
        out.append(_daily_section(equity, initial))
    if breakdown is not None and breakdown.num_rows:
        rows = breakdown.to_pylist()
        out.append(_leaderboard(rows, "caller", "Caller leaderboard"))
        out.append(_leaderboard(rows, "chain", "By chain"))
        out.append(_leaderboard(rows, "chat", "By chat"))
    return out


def _daily_section(equity, initial: float | None) -> str:
    import numpy as np

    from bridge.experiments.equity import daily_equity

    _, e, fmt = _h()
    days, eq = daily_equity(equity)
    start = initial if initial is not None else float(eq[0])
    prev = np.concatenate([[start], eq[:-1]])
    r = eq / prev - 1
    parts = [f"<h2>Daily returns ({len(r)} days, UTC)</h2>"]
    if len(r):
        parts.append(f"<p class=muted>mean {fmt(float(np.mean(r)) * 100, 4)} % · median {fmt(float(np.median(r)) * 100, 4)} % · "
                     f"worst {fmt(float(np.min(r)) * 100, 4)} % · best {fmt(float(np.max(r)) * 100, 4)} % · "
                     f"losing days {int(np.sum(r < 0))}</p>")
        parts.append(_histogram(r * 100, "daily return %"))
    # monthly: equity at each month's last day against the previous month's (the first against the start)
    months: dict[tuple[int, int], float] = {}
    for d, v in zip(days, eq):
        dt = datetime.fromtimestamp(int(d) / 1e6, tz=timezone.utc)
        months[(dt.year, dt.month)] = float(v)
    table: dict[int, dict[int, float]] = {}
    last = start
    for (y, m), v in sorted(months.items()):
        table.setdefault(y, {})[m] = v / last - 1
        last = v
    head = "<tr><th>year</th>" + "".join(f"<th>{mo}</th>" for mo in MONTHS) + "<th>year</th></tr>"
    body = []
    for y, row in sorted(table.items()):
        total = math.prod(1 + v for v in row.values()) - 1
        cells = "".join(_pct_cell(row.get(m)) for m in range(1, 13))
        body.append(f"<tr><td>{y}</td>{cells}{_pct_cell(total)}</tr>")
    parts.append("<h2>Monthly returns</h2><table>" + head + "".join(body) + "</table>")
    return "".join(parts)


def _pct_cell(v: float | None) -> str:
    if v is None:
        return "<td class=n></td>"
    cls = "good" if v > 0 else "bad" if v < 0 else ""
    return f"<td class='n {cls}'>{v * 100:.2f}</td>"


def _histogram(values, label: str, bins: int = 30) -> str:
    import numpy as np

    _, e, fmt = _h()
    counts, edges = np.histogram(values, bins=min(bins, max(1, len(values))))
    w, h, pad = 860, 160, 30
    top = max(int(counts.max()), 1)
    bw = (w - 2 * pad) / len(counts)
    bars = "".join(
        f"<rect x={pad + i * bw:.1f} y={h - 20 - c / top * (h - 40):.1f} width={max(bw - 1, 1):.1f} "
        f"height={c / top * (h - 40):.1f} fill='{'#b3261e' if edges[i + 1] <= 0 else '#2456c8'}'/>"
        for i, c in enumerate(counts))
    return (f"<svg width={w} height={h} viewBox='0 0 {w} {h}' role=img aria-label='{e(label)} histogram'>{bars}"
            f"<text x={pad} y={h - 4} font-size=11>{e(fmt(float(edges[0]), 4))}</text>"
            f"<text x={w - pad} y={h - 4} font-size=11 text-anchor=end>{e(fmt(float(edges[-1]), 4))}</text>"
            f"<text x={w / 2} y={h - 4} font-size=11 text-anchor=middle>{e(label)}</text>"
            f"<text x=4 y=14 font-size=11>{top}</text></svg>")


def _leaderboard(rows: list[dict], dimension: str, title: str, limit: int = 50) -> str:
    _, e, fmt = _h()
    mine = [r for r in rows if r["dimension"] == dimension]
    if not mine:
        return ""
    ranked = sorted((r for r in mine if r["ranked"]), key=lambda r: r["rank"])
    rest = sorted((r for r in mine if not r["ranked"]), key=lambda r: (-r["trade_count"], r["group_key"]))
    conf = mine[0]["confidence"]

    def ci(lo, hi):
        return "" if lo is None else f"[{lo * 100:.2f}, {hi * 100:.2f}]"

    body = []
    for r in (ranked + rest)[:limit]:
        mark = str(r["rank"]) if r["ranked"] else "<span class=muted>below min</span>"
        body.append(f"<tr><td>{mark}</td><td>{e(r['group_key'])}</td><td class=n>{r['trade_count']}</td>"
                    f"<td class=n>{_pct(r['mean_return'])}</td><td class=n>{ci(r['mean_return_lo'], r['mean_return_hi'])}</td>"
                    f"<td class=n>{_pct(r['win_rate'])}</td><td class=n>{ci(r['win_rate_lo'], r['win_rate_hi'])}</td>"
                    f"<td class=n>{e(fmt(r['total_pnl'], 6))}</td></tr>")
    more = f"<p class=muted>first {limit} of {len(mine)} groups</p>" if len(mine) > limit else ""
    return (f"<h2>{e(title)}</h2><p class=muted>ranked by the lower bound of the {conf * 100:g} % bootstrap interval "
            f"of the mean return; groups with fewer trades than the minimum are listed after, unranked</p>{more}"
            "<table><tr><th>rank</th><th>group</th><th>trades</th><th>mean return %</th><th>interval</th>"
            f"<th>win rate %</th><th>interval</th><th>total pnl</th></tr>{''.join(body)}</table>")


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.2f}"


# -- sweeps --------------------------------------------------------------------------------------

def write_html(text: str, path: Any) -> Path:
    """Write a report's HTML to `path` atomically (a temporary file beside it, then a rename);
    returns the absolute path."""
    out = Path(path).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


def write_sweep_report(exps, sweep_id: str, path: Any) -> Path:
    return write_html(render_sweep_report(exps, sweep_id), path)


def render_sweep_report(exps, sweep_id: str) -> str:
    """Raises:
    RunNotFound: no run belongs to this sweep.
    """
    from bridge.errors import RunNotFound

    css, e, fmt = _h()
    points = exps.compare(sweep_id)
    if not points:
        raise RunNotFound(sweep_id)
    validation = exps.sweep_validation(sweep_id)
    axes = [k for k in points[0].params if len({repr(p.params.get(k)) for p in points}) > 1]
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>sweep {e(sweep_id)}</title>",
             f"<style>{css}</style></head><body><h1>Sweep <code>{e(sweep_id)}</code></h1>",
             f"<div class=muted>{len(points)} points · varied: {e(', '.join(axes) or 'nothing')}</div>"]
    metric = "mean_return"
    if validation is not None:
        fold_rows = [r for r in validation.to_pylist() if r["section"] == "fold"]
        if fold_rows and fold_rows[0]["detail"]:
            metric = fold_rows[0]["detail"].rsplit(" ", 1)[-1]
    heat_metric = metric if metric in points[0].metrics else "mean_return"
    if len(axes) >= 2:
        parts.append(_heatmap(points, axes[0], axes[1], heat_metric, others=axes[2:]))
    if validation is not None:
        parts.append(_folds(validation.to_pylist()))
        parts.append(_overfit(validation.to_pylist()))
    else:
        parts.append("<p class=muted>this sweep ran without out-of-sample validation (run it with --split or "
                     "--walk-forward to get folds, the deflated Sharpe ratio and the PBO)</p>")
    cols = list(points[0].metrics)
    head = "".join(f"<th>{e(a)}</th>" for a in axes) + "".join(f"<th>{e(c)}</th>" for c in cols) + "<th>experiment</th>"
    body = "".join("<tr>" + "".join(f"<td class=n>{e(fmt(p.params.get(a)))}</td>" for a in axes)
                   + "".join(f"<td class=n>{e(fmt(p.metrics.get(c), 5))}</td>" for c in cols)
                   + f"<td><code>{e(p.experiment_id)}</code></td></tr>" for p in points)
    parts.append(f"<h2>Points</h2><table><tr>{head}</tr>{body}</table></body></html>")
    return "\n".join(parts)


def _heatmap(points, ax: str, ay: str, metric: str, others: list[str]) -> str:
    _, e, fmt = _h()
    xs = sorted({p.params.get(ax) for p in points}, key=_sort_key)
    ys = sorted({p.params.get(ay) for p in points}, key=_sort_key)
    cells: dict[tuple, float | None] = {}
    for p in points:
        k = (p.params.get(ax), p.params.get(ay))
        v = p.metrics.get(metric)
        if v is not None and (cells.get(k) is None or v > cells[k]):
            cells[k] = v
        cells.setdefault(k, None)
    vals = [v for v in cells.values() if v is not None]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    cw, ch, left, top = 70, 28, 90, 30
    w, h = left + cw * len(xs) + 10, top + ch * len(ys) + 30
    rects = []
    for j, yv in enumerate(ys):
        rects.append(f"<text x={left - 6} y={top + j * ch + 18} font-size=11 text-anchor=end>{e(fmt(yv))}</text>")
        for i, xv in enumerate(xs):
            v = cells.get((xv, yv))
            color = "#eee" if v is None else _color((v - lo) / ((hi - lo) or 1.0))
            rects.append(f"<rect x={left + i * cw} y={top + j * ch} width={cw - 2} height={ch - 2} fill='{color}'/>"
                         f"<text x={left + i * cw + cw / 2} y={top + j * ch + 18} font-size=10 text-anchor=middle>"
                         f"{e('—' if v is None else fmt(v, 3))}</text>")
    for i, xv in enumerate(xs):
        rects.append(f"<text x={left + i * cw + cw / 2} y={top - 8} font-size=11 text-anchor=middle>{e(fmt(xv))}</text>")
    note = (f" (best over {', '.join(others)})" if others else "")
    return (f"<h2>Heat map: {e(metric)} by {e(ax)} (columns) and {e(ay)} (rows){e(note)}</h2>"
            f"<svg width={w} height={h} viewBox='0 0 {w} {h}' role=img aria-label='heat map'>{''.join(rects)}</svg>")


def _sort_key(v):
    return (v is None, isinstance(v, str), v if not isinstance(v, str) else 0, str(v))


def _color(t: float) -> str:
    t = min(max(t, 0.0), 1.0)   # red (low) -> white -> green (high)
    if t < 0.5:
        k = t / 0.5
        return f"rgb(230,{int(120 + 135 * k)},{int(120 + 135 * k)})"
    k = (t - 0.5) / 0.5
    return f"rgb({int(255 - 135 * k)},{int(255 - 45 * k)},{int(255 - 135 * k)})"


def _folds(rows: list[dict]) -> str:
    _, e, fmt = _h()
    folds: dict[int, dict[str, Any]] = {}
    metric = None
    for r in rows:
        if r["section"] != "fold":
            continue
        f = folds.setdefault(r["fold"], {"experiment_id": r["experiment_id"]})
        f[(r["sample"], r["metric_name"])] = r["metric_value"]
        f[(r["sample"], "from")] = r["from_ts"]
        f[(r["sample"], "to")] = r["to_ts"]
        metric = (r["detail"] or "").rsplit(" ", 1)[-1] or metric
    if not folds:
        return ""
    names = ("trade_count", "mean_return", "win_rate", "total_pnl", "trade_sharpe")
    head = ("<tr><th>fold</th><th>chosen point</th><th>in-sample</th><th>out-of-sample</th>"
            + "".join(f"<th>IS {n}</th><th>OOS {n}</th>" for n in names) + "</tr>")
    body = []
    for k, f in sorted(folds.items()):
        span = lambda s: f"{_d(f.get((s, 'from')))} → {_d(f.get((s, 'to')))}"  # noqa: E731
        body.append(f"<tr><td>{k}</td><td><code>{e(f['experiment_id'])}</code></td><td>{e(span('in_sample'))}</td>"
                    f"<td>{e(span('out_of_sample'))}</td>"
                    + "".join(f"<td class=n>{e(fmt(f.get(('in_sample', n)), 4))}</td>"
                              f"<td class=n>{e(fmt(f.get(('out_of_sample', n)), 4))}</td>" for n in names) + "</tr>")
    return (f"<h2>In-sample vs out-of-sample</h2><p class=muted>in each fold the point with the best in-sample "
            f"{e(metric)} is chosen, then evaluated on the next, unseen alerts</p><table>{head}{''.join(body)}</table>")


def _d(ts) -> str:
    return "" if ts is None else ts.strftime("%Y-%m-%d %H:%M")


def _overfit(rows: list[dict]) -> str:
    _, e, fmt = _h()
    o = {r["metric_name"]: r for r in rows if r["section"] == "overfit"}
    if not o:
        return ""

    def val(name: str) -> str:
        r = o.get(name)
        if r is None:
            return "—"
        if r["metric_value"] is None:
            return f"null ({r['detail'] or 'undefined'})"
        return fmt(r["metric_value"], 4)

    dsr = o.get("dsr", {}).get("metric_value")
    pbo = o.get("pbo", {}).get("metric_value")
    verdict_dsr = "" if dsr is None else (" — significant at 95 %" if dsr > 0.95 else " — not significant at 95 %")
    verdict_pbo = "" if pbo is None else (" — the in-sample best is likely overfit" if pbo > 0.5 else "")
    best = o.get("dsr", {}).get("experiment_id")
    return ("<h2>Overfitting guards</h2><table>"
            f"<tr><th>deflated Sharpe ratio</th><td class=n>{e(val('dsr'))}</td><td>{e(verdict_dsr)}</td></tr>"
            f"<tr><th>best point (per-alert Sharpe)</th><td colspan=2><code>{e(best)}</code> · Sharpe {e(val('dsr_sharpe'))} "
            f"vs expected maximum of noise {e(val('dsr_expected_max_sharpe'))}</td></tr>"
            f"<tr><th>trials · observations</th><td colspan=2>{e(val('trials'))} · {e(val('observations'))}</td></tr>"
            f"<tr><th>skew · kurtosis</th><td colspan=2>{e(val('dsr_skew'))} · {e(val('dsr_kurtosis'))}</td></tr>"
            f"<tr><th>probability of backtest overfitting</th><td class=n>{e(val('pbo'))}</td><td>{e(verdict_pbo)}</td></tr>"
            f"<tr><th>CSCV combinations</th><td colspan=2>{e(val('pbo_combinations'))}</td></tr></table>"
            "<p class=muted>Deflated Sharpe ratio: Bailey and López de Prado (2014); PBO by combinatorially symmetric "
            "cross-validation: Bailey, Borwein, López de Prado and Zhu (2015). Formulas in docs/experiments.md.</p>")
