"""Read-only access to projection files: the statement classifier and the sandboxed connection.

Two independent layers, so that either alone refuses writes and reads outside the projection:

1. `check_read_only(sql)` classifies the text with DuckDB's own parser (`extract_statements`,
   and for SELECTs the parsed tree from `json_serialize_sql`) and refuses, with
   `ReadOnlyViolation`, anything but exactly one read statement: SELECT (incl. WITH, VALUES,
   FROM-first, DESCRIBE, SHOW, SUMMARIZE), EXPLAIN [ANALYZE] of such a SELECT, and a few
   read-only PRAGMAs. Inside a SELECT, only table functions from `READ_TABLE_FUNCTIONS` are
   allowed (so no read_csv/read_parquet/read_json/read_text/glob/query), and table names that
   look like files or URLs (`FROM 'x.csv'`) are refused.
2. `open_readonly(path, allowed_paths)` opens the file with `read_only=True`, then, in this
   order (NOTES.md), limits file access to `allowed_paths` (the Parquet files a view-mode
   projection reads; nothing for table mode), turns external access off and locks the
   configuration. The engine itself then refuses INSERT/CREATE/DROP/COPY TO/ATTACH/INSTALL/
   LOAD/SET and any file outside the allowed paths, even if layer 1 were bypassed.

What still works on a sandboxed connection and is refused only by layer 1: session-local
objects (CREATE TEMP TABLE/VIEW, SET VARIABLE), BEGIN/COMMIT, CHECKPOINT (a no-op read-only).
None of them can change the projection file or read outside it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.errors import InvalidInput, ReadOnlyViolation

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "READ_PRAGMAS",
    "READ_TABLE_FUNCTIONS",
    "check_read_only",
    "open_readonly",
    "sandbox_connection",
]

log = logging.getLogger(__name__)

# Table functions that read only the catalog or generate values: nothing on disk, nothing remote.
READ_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "json_each", "json_tree", "repeat_row",
    "duckdb_tables", "duckdb_views", "duckdb_columns", "duckdb_schemas", "duckdb_types",
    "duckdb_constraints", "duckdb_indexes", "duckdb_databases", "duckdb_functions",
    "duckdb_keywords", "duckdb_settings",
    "pragma_table_info", "pragma_show", "pragma_storage_info", "pragma_database_size",
    "pragma_version", "pragma_platform",
})

# PRAGMAs that only read (they are rewritten to SELECTs over the catalog).
READ_PRAGMAS = frozenset({
    "table_info", "show", "show_tables", "show_tables_expanded", "database_size", "storage_info",
    "version", "platform",
})

_WHAT_TO_DO = {
    "INSERT": "projections are read-only: publish new data as an artifact, then extend or rebuild the projection",
    "UPDATE": "projections are read-only: publish corrected data as a new artifact and supersede the old one",
    "DELETE": "projections are read-only: filter with WHERE in a SELECT instead",
    "CREATE": "projections are read-only: use a WITH clause (CTE) or a subquery instead of creating objects",
    "DROP": "projections are read-only: dispose of the whole projection with disposeProjection",
    "ALTER": "projections are read-only: rename or cast columns in the SELECT list instead",
    "ATTACH": "only the projection's own tables can be read: add the artifacts you need to the projection",
    "DETACH": "the projection database cannot be detached",
    "COPY": "to write results to a file, pass output={path, format} to query instead of COPY ... TO",
    "EXPORT": "to write results to a file, pass output={path, format} to query",
    "LOAD": "extensions cannot be installed or loaded on projection connections",
    "SET": "settings are locked on projection connections",
    "TRANSACTION": "each query already runs in its own read transaction",
    "PREPARE": "pass parameters with params instead of PREPARE/EXECUTE",
    "EXECUTE": "pass parameters with params instead of PREPARE/EXECUTE",
    "CALL": "use SELECT * FROM <function>(...) for the read-only table functions",
    "VACUUM": "projections are read-only",
    "MULTI": "PIVOT/UNPIVOT statements create types first; write the pivot with GROUP BY and FILTER instead",
    "MERGE_INTO": "projections are read-only",
}

_EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\(\s*[^()]*\)\s*)?", re.IGNORECASE)
_PRAGMA_NAME = re.compile(r"^\s*PRAGMA\s+([A-Za-z_][A-Za-z0-9_]*)\s*(\(|;?\s*$)", re.IGNORECASE)
_FILE_LIKE = re.compile(r"[./\\:*?\[\]{}~]")

_parser_local = threading.local()


def _parser() -> "duckdb.DuckDBPyConnection":
    """An in-memory connection per thread, used only to parse (never to run the caller's SQL)."""
    con = getattr(_parser_local, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect(":memory:")
        _parser_local.con = con
    return con


def check_read_only(sql: str) -> str:
    """Accept exactly one read statement; return its kind (SELECT, EXPLAIN or PRAGMA).

    Raises:
        ReadOnlyViolation: more than one statement, a statement that writes or changes state,
            or a read of files, URLs or databases outside the projection.
        InvalidInput: the text is empty or does not parse.
    """
    statements = _extract(sql)
    if len(statements) != 1:
        types = [_type_name(s) for s in statements]
        raise ReadOnlyViolation(
            f"exactly one statement per query is accepted, got {len(statements)} ({', '.join(types)}); "
            "send them as separate queries",
            statement_type="MULTIPLE", statement_count=len(statements), statement_types=types,
        )
    st = statements[0]
    kind = _type_name(st)
    if kind == "SELECT":
        _check_select(st.query)
    elif kind == "EXPLAIN":
        _check_explain(st.query)
    elif kind == "PRAGMA":
        _check_pragma(st.query)
    else:
        raise _refuse(kind)
    return kind


def _extract(sql: str) -> list[Any]:
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInput("the query is empty; send one SELECT statement", field="sql")
    import duckdb

    try:
        statements = _parser().extract_statements(sql)
    except duckdb.ParserException as exc:
        raise InvalidInput(f"the query does not parse: {_first_line(exc)}", field="sql") from exc
    except ValueError as exc:  # a statement type the Python enum does not know (e.g. UPDATE EXTENSIONS)
        raise ReadOnlyViolation(
            f"statement refused: its type is not a read ({exc}); only SELECT queries are accepted",
            statement_type="UNKNOWN",
        ) from exc
    if not statements:
        raise InvalidInput("the query holds no statement; send one SELECT statement", field="sql")
    return list(statements)


def _type_name(statement: Any) -> str:
    return getattr(statement.type, "name", str(statement.type)).upper()


def _refuse(kind: str, detail: str | None = None) -> ReadOnlyViolation:
    what = _WHAT_TO_DO.get(kind, "only SELECT queries are accepted on projections")
    label = {"LOAD": "INSTALL/LOAD", "SET": "SET/RESET", "COPY": "COPY"}.get(kind, kind)
    msg = f"{label} statements are refused: {what}"
    if detail:
        msg = f"{label} statement refused ({detail}): {what}"
    return ReadOnlyViolation(msg, statement_type=kind)


def _check_explain(query: str) -> None:
    m = _EXPLAIN_PREFIX.match(query)
    if not m:
        raise _refuse("EXPLAIN", "could not find the explained statement")
    inner = _extract(query[m.end():])
    if len(inner) != 1 or _type_name(inner[0]) != "SELECT":
        kind = _type_name(inner[0]) if inner else "EMPTY"
        raise ReadOnlyViolation(
            f"EXPLAIN of a {kind} statement is refused: only SELECT statements can be explained",
            statement_type="EXPLAIN", explained_type=kind,
        )
    _check_select(inner[0].query)


def _check_pragma(query: str) -> None:
    m = _PRAGMA_NAME.match(query)
    name = m.group(1).lower() if m else None
    if name not in READ_PRAGMAS:
        shown = name or query.strip()[:60]
        raise ReadOnlyViolation(
            f"PRAGMA {shown} is refused: only the read-only PRAGMAs {', '.join(sorted(READ_PRAGMAS))} "
            "are accepted (IMPORT DATABASE and setting PRAGMAs are not)",
            statement_type="PRAGMA", pragma=name,
        )


def _check_select(query: str) -> None:
    raw = _parser().execute("SELECT json_serialize_sql(?)", [query]).fetchall()[0][0]
    tree = json.loads(raw)
    if tree.get("error"):
        raise ReadOnlyViolation(
            f"statement refused: it could not be analysed ({tree.get('error_message', 'unknown')}); "
            "only plain SELECT queries are accepted",
            statement_type="SELECT",
        )
    for node in _walk(tree.get("statements", [])):
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE") and kind not in _READ_QUERY_NODES:
            _refuse_query_node(kind)
        if kind == "TABLE_FUNCTION":
            _check_table_function(node.get("function") or {})
        elif kind == "BASE_TABLE":
            _check_table_name(node)


# Query nodes that only read. Every other node in a SELECT's tree (INSERT/UPDATE/DELETE ...
# RETURNING or COPY ... TO inside a CTE or a subquery: `WITH x AS (DELETE FROM t RETURNING *)
# SELECT * FROM x` is a SELECT statement) is refused, whatever it is called.
_READ_QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})


