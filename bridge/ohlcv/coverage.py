"""Coverage of candles on the resolution's grid, computed with DuckDB (no per-candle Python).

Per slice [from, to) at step s, the grid points are the multiples of s (epoch-anchored) in
[from, to):
    expected    number of grid points
    present     distinct on-grid candle times
    missing     expected - present
    duplicates  extra candles at an already-present time (the store keeps one per time, so these
                are the `duplicate_ts*` rows of the slice's quarantine artifact)
    off_grid    candles whose time is not a grid point (kept in the slice, flagged here)
    gaps        maximal runs of missing grid points: [gap_start, gap_end) and missing_count
Alert forward coverage: for each alert at t with horizon h, the expected candles are those whose
interval [g, g + s) meets [t, t + h), i.e. grid points in [floor(t), ceil(t + h)); `present`
counts distinct candles there across the slices given (or every active slice of that token and
resolution); `fully_covered` means present == expected.

Results are published as `coverage_summary` + `coverage_gaps` (inputs: the slices and their
quarantines) and `alert_forward_coverage` (inputs: the alerts and the slices read).
`SliceCoverage.result(max_rows)` / `AlertCoverage.result(max_rows)` give the totals and the first
rows as the camelCase structs the RPC methods (sliceCoverage, alertForwardCoverage) return and
the CLI prints.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from bridge.errors import InvalidInput
from bridge.ohlcv.grid import Resolution, parse_duration, parse_resolution, parse_ts
from bridge.ohlcv.provenance import provenance
from bridge.progress import NULL_JOB, Job

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from bridge.store import Artifact, Store

__all__ = [
    "AlertCoverage",
    "AlertCoverageResult",
    "AlertCoverageRow",
    "CoverageGapRow",
    "CoverageSummaryRow",
    "SliceCoverage",
    "SliceCoverageResult",
    "alert_forward_coverage",
    "compute_alert_coverage",
    "compute_slice_coverage",
    "slice_coverage",
]

log = logging.getLogger(__name__)

SLICE_TYPE = "ohlcv_slice"
QUARANTINE_TYPE = "ohlcv_quarantine"

# slices(sid, token, resolution, step, from_us, to_us), candles(sid, t) → summary and gaps.
_SLICE_SQL = """
CREATE TEMP TABLE s AS
    SELECT *, from_us + ((step - from_us % step) % step) AS g0,
              to_us + ((step - to_us % step) % step) AS g1
    FROM slices;
CREATE TEMP TABLE pts AS
    SELECT DISTINCT c.sid, c.t FROM candles c JOIN s USING (sid)
    WHERE c.t % s.step = 0 AND c.t >= s.g0 AND c.t < s.g1;
CREATE TEMP TABLE counts AS
    SELECT c.sid, count(*) FILTER (WHERE c.t % s.step <> 0) AS off_grid,
           count(*) - count(DISTINCT c.t) AS dup_rows
    FROM candles c JOIN s USING (sid) GROUP BY c.sid;
CREATE TEMP TABLE gaps AS
    WITH seq AS (
        SELECT sid, t FROM pts
        UNION ALL SELECT sid, g0 - step FROM s
        UNION ALL SELECT sid, g1 FROM s
    ), lagged AS (
        SELECT sid, t, lag(t) OVER (PARTITION BY sid ORDER BY t) AS prev FROM seq
    )
    SELECT l.sid, s.token, s.resolution, l.prev + s.step AS gap_start, l.t AS gap_end,
           (l.t - l.prev) // s.step - 1 AS missing_count
    FROM lagged l JOIN s USING (sid)
    WHERE l.prev IS NOT NULL AND l.t - l.prev > s.step;
"""

_SUMMARY_SQL = """
SELECT s.sid, s.token, s.resolution, s.from_us, s.to_us,
       (s.g1 - s.g0) // s.step AS expected,
       coalesce(p.present, 0) AS present,
       (s.g1 - s.g0) // s.step - coalesce(p.present, 0) AS missing,
       coalesce(c.dup_rows, 0) + s.quarantined_dups AS duplicates,
       coalesce(c.off_grid, 0) AS off_grid
