"""Every difference between the manifest's two databases, and nothing else: SQLite (the embedded
default, one file) and PostgreSQL (the team backend, psycopg 3 with a connection pool).

The store's SQL is written once, portably: `?` placeholders (`:name` for named ones), `INSERT …
ON CONFLICT`, row values, `WITH RECURSIVE`, every selected column grouped. What cannot be
portable lives here: connecting, transactions, the schema files and their introspection, the
change token that invalidates artifact caches, and who decides that a publish in flight is dead.

    d = dialect_for("postgresql://u@host/db")      # or "sqlite:///path/manifest.sqlite"
    con = d.connect()
    with d.write_txn(con): con.execute("UPDATE …", (…,))
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bridge.errors import Busy, ValidationFailed

__all__ = ["BUSY_TIMEOUT_S", "Dialect", "PostgresDialect", "SqliteDialect", "dialect_for", "split_sql"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 60.0
MMAP_BYTES = 1 << 30
CACHE_KIB = 32 << 10
_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def _sql_files(folder: str) -> tuple[str, list[tuple[int, str, str]]]:
    base = resources.files("bridge.store").joinpath(folder)
    v1 = base.joinpath("manifest_v1.sql").read_text(encoding="utf-8")
    out = []
    for entry in base.joinpath("migrations").iterdir():
        m = _MIGRATION_RE.match(entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    out.sort()
    return v1, out


def split_sql(script: str) -> list[str]:
    """Statements of a SQLite schema file (sqlite3.complete_statement: `;` outside literals,
    comments and trigger bodies)."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        if not buf and line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip() and not all(l.strip().startswith("--") or not l.strip() for l in buf.splitlines()):
        statements.append(buf.strip())
    return statements


