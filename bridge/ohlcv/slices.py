"""Slice export: candles of one token at one resolution over [from, to) → an `ohlcv_slice` v2
artifact (valid candles) plus, when some candles break the rules, an `ohlcv_quarantine` v1
artifact under the same logical key (bridge/ohlcv/validate.py says which and why).

Reuse: an active slice with the same logical key (and chain tag) is returned without touching
ClickHouse. `refresh=True` queries again; if the candles changed, the new slice supersedes the
old one (and the new quarantine the old quarantine).

The batch export takes an alerts artifact, puts a window [ts - before, ts + after) around each
alert (widened to the resolution's grid), merges overlapping or adjacent windows of the same
token and chain, and exports one slice per merged window, reporting progress and honouring
cancellation between slices (each slice is published whole or not at all). Candles of up to
BATCH_WINDOWS windows come from one query, in one short source session, so the chDB store is
free for other processes between chunks and while slices are published.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec

from bridge.errors import InvalidInput, InvalidSupersession
from bridge.ohlcv.grid import (
    Resolution,
    TimeRange,
    format_iso,
    format_key_ts,
    parse_duration,
    parse_resolution,
    slice_logical_key,
)
from bridge.ohlcv.provenance import provenance
from bridge.progress import NULL_JOB, Job

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from bridge.ohlcv.source import CandleSource
    from bridge.store import Artifact, Store

__all__ = [
    "ALERT_TYPES",
    "BatchExportResult",
    "SliceResult",
    "Window",
    "alert_windows",
    "export_slice",
    "export_slices_for_alerts",
    "find_active_slice",
]

log = logging.getLogger(__name__)

SLICE_TYPE, SLICE_VERSION = "ohlcv_slice", 2
QUARANTINE_TYPE, QUARANTINE_VERSION = "ohlcv_quarantine", 1
ALERT_TYPES = ("alerts_v1", "alerts")
# Ingestion marks alerts whose chain it could not infer; their windows query candles of any chain.
UNKNOWN_CHAIN = "unknown"
# The batch export fetches up to this many windows (and about this many candles) per query.
BATCH_WINDOWS = 64
BATCH_CANDLES = 1_000_000


class SliceResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    artifact_id: str
    logical_key: str
    token: str
    chain: str | None
    resolution: str
    from_ts: str
    to_ts: str
    row_count: int
    reused: bool  # an active slice was returned without querying the source
    deduped: bool  # the source was queried but the store already had these candles
    quarantined: int = 0
    quarantine_artifact_id: str | None = None


class Window(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    chain: str | None
    start_us: int
    end_us: int
    alerts: int


class BatchExportResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    alerts_artifact_id: str
    resolution: str
    alerts: int
    windows: int
    exported: int
    reused: int
    quarantined: int
    row_count: int
    slices: list[SliceResult]


# -- one slice ----------------------------------------------------------------------------------


def export_slice(
    store: "Store",
    source: "CandleSource",
    token: str,
    chain: str | None,
    resolution: str | Resolution,
    from_ts: Any,
    to_ts: Any,
    *,
    refresh: bool = False,
    job: Job = NULL_JOB,
) -> SliceResult:
    """Export (or reuse) the slice of `token` at `resolution` over [from_ts, to_ts) (ISO-8601 text,
    aware datetimes or epoch µs). `chain=None` matches candles of any chain (and an untagged slice).

    Raises:
        InvalidInput: bad token, resolution or range.
        SourceUnavailable, Busy: the candle source failed or stayed locked.
        Cancelled: `job` was cancelled before anything was published.
    """
    from bridge.ohlcv.tokens import canonical_token

    token = canonical_token(token)
    res = resolution if isinstance(resolution, Resolution) else parse_resolution(resolution)
    rng = TimeRange.parse(from_ts, to_ts)
    key = slice_logical_key(token, res, rng)
    chain = chain or None
    if not refresh:
        existing = find_active_slice(store, key, chain)
        if existing is not None:
            return _reused(store, existing, token, chain, res, rng)
    job.check()
    candles = source.candles(token, chain, res, rng)
    return _publish(store, source, key, token, chain, res, rng, candles, refresh=refresh, job=job)


def find_active_slice(store: "Store", logical_key: str, chain: str | None) -> "Artifact | None":
    """The newest active slice under `logical_key` whose chain tag matches (None matches untagged)."""
    for art in store.find_by_logical_key(SLICE_TYPE, logical_key):
        if art.status == "active" and _chain_of(art) == chain:
            return art
    return None


def _chain_of(art: "Artifact") -> str | None:
    values = art.tags.get("chain") or []
    return values[0] if values else None


def _active_quarantine(store: "Store", logical_key: str, chain: str | None) -> "Artifact | None":
    for art in store.find_by_logical_key(QUARANTINE_TYPE, logical_key):
        if art.status == "active" and _chain_of(art) == chain:
            return art
    return None


def _reused(store: "Store", art: "Artifact", token: str, chain: str | None, res: Resolution,
            rng: TimeRange) -> SliceResult:
    q = _active_quarantine(store, art.logical_key, chain)
    return SliceResult(
        artifact_id=art.artifact_id, logical_key=art.logical_key, token=token, chain=chain,
        resolution=res.text, from_ts=format_iso(rng.start), to_ts=format_iso(rng.end),
        row_count=art.row_count, reused=True, deduped=False,
        quarantined=q.row_count if q else 0, quarantine_artifact_id=q.artifact_id if q else None,
    )


def _publish(store: "Store", source: "CandleSource", key: str, token: str, chain: str | None, res: Resolution,
             rng: TimeRange, candles: "pa.Table", *, refresh: bool, job: Job) -> SliceResult:
    from bridge.ohlcv.validate import split_candles

    split = split_candles(candles)
    tags = {"token": token, "resolution": res.text, **({"chain": chain} if chain else {})}
    params = {
        "token": token, "chain": chain, "resolution": res.text,
        "from": format_key_ts(rng.start), "to": format_key_ts(rng.end),
        "source": source.describe(), "refresh": refresh,
        "candles_read": candles.num_rows, "quarantined": split.rejected_count,
    }
    prov = provenance()
    previous = find_active_slice(store, key, chain) if refresh else None
    previous_q = _active_quarantine(store, key, chain) if refresh else None
    q_id = None
    if split.rejected_count:
        job.check()
        qres = store.publish(QUARANTINE_TYPE, QUARANTINE_VERSION, key, split.rejected, tags=tags, params=params,
                             **prov.publish_kwargs("quarantine"))
        q_id = qres.artifact_id
    job.check()
    pres = store.publish(SLICE_TYPE, SLICE_VERSION, key, split.valid, tags=tags, params=params,
                         **prov.publish_kwargs("slices"), job=job)
    if previous is not None:
        _supersede(store, pres.artifact_id, previous.artifact_id)
    if previous_q is not None:
        if q_id is None:
            store.tombstone(previous_q.artifact_id, f"refreshed slice {pres.artifact_id} has no rejected candles")
        else:
            _supersede(store, q_id, previous_q.artifact_id)
    log.info("slice %s: %d candles, %d quarantined -> %s%s", key, split.valid.num_rows, split.rejected_count,
             pres.artifact_id, " (deduped)" if pres.deduped else "")
    return SliceResult(
        artifact_id=pres.artifact_id, logical_key=key, token=token, chain=chain, resolution=res.text,
        from_ts=format_iso(rng.start), to_ts=format_iso(rng.end), row_count=pres.artifact.row_count,
        reused=False, deduped=pres.deduped, quarantined=split.rejected_count, quarantine_artifact_id=q_id,
    )


def _supersede(store: "Store", new_id: str, old_id: str) -> None:
    if new_id == old_id:
        return
    try:
        store.supersede(new_id, old_id)
    except InvalidSupersession as exc:  # e.g. the new one already supersedes another: keep both active
        log.warning("could not supersede %s by %s: %s", old_id, new_id, exc)


# -- windows around alerts ----------------------------------------------------------------------


_WINDOWS_SQL = """
WITH w AS (
    SELECT token, chain,
           s - (s % $step) AS s,
           e + (($step - e % $step) % $step) AS e
    FROM (SELECT token_address AS token, chain,
                 epoch_us(alert_ts) - $before AS s, epoch_us(alert_ts) + $after AS e
          FROM alerts)
),
marked AS (
    SELECT *, max(e) OVER (PARTITION BY token, chain ORDER BY s, e
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM w
),
islands AS (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR s > prev_end THEN 1 ELSE 0 END)
                  OVER (PARTITION BY token, chain ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS island
    FROM marked
)
SELECT token, chain, min(s) AS start_us, max(e) AS end_us, count(*) AS alerts
FROM islands GROUP BY token, chain, island ORDER BY token, chain, start_us
"""


def alert_windows(alerts: "pa.Table", res: Resolution, before_us: int, after_us: int) -> list[Window]:
    """Merged windows per (token, chain): [ts - before, ts + after) widened to the grid; windows that
    overlap or touch are merged. `alerts` needs alert_ts, token_address, chain; chain `unknown`
    becomes None (candles of any chain)."""
    from bridge.ohlcv._duck import connect

    if before_us + after_us <= 0:
        raise InvalidInput("the window around each alert is empty: before + after must be > 0", field="after")
    con = connect()
    try:
        con.register("alerts", alerts.select(["alert_ts", "token_address", "chain"]))
        rows = con.execute(_WINDOWS_SQL, {"step": res.step_us, "before": before_us, "after": after_us}).fetchall()
    finally:
        con.close()
    return [Window(token=t, chain=None if c in (None, "", UNKNOWN_CHAIN) else c, start_us=int(s), end_us=int(e),
                   alerts=int(n)) for t, c, s, e, n in rows]


def read_alerts(store: "Store", alerts_artifact_id: str) -> "pa.Table":
    """Raises:
    ArtifactNotFound; InvalidInput: not an alerts artifact.
    """
    art = store.get(alerts_artifact_id)
    if art.artifact_type not in ALERT_TYPES:
        raise InvalidInput(
            f"artifact {alerts_artifact_id} is {art.artifact_type}, not an alerts artifact ({', '.join(ALERT_TYPES)})",
            field="alertsArtifactId", value=alerts_artifact_id,
        )
    return store.read_table(alerts_artifact_id, columns=["alert_id", "alert_ts", "token_address", "chain"])


def export_slices_for_alerts(
    store: "Store",
    source: "CandleSource",
    alerts_artifact_id: str,
    before: Any,
    after: Any,
    resolution: str | Resolution,
    *,
    refresh: bool = False,
    job: Job = NULL_JOB,
) -> BatchExportResult:
    """One slice per merged window around the alerts of an alerts artifact.

    Raises:
        ArtifactNotFound, InvalidInput, SourceUnavailable, Busy, Cancelled (between slices; the
        slices exported so far stay published and are reused by the next run).
    """
    res = resolution if isinstance(resolution, Resolution) else parse_resolution(resolution)
    before_us, after_us = parse_duration(before, "before"), parse_duration(after, "after")
    alerts = read_alerts(store, alerts_artifact_id)
    windows = alert_windows(alerts, res, before_us, after_us)
    total = len(windows)
    results: list[SliceResult | None] = [None] * total
    todo: list[int] = []
    for i, w in enumerate(windows):
        rng = TimeRange(w.start_us, w.end_us)
        existing = None if refresh else find_active_slice(store, slice_logical_key(w.token, res, rng), w.chain)
        if existing is None:
            todo.append(i)
        else:
            results[i] = _reused(store, existing, w.token, w.chain, res, rng)
    done = total - len(todo)
    job.progress(done, total, f"{total} windows for {alerts.num_rows} alerts, {done} reused", force=True)
    for chunk in _chunks(todo, windows, res):
        job.check()
        # one query (one short chDB session) per chunk: other processes get their turn in between
        for i, candles in _candles_by_window(source, [windows[i] for i in chunk], res, chunk):
            job.check()
            w = windows[i]
            rng = TimeRange(w.start_us, w.end_us)
            results[i] = _publish(store, source, slice_logical_key(w.token, res, rng), w.token, w.chain, res,
                                  rng, candles, refresh=refresh, job=NULL_JOB)
            done += 1
            job.progress(done, total, f"{w.token} {format_key_ts(w.start_us)}")
    slices = [r for r in results if r is not None]
    return BatchExportResult(
        alerts_artifact_id=alerts_artifact_id, resolution=res.text, alerts=alerts.num_rows, windows=total,
        exported=sum(not r.reused for r in slices), reused=sum(r.reused for r in slices),
        quarantined=sum(r.quarantined for r in slices), row_count=sum(r.row_count for r in slices),
        slices=slices,
    )


def _chunks(todo: list[int], windows: list[Window], res: Resolution):
    """Groups of windows fetched with one query: at most BATCH_WINDOWS windows and about
    BATCH_CANDLES expected candles each (a single bigger window gets its own query)."""
    chunk: list[int] = []
    budget = 0
    for i in todo:
        w = windows[i]
        size = (w.end_us - w.start_us) // res.step_us
        if chunk and (len(chunk) >= BATCH_WINDOWS or budget + size > BATCH_CANDLES):
            yield chunk
            chunk, budget = [], 0
        chunk.append(i)
        budget += size
    if chunk:
        yield chunk


def _candles_by_window(source: "CandleSource", chunk_windows: list[Window], res: Resolution, indices: list[int]):
    """(window index, its candles) for each window of a chunk, from one `candles_many` query."""
    import numpy as np

    table = source.candles_many(
        [(w.token, w.chain, TimeRange(w.start_us, w.end_us)) for w in chunk_windows], res)
    w_col = table.column("w").to_numpy()
    bounds = np.searchsorted(w_col, np.arange(len(chunk_windows) + 1))
    body = table.drop_columns(["w"])
    for j, i in enumerate(indices):
        yield i, body.slice(int(bounds[j]), int(bounds[j + 1] - bounds[j]))