FROM s
LEFT JOIN (SELECT sid, count(*) AS present FROM pts GROUP BY sid) p USING (sid)
LEFT JOIN counts c USING (sid)
ORDER BY s.sid
"""


# -- results: the summary's, the gaps' and the alert coverage's rows (times as ISO-8601 `Z` text) --


class CoverageSummaryRow(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    slice_id: str
    token: str
    resolution: str
    from_ts: str
    to_ts: str
    expected: int
    present: int
    missing: int
    duplicates: int
    off_grid: int
    coverage_ratio: float


class CoverageGapRow(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    token: str
    resolution: str
    gap_start: str
    gap_end: str  # exclusive
    missing_count: int


class SliceCoverageResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Totals over the slices, and the first summary and gap rows (`truncated`: there were more)."""

    summary_artifact_id: str | None
    gaps_artifact_id: str | None
    slices: int
    expected: int
    present: int
    missing: int
    duplicates: int
    off_grid: int
    gap_count: int
    coverage_ratio: float
    summary: list[CoverageSummaryRow]
    gaps: list[CoverageGapRow]
    truncated: bool = False


class AlertCoverageRow(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    alert_id: str
    token: str
    chain: str
    alert_ts: str
    horizon_end: str
    expected: int
    present: int
    coverage_ratio: float
    fully_covered: bool


class AlertCoverageResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Totals over the alerts (the mean ratio is 1.0 for no alerts), and the first rows."""

    artifact_id: str | None
    alerts: int
    fully_covered: int
    mean_coverage_ratio: float
    slice_ids: list[str]
    rows: list[AlertCoverageRow]
    truncated: bool = False


@dataclass(frozen=True)
class SliceCoverage:
    """Coverage of a set of slices. `summary` has one row per slice (with `slice_id`), `gaps` one
    row per gap; both as Arrow with epoch-µs times converted to timestamps."""

    summary_artifact_id: str | None
    gaps_artifact_id: str | None
    summary: "pa.Table"
    gaps: "pa.Table"

    def result(self, max_rows: int = 1000) -> SliceCoverageResult:
        """The totals and the first `max_rows` summary and gap rows."""
        import pyarrow.compute as pc

        def total(col: str) -> int:
            return int(pc.sum(self.summary.column(col)).as_py() or 0)

        expected, present = total("expected"), total("present")
        return SliceCoverageResult(
            summary_artifact_id=self.summary_artifact_id, gaps_artifact_id=self.gaps_artifact_id,
            slices=self.summary.num_rows, expected=expected, present=present, missing=total("missing"),
            duplicates=total("duplicates"), off_grid=total("off_grid"), gap_count=self.gaps.num_rows,
            coverage_ratio=_ratio(present, expected),
            summary=[CoverageSummaryRow(**r) for r in _iso_rows(self.summary, max_rows)],
            gaps=[CoverageGapRow(**r) for r in _iso_rows(self.gaps, max_rows)],
            truncated=max(self.summary.num_rows, self.gaps.num_rows) > max_rows,
        )


@dataclass(frozen=True)
class AlertCoverage:
    artifact_id: str | None
    table: "pa.Table"  # the alert_forward_coverage rows
    slice_ids: tuple[str, ...]

    def result(self, max_rows: int = 1000) -> AlertCoverageResult:
        """The totals and the first `max_rows` rows."""
        import pyarrow.compute as pc

        n = self.table.num_rows
        full = int(pc.sum(self.table.column("fully_covered").cast("int64")).as_py() or 0) if n else 0
        mean = float(pc.mean(self.table.column("coverage_ratio")).as_py()) if n else 1.0
        return AlertCoverageResult(
            artifact_id=self.artifact_id, alerts=n, fully_covered=full, mean_coverage_ratio=mean,
            slice_ids=list(self.slice_ids), rows=[AlertCoverageRow(**r) for r in _iso_rows(self.table, max_rows)],
            truncated=n > max_rows,
        )


def _iso_rows(table: "pa.Table", limit: int) -> list[dict[str, Any]]:
    """The first `limit` rows as dicts, timestamps as ISO-8601 `Z` text (the store's fixed width)."""
    from datetime import datetime

    return [{k: v.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(v, datetime) else v for k, v in row.items()}
            for row in table.slice(0, max(0, limit)).to_pylist()]


def _ratio(present: int, expected: int) -> float:
    return 1.0 if expected == 0 else present / expected


# -- pure computation ---------------------------------------------------------------------------


def compute_slice_coverage(slices: "pa.Table", candles: "pa.Table") -> tuple["pa.Table", "pa.Table"]:
    """Coverage of each slice. `slices`: sid (int64), token, resolution, step, from_us, to_us and
    optionally quarantined_dups; `candles`: sid, t (epoch µs). Returns (summary, gaps) with epoch-µs
    ints; summary columns: sid, token, resolution, from_us, to_us, expected, present, missing,
    duplicates, off_grid; gaps: sid, token, resolution, gap_start, gap_end, missing_count."""
    import pyarrow as pa

    from bridge.ohlcv._duck import arrow, connect

    if "quarantined_dups" not in slices.column_names:
        slices = slices.append_column("quarantined_dups", pa.array([0] * slices.num_rows, pa.int64()))
    con = connect()
    try:
        con.register("slices", slices)
        con.register("candles", candles)
        con.execute(_SLICE_SQL)
        summary = arrow(con, _SUMMARY_SQL)
        gaps = arrow(con, "SELECT sid, token, resolution, gap_start, gap_end, missing_count FROM gaps "
                          "ORDER BY sid, gap_start")
    finally:
        con.close()
    return summary, gaps


# -- slices in the store ------------------------------------------------------------------------


def slice_coverage(
    store: "Store",
    slice_ids: Sequence[str],
    *,
    publish: bool = True,
    logical_key: str | None = None,
    job: Job = NULL_JOB,
) -> SliceCoverage:
    """Coverage of slice artifacts; published as coverage_summary + coverage_gaps unless `publish=False`.

    Raises:
        ArtifactNotFound; InvalidInput: an id is not an ohlcv_slice or none was given; Cancelled.
    """
    import pyarrow as pa

    from bridge.ohlcv._duck import arrow, connect

    ids = list(dict.fromkeys(slice_ids))
    if not ids:
        raise InvalidInput("no slices given", field="sliceIds")
    arts = store.get_many(ids)
    job.progress(0, 3, f"reading {len(arts)} slice(s)", force=True)
    meta, quarantines = _slice_meta(store, arts)
    con = connect()
    try:
        con.register("meta", meta)
        candles = arrow(
            con, "SELECT m.sid, epoch_us(p.ts) AS t FROM read_parquet($paths, filename = true) p "
                 "JOIN meta m ON m.path = p.filename", {"paths": meta.column("path").to_pylist()},
        )
    finally:
        con.close()
    job.progress(1, 3, "computing coverage")
    summary_us, gaps_us = compute_slice_coverage(meta.drop_columns(["path"]), candles)
    summary, gaps = _summary_rows(summary_us, meta), _gap_rows(gaps_us)
    if not publish:
        return SliceCoverage(None, None, summary, gaps)
    job.check()
    job.progress(2, 3, "publishing")
    key = logical_key or _coverage_key(arts)
    inputs = [a.artifact_id for a in arts] + [q.artifact_id for q in quarantines]
    prov = provenance().publish_kwargs("coverage")
    params = {"slices": len(arts)}
    s_res = store.publish("coverage_summary", 1, key, summary.drop_columns(["slice_id"]),
                          input_artifact_ids=inputs, params=params, **prov)
    g_res = store.publish("coverage_gaps", 1, key, gaps, input_artifact_ids=inputs, params=params, **prov)
    job.progress(3, 3, "done", force=True)
    return SliceCoverage(s_res.artifact_id, g_res.artifact_id, summary, gaps)


def _slice_meta(store: "Store", arts: list["Artifact"]) -> tuple["pa.Table", list["Artifact"]]:
    import pyarrow as pa

    from bridge.store.canonical import parse_logical_key

    rows: dict[str, list] = {k: [] for k in ("sid", "slice_id", "token", "resolution", "step", "from_us", "to_us",
                                              "quarantined_dups", "path")}
    quarantines = []
    for sid, art in enumerate(arts):
        if art.artifact_type != SLICE_TYPE:
            raise InvalidInput(f"artifact {art.artifact_id} is {art.artifact_type}, not an ohlcv_slice",
                               field="sliceIds", value=art.artifact_id)
        key = parse_logical_key(art.logical_key)
        try:
            res = parse_resolution(key["res"])
            lo, hi = parse_ts(key["from"], "from"), parse_ts(key["to"], "to")
            token = key["token"]
        except KeyError as exc:
            raise InvalidInput(f"slice {art.artifact_id} has no {exc.args[0]}= in its logical key "
                               f"{art.logical_key!r}", field="sliceIds", value=art.artifact_id) from None
        q = _quarantine_for(store, art)
        dups = _quarantined_duplicates(store, q) if q is not None else 0
        if q is not None:
            quarantines.append(q)
        for k, v in (("sid", sid), ("slice_id", art.artifact_id), ("token", token), ("resolution", res.text),
                     ("step", res.step_us), ("from_us", lo), ("to_us", hi), ("quarantined_dups", dups),
                     ("path", art.path_parquet)):
            rows[k].append(v)
    types = {"sid": pa.int64(), "step": pa.int64(), "from_us": pa.int64(), "to_us": pa.int64(),
             "quarantined_dups": pa.int64()}
    return pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in rows.items()}), quarantines