class Dialect:
    """One manifest database. Subclasses: SqliteDialect, PostgresDialect."""

    name: str
    sql_folder: str
    url: str

    def connect(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def release(self, con) -> None:
        con.close()

    def close(self) -> None:
        """Release what the dialect holds beyond connections (the PostgreSQL pool)."""

    def write_txn(self, con, *, timeout: float = BUSY_TIMEOUT_S):  # pragma: no cover - abstract
        raise NotImplementedError

    def manifest_sql(self) -> str:
        return _sql_files(self.sql_folder)[0]

    def migrations(self) -> list[tuple[int, str, str]]:
        return _sql_files(self.sql_folder)[1]

    def tables(self, con) -> set[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def schema_version(self, con) -> int:
        tables = self.tables(con)
        if "schema_migrations" in tables:
            row = con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            if row[0] is not None:
                return int(row[0])
        return 1 if "artifacts" in tables else 0

    def _migration_lock(self, con) -> None:
        """Serialise migrations between processes (inside the write transaction)."""

    def run_script(self, con, sql: str) -> None:
        """Run a schema file's statements (inside the caller's transaction)."""
        for stmt in split_sql(sql):
            con.execute(stmt)

    def migrate(self, con) -> int:
        """Bring the manifest to the newest schema; safe from many processes at once."""
        from bridge.store.timeutil import now_iso

        pending = self.migrations()
        latest = pending[-1][0] if pending else 1
        if self.schema_version(con) >= latest:
            return self.schema_version(con)
        with self.write_txn(con):
            self._migration_lock(con)
            con.execute("CREATE TABLE IF NOT EXISTS schema_migrations"
                        " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            current = self.schema_version(con)
            if current == 0:
                self.run_script(con, self.manifest_sql())
                current = 1
            if not con.execute("SELECT 1 FROM schema_migrations WHERE version = 1").fetchone():
                con.execute("INSERT INTO schema_migrations VALUES (1, 'manifest_v1', ?)", (now_iso(),))
            for version, name, sql in pending:
                if version <= current:
                    continue
                log.info("applying %s manifest migration %04d_%s", self.name, version, name)
                self.run_script(con, sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, now_iso()))
                current = version
        return current

    def change_token(self, con) -> Any:
        """A value that changes whenever another process commits a write (cache invalidation)."""
        raise NotImplementedError  # pragma: no cover

    # -- what the list planner (Store._list_query) writes differently ----------------------------

    #: The column a list driver yields and the outer query matches: SQLite's rowid (a probe of the
    #: table's b-tree); PostgreSQL has none, so the primary key.
    row_key = "artifact_id"
    #: SQLite's join that keeps the order written (the tag index drives); a plain join elsewhere.
    ordered_join = "JOIN"
    #: SQLite: the outer query must not pick another index than the driver's matches.
    not_indexed = ""

    def indexed_by(self, index: str) -> str:
        """An index hint: SQLite has no value statistics, so the planner names the index; the
        PostgreSQL planner has statistics (ANALYZE) and chooses itself."""
        return ""

    def contains(self, column: str, needle: str = "?") -> str:
        """A condition: `column` contains `needle` (by default the next `?` parameter's text;
        case-sensitive)."""
        raise NotImplementedError  # pragma: no cover

    def analyze(self, con) -> None:
        """Refresh the planner's statistics after a bulk load (`lake copy`). SQLite: nothing (its
        planner is steered by index hints, not statistics); PostgreSQL: `ANALYZE` of the manifest
        tables, without which a filter's selectivity is guessed and a list can pick a slow plan."""

    def batch(self, con):
        """Send the reads issued inside together (PostgreSQL pipeline mode: one round trip)."""
        from contextlib import nullcontext

        return nullcontext()

    # -- the publish journal: who is dead -------------------------------------------------------

    leases = False

    def journal_insert(self, con, row: tuple, lease_s: float) -> bool:
        """Record a publish in flight; False if another publisher holds this artifact id."""
        raise NotImplementedError  # pragma: no cover

    def renew_lease(self, con, journal_id: str, lease_s: float) -> None:
        """Push a journal row's lease forward (no-op where liveness is a pid check)."""

    def expired_journal_ids(self, con) -> set[str]:
        """Journal rows whose lease ran out (any host)."""
        return set()


# -- SQLite ---------------------------------------------------------------------------------------

class SqliteConnection(sqlite3.Connection):
    """A sqlite3 connection that knows its dialect (see `manifest.write_txn`)."""

    dialect: "SqliteDialect"


class SqliteDialect(Dialect):
    name = "sqlite"
    sql_folder = "sql"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path.as_posix().lstrip('/')}"

    def connect(self, *, timeout: float = BUSY_TIMEOUT_S) -> SqliteConnection:
        """Autocommit mode (transactions are explicit), WAL, busy timeout, Row factory.

        Raises:
            StorageError: the file cannot be opened or created (permissions, disk).
            IntegrityError: the file is not a SQLite database.
        """
        try:
            return self._connect(timeout)
        except sqlite3.DatabaseError as exc:
            err = storage_error(self.path, exc)
            if err is None:
                raise
            raise err from exc
        except OSError as exc:
            from bridge.errors import StorageError

            raise StorageError.from_os_error(exc, self.path.parent, "create the manifest folder") from exc

    def _connect(self, timeout: float) -> SqliteConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False,
                              factory=SqliteConnection)
        con.dialect = self
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        mode = _retry_locked(lambda: con.execute("PRAGMA journal_mode = WAL").fetchone()[0], timeout)
        if mode.lower() != "wal":  # pragma: no cover - e.g. a filesystem without shared memory
            log.warning("manifest %s is in %s mode, not WAL", self.path, mode)
        con.execute("PRAGMA synchronous = FULL")
        # Reads through a memory map and a bigger page cache: a point read of a large manifest whose
        # pages are not yet in SQLite's own cache costs ~0.02 ms instead of ~0.4 ms of read() calls.
        con.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        con.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        return con

    @contextmanager
    def write_txn(self, con, *, timeout: float = BUSY_TIMEOUT_S) -> Iterator[Any]:
        """BEGIN IMMEDIATE … COMMIT, retrying the BEGIN while another writer holds the lock.

        Raises:
            Busy: the manifest stayed locked for `timeout` seconds.
            StorageError: the disk refused the write (full, I/O error, read-only); rolled back.
        """
        deadline = time.monotonic() + timeout
        delay = 0.005
        # SQLite's own busy wait blocks in C, where Ctrl-C cannot interrupt it: wait in short slices
        # and let Python's loop (and its signal checks) do the rest.
        saved = con.execute("PRAGMA busy_timeout").fetchone()[0]
        con.execute(f"PRAGMA busy_timeout = {_BEGIN_SLICE_MS}")
        try:
            while True:
                try:
                    con.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        _raise_storage(con, exc)
                        raise
                    if time.monotonic() > deadline:
                        raise Busy(f"the manifest stayed locked for {timeout:.0f}s; another process is writing — retry") from exc
                    from bridge.proc import holdpoint

                    holdpoint("manifest_busy")  # the tests: this process now waits for the lock
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
        finally:
            con.execute(f"PRAGMA busy_timeout = {int(saved)}")
        try:
            yield con
        except BaseException as exc:
            _rollback(con)
            if isinstance(exc, sqlite3.DatabaseError):
                _raise_storage(con, exc)
            raise
        else:
            try:
                con.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                _rollback(con)
                _raise_storage(con, exc)
                raise

    def tables(self, con) -> set[str]:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    row_key = "rowid"
    ordered_join = "CROSS JOIN"
    not_indexed = " NOT INDEXED"

    def indexed_by(self, index: str) -> str:
        return f" INDEXED BY {index}"

    def contains(self, column: str, needle: str = "?") -> str:
        return f"instr({column}, {needle}) > 0"

    def change_token(self, con) -> Any:
        return con.execute("PRAGMA data_version").fetchone()[0]

    def journal_insert(self, con, row: tuple, lease_s: float) -> bool:
        # the IMMEDIATE transaction serialises writers: check-then-insert has no race here
        if con.execute("SELECT 1 FROM publish_journal WHERE artifact_id = ?", (row[1],)).fetchone():
            return False
        con.execute("INSERT INTO publish_journal VALUES (?,?,?,?,?,?,?)", row)
        return True


