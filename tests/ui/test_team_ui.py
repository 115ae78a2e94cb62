"""`bridge ui` on a team lake (PostgreSQL manifest, artifacts in an S3 bucket on a real server):
every page's data comes from the manifest server and the bucket (Parquet footers and first rows
read through Arrow), and browsing changes nothing."""

from __future__ import annotations

import json

import pytest

from bridge.projections import Projections
from bridge.store import Store
from bridge.ui import UiServer
from tests.store.samples import OHLCV_KEY, publish_candles, publish_metrics
from tests.ui.helpers import request


def _state(store: Store):
    con = store.connect()
    return ([tuple(r) for r in con.execute("SELECT artifact_id, status, file_hash FROM artifacts ORDER BY artifact_id")],
            con.execute("SELECT count(*) FROM artifact_events").fetchone()[0],
            sorted(store.files.list_keys("artifacts")))


@pytest.fixture
def team_ui(tmp_path, pg_server, s3_server):
    from tests.backends import write_lake

    db = pg_server.create_database()
    lake = write_lake(tmp_path / "lake", manifest=db, artifacts=s3_server.new_prefix(), endpoint=s3_server.endpoint)
    store = Store(lake)
    assert store.files.remote and store.dialect.name == "postgresql"
    first = publish_candles(store, n=60)
    second = publish_candles(store, key=OHLCV_KEY.replace("ABC", "XYZ"), n=30, seed=1)
    metrics = publish_metrics(store, [second.artifact_id])
    store.supersede(publish_candles(store, key=OHLCV_KEY.replace("ABC", "XYZ"), n=31, seed=2).artifact_id,
                    second.artifact_id)  # the metrics are stale now
    proj = Projections(store).build({"candles": [first.artifact_id]})
    server = UiServer.start(store, port=0)
    server.ids = [first.artifact_id, second.artifact_id, metrics.artifact_id]  # type: ignore[attr-defined]
    server.projection_id = proj.projection_id  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        store.close()
        pg_server.drop_database(db)


def test_every_page_reads_the_team_lake_and_changes_nothing(team_ui):
    ui = team_ui
    auth = {"Authorization": f"token {ui.token}"}

    def get(path):
        status, _, body = request(ui.port, "GET", path, headers=auth)
        assert status == 200, (path, body)
        return json.loads(body)

    before = _state(ui.store)
    types = {t["artifactType"]: t["counts"] for t in get("/api/types")["types"]}
    assert types == {"ohlcv_slice": {"active": 2, "superseded": 1}, "run_metrics": {"active": 1}}
    rows = get("/api/artifacts?sort=-row_count&limit=25")["items"]
    assert [r["rowCount"] for r in rows][:2] == [60, 31]
    page = get("/api/artifacts?sort=logical_key&limit=25&type=ohlcv_slice")
    assert [r["logicalKey"][:9] for r in page["items"]] == ["token=ABC", "token=XYZ", "token=XYZ"]
    assert [r["artifactId"] for r in get(f"/api/artifacts?q={ui.ids[0][:6]}&limit=25")["items"]] == [ui.ids[0]]
    art = get(f"/api/artifacts/{ui.ids[0]}")
    assert art["artifact"]["pathParquet"].startswith("s3://")
    assert len(art["preview"]["rows"]) == 20 and "fileError" not in art  # first rows from the bucket
    assert {s["name"] for s in art["stats"]} >= {"ts", "open", "close"}  # the footer, through Arrow
    stale = get(f"/api/artifacts/{ui.ids[2]}")["stale"]
    assert stale and stale[0]["inputArtifactId"] == ui.ids[1] and stale[0]["inputStatus"] == "superseded"
    lineage = get(f"/api/lineage/{ui.ids[1]}?direction=downstream")
    assert [n["artifactId"] for n in lineage["nodes"]] == [ui.ids[2]]
    assert [p["projectionId"] for p in get("/api/projections")["projections"]] == [ui.projection_id]
    body = json.dumps({"projectionId": ui.projection_id, "sql": "SELECT count(*) AS n FROM candles"}).encode()
    status, _, raw = request(ui.port, "POST", "/api/query", headers={**auth, "Content-Type": "application/json"},
                             body=body)
    assert status == 200 and json.loads(raw)["rows"] == [[60]]
    for path in ("/api/runs", "/api/sweeps", "/api/coverage", f"/api/artifacts/{ui.ids[0]}/node"):
        get(path)
    assert _state(ui.store) == before


def test_a_sweeps_validation_reads_from_the_manifest_server_and_the_bucket(tmp_path, pg_server, s3_server):
    from bridge.experiments import Experiments
    from tests.backends import write_lake
    from tests.experiments.test_overfit import _lake_inputs

    db = pg_server.create_database()
    lake = write_lake(tmp_path / "lake", manifest=db, artifacts=s3_server.new_prefix(), endpoint=s3_server.endpoint)
    store = Store(lake)
    res = Experiments(store).sweep(_lake_inputs(store), {"takeProfitPct": [5, 20]},
                                   validation={"method": "walkForward", "folds": 2, "cscvBlocks": 4})
    server = UiServer.start(store, port=0)
    try:
        status, _, body = request(server.port, "GET", f"/api/sweeps/{res.sweep_id}",
                                  headers={"Authorization": f"token {server.token}"})
        assert status == 200, body
        v = json.loads(body)["validation"]
        assert v["artifactId"] == res.validation.artifact_id
        assert [f["experimentId"] for f in v["folds"]] == [f.experiment_id for f in res.validation.folds]
        assert v["overfit"]["pbo"] == res.validation.overfit.pbo
    finally:
        server.stop()
        store.close()
        pg_server.drop_database(db)