def _refuse_query_node(node_type: str) -> None:
    kind = node_type.removesuffix("_NODE").removesuffix("_QUERY")
    err = _refuse(kind, f"{kind} inside a WITH clause or subquery")
    err.data["query_node"] = node_type
    raise err


def _walk(node: Any) -> Iterable[dict]:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            yield n
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)


def _check_table_function(fn: dict) -> None:
    name = str(fn.get("function_name", "")).lower()
    if name in READ_TABLE_FUNCTIONS and not fn.get("schema") and not fn.get("catalog"):
        return
    raise ReadOnlyViolation(
        f"table function {name}() is refused: queries may read only the projection's own tables "
        "(read_csv/read_parquet/read_json/read_text/glob/query and other file or remote readers are "
        "not allowed); publish the data as an artifact and add it to the projection",
        statement_type="SELECT", function=name,
    )


def _check_table_name(node: dict) -> None:
    name = str(node.get("table_name", ""))
    if _FILE_LIKE.search(name):
        raise ReadOnlyViolation(
            f"reading {name!r} is refused: it names a file or URL, and queries may read only the "
            "projection's own tables; publish the data as an artifact and add it to the projection",
            statement_type="SELECT", table=name,
        )


def open_readonly(path: Path, allowed_paths: Iterable[Path] = ()) -> "duckdb.DuckDBPyConnection":
    """Open a projection file read-only and sandbox the connection.

    Raises:
        IntegrityError: the instance was already opened in this process without the sandbox and
            could no longer be sandboxed.
    """
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        sandbox_connection(con, allowed_paths)
    except BaseException:
        con.close()
        raise
    return con


