"""The projection methods' wire types and handlers (the RPC registration is tested with the daemon)."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import msgspec
import pytest

import bridge.api.projections as api
from bridge.errors import InvalidInput, ProjectionNotFound
from tests.conftest import REPO


def decode(cls, obj):
    return msgspec.json.Decoder(cls).decode(json.dumps(obj).encode())


@pytest.fixture
def ctx(store):
    return types.SimpleNamespace(store=store)


def test_generic_and_prd_request_shapes(published):
    generic = decode(api.BuildProjectionParams, {"tables": {"candles": [published.abc, published.defg]}, "mode": "view"})
    assert api.resolve_tables(generic) == {"candles": [published.abc, published.defg]} and generic.mode == "view"
    prd = decode(api.BuildProjectionParams, {"projectionId": "p", "artifacts": {"alerts": [published.alerts],
                                                                             "ohlcv": [published.abc]},
                                             "tables": {"ohlcv": "candles"}})
    assert api.resolve_tables(prd) == {"candles": [published.abc], "alerts": [published.alerts]}
    with pytest.raises(InvalidInput, match="not given"):
        api.resolve_tables(decode(api.BuildProjectionParams, {"tables": {"alerts": "a"}}))
    with pytest.raises(InvalidInput, match="nothing to build"):
        api.resolve_tables(decode(api.BuildProjectionParams, {}))


@pytest.mark.parametrize("bad", [{"tables": {"c": 5}}, {"tables": {}, "mode": "memory"}, {"tables": {}, "cacheDir": "/x"},
                                 {"projection_id": "snake"}])
def test_malformed_params_are_refused_by_the_decoder(bad):
    with pytest.raises(msgspec.ValidationError):
        decode(api.BuildProjectionParams, bad)


def test_handlers_round_trip(ctx, published, tmp_path):
    built = api.build_projection(ctx, decode(api.BuildProjectionParams, {
        "projectionId": "w", "tables": {"candles": [published.abc], "alerts": [published.alerts]}}))
    wire = json.loads(msgspec.json.encode(built))
    assert wire["projectionId"] == "w" and wire["rowCount"] == {"alerts": 5, "candles": 60}
    assert wire["inputs"]["candles"][0]["artifactId"] == published.abc and wire["reused"] is False
    assert wire["tableTypes"]["candles"] == {"artifactType": "ohlcv_slice", "schemaVersion": 2}

    again = api.build_projection(ctx, decode(api.BuildProjectionParams, {
        "projectionId": "w", "tables": {"candles": [published.abc], "alerts": [published.alerts]}}))
    assert again.reused

    ext = api.extend_projection(ctx, decode(api.ExtendProjectionParams, {
        "projectionId": "w", "tables": {"candles": [published.defg]}}))
    assert ext.row_count["candles"] == 100
    assert api.rebuild_projection(ctx, decode(api.RebuildProjectionParams, {"projectionId": "w"})).fingerprint == \
        ext.fingerprint
    assert [p.projection_id for p in api.list_projections(ctx, api.ListProjectionsParams()).projections] == ["w"]
    assert api.get_projection(ctx, decode(api.GetProjectionParams, {"projectionId": "w"})).row_count["alerts"] == 5

    res = api.query(ctx, decode(api.QueryParams, {
        "projectionId": "w", "sql": "SELECT token, count(*) AS n, 'inf'::DOUBLE AS x FROM candles WHERE token = $t "
                                    "GROUP BY ALL", "params": {"t": "ABC"}, "maxRows": 5}))
    text = msgspec.json.encode(res).decode()
    assert json.loads(text) == {"columns": [{"name": "token", "type": "VARCHAR"}, {"name": "n", "type": "BIGINT"},
                                            {"name": "x", "type": "DOUBLE"}],
                                "rows": [["ABC", 60, "Infinity"]], "rowCount": 1, "truncated": False,
                                "outputPath": None, "outputFormat": None}
    out = api.query(ctx, decode(api.QueryParams, {"projectionId": "w", "sql": "SELECT * FROM alerts",
                                                  "output": {"format": "csv", "path": str(tmp_path / "a.csv")}}))
    assert out.row_count == 5 and out.output_path == str(tmp_path / "a.csv")

    assert api.dispose_projection(ctx, decode(api.DisposeProjectionParams, {"projectionId": "w"})).disposed
    with pytest.raises(ProjectionNotFound):
        api.get_projection(ctx, decode(api.GetProjectionParams, {"projectionId": "w"}))


def test_importing_the_api_module_stays_light():
    code = ("import sys, bridge.api.projections; "
            "print([m for m in ('duckdb', 'pyarrow', 'pandas', 'chdb') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_method_is_declared_once_with_its_handler():
    names = [d["name"] for d in api.DECLARATIONS]
    assert names == ["buildProjection", "rebuildProjection", "extendProjection", "disposeProjection",
                     "listProjections", "getProjection", "query"]
    for d in api.DECLARATIONS:
        assert callable(d["handler"]) and d["doc"] and issubclass(d["params"], msgspec.Struct)
        assert issubclass(d["result"], msgspec.Struct)
    # Every projection method reads files or walks the manifest for staleness: none runs on the
    # daemon's reader thread (docs/protocol.md, "Concurrency, progress, cancellation").
    assert {d["name"] for d in api.DECLARATIONS if d["long_running"]} == set(names)
    schema = msgspec.json.schema(api.BuildProjectionParams)
    assert schema["$defs"]["BuildProjectionParams"]["additionalProperties"] is False


def test_inline_rows_are_capped_by_the_daemon_limit(store, published):
    from bridge.api._method import Limits

    ctx = types.SimpleNamespace(store=store, limits=Limits.default(max_result_rows=50))
    api.build_projection(ctx, decode(api.BuildProjectionParams, {"projectionId": "l", "tables": {"c": [published.abc]}}))
    with pytest.raises(InvalidInput, match="limit of 50"):
        api.query(ctx, decode(api.QueryParams, {"projectionId": "l", "sql": "SELECT * FROM c", "maxRows": 51}))
    assert api.query(ctx, decode(api.QueryParams, {"projectionId": "l", "sql": "SELECT * FROM c", "maxRows": 50})).truncated
    filed = api.query(ctx, decode(api.QueryParams, {"projectionId": "l", "sql": "SELECT * FROM c", "maxRows": 51,
                                                    "output": {"format": "arrow"}}))
    assert filed.row_count == 60
