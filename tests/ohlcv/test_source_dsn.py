"""DSN parsing and configuration for both paths, and a clear error for an unreachable server.
No ClickHouse server exists here: the server path is tested up to the connection attempt."""

from __future__ import annotations

import socket
import time

import pytest

from bridge.errors import InvalidInput, SourceUnavailable
from bridge.ohlcv.grid import TimeRange, parse_resolution
from bridge.ohlcv.source import CandleSource, ColumnMap, SourceConfig, default_dsn, parse_dsn


def test_chdb_dsn():
    info = parse_dsn("chdb:///var/data/candles")
    assert (info.kind, info.path, info.where) == ("chdb", "/var/data/candles", "/var/data/candles")


@pytest.mark.parametrize("dsn", ["chdb://memory", "chdb://relative/path", "chdb:relative", "chdb://"])
def test_chdb_dsn_must_be_an_absolute_directory(dsn):
    with pytest.raises(InvalidInput, match="absolute directory"):
        parse_dsn(dsn)


def test_http_dsn_parts_and_redaction():
    info = parse_dsn("https://reader:s3cr%40t@ch.example.com:9443/market")
    assert (info.kind, info.scheme, info.host, info.port, info.database, info.username) == \
        ("http", "https", "ch.example.com", 9443, "market", "reader")
    assert "s3cr" not in info.redacted and info.redacted == "https://reader:***@ch.example.com:9443/market"
    assert "s3cr" not in repr(info)
    assert info.where == "ch.example.com:9443"


def test_http_default_ports_and_database():
    assert parse_dsn("http://ch:8123").port == 8123
    assert parse_dsn("http://ch").port == 8123
    assert parse_dsn("https://ch").port == 8443
    assert parse_dsn("http://ch").database is None


@pytest.mark.parametrize("dsn,match", [
    ("mysql://u:p@h/db", "unsupported"),
    ("", "non-empty"),
    ("http://:8123/db", "no host"),
    ("http://h:notaport/db", "invalid port"),
    ("http://h:8123/db;DROP", "identifier"),
])
def test_bad_dsns(dsn, match):
    with pytest.raises(InvalidInput, match=match) as err:
        parse_dsn(dsn)
    assert "p@" not in str(err.value)


def test_unsupported_scheme_error_hides_the_password():
    with pytest.raises(InvalidInput) as err:
        parse_dsn("ftp://user:hunter2@h/x")
    assert "hunter2" not in str(err.value) and "hunter2" not in str(err.value.data)


def test_default_dsn_is_inside_the_lake(store):
    dsn = default_dsn(store.lake)
    assert dsn == f"chdb://{store.lake.root / 'sources' / 'chdb'}"
    assert CandleSource.for_lake(store.lake).info.path == str(store.lake.root / "sources" / "chdb")


def test_table_and_column_mapping_are_identifiers_only():
    with pytest.raises(InvalidInput, match="table"):
        SourceConfig(dsn="chdb:///x", table="candles; DROP TABLE candles")
    with pytest.raises(InvalidInput, match="column mapping ts=") as err:
        ColumnMap(ts="ts) OR 1=1 --")
    assert err.value.data["field"] == "columns.ts"
    with pytest.raises(InvalidInput, match="unknown candle field"):
        ColumnMap.from_mapping({"price": "p"})
    assert SourceConfig(dsn="chdb:///x", table="market.ohlc").table == "market.ohlc"
    assert ColumnMap.from_mapping({"token": "mint", "chain": None}).chain is None


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_server_is_a_quick_clear_error():
    port = _closed_port()
    src = CandleSource(f"http://reader:hunter2@127.0.0.1:{port}/market")
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable) as err:
        src.candles("TokA", "solana", parse_resolution("1m"),
                    TimeRange.parse("2026-01-05T00:00:00Z", "2026-01-05T01:00:00Z"))
    assert time.monotonic() - t0 < 5
    assert f"127.0.0.1:{port}" in str(err.value)
    assert err.value.data["where"] == f"127.0.0.1:{port}"
    assert "hunter2" not in str(err.value) and "hunter2" not in str(err.value.data)


def test_a_server_that_is_not_clickhouse_is_a_clear_error():
    """Something answers on the port, but not ClickHouse: still SourceUnavailable naming host:port."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Teapot(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.send_response(418)
            self.end_headers()
            self.wfile.write(b"not clickhouse")

        do_GET = do_POST  # noqa: N815

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Teapot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        src = CandleSource(f"http://u:pw@127.0.0.1:{port}/db")
        with pytest.raises(SourceUnavailable) as err:
            src.count()
        assert f"127.0.0.1:{port}" in str(err.value)
    finally:
        server.shutdown()
        server.server_close()