def _quarantine_for(store: "Store", art: "Artifact") -> "Artifact | None":
    chain = (art.tags.get("chain") or [None])[0]
    for q in store.find_by_logical_key(QUARANTINE_TYPE, art.logical_key):
        if q.status == "active" and (q.tags.get("chain") or [None])[0] == chain:
            return q
    return None


def _quarantined_duplicates(store: "Store", q: "Artifact") -> int:
    import pyarrow.compute as pc

    reasons = store.read_table(q.artifact_id, columns=["reason"]).column("reason")
    return int(pc.sum(pc.match_substring(reasons, "duplicate_ts").cast("int64")).as_py() or 0)


def _summary_rows(summary_us: "pa.Table", meta: "pa.Table") -> "pa.Table":
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pc.take(meta.column("slice_id"), summary_us.column("sid"))
    expected, present = summary_us.column("expected"), summary_us.column("present")
    ratio = pc.if_else(pc.equal(expected, 0), 1.0, pc.divide(pc.cast(present, pa.float64()), pc.cast(expected, pa.float64())))
    return pa.table({
        "slice_id": ids,
        "token": summary_us.column("token"), "resolution": summary_us.column("resolution"),
        "from_ts": _ts(summary_us.column("from_us")), "to_ts": _ts(summary_us.column("to_us")),
        "expected": expected.cast(pa.int64()), "present": present.cast(pa.int64()),
        "missing": summary_us.column("missing").cast(pa.int64()),
        "duplicates": summary_us.column("duplicates").cast(pa.int64()),
        "off_grid": summary_us.column("off_grid").cast(pa.int64()),
        "coverage_ratio": ratio,
    })


