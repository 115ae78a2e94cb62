"""docs/store.md: deleting cache/ loses nothing. Projection definitions are kept in the manifest,
so after `rm -rf cache/` the projections are still listed and `rebuild` (or the same build) makes
their files again with the same contents."""

from __future__ import annotations

import json
import shutil

from bridge.cli import main


def test_deleting_cache_keeps_projections_listed_and_rebuildable(capsys, store, published, proj):
    info = proj.build({"candles": [published.abc, published.defg], "alerts": [published.alerts]}, projection_id="p1")
    view = proj.build({"candles": [published.ghi]}, mode="view")
    before = proj.query("p1", "SELECT count(*) AS n, sum(close) AS s FROM candles").rows
    shutil.rmtree(store.lake.cache)

    listed = {p.projection_id: p for p in proj.list()}
    assert set(listed) == {"p1", view.projection_id}
    assert listed["p1"].file_present is False and listed["p1"].fingerprint == info.fingerprint
    lake = str(store.lake.root)
    assert main(["project", "ls", "--lake", lake, "--json"]) == 0
    assert {p["projection_id"] for p in json.loads(capsys.readouterr().out)} == {"p1", view.projection_id}

    assert main(["project", "rebuild", "p1", "--lake", lake]) == 0
    capsys.readouterr()
    assert proj.query("p1", "SELECT count(*) AS n, sum(close) AS s FROM candles").rows == before
    again = proj.build({"candles": [published.ghi]}, mode="view")  # the same build makes the file again
    assert again.projection_id == view.projection_id and again.file_present and not again.reused


def test_dispose_forgets_the_definition(store, published, proj):
    proj.build({"candles": [published.abc]}, projection_id="gone")
    proj.dispose("gone")
    shutil.rmtree(store.lake.cache, ignore_errors=True)
    assert [p.projection_id for p in proj.list()] == []
    n = store.connect().execute("SELECT count(*) FROM projection_definitions").fetchone()[0]
    assert n == 0


def test_a_projection_built_before_the_migration_is_recorded_when_reused(store, published, proj):
    proj.build({"candles": [published.abc]}, projection_id="old")
    store.connect().execute("DELETE FROM projection_definitions")  # as a v3 manifest had it
    assert proj.build({"candles": [published.abc]}, projection_id="old").reused
    shutil.rmtree(store.lake.cache)
    assert [p.projection_id for p in proj.list()] == ["old"]
