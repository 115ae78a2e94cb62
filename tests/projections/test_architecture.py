"""PRD invariant 1: only the projection builder opens DuckDB files for writing.

Scans every module under bridge/ with ast for `duckdb.connect(...)` calls (also via
`from duckdb import connect` or an alias of the module): outside bridge/projections, each must be
in-memory (no database, ":memory:" or "") or pass `read_only=True`. Inside bridge/projections,
only builder.py may open a file for writing.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

BRIDGE = REPO / "bridge"
WRITER_ALLOWED = {Path("bridge/projections/builder.py")}


def writable_connects(source: str) -> list[int]:
    """Line numbers of duckdb.connect calls that may open a file for writing."""
    tree = ast.parse(source)
    modules, functions = {"duckdb"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "duckdb"}
        elif isinstance(node, ast.ImportFrom) and node.module == "duckdb":
            functions |= {a.asname or a.name for a in node.names if a.name == "connect"}
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        is_connect = (isinstance(f, ast.Attribute) and f.attr == "connect" and isinstance(f.value, ast.Name)
                      and f.value.id in modules) or (isinstance(f, ast.Name) and f.id in functions)
        if is_connect and not _in_memory(node) and not _read_only(node):
            bad.append(node.lineno)
    return bad


def _in_memory(call: ast.Call) -> bool:
    target = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "database"), None)
    return target is None or (isinstance(target, ast.Constant) and target.value in (":memory:", ""))


def _read_only(call: ast.Call) -> bool:
    return any(k.arg == "read_only" and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in call.keywords)


def test_only_the_projection_builder_opens_duckdb_files_for_writing():
    offenders = []
    for path in sorted(BRIDGE.rglob("*.py")):
        rel = path.relative_to(REPO)
        if rel in WRITER_ALLOWED:
            continue
        for line in writable_connects(path.read_text(encoding="utf-8")):
            offenders.append(f"{rel}:{line}")
    assert offenders == [], f"DuckDB opened for writing outside the projection builder: {offenders}"


def test_the_builder_is_the_writer():
    assert writable_connects((REPO / "bridge/projections/builder.py").read_text(encoding="utf-8"))


def test_the_scanner_catches_writers():
    assert writable_connects("import duckdb\ncon = duckdb.connect('x.duckdb')\n") == [2]
    assert writable_connects("import duckdb as ddb\nddb.connect(database=path)\n") == [2]
    assert writable_connects("from duckdb import connect\nconnect(p, read_only=False)\n") == [2]
    assert writable_connects("from duckdb import connect as c\nc(p)\n") == [2]
    assert writable_connects("import duckdb\nduckdb.connect(p, read_only=flag)\n") == [2]
    assert writable_connects("import duckdb\nduckdb.connect()\nduckdb.connect(':memory:')\n") == []
    assert writable_connects("import duckdb\nduckdb.connect(database=':memory:')\n") == []
    assert writable_connects("import duckdb\nduckdb.connect(str(p), read_only=True)\n") == []
