"""Projections of a team lake: the Parquet comes from the bucket through Arrow (a cached local copy
checked against the file hash), the DuckDB file stays local and disposable."""

from __future__ import annotations

import shutil

import pytest

from bridge.errors import IntegrityError
from bridge.projections import Projections
from bridge.store import Store
from tests.projections.conftest import publish_all


@pytest.mark.parametrize("mode", ["table", "view"])
def test_projection_of_a_bucket_lake(tmp_path, pg_server, s3_server, mode):
    from tests.backends import write_lake

    db = pg_server.create_database()
    try:
        store = Store(write_lake(tmp_path / "lake", manifest=db, artifacts=s3_server.new_prefix(),
                                 endpoint=s3_server.endpoint))
        assert store.files.remote
        pub = publish_all(store)
        proj = Projections(store)
        info = proj.build({"candles": [pub.abc, pub.defg], "alerts": [pub.alerts]}, mode=mode)
        q = proj.query(info.projection_id, "SELECT count(*) AS n FROM candles")
        assert q.rows == [[100]]
        cached = list((store.lake.cache / "objects").rglob("*.parquet"))
        assert len(cached) == 3  # only what the projection read, all local and disposable
        if mode == "table":
            shutil.rmtree(store.lake.cache / "objects")  # a table projection no longer needs them
            assert proj.query(info.projection_id, "SELECT count(*) FROM alerts").rows[0][0] == 5
        # a bucket object damaged behind the manifest's back is refused, never projected
        art = store.get(pub.ghi)
        raw = bytearray(store.files.read_bytes(art.path_parquet))
        raw[len(raw) // 2] ^= 0xFF
        store.files.write_bytes(art.path_parquet, bytes(raw))
        with pytest.raises(IntegrityError):
            proj.build({"more": [pub.ghi]})
        store.close()
    finally:
        pg_server.drop_database(db)
