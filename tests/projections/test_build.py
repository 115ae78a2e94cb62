"""Building projections: tables and views, canonical row order, validation, identity and reuse."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from bridge.errors import ArtifactNotFound, IntegrityError, InvalidInput
from bridge.projections import BUILDER_VERSION, Projections, fingerprint
from bridge.store.spec import get_spec
from tests.projections.conftest import table_digest


def _rows(proj, pid, sql):
    return proj.query(pid, sql).rows


@pytest.mark.parametrize("mode", ["table", "view"])
def test_build_tables_row_counts_and_types(proj, published, mode):
    info = proj.build({"candles": [published.abc, published.defg], "alerts": [published.alerts]}, mode=mode)
    assert info.tables == ["alerts", "candles"]
    assert info.row_count == {"candles": 100, "alerts": 5}
    assert info.artifact_count == 3 and info.mode == mode and not info.reused and not info.stale
    assert info.builder_version == BUILDER_VERSION
    assert info.table_types["candles"].artifact_type == "ohlcv_slice"
    assert {i.artifact_id for i in info.inputs["candles"]} == {published.abc, published.defg}
    assert Path(info.duckdb_path).is_file() and info.file_present
    res = proj.query(info.projection_id, "SELECT count(*) AS n, count(DISTINCT token) AS t FROM candles")
    assert res.rows == [[100, 2]]
    desc = proj.query(info.projection_id, "DESCRIBE candles").rows
    spec = get_spec("ohlcv_slice", 2)
    assert [r[0] for r in desc] == list(spec.column_names)
    assert dict((r[0], r[1]) for r in desc)["ts"] == "TIMESTAMP WITH TIME ZONE"


@pytest.mark.parametrize("mode", ["table", "view"])
def test_rows_are_in_canonical_order(proj, store, published, mode):
    # DEF then ABC given in "wrong" order: the table must still be sorted by (token, resolution, ts).
    info = proj.build({"candles": [published.defg, published.ghi, published.abc]}, mode=mode)
    con = proj.connect_readonly(info.projection_id)
    try:
        got = con.sql("SELECT * FROM candles").to_arrow_table()  # stored order, no ORDER BY
    finally:
        con.close()
    expected = pa.concat_tables([store.read_table(a) for a in (published.abc, published.defg, published.ghi)])
    assert got.column_names == expected.column_names
    assert got.column("token").to_pylist() == expected.column("token").to_pylist()
    assert got.column("ts").cast(pa.int64()).to_pylist() == expected.column("ts").cast(pa.int64()).to_pylist()
    assert got.column("close").to_pylist() == expected.column("close").to_pylist()


def test_single_artifact_table_keeps_the_artifact_order(proj, store, published):
    info = proj.build({"alerts": [published.alerts]})
    con = proj.connect_readonly(info.projection_id)
    try:
        got = con.execute("SELECT alert_id FROM alerts").fetchall()
    finally:
        con.close()
    assert [r[0] for r in got] == store.read_table(published.alerts).column("alert_id").to_pylist()


def test_any_artifact_type_can_be_projected(proj, published):
    info = proj.build({"metrics": [published.metrics]})
    assert proj.query(info.projection_id, "SELECT metric_name FROM metrics ORDER BY 1").rows == [["sharpe"], ["trades"]]


def test_metadata_lives_in_the_sidecar_and_in_the_file(proj, published):
    info = proj.build({"candles": [published.abc], "alerts": [published.alerts]}, projection_id="meta")
    sidecar = json.loads((Path(info.duckdb_path).parent / "projection.json").read_text(encoding="utf-8"))
    assert sidecar["fingerprint"] == info.fingerprint and sidecar["duckdb_file"] == Path(info.duckdb_path).name
    meta = dict(proj.query("meta", "SELECT key, value FROM _projection_meta").rows)
    assert meta["fingerprint"] == info.fingerprint and meta["projection_id"] == "meta"
    assert meta["builder_version"] == BUILDER_VERSION and meta["mode"] == "table"
    assert json.loads(meta["sidecar"])["tables"] == sidecar["tables"]
    inputs = proj.query("meta", "SELECT table_name, artifact_id, content_hash FROM _projection_inputs ORDER BY 1").rows
    assert inputs == [["alerts", published.alerts, info.inputs["alerts"][0].content_hash],
                      ["candles", published.abc, info.inputs["candles"][0].content_hash]]


def test_fingerprint_is_order_independent_and_covers_mode_and_version():
    a = fingerprint({"t": [("x", "hx"), ("y", "hy")], "u": [("z", "hz")]}, "table")
    assert a == fingerprint({"u": [("z", "hz")], "t": [("y", "hy"), ("x", "hx")]}, "table")
    assert a != fingerprint({"t": [("x", "hx"), ("y", "hy")], "u": [("z", "hz")]}, "view")
    assert a != fingerprint({"t": [("x", "hx"), ("y", "hy")], "u": [("z", "hz")]}, "table", "other-builder")
    assert a != fingerprint({"t": [("x", "hx"), ("y", "hY")], "u": [("z", "hz")]}, "table")
    assert a != fingerprint({"t2": [("x", "hx"), ("y", "hy")], "u": [("z", "hz")]}, "table")


def test_default_id_derives_from_the_fingerprint(proj, published):
    info = proj.build({"candles": [published.abc]})
    assert info.projection_id == f"proj-{info.fingerprint[:16]}"
    again = proj.build({"candles": [published.abc, published.abc]})  # duplicates count once
    assert again.projection_id == info.projection_id and again.reused


def test_same_inputs_reuse_without_opening_duckdb(proj, published):
    tables = {"candles": [published.abc, published.defg], "alerts": [published.alerts]}
    first = proj.build(tables, projection_id="r")
    mtime = os.stat(first.duckdb_path).st_mtime_ns
    times = []
    for _ in range(5):
        t = time.perf_counter()
        again = proj.build({"alerts": [published.alerts], "candles": [published.defg, published.abc]}, projection_id="r")
        times.append(time.perf_counter() - t)
    assert again.reused and again.built_at == first.built_at and again.duckdb_path == first.duckdb_path
    assert os.stat(first.duckdb_path).st_mtime_ns == mtime
    assert min(times) < 0.05, times
    # Reuse works from the sidecar alone: an unreadable DuckDB file is not even opened.
    Path(first.duckdb_path).write_bytes(b"not a duckdb file")
    assert proj.build(tables, projection_id="r").reused


def test_different_inputs_under_the_same_id_rebuild(proj, published):
    first = proj.build({"candles": [published.abc]}, projection_id="same")
    second = proj.build({"candles": [published.abc, published.defg]}, projection_id="same")
    assert not second.reused and second.fingerprint != first.fingerprint
    assert second.row_count == {"candles": 100}
    assert not Path(first.duckdb_path).exists(), "the replaced file is removed"
    assert sorted(p.name for p in Path(second.duckdb_path).parent.iterdir()) == sorted(
        ["projection.json", Path(second.duckdb_path).name])
    third = proj.build({"candles": [published.abc, published.defg]}, projection_id="same", mode="view")
    assert not third.reused and third.mode == "view"
    assert proj.get("same").mode == "view"


@pytest.mark.parametrize("name", ["1abc", "a-b", "a b", "", "x" * 64, 'a"b', "candles;drop", "_projection_meta",
                                  "_Projection_x", "ünï"])
def test_table_names_must_be_sql_identifiers(proj, published, name):
    with pytest.raises(InvalidInput) as exc:
        proj.build({name: [published.abc]})
    assert exc.value.data["field"] == "tables"


def test_table_names_differing_only_in_case_are_refused(proj, published):
    with pytest.raises(InvalidInput, match="differ only in case"):
        proj.build({"Candles": [published.abc], "candles": [published.defg]})


def test_keyword_table_names_are_quoted(proj, published):
    info = proj.build({"select": [published.abc]})
    assert proj.query(info.projection_id, 'SELECT count(*) FROM "select"').rows == [[60]]


@pytest.mark.parametrize("pid", ["", "../x", "a/b", ".hidden", "x" * 101, "a b"])
def test_projection_ids_are_checked(proj, published, pid):
    with pytest.raises(InvalidInput):
        proj.build({"c": [published.abc]}, projection_id=pid)


def test_bad_inputs_are_refused(proj, published):
    with pytest.raises(InvalidInput, match="mixes artifact types"):
        proj.build({"c": [published.abc, published.alerts]})
    with pytest.raises(InvalidInput, match="no artifacts"):
        proj.build({"c": []})
    with pytest.raises(InvalidInput):
        proj.build({})
    with pytest.raises(InvalidInput):
        proj.build({"c": published.abc})  # a string, not a list
    with pytest.raises(InvalidInput, match="mode"):
        proj.build({"c": [published.abc]}, mode="memory")
    with pytest.raises(ArtifactNotFound):
        proj.build({"c": [published.abc, "0" * 32]})
    assert proj.list() == []


def test_a_missing_parquet_file_is_an_integrity_error(proj, store, published):
    Path(store.get(published.defg).path_parquet).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        proj.build({"c": [published.abc, published.defg]})
    assert proj.list() == []


def test_projection_files_live_under_the_lake_cache(proj, store, published):
    info = proj.build({"c": [published.abc]})
    assert Path(info.duckdb_path).is_relative_to(store.lake.cache / "projections")


def test_view_mode_reads_the_parquet_files(proj, store, published):
    info = proj.build({"c": [published.abc]}, mode="view")
    con = duckdb.connect(info.duckdb_path, read_only=True)
    try:
        (sql,) = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'c'").fetchone()
    finally:
        con.close()
    assert store.get(published.abc).path_parquet in sql
    assert os.path.getsize(info.duckdb_path) < 2_000_000


def test_other_projections_are_independent(proj, published):
    a = proj.build({"c": [published.abc]}, projection_id="a")
    b = proj.build({"c": [published.defg]}, projection_id="b")
    assert a.duckdb_path != b.duckdb_path
    assert table_digest(proj, "a", "c") != table_digest(proj, "b", "c")


def test_a_second_projections_object_sees_the_same_projections(store, proj, published):
    proj.build({"c": [published.abc]}, projection_id="shared")
    assert Projections(store).build({"c": [published.abc]}, projection_id="shared").reused