def _gap_rows(gaps_us: "pa.Table") -> "pa.Table":
    import pyarrow as pa

    return pa.table({
        "token": gaps_us.column("token"), "resolution": gaps_us.column("resolution"),
        "gap_start": _ts(gaps_us.column("gap_start")), "gap_end": _ts(gaps_us.column("gap_end")),
        "missing_count": gaps_us.column("missing_count").cast(pa.int64()),
    })


def _ts(arr) -> Any:
    import pyarrow as pa

    return arr.cast(pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _coverage_key(arts: list["Artifact"]) -> str:
    if len(arts) == 1:
        return arts[0].logical_key
    digest = hashlib.sha256("\n".join(sorted(a.artifact_id for a in arts)).encode("utf-8")).hexdigest()[:16]
    return f"slices={len(arts)}/digest={digest}"


# -- alert forward coverage ---------------------------------------------------------------------

_ALERT_SQL = """
WITH a AS (
    SELECT alert_id, token_address AS token, chain, epoch_us(alert_ts) AS t0,
           epoch_us(alert_ts) + $horizon AS t1,
           epoch_us(alert_ts) - (epoch_us(alert_ts) % $step) AS g0,
           (epoch_us(alert_ts) + $horizon) + (($step - (epoch_us(alert_ts) + $horizon) % $step) % $step) AS g1
    FROM alerts
),
c AS (SELECT DISTINCT token, chain, t FROM candles WHERE t % $step = 0),
hits AS (
    SELECT a.alert_id, count(DISTINCT c.t) AS present
    FROM a JOIN c ON c.token = a.token AND (c.chain IS NULL OR c.chain = a.chain)
                 AND c.t >= a.g0 AND c.t < a.g1
    GROUP BY a.alert_id
)
SELECT a.alert_id, a.token, a.chain, a.t0, a.t1,
       greatest((a.g1 - a.g0) // $step, 0) AS expected, coalesce(h.present, 0) AS present
FROM a LEFT JOIN hits h USING (alert_id)
ORDER BY a.t0, a.alert_id
"""


def compute_alert_coverage(alerts: "pa.Table", candles: "pa.Table", res: Resolution, horizon_us: int) -> "pa.Table":
    """`alerts`: alert_id, alert_ts, token_address, chain; `candles`: token, chain (nullable: any
    chain), t (epoch µs). Returns alert_forward_coverage rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from bridge.ohlcv._duck import arrow, connect

    con = connect()
    try:
        con.register("alerts", alerts.select(["alert_id", "alert_ts", "token_address", "chain"]))
        con.register("candles", candles.select(["token", "chain", "t"]))
        out = arrow(con, _ALERT_SQL, {"step": res.step_us, "horizon": horizon_us})
    finally:
        con.close()
    expected, present = out.column("expected").cast(pa.int64()), out.column("present").cast(pa.int64())
    ratio = pc.if_else(pc.equal(expected, 0), 1.0, pc.divide(pc.cast(present, pa.float64()), pc.cast(expected, pa.float64())))
    return pa.table({
        "alert_id": out.column("alert_id"), "token": out.column("token"), "chain": out.column("chain"),
        "alert_ts": _ts(out.column("t0")), "horizon_end": _ts(out.column("t1")),
        "expected": expected, "present": present, "coverage_ratio": ratio,
        "fully_covered": pc.greater_equal(present, expected),
    })


def alert_forward_coverage(
    store: "Store",
    alerts_artifact_id: str,
    horizon: Any,
    resolution: str | Resolution,
    *,
    slice_ids: Sequence[str] | None = None,
    publish: bool = True,
    job: Job = NULL_JOB,
) -> AlertCoverage:
    """For each alert: is [alert_ts, alert_ts + horizon] covered by candles of its token?

    Candles come from `slice_ids`, or from every active ohlcv_slice of the alerts' tokens at
    `resolution`. Published as alert_forward_coverage (inputs: the alerts and those slices).

    Raises:
        ArtifactNotFound, InvalidInput, Cancelled.
    """
    from bridge.ohlcv.slices import read_alerts

    res = resolution if isinstance(resolution, Resolution) else parse_resolution(resolution)
    horizon_us = parse_duration(horizon, "horizon")
    if horizon_us <= 0:
        raise InvalidInput("horizon must be positive", field="horizon", value=str(horizon))
    alerts = read_alerts(store, alerts_artifact_id)
    job.progress(0, 3, "finding slices", force=True)
    tokens = set(alerts.column("token_address").to_pylist())
    arts = store.get_many(list(dict.fromkeys(slice_ids))) if slice_ids is not None else _active_slices(store, res, tokens)
    for a in arts:
        if a.artifact_type != SLICE_TYPE:
            raise InvalidInput(f"artifact {a.artifact_id} is {a.artifact_type}, not an ohlcv_slice",
                               field="sliceIds", value=a.artifact_id)
    job.progress(1, 3, f"reading {len(arts)} slice(s)")
    candles = _read_slice_candles(arts, res)
    job.check()
    table = compute_alert_coverage(alerts, candles, res, horizon_us)
    if not publish:
        return AlertCoverage(None, table, tuple(a.artifact_id for a in arts))
    job.progress(2, 3, "publishing")
    key = f"alerts={alerts_artifact_id}/res={res.text}/horizon={_duration_text(horizon_us)}"
    pres = store.publish(
        "alert_forward_coverage", 1, key, table,
        input_artifact_ids=[alerts_artifact_id, *(a.artifact_id for a in arts)],
        params={"alerts_artifact_id": alerts_artifact_id, "resolution": res.text, "horizon_us": horizon_us,
                "slices": len(arts)},
        tags={"resolution": res.text},
        **provenance().publish_kwargs("coverage"),
    )
    job.progress(3, 3, "done", force=True)
    return AlertCoverage(pres.artifact_id, table, tuple(a.artifact_id for a in arts))


def _active_slices(store: "Store", res: Resolution, tokens: set[str]) -> list["Artifact"]:
    out, cursor = [], None
    while True:
        page = store.list(artifact_type=SLICE_TYPE, status="active", tags={"resolution": res.text},
                          limit=10_000, cursor=cursor)
        out += [a for a in page.items if (a.tags.get("token") or [None])[0] in tokens]
        if not page.next_cursor:
            return out
        cursor = page.next_cursor


def _read_slice_candles(arts: list["Artifact"], res: Resolution) -> "pa.Table":
    import pyarrow as pa

    from bridge.ohlcv._duck import arrow, connect

    empty = pa.table({"token": pa.array([], pa.string()), "chain": pa.array([], pa.string()),
                      "t": pa.array([], pa.int64())})
    arts = [a for a in arts if a.row_count]
    if not arts:
        return empty
    meta = pa.table({
        "path": [a.path_parquet for a in arts],
        "chain": pa.array([(a.tags.get("chain") or [None])[0] for a in arts], pa.string()),
    })
    con = connect()
    try:
        con.register("meta", meta)
        return arrow(
            con, "SELECT p.token, m.chain, epoch_us(p.ts) AS t FROM read_parquet($paths, filename = true) p "
                 "JOIN meta m ON m.path = p.filename WHERE p.resolution = $res",
            {"paths": meta.column("path").to_pylist(), "res": res.text},
        )
    finally:
        con.close()


def _duration_text(us: int) -> str:
    for unit, size in (("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000)):
        if us % size == 0:
            return f"{us // size}{unit}"
    return f"{us}us"

