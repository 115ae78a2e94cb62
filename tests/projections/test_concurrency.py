"""Many readers of one projection at once (issue #12 item 1): queries from threads, a query while
a connect_readonly connection is open, and the same through the real daemon."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.daemon import Daemon

N = 12


def _at_once(n: int, fn) -> list:
    """Run fn(i) in n threads released together; return each outcome (result or exception)."""
    gate = threading.Barrier(n)

    def go(i: int):
        gate.wait()
        try:
            return fn(i)
        except Exception as exc:  # noqa: BLE001 - the test asserts on every outcome
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def test_concurrent_queries_on_one_projection_from_threads(proj, published):
    for mode in ("table", "view"):
        pid = f"p-{mode}"
        proj.build({"candles": [published.abc, published.defg]}, projection_id=pid, mode=mode)
        outcomes = _at_once(N, lambda i: proj.query(pid, "SELECT count(*) + ? FROM candles", params=[i]).rows)
        assert outcomes == [[[100 + i]] for i in range(N)]


def test_query_while_a_readonly_connection_is_open(proj, published):
    proj.build({"candles": [published.abc]}, projection_id="p1")
    con = proj.connect_readonly("p1")
    try:
        assert proj.query("p1", "SELECT 1 AS x").rows == [[1]]
        assert con.execute("SELECT count(*) FROM candles").fetchall() == [(60,)]
        outcomes = _at_once(N, lambda i: proj.query("p1", "SELECT count(*) FROM candles").rows)
        assert outcomes == [[[60]]] * N
        assert con.execute("SELECT count(*) FROM candles").fetchall() == [(60,)]
    finally:
        con.close()


def test_concurrent_connects_each_get_a_sandboxed_connection(proj, published):
    proj.build({"candles": [published.abc]}, projection_id="p1")

    def connect(i: int):
        con = proj.connect_readonly("p1")
        try:
            locked = con.execute("SELECT current_setting('lock_configuration'), "
                                 "current_setting('enable_external_access')").fetchall()
            return locked, con.execute("SELECT count(*) FROM candles").fetchall()
        finally:
            con.close()

    assert _at_once(N, connect) == [([(True, False)], [(60,)])] * N


def _candles(token: str, n: int) -> list[dict]:
    return [{"token": token, "resolution": "1m", "ts": f"2026-01-26T00:{i:02d}:00Z", "open": 1.0, "high": 1.5,
             "low": 0.5, "close": 1.0, "volume": float(i)} for i in range(n)]


def test_concurrent_queries_through_the_daemon(tmp_path: Path):
    d = Daemon(tmp_path / "lake")
    try:
        d.result("initialize", {"protocolVersion": "1.0", "clientInfo": {"name": "pytest"}})
        aid = d.result("publishDataFrame", {"artifactType": "ohlcv_slice", "schemaVersion": 2,
                                            "logicalKey": "token=ABC/res=1m", "dataFrame": _candles("ABC", 30),
                                            "writerName": "pytest", "writerVersion": "1"})["artifactId"]
        d.result("buildProjection", {"projectionId": "p1", "tables": {"candles": [aid]}})
        ids = [d.request("query", {"projectionId": "p1", "sql": f"SELECT count(*) + {i} FROM candles"})
               for i in range(N)]
        replies = [d.reply(i, timeout=60) for i in ids]
        assert [r.get("result", r)["rows"] for r in replies] == [[[30 + i]] for i in range(N)], replies
    finally:
        assert d.close() == 0