def sandbox_connection(con: "duckdb.DuckDBPyConnection", allowed_paths: Iterable[Path] = ()) -> None:
    """allowed_paths, then enable_external_access=false, then lock_configuration=true.

    DuckDB's Python module shares one database instance per file within a process, and these
    settings are the instance's: a second connection to an already sandboxed file finds them
    locked, which is accepted once checked. Set-ups run one at a time in the process (two
    threads opening the same file at once would otherwise both see it unlocked and race on SET),
    and every setting is read to the end, so the connection has no open result afterwards.
    """
    with _SETUP_LOCK:
        if _setting(con, "lock_configuration"):
            if _setting(con, "enable_external_access"):
                from bridge.errors import IntegrityError

                raise IntegrityError("a projection file is open in this process with external access on and a "
                                     "locked configuration; close that connection first")
            return
        paths = sorted(str(Path(p)) for p in allowed_paths)
        if paths:
            con.execute("SET allowed_paths = ?", [paths])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")


# One sandbox set-up at a time per process (the settings belong to a per-file instance that
# several connections, in several threads, share).
_SETUP_LOCK = threading.Lock()


def _setting(con: "duckdb.DuckDBPyConnection", name: str) -> Any:
    rows = con.execute("SELECT current_setting(?)", [name]).fetchall()  # fetchall closes the result
    value = rows[0][0]
    return value is True or str(value).lower() == "true"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
