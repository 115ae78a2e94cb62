"""What each page asks for, answered by the domain (bridge.store, bridge.projections,
bridge.experiments, bridge.ohlcv): this module only parses request parameters, calls one or a few
domain functions and shapes JSON. It holds no query of its own and never writes the lake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from bridge.errors import InvalidInput, ValidationFailed
from bridge.store import Store

__all__ = ["Views"]

PAGE_SIZES = (25, 50, 100, 200)
GRAPH_FANOUT = 60          # nodes shown per expansion of a lineage node; the rest are counted
PREVIEW_ROWS = 20
QUERY_MAX_ROWS = 1000      # the SQL console's row limit (the sandbox truncates at it)
QUERY_MAX_BYTES = 2 << 20  # and its byte limit: rows are dropped from the end past this much JSON


def _b(obj: Any) -> Any:
    return msgspec.to_builtins(obj)


class Views:
    """One lake's read-only views. Thread-safe (the Store is)."""

    def __init__(self, store: Store) -> None:
        from bridge.projections import Projections

        self.store = store
        self.projections = Projections(store)
        self._counts: tuple[int, dict[str, Any]] | None = None

    # -- artifacts ---------------------------------------------------------------------------

    def artifact_types(self) -> dict[str, Any]:
        """Counts by type and status, recounted only when an artifact event happened since."""
        marker = self.store.last_event_id()
        cached = self._counts
        if cached is not None and cached[0] == marker:
            return cached[1]
        by_type: dict[str, dict[str, int]] = {}
        for t, status, n in self.store.counts():
            by_type.setdefault(t, {})[status] = n
        out = {"types": [{"artifactType": t, "counts": c, "total": sum(c.values())} for t, c in sorted(by_type.items())]}
        self._counts = (marker, out)
        return out

    def artifacts(self, q: Mapping[str, str]) -> dict[str, Any]:
        tags = {}
        for text in _many(q, "tag"):
            k, sep, v = text.partition("=")
            if not sep or not k:
                raise ValidationFailed("a tag filter is key=value", field="tag", value=text)
            tags[k] = v
        limit = _int(q.get("limit"), 50, "limit")
        if limit not in PAGE_SIZES:
            raise ValidationFailed(f"limit must be one of {PAGE_SIZES}", field="limit", value=limit)
        page = self.store.list(
            artifact_type=q.get("type") or None, status=q.get("status") or None,
            logical_key_prefix=q.get("prefix") or None, tags=tags or None, ts_from=q.get("from") or None,
            ts_to=q.get("to") or None, limit=limit, cursor=q.get("cursor") or None, search=q.get("q") or None,
            order=q.get("sort") or "-created_at")
        return {"items": [_artifact_row(a) for a in page.items], "nextCursor": page.next_cursor}

    def artifact(self, artifact_id: str) -> dict[str, Any]:
        from bridge.projections.results import json_rows
        from bridge.store.inspect import column_stats, head
        from bridge.store.spec import get_spec

        art = self.store.get(artifact_id)
        out: dict[str, Any] = {"artifact": _b(art), "provenance": _b(self.store.provenance(artifact_id))}
        try:
            out["spec"] = _b(get_spec(art.artifact_type, art.schema_version))  # as listArtifactTypes sends it
        except InvalidInput:
            out["spec"] = None
        try:
            table = head(self.store, artifact_id, PREVIEW_ROWS)
            out["preview"] = {"columns": table.column_names, "rows": json_rows(table)}
            out["stats"] = [_b(s) for s in column_stats(self.store, artifact_id)]
        except (OSError, ValueError) as exc:  # the file is gone (gc'd tombstone), unreadable or corrupt
            out["preview"], out["stats"] = None, None
            out["fileError"] = f"{type(exc).__name__}: {exc}"
        # the cheap upward check first; the reasons (with paths) only for a stale artifact
        stale = self.store.stale([artifact_id]) if self.store.stale_ids([artifact_id]) else []
        out["stale"] = _b(stale[0].reasons) if stale else []
        return out

    def lineage(self, artifact_id: str, direction: str) -> dict[str, Any]:
        """Direct neighbours of one node (the graph expands a node at a time)."""
        if direction not in ("upstream", "downstream"):
            raise ValidationFailed("direction is upstream or downstream", field="direction", value=direction)
        walk = self.store.upstream if direction == "upstream" else self.store.downstream
        graph = walk(artifact_id, 1)
        nodes = graph.nodes[:GRAPH_FANOUT]
        ids = [n.artifact_id for n in nodes]
        stale = self.store.stale_ids(ids) if ids else set()
        counts = self._neighbour_counts(ids)
        return {"root": artifact_id, "direction": direction, "total": len(graph.nodes),
                "nodes": [{**_b(n), "stale": n.artifact_id in stale, **counts.get(n.artifact_id, {})} for n in nodes]}

    def _neighbour_counts(self, ids: list[str]) -> dict[str, dict[str, int]]:
        """How many inputs and outputs each node has, so the graph can offer to expand it."""
        out: dict[str, dict[str, int]] = {}
        for a in self.store.get_many([i for i in ids if self._known(i)]):
            out[a.artifact_id] = {"inputs": len(a.input_artifact_ids)}
        for i in ids:
            if i in out:
                out[i]["outputs"] = self.store.downstream_count(i)
        return out

    def _known(self, artifact_id: str) -> bool:
        from bridge.errors import ArtifactNotFound

        try:
            self.store.get(artifact_id)
            return True
        except ArtifactNotFound:
            return False

    def node(self, artifact_id: str) -> dict[str, Any]:
        a = self.store.get(artifact_id)
        stale = bool(self.store.stale_ids([artifact_id]))
        return {"artifactId": a.artifact_id, "artifactType": a.artifact_type, "logicalKey": a.logical_key,
                "status": a.status, "stale": stale, "inputs": len(a.input_artifact_ids),
                "outputs": self.store.downstream_count(artifact_id)}

    # -- experiments -------------------------------------------------------------------------

    def runs(self, q: Mapping[str, str]) -> dict[str, Any]:
        from bridge.experiments.runs import RunRecords
        from bridge.experiments.views import run_metrics

        limit = _int(q.get("limit"), 100, "limit")
        if not 1 <= limit <= 500:
            raise ValidationFailed("limit must be between 1 and 500", field="limit", value=limit)
        status = q.get("status") or None
        if status is not None and status not in ("pending", "running", "completed", "failed"):
            raise ValidationFailed("status is pending, running, completed or failed", field="status", value=status)
        runs = RunRecords(self.store).list(experiment_id=q.get("experiment") or None, status=status,
                                           sweep_id=q.get("sweep") or None, search=q.get("q") or None, limit=limit)
        keys = ("trade_count", "total_return", "win_rate", "max_drawdown", "sharpe")
        out = []
        for r in runs:
            m = run_metrics(self.store, r) if r.status == "completed" else {}
            out.append({"runId": r.run_id, "experimentId": r.experiment_id, "name": r.name, "status": r.status,
                        "sweepId": r.sweep_id, "createdAt": r.created_at, "durationMs": r.execution.duration,
                        "error": r.execution.error, "metrics": {k: m.get(k) for k in keys}})
        return {"runs": out, "metricKeys": list(keys)}

    def run(self, run_id: str) -> dict[str, Any]:
        from bridge.experiments.views import run_view

        return run_view(self.store, run_id)

    def trade(self, run_id: str, trade_id: str) -> dict[str, Any]:
        from bridge.experiments.views import trade_candles

        return trade_candles(self.store, run_id, trade_id)

    def compare(self, q: Mapping[str, str]) -> dict[str, Any]:
        from bridge.experiments.views import compare_runs

        ids = [i for i in (q.get("runs") or "").split(",") if i]
        return compare_runs(self.store, ids)

    def sweeps(self) -> dict[str, Any]:
        from bridge.experiments.views import list_sweeps

        return {"sweeps": [_b(s) for s in list_sweeps(self.store)]}

    def sweep(self, sweep_id: str) -> dict[str, Any]:
        from bridge.experiments.views import sweep_view

        return sweep_view(self.store, sweep_id)

    # -- coverage ----------------------------------------------------------------------------

    def coverage(self, q: Mapping[str, str]) -> dict[str, Any]:
        from bridge.ohlcv.coverage_view import COVERAGE_TYPES, coverage_report

        available = []
        for t in COVERAGE_TYPES:
            page = self.store.list(artifact_type=t, status="active", order="-created_at", limit=50)
            available += [_artifact_row(a) for a in page.items]
        available.sort(key=lambda a: a["createdAt"], reverse=True)
        chosen = q.get("artifact") or next((a["artifactId"] for a in available
                                            if a["artifactType"] == "alert_forward_coverage"),
                                           available[0]["artifactId"] if available else None)
        return {"available": available, "report": coverage_report(self.store, chosen) if chosen else None}

    # -- projections -------------------------------------------------------------------------

    def projection_list(self) -> dict[str, Any]:
        return {"projections": [_b(p) for p in self.projections.list()],
                "limits": {"maxRows": QUERY_MAX_ROWS, "maxBytes": QUERY_MAX_BYTES}}

    def query(self, body: Mapping[str, Any]) -> dict[str, Any]:
        pid, sql = body.get("projectionId"), body.get("sql")
        if not isinstance(pid, str) or not pid:
            raise ValidationFailed("choose a projection", field="projectionId")
        if not isinstance(sql, str) or not sql.strip():
            raise ValidationFailed("write a SQL statement", field="sql")
        res = self.projections.query(pid, sql, max_rows=QUERY_MAX_ROWS)
        out = _b(res)
        encoded = msgspec.json.encode(out)
        if len(encoded) > QUERY_MAX_BYTES:
            rows = out["rows"]
            lo, hi = 0, len(rows)  # the most rows that fit
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if len(msgspec.json.encode(rows[:mid])) <= QUERY_MAX_BYTES - 4096:
                    lo = mid
                else:
                    hi = mid - 1
            out["rows"], out["rowCount"], out["truncated"] = rows[:lo], lo, True
            out["truncatedBy"] = "bytes"
        elif res.truncated:
            out["truncatedBy"] = "rows"
        return out


def _artifact_row(a) -> dict[str, Any]:
    return {"artifactId": a.artifact_id, "artifactType": a.artifact_type, "schemaVersion": a.schema_version,
            "logicalKey": a.logical_key, "status": a.status, "rowCount": a.row_count, "minTs": a.min_ts,
            "maxTs": a.max_ts, "createdAt": a.created_at, "tags": a.tags, "supersededBy": a.superseded_by}


def _many(q: Mapping[str, str], key: str) -> list[str]:
    getlist = getattr(q, "getlist", None)
    if getlist is not None:
        return [v for v in getlist(key) if v]
    v = q.get(key)
    return [v] if v else []


def _int(text: str | None, default: int, field: str) -> int:
    if text in (None, ""):
        return default
    try:
        return int(text)
    except ValueError:
        raise ValidationFailed(f"{field} must be an integer", field=field, value=text) from None
