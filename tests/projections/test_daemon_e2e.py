"""Projections through the real daemon (subprocess, JSON-RPC over stdio): build with progress,
reuse, query inline and to a file, refusals with their code, lifecycle, not-found, cancel."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from tests.daemon import Daemon


def _candles(token: str, n: int) -> list[dict]:
    return [{"token": token, "resolution": "1m", "ts": f"2026-01-26T{i // 60:02d}:{i % 60:02d}:00Z", "open": 1.0,
             "high": 1.5, "low": 0.5, "close": 1.0 + i / 1000, "volume": float(i)} for i in range(n)]


def _publish(d: Daemon, token: str, n: int) -> str:
    return d.result("publishDataFrame", {"artifactType": "ohlcv_slice", "schemaVersion": 2,
                                         "logicalKey": f"token={token}/res=1m", "dataFrame": _candles(token, n),
                                         "writerName": "pytest", "writerVersion": "1"})["artifactId"]


def test_projections_over_the_wire(tmp_path: Path):
    d = Daemon(tmp_path / "lake")
    try:
        d.result("initialize", {"protocolVersion": "1.0", "clientInfo": {"name": "pytest"}})
        abc, defg = _publish(d, "ABC", 90), _publish(d, "DEF", 30)

        built = d.result("buildProjection", {"projectionId": "p", "tables": {"candles": [defg, abc]}})
        assert built["rowCount"] == {"candles": 120} and built["reused"] is False and built["mode"] == "table"
        assert any(n["method"] == "$/progress" for n in d.notifications)
        again = d.result("buildProjection", {"projectionId": "p", "tables": {"candles": [abc, defg]}})
        assert again["reused"] is True and again["duckdbPath"] == built["duckdbPath"]
        prd = d.result("buildProjection", {"projectionId": "prd", "artifacts": {"ohlcv": [abc]},
                                           "tables": {"ohlcv": "candles"}})
        assert prd["tables"] == ["candles"]

        res = d.result("query", {"projectionId": "p", "sql": "SELECT token, count(*) AS n, min(ts) AS t0, "
                                 "'nan'::DOUBLE AS x FROM candles WHERE token = $1 GROUP BY ALL", "params": ["ABC"]})
        assert res["rows"] == [["ABC", 90, "2026-01-26T00:00:00.000000Z", "NaN"]]
        assert res["columns"][2] == {"name": "t0", "type": "TIMESTAMP WITH TIME ZONE"} and res["truncated"] is False
        cut = d.result("query", {"projectionId": "p", "sql": "SELECT * FROM candles", "maxRows": 10})
        assert cut["rowCount"] == 10 and cut["truncated"] is True
        out = tmp_path / "all.parquet"
        filed = d.result("query", {"projectionId": "p", "sql": "SELECT * FROM candles",
                                   "output": {"path": str(out), "format": "parquet"}})
        assert filed["outputPath"] == str(out) and pq.read_table(out).num_rows == 120

        for sql, kind in (("DROP TABLE candles", "DROP"), ("SELECT * FROM read_csv('/etc/passwd')", "SELECT"),
                          ("SELECT 1; SELECT 2", "MULTIPLE"), ("SET threads = 1", "SET")):
            err = d.call("query", {"projectionId": "p", "sql": sql})["error"]
            assert err["code"] == 1102 and err["data"]["type"] == "ReadOnlyViolation", err
            assert err["data"]["statementType"] == kind
        assert d.call("query", {"projectionId": "p", "sql": "SELEC 1"})["error"]["code"] == 1009
        assert d.call("query", {"projectionId": "nope", "sql": "SELECT 1"})["error"]["code"] == 1101
        assert d.call("query", {"projectionId": "p", "sql": "SELECT 1", "bogus": 1})["error"]["code"] == -32602

        ghi = _publish(d, "GHI", 10)
        ext = d.result("extendProjection", {"projectionId": "p", "tables": {"candles": [ghi]}})
        assert ext["rowCount"] == {"candles": 130}
        assert d.result("rebuildProjection", {"projectionId": "p"})["fingerprint"] == ext["fingerprint"]
        assert d.result("getProjection", {"projectionId": "p"})["artifactCount"] == 3
        listed = d.result("listProjections", {})["projections"]
        assert [p["projectionId"] for p in listed] == ["p", "prd"] and not any(p["stale"] for p in listed)

        slow = d.request("query", {"projectionId": "p", "sql": "SELECT count(*) FROM range(100000000000)"})
        d.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": slow}})
        assert d.reply(slow, timeout=30)["error"]["code"] == -32800
        assert d.result("query", {"projectionId": "p", "sql": "SELECT count(*) FROM candles"})["rows"] == [[130]]

        assert d.result("disposeProjection", {"projectionId": "p"}) == {"projectionId": "p", "disposed": True}
        assert d.call("getProjection", {"projectionId": "p"})["error"]["code"] == 1101
    finally:
        assert d.close() == 0


def test_query_output_over_the_wire_cannot_destroy_a_projection(tmp_path: Path):
    d = Daemon(tmp_path / "lake")
    try:
        abc = _publish(d, "ABC", 10)
        built = d.result("buildProjection", {"projectionId": "p", "tables": {"candles": [abc]}})
        db = Path(built["duckdbPath"])
        for victim in (db, db.parent / "projection.json"):
            err = d.call("query", {"projectionId": "p", "sql": "SELECT 42 AS x",
                                   "output": {"path": str(victim), "format": "csv", "overwrite": True}})["error"]
            assert err["code"] == 1009 and err["data"]["field"] == "output.path", err
        assert d.result("query", {"projectionId": "p", "sql": "SELECT count(*) FROM candles"})["rows"] == [[10]]
        mine = tmp_path / "mine.parquet"
        first = d.result("query", {"projectionId": "p", "sql": "SELECT 1 AS x", "output": {"path": str(mine)}})
        assert first["outputPath"] == str(mine)
        again = d.call("query", {"projectionId": "p", "sql": "SELECT 2 AS x", "output": {"path": str(mine)}})["error"]
        assert again["code"] == 1009 and "already exists" in again["message"]
        assert pq.read_table(mine).to_pylist() == [{"x": 1}]
        d.result("query", {"projectionId": "p", "sql": "SELECT 2 AS x", "output": {"path": str(mine), "overwrite": True}})
        assert pq.read_table(mine).to_pylist() == [{"x": 2}]
    finally:
        assert d.close() == 0


def test_huge_inline_results_and_echoed_input_stay_small(tmp_path: Path):
    d = Daemon(tmp_path / "lake")
    try:
        limits = d.result("initialize", {"protocolVersion": "1.0", "clientInfo": {"name": "pytest"}})["limits"]
        assert limits["maxResultBytes"] == 32 << 20 and limits["maxReplyBytes"] == 128 << 20
        d.result("buildProjection", {"projectionId": "p", "tables": {"candles": [_publish(d, "ABC", 10)]}})
        err = d.call("query", {"projectionId": "p", "sql": "SELECT repeat('x', 30000) FROM range(10000)"})["error"]
        assert err["code"] == 1009 and err["data"]["field"] == "output" and "pass output" in err["message"]
        assert max(len(line) for line in d.raw) < 1 << 20
        big = "q" * (20 << 20)
        for params in ({"projectionId": big, "sql": "SELECT 1"}, {"projectionId": "p", "sql": "SELECT 1", big: 1}):
            n = len(d.raw)
            err = d.call("query", params)["error"]
            assert err["code"] in (1009, -32602) and len(d.raw[n]) < 10_000, len(d.raw[n])
        n = len(d.raw)
        assert d.call("getArtifact", {"artifactId": big})["error"]["code"] == 1001 and len(d.raw[n]) < 10_000
        assert d.result("query", {"projectionId": "p", "sql": "SELECT count(*) FROM candles"})["rows"] == [[10]]
    finally:
        assert d.close() == 0
