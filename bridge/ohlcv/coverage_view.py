"""Where candles are missing, from published coverage artifacts (read-only): per token and per
alert window (`alert_forward_coverage`), per slice and gap (`coverage_summary`, `coverage_gaps`).

    report = coverage_report(store, artifact_id)   # {"kind", "tokens", "windows" | "gaps", ...}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.errors import InvalidInput

if TYPE_CHECKING:  # pragma: no cover
    from bridge.store import Store

__all__ = ["COVERAGE_TYPES", "coverage_report"]

COVERAGE_TYPES = ("alert_forward_coverage", "coverage_summary", "coverage_gaps")


def _ms(ts) -> float | None:
    return None if ts is None else ts.timestamp() * 1000.0


def coverage_report(store: "Store", artifact_id: str, *, max_rows: int = 2000) -> dict[str, Any]:
    """One coverage artifact summarised for people.

    alert_forward_coverage: per token (alerts, windows fully covered, expected, present and
    missing candles, ratio) and the windows with missing candles (worst first, at most
    `max_rows`). coverage_summary / coverage_gaps: per token totals and the gaps (longest first).

    Raises:
        ArtifactNotFound; InvalidInput: not a coverage artifact.
    """
    import pyarrow.compute as pc

    art = store.get(artifact_id)
    if art.artifact_type not in COVERAGE_TYPES:
        raise InvalidInput(f"{artifact_id} is a {art.artifact_type}, not one of {', '.join(COVERAGE_TYPES)}",
                           field="artifactId", value=artifact_id)
    t = store.read_table(artifact_id)
    out: dict[str, Any] = {"kind": art.artifact_type, "artifactId": artifact_id, "rows": t.num_rows}
    if art.artifact_type == "alert_forward_coverage":
        t = t.append_column("missing", pc.subtract(t.column("expected"), t.column("present")))
        g = t.group_by("token").aggregate([("alert_id", "count"), ("fully_covered", "sum"), ("expected", "sum"),
                                          ("present", "sum"), ("missing", "sum")])
        tokens = [{"token": r["token"], "windows": r["alert_id_count"], "fullyCovered": r["fully_covered_sum"],
                   "expected": r["expected_sum"], "present": r["present_sum"], "missing": r["missing_sum"],
                   "ratio": (r["present_sum"] / r["expected_sum"]) if r["expected_sum"] else None}
                  for r in g.to_pylist()]
        bad = t.filter(pc.greater(t.column("missing"), 0)).sort_by([("missing", "descending"), ("alert_ts", "ascending")])
        out["windowsWithGaps"] = bad.num_rows
        out["windows"] = [{"alertId": r["alert_id"], "token": r["token"], "chain": r["chain"],
                           "alertTs": _ms(r["alert_ts"]), "horizonEnd": _ms(r["horizon_end"]),
                           "expected": r["expected"], "present": r["present"], "missing": r["missing"],
                           "ratio": r["coverage_ratio"]} for r in bad.slice(0, max_rows).to_pylist()]
    elif art.artifact_type == "coverage_summary":
        g = t.group_by("token").aggregate([("expected", "sum"), ("present", "sum"), ("missing", "sum"),
                                          ("duplicates", "sum"), ("off_grid", "sum")])
        tokens = [{"token": r["token"], "expected": r["expected_sum"], "present": r["present_sum"],
                   "missing": r["missing_sum"], "duplicates": r["duplicates_sum"], "offGrid": r["off_grid_sum"],
                   "ratio": (r["present_sum"] / r["expected_sum"]) if r["expected_sum"] else None}
                  for r in g.to_pylist()]
    else:
        g = t.group_by("token").aggregate([("missing_count", "sum"), ("gap_start", "count")])
        tokens = [{"token": r["token"], "gaps": r["gap_start_count"], "missing": r["missing_count_sum"]}
                  for r in g.to_pylist()]
        worst = t.sort_by([("missing_count", "descending"), ("gap_start", "ascending")]).slice(0, max_rows)
        out["gaps"] = [{"token": r["token"], "resolution": r["resolution"], "gapStart": _ms(r["gap_start"]),
                        "gapEnd": _ms(r["gap_end"]), "missing": r["missing_count"]} for r in worst.to_pylist()]
    tokens.sort(key=lambda r: (-(r.get("missing") or 0), r["token"]))
    out["tokens"] = tokens
    return out
