"""Shared by the UI tests: a raw HTTP client (any Host header, any method) and a lake snapshot."""

from __future__ import annotations

import hashlib
import http.client
import sqlite3
from pathlib import Path


def request(port: int, method: str, path: str, *, host: str | None = None, headers: dict | None = None,
            body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        con.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        con.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        for k, v in (headers or {}).items():
            con.putheader(k, v)
        if body is not None:
            con.putheader("Content-Length", str(len(body)))
        con.endheaders(body)
        res = con.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        con.close()


def lake_snapshot(root: Path) -> dict:
    """Everything a reader could change: every file's bytes (SQLite's own -wal/-shm and the
    manifest file aside, since readers may checkpoint it) and the manifest's logical content."""
    files = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(("-wal", "-shm")) and p.name != "manifest.sqlite":
            files[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    manifests = [p for p in root.rglob("manifest.sqlite")]
    dump = []
    for m in manifests:
        con = sqlite3.connect(f"file:{m}?mode=ro", uri=True)
        try:
            dump.extend(con.iterdump())
        finally:
            con.close()
    return {"files": files, "manifest": hashlib.sha256("\n".join(dump).encode()).hexdigest(), "n": len(files)}
