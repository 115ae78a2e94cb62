"""Lifecycle: rebuild, extend, dispose, list with stale flags, concurrency, cancellation."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bridge.errors import Cancelled, IntegrityError, InvalidInput, ProjectionNotFound
from bridge.progress import Job
from tests.projections.conftest import KEY, table_digest
from tests.store.samples import candles


def test_rebuild_replaces_the_file_with_identical_tables(proj, published):
    first = proj.build({"candles": [published.abc, published.defg], "alerts": [published.alerts]}, projection_id="rb")
    before = {t: table_digest(proj, "rb", t) for t in first.tables}
    again = proj.rebuild("rb")
    assert again.duckdb_path != first.duckdb_path and not Path(first.duckdb_path).exists()
    assert again.fingerprint == first.fingerprint and again.built_at > first.built_at and not again.reused
    assert {t: table_digest(proj, "rb", t) for t in again.tables} == before
    with pytest.raises(ProjectionNotFound):
        proj.rebuild("nope")


@pytest.mark.parametrize("mode", ["table", "view"])
def test_extend_equals_a_fresh_build_of_all_inputs(proj, published, mode):
    proj.build({"candles": [published.abc], "alerts": [published.alerts]}, projection_id="ext", mode=mode)
    ext = proj.extend("ext", {"candles": [published.ghi, published.defg], "metrics": [published.metrics]})
    fresh = proj.build({"candles": [published.abc, published.defg, published.ghi], "alerts": [published.alerts],
                        "metrics": [published.metrics]}, projection_id="fresh", mode=mode)
    assert ext.fingerprint == fresh.fingerprint and ext.mode == mode
    assert ext.row_count == fresh.row_count == {"candles": 130, "alerts": 5, "metrics": 2}
    for t in fresh.tables:
        assert table_digest(proj, "ext", t) == table_digest(proj, "fresh", t), t


def test_extend_copies_untouched_tables_instead_of_rereading_them(proj, store, published):
    proj.build({"candles": [published.abc], "alerts": [published.alerts]}, projection_id="cp")
    alerts_before = table_digest(proj, "cp", "alerts")
    # The alerts and ABC Parquet files go away: extend must not need them (rows come from the old file).
    moved = []
    for aid in (published.alerts, published.abc):
        path = Path(store.get(aid).path_parquet)
        path.rename(path.with_suffix(".away"))
        moved.append(path)
    ext = proj.extend("cp", {"candles": [published.defg]})
    assert ext.row_count == {"candles": 100, "alerts": 5}
    assert table_digest(proj, "cp", "alerts") == alerts_before
    assert proj.query("cp", "SELECT count(*) FROM candles WHERE token = 'ABC'").rows == [[60]]
    for path in moved:
        path.with_suffix(".away").rename(path)


def test_extend_with_nothing_new_reuses(proj, published):
    first = proj.build({"candles": [published.abc]}, projection_id="same")
    again = proj.extend("same", {"candles": [published.abc]})
    assert again.reused and again.duckdb_path == first.duckdb_path


def test_extend_checks_types_and_names(proj, published):
    proj.build({"candles": [published.abc]}, projection_id="x")
    with pytest.raises(InvalidInput, match="mixes artifact types"):
        proj.extend("x", {"candles": [published.alerts]})
    with pytest.raises(InvalidInput):
        proj.extend("x", {"bad name": [published.alerts]})
    with pytest.raises(ProjectionNotFound):
        proj.extend("nope", {"candles": [published.defg]})
    assert proj.get("x").row_count == {"candles": 60}


def test_dispose_removes_everything(proj, published):
    info = proj.build({"candles": [published.abc]}, projection_id="gone")
    proj.dispose("gone")
    assert not Path(info.duckdb_path).parent.exists()
    with pytest.raises(ProjectionNotFound):
        proj.get("gone")
    with pytest.raises(ProjectionNotFound):
        proj.query("gone", "SELECT 1")
    with pytest.raises(ProjectionNotFound):
        proj.dispose("gone")
    assert proj.list() == []
    assert not proj.build({"candles": [published.abc]}, projection_id="gone").reused


def test_list_reports_stale_inputs(proj, store, published):
    proj.build({"candles": [published.abc, published.defg]}, projection_id="p1")
    proj.build({"metrics": [published.metrics]}, projection_id="p2")
    proj.build({"alerts": [published.alerts]}, projection_id="p3")
    assert [(i.projection_id, i.stale) for i in proj.list()] == [("p1", False), ("p2", False), ("p3", False)]

    # A new ABC slice supersedes the old one: p1 holds it directly, p2 holds metrics derived from it.
    new_abc = store.publish("ohlcv_slice", 2, KEY.format(token="ABC"), candles(61, seed=9),
                            writer_name="test", writer_version="1").artifact_id
    store.supersede(new_abc, published.abc)
    store.tombstone(published.alerts, "bad export")
    infos = {i.projection_id: i for i in proj.list()}
    assert infos["p1"].stale and infos["p2"].stale and infos["p3"].stale
    (r1,) = infos["p1"].stale_reasons
    assert (r1.table, r1.artifact_id, r1.status, r1.superseded_by) == ("candles", published.abc, "superseded", new_abc)
    assert "superseded by" in r1.reason
    (r2,) = infos["p2"].stale_reasons
    assert (r2.table, r2.artifact_id, r2.status, r2.upstream_artifact_id) == (
        "metrics", published.metrics, "active", published.abc)
    assert "upstream" in r2.reason
    (r3,) = infos["p3"].stale_reasons
    assert (r3.status, r3.artifact_id) == ("tombstoned", published.alerts)
    # Stale projections still answer and are reused as they are (they are frozen inputs).
    assert proj.build({"candles": [published.abc, published.defg]}, projection_id="p1").reused
    assert proj.get("p1").stale
    assert proj.query("p1", "SELECT count(*) FROM candles").rows == [[100]]


def test_concurrent_builds_of_one_projection(proj, published):
    results, errors = [], []

    def build():
        try:
            results.append(proj.build({"candles": [published.abc, published.defg]}, projection_id="race"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(r.reused for r in results) == [False, True, True, True]
    assert len({r.duckdb_path for r in results}) == 1
    assert sorted(p.name for p in Path(results[0].duckdb_path).parent.iterdir()) == sorted(
        ["projection.json", Path(results[0].duckdb_path).name])


def test_cancel_before_anything_is_visible(proj, published):
    job = Job(lambda done, total, msg: job.cancel())
    with pytest.raises(Cancelled):
        proj.build({"candles": [published.abc]}, projection_id="c", job=job)
    with pytest.raises(ProjectionNotFound):
        proj.get("c")
    folder = proj.root / "c"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_cancel_during_a_long_statement_interrupts_it(proj, store, published):
    big = store.publish("ohlcv_slice", 2, KEY.format(token="BIG"), candles(200_000, seed=3),
                        writer_name="test", writer_version="1").artifact_id
    proj.build({"candles": [published.abc]}, projection_id="keep")
    job = Job()
    timer = threading.Timer(0.02, job.cancel)
    timer.start()
    with pytest.raises(Cancelled):
        proj.build({"candles": [published.abc, big, published.defg]}, projection_id="keep", job=job)
    timer.cancel()
    info = proj.get("keep")  # the old projection is untouched
    assert info.row_count == {"candles": 60} and proj.query("keep", "SELECT count(*) FROM candles").rows == [[60]]
    assert sorted(p.name for p in Path(info.duckdb_path).parent.iterdir()) == sorted(
        ["projection.json", Path(info.duckdb_path).name])


def test_missing_duckdb_file_is_reported_and_rebuilt(proj, published):
    info = proj.build({"candles": [published.abc]}, projection_id="lost")
    Path(info.duckdb_path).unlink()
    assert not proj.get("lost").file_present
    with pytest.raises(IntegrityError, match="rebuild"):
        proj.query("lost", "SELECT 1")
    again = proj.build({"candles": [published.abc]}, projection_id="lost")
    assert not again.reused and again.file_present
    assert proj.query("lost", "SELECT count(*) FROM candles").rows == [[60]]
