"""The candle source: ClickHouse reached through clickhouse-connect, configured by one DSN.

    chdb:///abs/path                       embedded chDB (the default: <lake>/sources/chdb)
    http(s)://user:password@host:port/db   a ClickHouse server or cluster over HTTP

Both go through `clickhouse_connect.get_client(dsn=...)`; the code path after that is the same.
Values always travel as bound parameters (`{name:Type}` with `parameters=`); identifiers (table,
columns) come from configuration, are checked against a strict pattern and backtick-quoted.
Results come back as Arrow (`query_arrow`).

chDB ownership (see docs/ohlcv.md): chDB allows one engine path per process and one process per
path, and `client.close()` releases it. We open per operation and close after: a `session()`
takes a process-wide engine lock (threads of the daemon take turns), then an exclusive `flock`
on `<path>.lock` (processes take turns: a CLI command waits while the daemon exports, and the
other way round), opens the client, and on exit closes the client and releases both locks.
A waiting process leaves a `<path>.lock.wait-<pid>` marker; a holder that releases while
markers exist pauses briefly so the waiter gets its turn. Opening costs ~1 s once per process
(importing chDB), then ~0.04 s per session; `chdb` and `clickhouse_connect` are imported only
when a session opens.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from bridge.errors import Busy, InvalidInput, SourceUnavailable
from bridge.proc import pid_alive

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from bridge.ohlcv.grid import Resolution, TimeRange
    from bridge.store.lake import Lake

__all__ = [
    "CANDLE_FIELDS",
    "CandleSource",
    "ColumnMap",
    "DsnInfo",
    "SourceConfig",
    "default_dsn",
    "parse_dsn",
]

log = logging.getLogger(__name__)

# Logical candle fields, in the order a source returns them.
CANDLE_FIELDS = ("token", "chain", "interval", "ts", "open", "high", "low", "close", "volume")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEFAULT_PORTS = {"http": 8123, "https": 8443}

# One chDB engine per process: every chDB session in this process holds this lock.
_ENGINE_LOCK = threading.RLock()
_ENGINE_OWNER = threading.local()
# path -> sessions of this process inside its file lock (guarded by _ENGINE_LOCK): flock conflicts
# between two descriptors of one process, so a nested session on the same path must not lock again.
_FILE_LOCK_DEPTH: dict[str, int] = {}


# -- DSN ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DsnInfo:
    """A parsed DSN. `redacted` is safe to log and to put in errors and params (no password)."""

    kind: str  # "chdb" | "http"
    dsn: str = field(repr=False)
    redacted: str
    scheme: str
    path: str | None = None  # chdb: the engine's data directory
    host: str | None = None
    port: int | None = None
    database: str | None = None
    username: str | None = None

    @property
    def where(self) -> str:
        """`host:port` for a server, the directory for chDB."""
        return f"{self.host}:{self.port}" if self.kind == "http" else str(self.path)


def parse_dsn(dsn: str) -> DsnInfo:
    """Check and describe a source DSN.

    Raises:
        InvalidInput: unsupported scheme, relative or in-memory chDB path, missing host, bad port.
    """
    if not isinstance(dsn, str) or not dsn.strip():
        raise InvalidInput("source DSN must be a non-empty string", field="dsn")
    dsn = dsn.strip()
    parts = urlsplit(dsn)
    scheme = parts.scheme.lower()
    if scheme == "chdb":
        return _parse_chdb(dsn, parts)
    if scheme in _DEFAULT_PORTS:
        return _parse_http(dsn, parts, scheme)
    raise InvalidInput(
        f"unsupported source DSN scheme {parts.scheme or '(none)'!r}: use chdb:///abs/path or "
        "http(s)://user:password@host:port/database",
        field="dsn", value=_redact(dsn),
    )


def _parse_chdb(dsn: str, parts) -> DsnInfo:
    if parts.netloc or not parts.path.startswith("/"):
        raise InvalidInput(
            f"chDB DSN {dsn!r} must name an absolute directory as chdb:///abs/path "
            "(in-memory chDB would lose candles between operations)",
            field="dsn", value=dsn,
        )
    path = str(Path(unquote(parts.path)))
    return DsnInfo(kind="chdb", dsn=dsn, redacted=dsn, scheme="chdb", path=path)


def _parse_http(dsn: str, parts, scheme: str) -> DsnInfo:
    host = parts.hostname
    if not host:
        raise InvalidInput(f"server DSN {_redact(dsn)!r} has no host", field="dsn", value=_redact(dsn))
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise InvalidInput(f"server DSN {_redact(dsn)!r} has an invalid port", field="dsn", value=_redact(dsn)) from None
    database = unquote(parts.path.strip("/")) or None
    if database is not None and not _IDENT.match(database):
        raise InvalidInput(f"database name {database!r} in the DSN is not a plain identifier", field="dsn",
                           value=_redact(dsn))
    return DsnInfo(
        kind="http", dsn=dsn, redacted=_redact(dsn), scheme=scheme, host=host, port=port,
        database=database, username=unquote(parts.username) if parts.username else None,
    )


def _redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def default_dsn(lake: "Lake") -> str:
    """The embedded default: chDB in `<lake>/sources/chdb`."""
    return f"chdb://{(lake.sources / 'chdb').resolve()}"


# -- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMap:
    """Source column names for each logical candle field. `chain=None`: the table has no chain
    column (a request's chain is then not filtered on)."""

    token: str = "token"
    chain: str | None = "chain"
    interval: str = "interval"
    ts: str = "ts"
    open: str = "open"
    high: str = "high"
    low: str = "low"
    close: str = "close"
    volume: str = "volume"

    def __post_init__(self) -> None:
        for name in CANDLE_FIELDS:
            value = getattr(self, name)
            if value is None and name == "chain":
                continue
            if not isinstance(value, str) or not _IDENT.match(value):
                raise InvalidInput(f"column mapping {name}={value!r} is not a plain identifier", field=f"columns.{name}",
                                   value=str(value))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str | None] | None) -> "ColumnMap":
        """Raises:
        InvalidInput: a key that is not a candle field.
        """
        mapping = dict(mapping or {})
        unknown = sorted(set(mapping) - set(CANDLE_FIELDS))
        if unknown:
            raise InvalidInput(f"unknown candle field(s) in column mapping: {', '.join(unknown)}; "
                               f"fields: {', '.join(CANDLE_FIELDS)}", field="columns", value=unknown)
        return cls(**mapping)