_BEGIN_SLICE_MS = 100
_DISK_ERRORS = ("disk i/o error", "database or disk is full", "unable to open database file", "readonly database",
                "disk full")


def storage_error(path, exc: sqlite3.Error):
    """The domain error for SQLite refusing the manifest file (disk, permissions, not a database),
    or None for anything else."""
    from bridge.errors import IntegrityError, StorageError

    text = str(exc).lower()
    if "file is not a database" in text or "database disk image is malformed" in text:
        return IntegrityError(f"the manifest {path} is damaged ({exc}); restore it from a backup (docs/operations.md)",
                              path=str(path), reason=str(exc))
    if any(m in text for m in _DISK_ERRORS):
        return StorageError(f"cannot write the manifest {path}: {exc}; free disk space or fix its permissions, "
                            "then retry (nothing was committed)", path=str(path), reason=str(exc), action="write")
    return None


def _db_path(con: sqlite3.Connection) -> str:
    try:
        return str(con.execute("PRAGMA database_list").fetchone()[2])
    except sqlite3.Error:  # pragma: no cover - the connection itself is broken
        return "the manifest"


def _rollback(con: sqlite3.Connection) -> None:
    try:
        con.execute("ROLLBACK")
    except sqlite3.Error:  # no transaction left (SQLite already rolled back after an I/O error)
        pass


def _raise_storage(con: sqlite3.Connection, exc: sqlite3.Error) -> None:
    err = storage_error(_db_path(con), exc)
    if err is not None:
        raise err from exc


