"""Read-only queries: the statement classifier, the engine sandbox (each layer on its own), and results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from bridge.errors import IntegrityError, InvalidInput, ProjectionNotFound, ReadOnlyViolation
from bridge.progress import Job
from bridge.projections.sandbox import check_read_only

# (statement, the statement type named in the error)
REFUSED = [
    ("INSERT INTO candles SELECT * FROM candles", "INSERT"),
    ("UPDATE candles SET close = 0", "UPDATE"),
    ("DELETE FROM candles", "DELETE"),
    ("TRUNCATE candles", "DELETE"),
    ("CREATE TABLE x AS SELECT 1", "CREATE"),
    ("CREATE TEMP TABLE x AS SELECT 1", "CREATE"),
    ("CREATE VIEW v AS SELECT 1", "CREATE"),
    ("CREATE MACRO m(a) AS a", "CREATE"),
    ("DROP TABLE candles", "DROP"),
    ("ALTER TABLE candles ADD COLUMN x INT", "ALTER"),
    ("ALTER TABLE candles RENAME TO c2", "ALTER"),
    ("ATTACH '/tmp/other.duckdb' AS o", "ATTACH"),
    ("ATTACH ':memory:' AS m", "ATTACH"),
    ("DETACH o", "DETACH"),
    ("COPY candles TO '/tmp/out.csv'", "COPY"),
    ("COPY (SELECT 1) TO '/tmp/out.parquet' (FORMAT parquet)", "COPY"),
    ("COPY candles FROM '/tmp/in.csv'", "COPY"),
    ("EXPORT DATABASE '/tmp/exported'", "EXPORT"),
    ("IMPORT DATABASE '/tmp/exported'", "PRAGMA"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("SET threads = 1", "SET"),
    ("SET enable_external_access = true", "SET"),
    ("RESET threads", "SET"),
    ("SET VARIABLE x = 1", "SET"),
    ("PRAGMA threads = 1", "SET"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("CHECKPOINT", "CALL"),
    ("CALL pragma_version()", "CALL"),
    ("BEGIN TRANSACTION", "TRANSACTION"),
    ("VACUUM", "VACUUM"),
    ("PREPARE p AS SELECT 1", "PREPARE"),
    ("USE memory", "SET"),
    ("PIVOT candles ON token USING sum(volume)", "MULTI"),
    ("SELECT 1; DROP TABLE candles", "MULTIPLE"),
    ("SELECT 1; SELECT 2", "MULTIPLE"),
    ("SELECT * FROM read_csv('/etc/passwd')", "SELECT"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "SELECT"),
    ("SELECT * FROM read_parquet('/tmp/x.parquet')", "SELECT"),
    ("SELECT * FROM read_json('/tmp/x.json')", "SELECT"),
    ("SELECT * FROM read_text('/etc/hostname')", "SELECT"),
    ("SELECT * FROM read_blob('/etc/hostname')", "SELECT"),
    ("SELECT * FROM glob('/*')", "SELECT"),
    ("SELECT * FROM query('SELECT 1')", "SELECT"),
    ("SELECT * FROM '/etc/passwd'", "SELECT"),
    ("SELECT * FROM 'data.csv'", "SELECT"),
    ("SELECT * FROM 'https://example.com/x.parquet'", "SELECT"),
    ("SELECT * FROM 's3://bucket/x.parquet'", "SELECT"),
    ("SELECT count(*) FROM candles WHERE token IN (SELECT column0 FROM read_csv('/tmp/t.csv'))", "SELECT"),
    ("WITH x AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM x", "SELECT"),
    ("SELECT 1 UNION ALL SELECT count(*) FROM glob('*')", "SELECT"),
    # writes hidden in a WITH clause or a subquery of a SELECT statement
    ("WITH x AS (INSERT INTO candles SELECT * FROM candles RETURNING *) SELECT * FROM x", "INSERT"),
    ("WITH x AS (INSERT OR REPLACE INTO alerts SELECT * FROM alerts RETURNING *) SELECT count(*) FROM x", "INSERT"),
    ("WITH x AS (UPDATE candles SET close = 0 RETURNING *) SELECT * FROM x", "UPDATE"),
    ("WITH x AS (DELETE FROM candles RETURNING *) SELECT * FROM x", "DELETE"),
    ("WITH x AS MATERIALIZED (DELETE FROM candles RETURNING token) SELECT * FROM x", "DELETE"),
    ("WITH x AS (COPY candles TO '/tmp/out.csv') SELECT 1", "COPY"),
    ("SELECT (WITH x AS (DELETE FROM candles RETURNING token) SELECT min(token) FROM x)", "DELETE"),
    ("SELECT * FROM candles WHERE token IN (WITH x AS (DELETE FROM candles RETURNING token) SELECT token FROM x)",
     "DELETE"),
    ("SELECT 1 UNION ALL (WITH x AS (UPDATE candles SET close = 0 RETURNING 1) SELECT * FROM x)", "UPDATE"),
    ("WITH a AS (SELECT 1), b AS (WITH c AS (INSERT INTO alerts SELECT * FROM alerts RETURNING 1) SELECT * FROM c) "
     "SELECT * FROM a, b", "INSERT"),
    ("EXPLAIN WITH x AS (DELETE FROM candles RETURNING *) SELECT * FROM x", "DELETE"),
    ("DESCRIBE (WITH x AS (DELETE FROM candles RETURNING *) SELECT * FROM x)", "DELETE"),
    ("EXPLAIN DELETE FROM candles", "EXPLAIN"),
    ("EXPLAIN ANALYZE INSERT INTO candles SELECT * FROM candles", "EXPLAIN"),
    ("EXPLAIN SELECT * FROM read_csv('/etc/passwd')", "SELECT"),
]

ACCEPTED = [
    "SELECT count(*) FROM candles",
    "select token, count(*) from candles group by all order by 1",
    "WITH t AS (SELECT * FROM candles) SELECT count(*) FROM t",
    "FROM candles SELECT count(*)",
    "VALUES (1), (2)",
    "DESCRIBE candles",
    "SHOW TABLES",
    "SUMMARIZE candles",
    "EXPLAIN SELECT * FROM candles",
    "EXPLAIN ANALYZE SELECT count(*) FROM candles",
    "PRAGMA table_info('candles')",
    "PRAGMA show_tables",
    "SELECT * FROM range(3)",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM candles c JOIN alerts a ON a.token_address = c.token LIMIT 5",
    "SELECT count(*) FROM candles;",
    "-- a comment\nSELECT 1",
    "SELECT * FROM candles c ASOF JOIN alerts a ON c.token = a.token_address AND c.ts >= a.alert_ts",
    "SELECT token, avg(close) OVER (PARTITION BY token ORDER BY ts ROWS 5 PRECEDING) FROM candles "
    "QUALIFY row_number() OVER (PARTITION BY token ORDER BY ts) < 3",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
    "FROM (UNPIVOT candles ON open, close INTO NAME k VALUE v) SELECT k, count(*) GROUP BY k",
    "SELECT list_transform([1, 2], lambda x: x + 1), COLUMNS('c.*') FROM candles",
    "SELECT * FROM information_schema.tables",
]


@pytest.fixture
def pid(proj, published):
    return proj.build({"candles": [published.abc, published.defg], "alerts": [published.alerts]},
                      projection_id="q").projection_id


@pytest.mark.parametrize("sql,kind", REFUSED)
def test_classifier_refuses_writes_and_outside_reads(sql, kind):
    with pytest.raises(ReadOnlyViolation) as exc:
        check_read_only(sql)
    assert exc.value.data["statement_type"] == kind
    assert "refused" in str(exc.value) or "exactly one statement" in str(exc.value)


@pytest.mark.parametrize("sql", ACCEPTED)
def test_classifier_accepts_reads(sql, proj, pid):
    check_read_only(sql)
    res = proj.query(pid, sql)
    json.dumps(res.rows, allow_nan=False)


def test_refusals_name_the_statement_and_what_to_do(proj, pid):
    with pytest.raises(ReadOnlyViolation, match=r"INSERT statements are refused: .*publish new data as an artifact"):
        proj.query(pid, "INSERT INTO candles SELECT * FROM candles")
    with pytest.raises(ReadOnlyViolation, match=r"read_csv\(\) is refused.*publish the data as an artifact"):
        proj.query(pid, "SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(ReadOnlyViolation, match=r"COPY statements are refused: .*output"):
        proj.query(pid, "COPY candles TO '/tmp/x.csv'")
    with pytest.raises(ReadOnlyViolation, match="exactly one statement"):
        proj.query(pid, "SELECT 1; DROP TABLE candles")
    assert proj.query(pid, "SELECT count(*) FROM candles").rows == [[100]]


def test_unparseable_and_empty_sql_are_invalid_input(proj, pid):
    with pytest.raises(InvalidInput, match="does not parse"):
        proj.query(pid, "SELEC 1")
    with pytest.raises(InvalidInput, match="empty"):
        proj.query(pid, "   ")
    with pytest.raises(InvalidInput, match="query failed"):
        proj.query(pid, "SELECT * FROM no_such_table")


def test_unknown_projection(proj):
    with pytest.raises(ProjectionNotFound):
        proj.query("nope", "SELECT 1")


# -- the engine layer alone (classification bypassed) -----------------------------------------

ENGINE_REFUSED = [
    "INSERT INTO candles SELECT * FROM candles",
    "UPDATE candles SET close = 0",
    "DELETE FROM candles",
    "CREATE TABLE x AS SELECT 1",
    "DROP TABLE candles",
    "ALTER TABLE candles ADD COLUMN x INT",
    "SELECT 1; DROP TABLE candles",
    "WITH x AS (INSERT INTO candles SELECT * FROM candles RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (UPDATE candles SET close = 0 RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (DELETE FROM candles RETURNING *) SELECT count(*) FROM x",
    "WITH x AS (COPY candles TO '{tmp}/out.csv') SELECT 1",
    "ATTACH '{tmp}/other.duckdb' AS o",
    "ATTACH ':memory:' AS m",
    "COPY candles TO '{tmp}/out.csv'",
    "EXPORT DATABASE '{tmp}/exported'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 1",
    "SET enable_external_access = true",
    "SET allowed_paths = ['/']",
    "RESET lock_configuration",
    "PRAGMA threads = 2",
    "SELECT * FROM read_csv('{tmp}/outside.csv')",
    "SELECT * FROM '{tmp}/outside.csv'",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('{tmp}/*')",
    "SELECT * FROM read_parquet('{other}')",
]


@pytest.mark.parametrize("mode", ["table", "view"])
@pytest.mark.parametrize("sql", ENGINE_REFUSED)
def test_engine_sandbox_refuses_even_without_the_classifier(proj, store, published, tmp_path, sql, mode):
    (tmp_path / "outside.csv").write_text("a\n1\n", encoding="utf-8")
    info = proj.build({"candles": [published.abc, published.defg]}, mode=mode)
    other = store.get(published.ghi).path_parquet  # a lake artifact that is not in the projection
    con = proj.connect_readonly(info.projection_id)
    try:
        with pytest.raises(duckdb.Error):
            con.execute(sql.format(tmp=tmp_path, other=other)).fetchall()
    finally:
        con.close()
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "exported").exists()
    assert not (tmp_path / "other.duckdb").exists()
    assert proj.query(info.projection_id, "SELECT count(*) FROM candles").rows == [[100]]


def test_engine_errors_surface_as_read_only_violations(proj, pid, tmp_path, monkeypatch):
    # Bypass layer 1 to show that what the engine refuses still maps to ReadOnlyViolation.
    import bridge.projections.sandbox as sandbox

    monkeypatch.setattr(sandbox, "check_read_only", lambda sql: "SELECT")
    with pytest.raises(ReadOnlyViolation) as exc:
        proj.query(pid, f"COPY candles TO '{tmp_path}/x.csv'")
    assert exc.value.data["layer"] == "engine"
    with pytest.raises(ReadOnlyViolation):
        proj.query(pid, "DROP TABLE candles")
    with pytest.raises(ReadOnlyViolation):
        proj.query(pid, "SELECT * FROM read_text('/etc/hostname')")
    assert not (tmp_path / "x.csv").exists()


def test_connect_readonly_gives_a_working_sandboxed_connection(proj, pid):
    con = proj.connect_readonly(pid)
    second = proj.connect_readonly(pid)  # the same file again in this process: already sandboxed
    try:
        assert con.execute("SELECT count(*) FROM candles").fetchone()[0] == 100
        assert second.execute("SELECT count(*) FROM alerts").fetchone()[0] == 5
        assert con.execute("SELECT current_setting('enable_external_access')").fetchone()[0] is False
        assert con.execute("SELECT current_setting('lock_configuration')").fetchone()[0] is True
    finally:
        con.close()
        second.close()


def test_view_mode_can_read_only_its_own_files(proj, store, published):
    info = proj.build({"candles": [published.abc]}, mode="view")
    con = proj.connect_readonly(info.projection_id)
    try:
        own = store.get(published.abc).path_parquet
        assert con.execute(f"SELECT count(*) FROM read_parquet('{own}')").fetchone()[0] == 60
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT count(*) FROM read_parquet('{store.get(published.defg).path_parquet}')").fetchall()
    finally:
        con.close()


# -- results -----------------------------------------------------------------------------------

def test_inline_results_are_truncated_at_max_rows(proj, pid):
    res = proj.query(pid, "SELECT ts FROM candles ORDER BY token, ts", max_rows=7)
    assert res.row_count == 7 and len(res.rows) == 7 and res.truncated
    full = proj.query(pid, "SELECT ts FROM candles ORDER BY token, ts", max_rows=100)
    assert full.row_count == 100 and not full.truncated and full.rows[:7] == res.rows
    assert proj.query(pid, "SELECT 1", max_rows=0).truncated
    big = proj.query(pid, "SELECT * FROM range(20000)", max_rows=20000)
    assert big.row_count == 20000 and not big.truncated
    for bad in (-1, 1.5, "10", True, 10_000_000):
        with pytest.raises(InvalidInput):
            proj.query(pid, "SELECT 1", max_rows=bad)


def test_column_types_and_json_safe_values(proj, pid):
    res = proj.query(pid, """
        SELECT TIMESTAMPTZ '2026-01-26 12:34:56.789+02' AS tz, TIMESTAMP '2026-01-26 00:00:00' AS naive,
               TIMESTAMP_NS '2026-01-26 00:00:00.123456789' AS ns, DATE '2026-01-26' AS d, TIME '12:00:01' AS t,
               'nan'::DOUBLE AS nan, 'inf'::DOUBLE AS pinf, '-inf'::DOUBLE AS ninf, 1.5::FLOAT AS f4,
               1.50::DECIMAL(5,2) AS dec, 12::DECIMAL(5,0) AS dec0, sum(x) AS huge, 'ab'::BLOB AS b,
               INTERVAL 1 DAY AS iv, [1.0, 'nan'::DOUBLE] AS l, {'k': TIMESTAMPTZ '2026-01-26 00:00:00+00'} AS s,
               NULL AS n, true AS yes, 'infinity'::TIMESTAMP AS forever
        FROM (SELECT 9007199254740993::BIGINT AS x)
    """)
    types = {c.name: c.type for c in res.columns}
    assert types["tz"] == "TIMESTAMP WITH TIME ZONE" and types["nan"] == "DOUBLE" and types["dec"] == "DECIMAL(5,2)"
    row = dict(zip(types, res.rows[0]))
    assert row["tz"] == "2026-01-26T10:34:56.789000Z"
    assert row["naive"] == "2026-01-26T00:00:00.000000Z"
    assert row["ns"] == "2026-01-26T00:00:00.123456789Z"
    assert row["d"] == "2026-01-26" and row["t"] == "12:00:01"
    assert (row["nan"], row["pinf"], row["ninf"], row["f4"]) == ("NaN", "Infinity", "-Infinity", 1.5)
    assert (row["dec"], row["dec0"], row["huge"]) == ("1.50", 12, 9007199254740993)
    assert row["b"] == "6162" and row["iv"] == {"months": 0, "days": 1, "nanoseconds": 0}
    assert row["l"] == [1.0, "NaN"] and row["s"] == {"k": "2026-01-26T00:00:00.000000Z"}
    assert row["n"] is None and row["yes"] is True and row["forever"] == "infinity"
    json.dumps(res.rows, allow_nan=False)  # strict JSON: no NaN/Infinity literals


def test_params_positional_and_named(proj, pid):
    assert proj.query(pid, "SELECT count(*) FROM candles WHERE token = ?", ["ABC"]).rows == [[60]]
    assert proj.query(pid, "SELECT count(*) FROM candles WHERE token = $1 OR token = $2", ["ABC", "DEF"]).rows == [[100]]
    assert proj.query(pid, "SELECT count(*) FROM candles WHERE token = $tok", {"tok": "DEF"}).rows == [[40]]
    with pytest.raises(InvalidInput):
        proj.query(pid, "SELECT count(*) FROM candles WHERE token = ?", [])
    with pytest.raises(InvalidInput):
        proj.query(pid, "SELECT 1", params="ABC")


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv"])
def test_results_written_to_a_file(proj, pid, tmp_path, fmt):
    path = tmp_path / "sub" / f"out.{fmt}"
    res = proj.query(pid, "SELECT token, ts, close FROM candles ORDER BY token, ts", max_rows=3,
                     output={"path": str(path), "format": fmt})
    assert res.output_path == str(path) and res.output_format == fmt
    assert res.row_count == 100 and res.rows == [] and not res.truncated
    if fmt == "parquet":
        table = pq.read_table(path)
    elif fmt == "arrow":
        table = pa.ipc.open_file(str(path)).read_all()
    else:
        table = pcsv.read_csv(path)
    assert table.num_rows == 100 and table.column_names == ["token", "ts", "close"]
    inline = proj.query(pid, "SELECT close FROM candles ORDER BY token, ts", max_rows=1000).rows
    assert [r[0] for r in inline] == pytest.approx(table.column("close").to_pylist())
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary files left"


def test_default_output_goes_to_the_lake_exports(proj, store, pid):
    res = proj.query(pid, "SELECT * FROM alerts", output={"format": "parquet"})
    path = Path(res.output_path)
    assert path.is_relative_to(store.lake.cache / "exports") and pq.read_table(path).num_rows == 5


def test_output_inside_the_lake_goes_only_to_the_exports_folder(proj, store, pid):
    info = proj.get(pid)
    lake = store.lake
    before = {p: p.read_bytes() for p in lake.root.rglob("*") if p.is_file() and "exports" not in p.parts}
    # the attack of issue #12: query output over the projection's own database or its sidecar
    victims = [Path(info.duckdb_path), Path(info.duckdb_path).parent / "projection.json",
               lake.cache / "projections" / "new.duckdb", lake.artifacts / "x.parquet", lake.manifest_db,
               lake.root / "x.csv", lake.cache / "x.csv"]
    for victim in victims:
        for overwrite in (False, True):
            with pytest.raises(InvalidInput, match="inside the lake but not in its exports folder|manifest") as exc:
                proj.query(pid, "SELECT 42 AS x", output={"path": str(victim), "format": "csv", "overwrite": overwrite})
            assert exc.value.data["field"] == "output.path"
    # a relative path or a symlink that leads into the lake is the same path
    link = lake.root.parent / "sneaky"
    link.symlink_to(Path(info.duckdb_path).parent)
    with pytest.raises(InvalidInput, match="exports folder"):
        proj.query(pid, "SELECT 1", output={"path": str(link / "projection.json"), "format": "csv", "overwrite": True})
    after = {p: p.read_bytes() for p in lake.root.rglob("*") if p.is_file() and "exports" not in p.parts}
    assert after == before
    assert proj.build({"candles": [i.artifact_id for i in info.inputs["candles"]],
                       "alerts": [i.artifact_id for i in info.inputs["alerts"]]}, projection_id=pid).reused
    assert proj.query(pid, "SELECT count(*) FROM candles").rows == [[100]]
    inside = lake.cache / "exports" / "mine.csv"
    assert proj.query(pid, "SELECT 42 AS x", output={"path": str(inside), "format": "csv"}).row_count == 1
    with pytest.raises(InvalidInput, match="format"):
        proj.query(pid, "SELECT 1", output={"format": "xlsx"})


def test_output_never_replaces_a_file_unless_asked(proj, pid, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    target = tmp_path / "out.csv"
    target.write_text("precious\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="already exists.*overwrite") as exc:
        proj.query(pid, "SELECT 42 AS x", output={"path": str(target), "format": "csv"})
    assert exc.value.data["field"] == "output.path" and target.read_text(encoding="utf-8") == "precious\n"
    res = proj.query(pid, "SELECT 42 AS x", output={"path": str(target), "format": "csv", "overwrite": True})
    assert res.row_count == 1 and pcsv.read_csv(target).to_pylist() == [{"x": 42}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"], "no temporary file left"
    with pytest.raises(InvalidInput, match="directory"):
        proj.query(pid, "SELECT 1", output={"path": str(tmp_path), "format": "csv", "overwrite": True})


def test_a_file_that_appears_during_the_write_is_not_replaced(proj, pid, tmp_path, monkeypatch):
    import bridge.projections.results as results

    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    target = tmp_path / "race.parquet"
    real = results._write

    def write_then_someone_creates_the_target(reader, tmp, fmt):
        n = real(reader, tmp, fmt)
        target.write_text("theirs", encoding="utf-8")
        return n

    monkeypatch.setattr(results, "_write", write_then_someone_creates_the_target)
    with pytest.raises(InvalidInput, match="already exists"):
        proj.query(pid, "SELECT 1 AS x", output={"path": str(target)})
    assert target.read_text(encoding="utf-8") == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.parquet"]


def test_a_cancelled_query_raises_cancelled(proj, pid):
    from bridge.errors import Cancelled

    job = Job()
    job.cancel()
    with pytest.raises(Cancelled):
        proj.query(pid, "SELECT count(*) FROM range(10000000000) a", job=job)


def test_non_finite_numbers_never_reach_json_as_literals(proj, pid):
    res = proj.query(pid, "SELECT x / 0.0 AS r FROM (VALUES (1.0), (-1.0), (0.0)) v(x)")
    values = [r[0] for r in res.rows]
    assert all(v is None or isinstance(v, str) or math.isfinite(v) for v in values)
    json.dumps(res.rows, allow_nan=False)


def test_a_view_over_a_missing_parquet_file_is_an_integrity_error(proj, store, published):
    info = proj.build({"candles": [published.abc, published.defg], "alerts": [published.alerts]}, mode="view")
    gone = Path(store.get(published.defg).path_parquet)
    gone.unlink()
    with pytest.raises(IntegrityError, match="Parquet file is missing") as exc:
        proj.query(info.projection_id, "SELECT count(*) FROM candles")
    assert exc.value.data["artifact_id"] == published.defg and exc.value.data["path"] == str(gone)
    # a table that does not read the lost file still answers, and a real refusal stays a refusal
    assert proj.query(info.projection_id, "SELECT count(*) FROM alerts").rows == [[5]]
    con = proj.connect_readonly(info.projection_id)
    try:
        with pytest.raises(duckdb.PermissionException):
            con.execute("SELECT * FROM read_text('/etc/hostname')").fetchall()
    finally:
        con.close()


def test_inline_results_are_capped_by_bytes(proj, pid):
    small = proj.query(pid, "SELECT repeat('x', 100) AS s FROM range(50)", max_bytes=10_000)
    assert small.row_count == 50 and not small.truncated
    with pytest.raises(InvalidInput, match=r"too large to return inline.*pass output") as exc:
        proj.query(pid, "SELECT repeat('x', 100) AS s FROM range(500)", max_bytes=10_000)
    assert exc.value.data["field"] == "output" and exc.value.data["limit_bytes"] == 10_000
    # the cap counts the rows returned, not the rows past max_rows
    assert proj.query(pid, "SELECT repeat('x', 100) FROM range(500)", max_rows=20, max_bytes=10_000).truncated
    # the 300 MB reply stops at the default 32 MiB after a couple of batches
    with pytest.raises(InvalidInput, match="32 MiB"):
        proj.query(pid, "SELECT repeat('x', 30000) FROM range(10000)")