@dataclass(frozen=True)
class SourceConfig:
    """Where candles live and how the table looks.

    `final`: read with FINAL (the table is a ReplacingMergeTree, so re-loaded candles collapse).
    `ts_precision`: DateTime64 precision used when this package creates the table (3 or 6).
    """

    dsn: str
    table: str = "candles"
    columns: ColumnMap = field(default_factory=ColumnMap)
    final: bool = True
    ts_precision: int = 3
    connect_timeout: float = 5.0
    query_timeout: float = 300.0
    lock_timeout: float = 120.0

    def __post_init__(self) -> None:
        parse_dsn(self.dsn)
        parts = self.table.split(".")
        if len(parts) > 2 or not all(_IDENT.match(p) for p in parts):
            raise InvalidInput(f"table {self.table!r} is not `name` or `database.name`", field="table", value=self.table)
        if self.ts_precision not in (3, 6):
            raise InvalidInput("ts_precision must be 3 (ms) or 6 (µs)", field="ts_precision", value=self.ts_precision)

    @property
    def info(self) -> DsnInfo:
        return parse_dsn(self.dsn)


def _q(ident: str) -> str:
    """Backtick-quote a checked identifier (or database.table)."""
    return ".".join(f"`{p}`" for p in ident.split("."))


def table_columns(config: SourceConfig) -> tuple[str, str]:
    """(column definitions, ORDER BY key) of the candle table, with the mapped names."""
    c = config.columns
    cols = [
        f"{_q(c.token)} String",
        *([f"{_q(c.chain)} LowCardinality(String)"] if c.chain else []),
        f"{_q(c.interval)} LowCardinality(String)",
        f"{_q(c.ts)} DateTime64({config.ts_precision}, 'UTC')",
        *(f"{_q(getattr(c, n))} Float64" for n in ("open", "high", "low", "close", "volume")),
    ]
    # The ORDER BY is also ReplacingMergeTree's dedup key: chain belongs in it, or one address
    # on two chains (common for EVM contracts) would collapse into one candle.
    key = [c.token, *([c.chain] if c.chain else []), c.interval, c.ts]
    return ", ".join(cols), ", ".join(_q(k) for k in key)