def _retry_locked(fn, timeout: float):
    """Run `fn`, retrying while SQLite says locked: switching a new file to WAL can return
    SQLITE_BUSY without consulting the busy handler when several processes open it at once."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


# -- PostgreSQL -----------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?|(?<!:):([A-Za-z_][A-Za-z0-9_]*)|%")


def to_pyformat(sql: str) -> str:
    """`?` → `%s`, `:name` → `%(name)s`, a literal `%` → `%%` (string literals left alone)."""
    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok.startswith("'"):
            return tok.replace("%", "%%")
        if tok == "?":
            return "%s"
        if tok == "%":
            return "%%"
        return f"%({m.group(1)})s"

    return _PLACEHOLDER.sub(sub, sql)


class Row(tuple):
    """A result row readable by position and by column name, like sqlite3.Row."""

    __slots__ = ()
    _names: tuple[str, ...] = ()

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor):
    desc = cursor.description
    if desc is None:
        return None
    cls = type("Row", (Row,), {"__slots__": (), "_names": tuple(d.name for d in desc)})
    return lambda values: cls(values)


class PgConnection:
    """A pooled psycopg connection speaking the store's portable SQL (sqlite3-like surface)."""

    def __init__(self, raw, dialect: "PostgresDialect") -> None:
        self.raw = raw
        self.dialect = dialect
        self.in_txn = False

    def execute(self, sql: str, params: Any = ()):
        cur = self.raw.cursor(row_factory=_row_factory)
        cur.execute(to_pyformat(sql), params if params else None)
        return cur

    def cursor(self) -> "PgCursor":
        return PgCursor(self)

    def executemany(self, sql: str, seq):
        seq = list(seq)
        cur = self.raw.cursor(row_factory=_row_factory)
        if seq:
            cur.executemany(to_pyformat(sql), seq)
        return cur

    def close(self) -> None:
        self.dialect.release(self)

    def __enter__(self) -> "PgConnection":  # `with con:` as with sqlite3: autocommit has nothing to commit
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __del__(self) -> None:  # a Store dropped without close() gives its connections back
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


class PgCursor:
    """sqlite3.Cursor's surface the store uses: `row_factory = None` gives plain tuples;
    `execute` returns the cursor, which iterates and fetches."""

    def __init__(self, con: PgConnection) -> None:
        self.con = con
        self.row_factory: Any = _row_factory
        self._cur = None

    def execute(self, sql: str, params: Any = ()) -> "PgCursor":
        from psycopg.rows import tuple_row

        self._cur = self.con.raw.cursor(row_factory=tuple_row if self.row_factory is None else _row_factory)
        self._cur.execute(to_pyformat(sql), params if params else None)
        return self

    def fetchone(self):
        return self._cur.fetchone()

    def fetchall(self) -> list:
        return self._cur.fetchall()

    def __iter__(self):
        return iter(self._cur)

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


_POOLS: dict[tuple[int, str], Any] = {}
_POOLS_LOCK = threading.Lock()


def close_pool(url: str | None = None) -> None:
    """Close this process's pool for `url` (every pool when None): tests dropping a database, exit."""
    with _POOLS_LOCK:
        for key in [k for k in _POOLS if url is None or k[1] == url]:
            _POOLS.pop(key).close()


