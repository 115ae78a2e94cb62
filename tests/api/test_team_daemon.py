"""The real daemon on a team lake named at the handshake: `initialize` with `lake` options
(PostgreSQL manifest, S3 artifacts), then publish and read through it."""

from __future__ import annotations

from tests.api.test_daemon import METRIC, publish_params
from tests.daemon import Daemon


def test_initialize_names_a_team_lake(tmp_path, pg_server, s3_server):
    db = pg_server.create_database()
    prefix = s3_server.new_prefix()
    d = Daemon(tmp_path / "lake")
    try:
        opts = {"manifest": db, "artifacts": prefix, "s3Endpoint": s3_server.endpoint}
        res = d.result("initialize", {"protocolVersion": "1.0", "lake": opts})
        assert res["lake"]["manifest"].startswith("postgresql://") and res["lake"]["manifestDb"] is None
        assert res["lake"]["artifactStore"] == prefix
        pub = d.result("publishDataFrame", publish_params([METRIC]))
        art = d.result("getArtifact", {"artifactId": pub["artifactId"]})
        assert art["pathParquet"].startswith(prefix + "/artifacts/run_metrics/")
        # the store is open now: naming another lake is refused, the daemon lives on
        other = d.call("initialize", {"protocolVersion": "1.0", "lake": {"artifacts": s3_server.new_prefix()}})
        assert other["error"]["data"]["type"] == "InvalidState"
        still = d.call("getArtifact", {"artifactId": pub["artifactId"]})
        assert still["result"]["artifactId"] == pub["artifactId"]
        assert d.close() == 0
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
        pg_server.drop_database(db)
