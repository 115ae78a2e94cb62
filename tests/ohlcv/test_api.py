"""The OHLCV wire layer: camelCase params decode, handlers call the domain on real chDB, results
encode to JSON with ISO `Z` times; progress and cancel go through ctx.job."""

from __future__ import annotations

import json
import subprocess
import sys
import msgspec
import pytest

from bridge.api import ohlcv as api
from bridge.api._method import Context
from bridge.errors import Cancelled
from bridge.ohlcv.sample import generate_candles, write_candles
from bridge.progress import Job


def _ctx(store, job):
    """The daemon's per-request context over this test's store (a real Context, not a stand-in)."""
    return Context(store.lake, shared={"store": store}, job=job)


def decode(params_type, obj):
    return msgspec.json.decode(json.dumps(obj).encode(), type=params_type)


def encode(result) -> dict:
    return json.loads(msgspec.json.encode(result))


def test_importing_the_api_module_stays_light():
    code = ("import sys, bridge.api.ohlcv; "
            "print(sorted(m for m in ('pyarrow', 'duckdb', 'pandas', 'chdb', 'clickhouse_connect') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_params_are_camel_case_and_strict():
    p = decode(api.ExportSliceParams, {"token": "T", "resolution": "1m", "from": "2026-01-05T00:00:00Z",
                                       "to": "2026-01-05T01:00:00Z", "source": {"dsn": "chdb:///x"}})
    assert p.from_ == "2026-01-05T00:00:00Z" and p.source.dsn == "chdb:///x"
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        decode(api.ExportSliceParams, {"token": "T", "resolution": "1m", "from": "a", "to": "b", "colour": 1})
    p = decode(api.ExportSlicesForAlertsParams, {"alertsArtifactId": "x"})
    assert (p.before, p.after, p.resolution) == ("1h", "24h", "1m")


def test_load_export_and_coverage_through_the_handlers(store, tmp_path):
    path = write_candles(generate_candles(["TokA"], "2026-01-02T00:00:00Z", "2026-01-06T00:00:00Z", "1h",
                                          weekend_gaps=True), tmp_path / "c.parquet")
    events = []
    ctx = _ctx(store, Job(lambda d, t, m: events.append((d, t)), min_interval=0))
    loaded = encode(api.load_candles(ctx, decode(api.LoadCandlesParams, {"paths": [str(path)]})))
    assert loaded["rowsVisible"] == 48 and loaded["source"].startswith("chdb:///")
    params = decode(api.ExportSliceParams, {"token": "TokA", "chain": "solana", "resolution": "1h",
                                            "from": "2026-01-02T00:00:00Z", "to": "2026-01-06T00:00:00Z"})
    first = encode(api.export_slice(ctx, params))
    assert first["rowCount"] == 48 and first["fromTs"] == "2026-01-02T00:00:00.000000Z" and not first["reused"]
    assert encode(api.export_slice(ctx, params))["reused"] is True
    cov = encode(api.slice_coverage(ctx, decode(api.SliceCoverageParams, {"sliceIds": [first["artifactId"]]})))
    assert (cov["expected"], cov["present"], cov["gapCount"]) == (96, 48, 1)
    assert cov["gaps"] == [{"token": "TokA", "resolution": "1h", "gapStart": "2026-01-03T00:00:00.000000Z",
                            "gapEnd": "2026-01-05T00:00:00.000000Z", "missingCount": 48}]
    assert cov["summaryArtifactId"] and events


def test_batch_and_alert_coverage_and_cancel(store, tmp_path):
    path = write_candles(generate_candles(["TokA", "TokB"], "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "1m"),
                         tmp_path / "c.parquet")
    ctx = _ctx(store, Job())
    api.load_candles(ctx, decode(api.LoadCandlesParams, {"paths": [str(path)]}))
    alerts = store.publish("alerts", 1, "api-alerts", [
        {"alert_id": "a", "alert_ts": "2026-01-05T02:00:00Z", "token_address": "TokA", "chain": "solana"},
        {"alert_id": "b", "alert_ts": "2026-01-05T03:00:00Z", "token_address": "TokB", "chain": "solana"},
    ]).artifact_id
    cancelled = _ctx(store, Job())
    cancelled.job.cancel()
    with pytest.raises(Cancelled):
        api.export_slices_for_alerts(cancelled, decode(api.ExportSlicesForAlertsParams,
                                                       {"alertsArtifactId": alerts, "after": "2h"}))
    assert store.list(artifact_type="ohlcv_slice").items == []
    batch = encode(api.export_slices_for_alerts(ctx, decode(api.ExportSlicesForAlertsParams,
                                                            {"alertsArtifactId": alerts, "after": "2h"})))
    assert (batch["windows"], batch["exported"], batch["rowCount"]) == (2, 2, 360)
    cov = encode(api.alert_forward_coverage(ctx, decode(api.AlertCoverageParams,
                                                        {"alertsArtifactId": alerts, "horizon": "2h", "maxRows": 1})))
    assert (cov["alerts"], cov["fullyCovered"], cov["truncated"]) == (2, 2, True)
    assert cov["rows"][0]["alertTs"] == "2026-01-05T02:00:00.000000Z" and cov["rows"][0]["fullyCovered"] is True


def test_methods_are_declared_once_and_schema_ready():
    names = [m.name for m in api.METHODS]
    assert names == ["loadCandles", "exportSlice", "exportSlicesForAlerts", "sliceCoverage", "alertForwardCoverage"]
    assert all(m.long_running for m in api.METHODS)
    types = [t for m in api.METHODS for t in (m.params, m.result)]
    _, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    export = components["ExportSliceParams"]
    assert {"token", "resolution", "from", "to"} <= set(export["required"])
    assert export["additionalProperties"] is False
    assert all(callable(m.handler) and m.doc for m in api.METHODS)
    p = api.METHODS[1].decode_params(b'{"token":"T","resolution":"1m","from":"a","to":"b"}')
    assert p.from_ == "a"