class PostgresDialect(Dialect):
    """The team manifest. One psycopg pool per database per process, shared by every Store on it;
    each thread holds one pooled connection while it uses the Store."""

    name = "postgresql"
    sql_folder = "sql/postgresql"
    leases = True

    def __init__(self, url: str, *, max_size: int = 32) -> None:
        self.url = url
        self.max_size = max_size

    @property
    def _pool(self):
        return _POOLS.get((os.getpid(), self.url))

    def _get_pool(self):
        with _POOLS_LOCK:
            pool = _POOLS.get((os.getpid(), self.url))
            if pool is None:
                try:
                    from psycopg_pool import ConnectionPool
                except ImportError as exc:  # pragma: no cover - a declared dependency
                    raise ValidationFailed("a postgresql:// manifest needs psycopg and psycopg-pool installed",
                                           field="manifest") from exc
                pool = ConnectionPool(self.url, min_size=1, max_size=self.max_size, open=False,
                                      kwargs={"autocommit": True}, check=ConnectionPool.check_connection,
                                      name="quantbot-manifest")
                try:
                    pool.open(wait=True, timeout=30)
                except Exception as exc:
                    pool.close()
                    raise ValidationFailed(f"cannot connect to the PostgreSQL manifest {redact(self.url)}: {exc}",
                                           field="manifest", value=redact(self.url)) from exc
                if not _POOLS:
                    import atexit

                    atexit.register(close_pool)
                _POOLS[(os.getpid(), self.url)] = pool
            return pool

    def connect(self) -> PgConnection:
        return PgConnection(self._get_pool().getconn(timeout=BUSY_TIMEOUT_S), self)

    def release(self, con: PgConnection) -> None:
        pool = self._pool
        if con.raw is not None:
            if pool is not None and not pool.closed:
                pool.putconn(con.raw)
            else:
                con.raw.close()
            con.raw = None

    @contextmanager
    def write_txn(self, con: PgConnection, *, timeout: float = BUSY_TIMEOUT_S) -> Iterator[PgConnection]:
        """BEGIN … COMMIT (READ COMMITTED); races are closed by unique constraints and
        `INSERT … ON CONFLICT`, not by a lock. A lock wait longer than `timeout` is Busy."""
        import psycopg

        con.raw.execute("BEGIN")
        con.raw.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
        con.in_txn = True
        try:
            yield con
        except psycopg.errors.LockNotAvailable as exc:
            con.raw.execute("ROLLBACK")
            raise Busy(f"the manifest stayed locked for {timeout:.0f}s; another process is writing — retry") from exc
        except BaseException:
            con.raw.execute("ROLLBACK")
            raise
        else:
            counted = self._has_counter(con)
            if counted:  # bumped inside and after: a reader that loaded before the commit reloads
                con.raw.execute("SELECT nextval('manifest_writes')")
            con.raw.execute("COMMIT")
            if counted:
                con.raw.execute("SELECT nextval('manifest_writes')")
        finally:
            con.in_txn = False

    def _has_counter(self, con) -> bool:
        if getattr(self, "_counter", False):
            return True
        row = con.raw.execute("SELECT to_regclass('manifest_writes')").fetchone()
        self._counter = row[0] is not None
        return self._counter

    def _migration_lock(self, con) -> None:
        con.execute("SELECT pg_advisory_xact_lock(7263541)")  # one migrator at a time

    def run_script(self, con, sql: str) -> None:
        # one simple-protocol execute: PL/pgSQL bodies hold `;`, which a statement splitter for
        # SQLite would cut; no parameters, so no placeholder rewriting either
        con.raw.execute(sql)

    def tables(self, con) -> set[str]:
        return {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}

    def contains(self, column: str, needle: str = "?") -> str:
        return f"strpos({column}, {needle}) > 0"

    def analyze(self, con) -> None:
        from psycopg import sql

        names = sorted(self.tables(con))
        con.raw.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(sql.Identifier(n) for n in names)))

    def change_token(self, con) -> Any:
        return con.execute("SELECT last_value, is_called FROM manifest_writes").fetchone()[:2]

    def batch(self, con):
        from contextlib import nullcontext

        return nullcontext() if con.in_txn else con.raw.pipeline()

    def journal_insert(self, con, row: tuple, lease_s: float) -> bool:
        cur = con.execute(
            "INSERT INTO publish_journal VALUES (?,?,?,?,?,?,?, now() + make_interval(secs => ?))"
            " ON CONFLICT (artifact_id) DO NOTHING", (*row, float(lease_s)))
        return cur.rowcount == 1

    def renew_lease(self, con, journal_id: str, lease_s: float) -> None:
        con.execute("UPDATE publish_journal SET lease_expires_at = now() + make_interval(secs => ?)"
                    " WHERE journal_id = ?", (float(lease_s), journal_id))

    def expired_journal_ids(self, con) -> set[str]:
        return {r[0] for r in con.execute("SELECT journal_id FROM publish_journal WHERE lease_expires_at < now()")}


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def dialect_for(url: str | Path) -> Dialect:
    """The dialect of a manifest URL: `sqlite:///abs/path`, a plain path, or `postgresql://…`."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresDialect(text)
    if text.startswith("sqlite://"):
        parts = urlsplit(text)
        if parts.netloc or not parts.path.startswith("/"):  # sqlite://relative/path is not a thing
            raise ValidationFailed("a SQLite manifest URL is sqlite:///absolute/path", field="manifest", value=text)
        return SqliteDialect(Path("/" + unquote(parts.path).lstrip("/")))  # sqlite:////abs too
    if "://" in text:
        raise ValidationFailed("the manifest is sqlite:///path or postgresql://…", field="manifest", value=redact(text))
    return SqliteDialect(Path(text))