# -- the source ---------------------------------------------------------------------------------


class CandleSource:
    """Candles in one ClickHouse table. Thread-safe; see the module docstring for chDB turns.

    `query_count` counts statements sent to ClickHouse (queries, commands, inserts): tests use it
    to prove that a reused slice did not touch the source.
    """

    def __init__(self, config: SourceConfig | str) -> None:
        self.config = config if isinstance(config, SourceConfig) else SourceConfig(dsn=config)
        self.info = self.config.info
        self.query_count = 0
        self._count_lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def for_lake(cls, lake: "Lake", dsn: str | None = None, **config: Any) -> "CandleSource":
        """The source named by `dsn`, or the lake's embedded chDB."""
        if "columns" in config and not isinstance(config["columns"], ColumnMap):
            config["columns"] = ColumnMap.from_mapping(config["columns"])
        return cls(SourceConfig(dsn=dsn or default_dsn(lake), **config))

    def with_config(self, **changes: Any) -> "CandleSource":
        return CandleSource(replace(self.config, **changes))

    def describe(self) -> dict[str, Any]:
        """JSON-able, password-free description (for params, logs and errors)."""
        return {"dsn": self.info.redacted, "kind": self.info.kind, "table": self.config.table}

    # -- sessions ---------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator["Session"]:
        """An open client for a batch of statements; nested calls in one thread share it.

        Raises:
            Busy: another process or thread kept the chDB store past `lock_timeout`.
            SourceUnavailable: the source cannot be opened or reached.
        """
        current = getattr(self._local, "session", None)
        if current is not None:
            yield current
            return
        with self._exclusive():
            client = self._open_client()
            sess = Session(self, client)
            self._local.session = sess
            try:
                yield sess
            finally:
                self._local.session = None
                try:
                    client.close()
                except Exception:  # noqa: BLE001 - closing must not hide the real error
                    log.warning("closing the candle source %s failed", self.info.redacted, exc_info=True)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if self.info.kind != "chdb":
            yield
            return
        held = getattr(_ENGINE_OWNER, "path", None)
        if held is not None and held != self.info.path:
            raise SourceUnavailable(
                f"this thread already has the chDB store {held} open; chDB runs one store per process at a "
                f"time, so {self.info.path} can only be opened after that session ends",
                path=self.info.path, held=held,
            )
        deadline = time.monotonic() + self.config.lock_timeout
        if not _ENGINE_LOCK.acquire(timeout=max(0.0, self.config.lock_timeout)):
            raise Busy(f"the chDB engine of this process stayed busy for {self.config.lock_timeout:g} s",
                       path=self.info.path)
        try:
            if _FILE_LOCK_DEPTH.get(self.info.path):  # nested session of another source on this path
                lock = _nested()
            else:
                lock = _file_lock(Path(self.info.path), deadline, self.config.lock_timeout)
            with lock:
                _FILE_LOCK_DEPTH[self.info.path] = _FILE_LOCK_DEPTH.get(self.info.path, 0) + 1
                _ENGINE_OWNER.path = self.info.path
                try:
                    yield
                finally:
                    _ENGINE_OWNER.path = held
                    _FILE_LOCK_DEPTH[self.info.path] -= 1
        finally:
            _ENGINE_LOCK.release()

    def _open_client(self):
        t0 = time.monotonic()
        try:
            import clickhouse_connect
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise SourceUnavailable(f"clickhouse-connect is not installed: {exc}") from exc
        info = self.info
        kwargs: dict[str, Any] = {}
        if info.kind == "http":
            kwargs = {"connect_timeout": self.config.connect_timeout,
                      "send_receive_timeout": self.config.query_timeout, "query_retries": 0}
        else:
            Path(info.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = clickhouse_connect.get_client(dsn=info.dsn, **kwargs)
        except Exception as exc:  # noqa: BLE001 - mapped to one domain error
            raise _unavailable(exc, info, "open") from None
        log.debug("opened candle source %s in %.3f s", info.redacted, time.monotonic() - t0)
        return client

    def _counted(self) -> None:
        with self._count_lock:
            self.query_count += 1

    # -- operations -------------------------------------------------------------------------

    def ensure_table(self) -> None:
        """CREATE TABLE IF NOT EXISTS with the mapped names: ReplacingMergeTree ORDER BY
        (token, chain, interval, ts) — (token, interval, ts) when the mapping has no chain.

        Raises:
            SourceUnavailable, Busy.
        """
        cols, key = table_columns(self.config)
        sql = (f"CREATE TABLE IF NOT EXISTS {_q(self.config.table)} ({cols}) "
               f"ENGINE = ReplacingMergeTree ORDER BY ({key})")
        with self.session() as s:
            s.command(sql)

    def insert(self, table: "pa.Table") -> int:
        """Insert candles with the logical field names (CANDLE_FIELDS; `chain` optional when unmapped).

        Raises:
            SourceUnavailable, Busy.
        """
        c = self.config.columns
        names = [f for f in CANDLE_FIELDS if not (f == "chain" and c.chain is None)]
        data = table.select(names)
        data = data.rename_columns([getattr(c, f) for f in names])
        with self.session() as s:
            s.insert_arrow(self.config.table, data)
        return data.num_rows

    def candles(self, token: str, chain: str | None, resolution: "Resolution", rng: "TimeRange") -> "pa.Table":
        """Candles of one token at one resolution with from <= ts < to, in ts order, as Arrow with
        columns token, resolution, ts (timestamp µs UTC), open, high, low, close, volume.

        Raises:
            SourceUnavailable, Busy.
        """
        c = self.config.columns
        where = [f"{_q(c.token)} = {{token:String}}", f"{_q(c.interval)} = {{res:String}}",
                 f"{_q(c.ts)} >= {{t_from:DateTime64(6, 'UTC')}}", f"{_q(c.ts)} < {{t_to:DateTime64(6, 'UTC')}}"]
        if c.chain and chain:
            where.append(f"{_q(c.chain)} = {{chain:String}}")
        select = ", ".join([
            f"toString({_q(c.token)}) AS token", f"toString({_q(c.interval)}) AS resolution",
            f"toDateTime64({_q(c.ts)}, 6, 'UTC') AS ts",
            *(f"toFloat64({_q(getattr(c, n))}) AS {n}" for n in ("open", "high", "low", "close", "volume")),
        ])
        sql = (f"SELECT {select} FROM {_q(self.config.table)}{' FINAL' if self.config.final else ''} "
               f"WHERE {' AND '.join(where)} ORDER BY ts")
        from bridge.ohlcv.grid import to_datetime

        from bridge.ohlcv.tokens import canonical_token

        params = {"token": canonical_token(token), "res": resolution.text, "chain": chain or "",
                  "t_from": to_datetime(rng.start), "t_to": to_datetime(rng.end)}
        with self.session() as s:
            return _normalise(s.query_arrow(sql, params))

    def candles_many(self, requests: "Sequence[tuple[str, str | None, TimeRange]]",
                     resolution: "Resolution") -> "pa.Table":
        """Candles for many (token, chain, [from, to)) windows at one resolution in ONE query, as
        `candles()` columns plus `w` (the request's index), ordered by (w, ts). A candle inside two
        requested windows appears once per window. Windows are matched with bound arrays
        (`arrayFilter` over `{toks:Array(String)}` etc.), so no value is formatted into SQL.

        Raises:
            SourceUnavailable, Busy.
        """
        import pyarrow as pa

        from bridge.ohlcv.grid import to_datetime
        from bridge.ohlcv.tokens import canonical_token

        if not requests:
            return _normalise_many(None)
        c = self.config.columns
        match = [f"toks[i] = {_q(c.token)}", f"{_q(c.ts)} >= froms[i]", f"{_q(c.ts)} < tos[i]"]
        if c.chain:
            match.append(f"(chains[i] = '' OR chains[i] = {_q(c.chain)})")
        select = ", ".join([
            f"toString({_q(c.token)}) AS token", f"toString({_q(c.interval)}) AS resolution",
            f"toDateTime64({_q(c.ts)}, 6, 'UTC') AS ts",
            *(f"toFloat64({_q(getattr(c, n))}) AS {n}" for n in ("open", "high", "low", "close", "volume")),
        ])
        sql = (
            "WITH {toks:Array(String)} AS toks, {chains:Array(String)} AS chains, "
            "{froms:Array(DateTime64(6, 'UTC'))} AS froms, {tos:Array(DateTime64(6, 'UTC'))} AS tos "
            f"SELECT arrayJoin(arrayFilter(i -> {' AND '.join(match)}, range(1, length(toks) + 1))) - 1 AS w, "
            f"{select} FROM {_q(self.config.table)}{' FINAL' if self.config.final else ''} "
            f"WHERE {_q(c.token)} IN toks AND {_q(c.interval)} = {{res:String}} "
            f"AND {_q(c.ts)} >= {{lo:DateTime64(6, 'UTC')}} AND {_q(c.ts)} < {{hi:DateTime64(6, 'UTC')}} "
            "ORDER BY w, ts"
        )
        params = {
            "toks": [canonical_token(r[0]) for r in requests], "chains": [r[1] or "" for r in requests],
            "froms": [to_datetime(r[2].start) for r in requests], "tos": [to_datetime(r[2].end) for r in requests],
            "res": resolution.text, "lo": to_datetime(min(r[2].start for r in requests)),
            "hi": to_datetime(max(r[2].end for r in requests)),
        }
        with self.session() as s:
            table = s.query_arrow(sql, params)
        return _normalise_many(table if table.num_rows else None)

    def count(self) -> int:
        """Rows visible in the table (after FINAL when configured)."""
        sql = f"SELECT count() FROM {_q(self.config.table)}{' FINAL' if self.config.final else ''}"
        with self.session() as s:
            return int(s.query_arrow(sql, {}).column(0)[0].as_py())


class Session:
    """One open client. Every statement is counted and its errors mapped to SourceUnavailable."""

    def __init__(self, source: CandleSource, client) -> None:
        self.source = source
        self.client = client

    def query_arrow(self, sql: str, parameters: Mapping[str, Any]) -> "pa.Table":
        self.source._counted()
        try:
            return self.client.query_arrow(sql, parameters=dict(parameters))
        except Exception as exc:  # noqa: BLE001
            raise _unavailable(exc, self.source.info, "query", table=self.source.config.table) from None

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        self.source._counted()
        try:
            return self.client.command(sql, parameters=dict(parameters or {}))
        except Exception as exc:  # noqa: BLE001
            raise _unavailable(exc, self.source.info, "command", table=self.source.config.table) from None

    def insert_arrow(self, table_name: str, data: "pa.Table") -> None:
        self.source._counted()
        try:
            self.client.insert_arrow(table_name, data)
        except Exception as exc:  # noqa: BLE001
            raise _unavailable(exc, self.source.info, "insert", table=table_name) from None


def _normalise(table: "pa.Table") -> "pa.Table":
    """Arrow from ClickHouse → the slice's types (strings, timestamp[us, UTC], float64)."""
    import pyarrow as pa

    target = pa.schema([
        ("token", pa.string()), ("resolution", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
        *((n, pa.float64()) for n in ("open", "high", "low", "close", "volume")),
    ])
    cols = []
    for f in target:
        arr = table.column(f.name)
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        cols.append(arr.cast(f.type))
    return pa.Table.from_arrays(cols, schema=target)


def _normalise_many(table: "pa.Table | None") -> "pa.Table":
    import pyarrow as pa

    if table is None:
        empty = {"w": pa.array([], pa.int64()), "token": pa.array([], pa.string()),
                 "resolution": pa.array([], pa.string())}
        base = pa.table({**empty, "ts": pa.array([], pa.timestamp("us", tz="UTC")),
                         **{n: pa.array([], pa.float64()) for n in ("open", "high", "low", "close", "volume")}})
        return base
    rest = _normalise(table.drop_columns(["w"]))
    return rest.add_column(0, "w", table.column("w").cast(pa.int64()))


def _unavailable(exc: Exception, info: DsnInfo, action: str, table: str | None = None) -> SourceUnavailable:
    text = str(exc).replace(info.dsn, info.redacted)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if info.kind == "http":
        msg = f"candle source {info.where} ({info.redacted}) failed to {action}: {first}"
    else:
        msg = f"chDB candle store {info.where} failed to {action}: {first}"
    if "UNKNOWN_TABLE" in text or "Unknown table" in text:
        msg = (f"table {table!r} does not exist in candle source {info.where}; "
               "load candles first with `bridge ohlcv load`")
    elif "Cannot lock file" in text or "EmbeddedServer" in text:
        msg = (f"chDB store {info.where} is held by another process that does not take turns "
               f"(no bridge lock); close it and retry: {first}")
    return SourceUnavailable(msg[:2000], source=info.redacted, where=info.where, action=action, table=table,
                             cause=type(exc).__name__)


# -- cross-process turns ------------------------------------------------------------------------


@contextmanager
def _nested() -> Iterator[None]:
    yield


@contextmanager
def _file_lock(data_dir: Path, deadline: float, timeout: float) -> Iterator[None]:
    import fcntl

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir.parent / f"{data_dir.name}.lock"
    marker = data_dir.parent / f"{data_dir.name}.lock.wait-{os.getpid()}"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    marker.touch()
                    waited = True
                if time.monotonic() >= deadline:
                    raise Busy(
                        f"chDB store {data_dir} stayed in use by process {_holder(fd) or '?'} for {timeout:g} s; "
                        "retry when it is done", path=str(data_dir), holder_pid=_holder(fd),
                    ) from None
                time.sleep(0.02)
        if waited:
            marker.unlink(missing_ok=True)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            _yield_to_waiters(data_dir)
    finally:
        marker.unlink(missing_ok=True)
        os.close(fd)


def _holder(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def _yield_to_waiters(data_dir: Path, max_wait: float = 1.0) -> None:
    """After a release: if another live process is waiting, give it up to `max_wait` to take the lock."""
    pattern = f"{data_dir.name}.lock.wait-*"
    end = time.monotonic() + max_wait
    while time.monotonic() < end:
        waiting = False
        for m in data_dir.parent.glob(pattern):
            pid = m.name.rpartition("-")[2]
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            if pid_alive(int(pid)):
                waiting = True
            else:
                m.unlink(missing_ok=True)
        if not waiting:
            return
        time.sleep(0.02)

