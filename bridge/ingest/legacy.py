"""Migration of a legacy, mutable DuckDB alerts table into alerts_v1 artifacts.

The database is opened read-only. Each target column of alerts_v1 is taken from the first
source column that exists among its candidates (`DEFAULT_CANDIDATES`, overridable per column with
`mapping`), or from a constant in `defaults`. Source columns nothing maps are reported in
`unmapped_columns`; rows that fail validation go to alerts_quarantine with a reason code, as in
the Telegram pipeline (plus missing_token, missing_chat, chain_mismatch).

Rules:
- alert_ts: TIMESTAMP WITH TIME ZONE as is; plain TIMESTAMP and ISO text without an offset are
  read in `assume_tz` (default UTC); integers are epoch seconds, or milliseconds above 10^11.
- message_id: when unmapped, a synthetic id: the first 15 hex digits of
  sha256(alert_ts|token|caller|text) as an integer (stable across re-runs, documented as such).
- chain: the mapped value lower-cased; a Solana-shaped address named as an EVM chain (or the
  reverse) is quarantined as chain_mismatch; unmapped: by address shape (solana, else unknown).
- found_in: `legacy` (the original location is not known).
Logical key: `source=duckdb/db=<file stem>/table=<table>/from=<ts>/to=<ts>`, input: one
ingest_sources row (the table, the database file's SHA-256, rows read).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bridge.errors import InvalidInput
from bridge.ingest import normalize as nz
from bridge.ingest.addresses import EVM_CHAINS, validate
from bridge.ingest.pipeline import (
    ALERTS_TYPE, QUARANTINE_TYPE, SOURCE_TYPE, IngestReport, _extend, _first_per_alert_id, _key_ts, _note_plain,
)
from bridge.ingest.provenance import WRITER_NAME, WRITER_VERSION, CodeVersion, code_version, file_sha256
from bridge.ingest.staging import ShardWriter, new_run_dir, remove_run_dir, remove_stale_runs
from bridge.progress import NULL_JOB, Job

__all__ = ["DEFAULT_CANDIDATES", "migrate_duckdb"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

DEFAULT_CANDIDATES: dict[str, tuple[str, ...]] = {
    "alert_id": (),
    "alert_ts": ("alert_ts", "ts", "timestamp", "alert_time", "called_at", "created_at", "date", "time"),
    "chat_id": ("chat_id", "channel_id", "group_id"),
    "chat_name": ("chat_name", "channel_name", "channel", "group_name", "chat"),
    "chat_type": ("chat_type",),
    "message_id": ("message_id", "msg_id", "telegram_message_id"),
    "caller_name": ("caller_name", "caller", "username", "from_name", "sender"),
    "caller_id": ("caller_id", "user_id", "from_id", "sender_id"),
    "author_signature": ("author_signature", "author", "signature"),
    "token_address": ("token_address", "token", "mint", "contract_address", "contract", "ca", "address"),
    "chain": ("chain", "network", "blockchain"),
    "forwarded_from": ("forwarded_from",),
    "reply_to_message_id": ("reply_to_message_id", "reply_to"),
    "edited_ts": ("edited_ts", "edited_at"),
    "text": ("text", "message", "raw_text", "content", "message_text"),
}
REQUIRED = ("alert_ts", "token_address")


def resolve_mapping(columns: list[str], mapping: dict[str, str] | None, defaults: dict[str, Any] | None
                    ) -> tuple[dict[str, str], list[str]]:
    """(target → source column, unmapped source columns).

    Raises:
        InvalidInput: a mapping names a column the table lacks or a target alerts_v1 lacks, or a
            required target (alert_ts, token_address) has neither a column nor a default.
    """
    mapping, defaults = dict(mapping or {}), dict(defaults or {})
    lower = {c.lower(): c for c in columns}
    for target, source in mapping.items():
        if target not in DEFAULT_CANDIDATES:
            raise InvalidInput(f"unknown target column {target!r}; alerts_v1 columns: {', '.join(DEFAULT_CANDIDATES)}",
                               field="mapping", value=target)
        if source.lower() not in lower:
            raise InvalidInput(f"mapping {target}={source}: the table has no column {source!r}; it has "
                               f"{', '.join(columns)}", field="mapping", value=source, columns=columns)
    for target in defaults:
        if target not in DEFAULT_CANDIDATES:
            raise InvalidInput(f"unknown target column {target!r} in defaults", field="defaults", value=target)
    chosen: dict[str, str] = {}
    for target, cands in DEFAULT_CANDIDATES.items():
        if target in mapping:
            chosen[target] = lower[mapping[target].lower()]
        elif target not in defaults:
            hit = next((lower[c] for c in cands if c in lower and lower[c] not in chosen.values()), None)
            if hit:
                chosen[target] = hit
    missing = [t for t in REQUIRED if t not in chosen and t not in defaults]
    if missing:
        raise InvalidInput(f"no column for {', '.join(missing)}: map it (--map {missing[0]}=COLUMN); table columns: "
                           f"{', '.join(columns)}", missing=missing, columns=columns)
    used = set(chosen.values())
    return chosen, [c for c in columns if c not in used]


def migrate_duckdb(
    store: Any,
    path: str | Path,
    table: str = "alerts",
    mapping: dict[str, str] | None = None,
    *,
    defaults: dict[str, Any] | None = None,
    assume_tz: str | None = None,
    job: Job = NULL_JOB,
    batch_rows: int = 5_000,
    code: CodeVersion | None = None,
) -> IngestReport:
    """Publish a legacy DuckDB alerts table as alerts_v1 (+ quarantine) artifacts.

    Raises:
        InvalidInput: missing file, unknown table, unusable mapping, bad assume_tz.
        Cancelled: the job was cancelled before publishing.
    """
    import duckdb

    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise InvalidInput(f"database file not found: {path}", path=str(path))
    try:
        tz = nz.parse_tz(assume_tz) or timezone.utc
    except ValueError as exc:
        raise InvalidInput(str(exc), field="assumeTz", value=assume_tz) from exc
    sha = file_sha256(path)
    code = code or code_version()
    report = IngestReport(source="duckdb", path=str(path), sha256=sha)
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise InvalidInput(f"cannot open {path} as a DuckDB database: {exc}", path=str(path)) from exc
    remove_stale_runs(store.lake.staging)
    run = new_run_dir(store.lake.staging, sha[:16])
    try:
        columns = _columns(con, table, path)
        chosen, report.unmapped_columns = resolve_mapping(columns, mapping, defaults)
        staged = _stage_rows(con, table, chosen, dict(defaults or {}), tz, run, report, job, batch_rows)
        _publish(store, path, table, sha, staged, report, code, job)
    finally:
        con.close()
        remove_run_dir(run)
    return report


def _columns(con: Any, table: str, path: Path) -> list[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                       [table]).fetchall()
    if not rows:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        raise InvalidInput(f"{path}: no table {table!r}; tables: {', '.join(tables) or '(none)'}",
                           path=str(path), table=table, tables=tables)
    return [r[0] for r in rows]


class _Staged:
    def __init__(self, run: Path, batch_rows: int) -> None:
        from bridge.store.canonical import arrow_schema
        from bridge.store.spec import get_spec

        self.alerts = ShardWriter(run, "alerts", arrow_schema(get_spec(ALERTS_TYPE, 1)), batch_rows)
        self.quarantine = ShardWriter(run, "quarantine", arrow_schema(get_spec(QUARANTINE_TYPE, 1)), batch_rows)
        self.rows = 0
        self.ts = [None, None]
        self.chats: set[str] = set()


def _stage_rows(con, table, chosen, defaults, tz, run, report, job, batch_rows) -> _Staged:
    staged = _Staged(run, batch_rows)
    total = con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchall()[0][0]
    reader = con.sql(f"SELECT * FROM {_ident(table)} ORDER BY ALL").to_arrow_reader(batch_rows)
    for batch in reader:
        for src in batch.to_pylist():
            staged.rows += 1
            _row(src, chosen, defaults, tz, staged, report)
        job.progress(staged.rows, total, "reading rows")
    staged.alerts.flush()
    staged.quarantine.flush()
    report.messages_read = staged.rows
    return staged


def _row(src: dict, chosen: dict, defaults: dict, tz, staged: _Staged, report: IngestReport) -> None:
    def get(target: str) -> Any:
        return src.get(chosen[target]) if target in chosen else defaults.get(target)

    token = get("token_address")
    token = str(token).strip() if token is not None else ""
    chat_id = get("chat_id")
    chat_id = None if chat_id is None else str(chat_id)
    text = get("text")
    text = "" if text is None else str(text)
    ts, ts_reason = _ts(get("alert_ts"), tz)
    caller = get("caller_name")

    def quarantine(reason: str, detail: str | None, candidate: str | None) -> None:
        msg = get("message_id")
        staged.quarantine.add({"chat_id": chat_id, "message_id": _int(msg), "alert_ts": ts, "token_candidate": candidate,
                               "reason": reason, "detail": detail, "text": text})
        report.count("quarantined", reason)

    if not token:
        return quarantine("missing_token", f"column {chosen.get('token_address')!r} is empty", None)
    chk = validate(token)
    if chk.reason:
        return quarantine(chk.reason, chk.detail, token)
    address = chk.address.lower() if chk.kind == "evm" else chk.address
    if ts is None:
        return quarantine(ts_reason, f"alert time {get('alert_ts')!r}", address)
    if chat_id is None:
        return quarantine("missing_chat", "no chat id column or default", address)
    chain, bad = _chain(get("chain"), chk.kind)
    if bad:
        return quarantine("chain_mismatch", bad, address)
    msg_id = _int(get("message_id"))
    if msg_id is None:
        msg_id = int(hashlib.sha256(f"{ts}|{address}|{caller}|{text}".encode()).hexdigest()[:15], 16)
    edited, _ = _ts(get("edited_ts"), tz)
    alert_id = get("alert_id") if "alert_id" in chosen else None
    staged.alerts.add({
        "alert_id": str(alert_id) if alert_id else nz.alert_id_for(chat_id, msg_id, address), "alert_ts": ts,
        "chat_id": chat_id, "chat_name": _opt(get("chat_name")), "chat_type": _opt(get("chat_type")),
        "message_id": msg_id, "caller_name": _opt(caller), "caller_id": _opt(get("caller_id")),
        "author_signature": _opt(get("author_signature")), "token_address": address, "chain": chain,
        "found_in": "legacy", "is_forwarded": get("forwarded_from") is not None,
        "forwarded_from": _opt(get("forwarded_from")), "reply_to_message_id": _int(get("reply_to_message_id")),
        "is_edited": edited is not None, "edited_ts": edited, "text": text,
    })
    staged.chats.add(chat_id)
    _extend(staged.ts, ts)


def _publish(store, path: Path, table: str, sha: str, staged: _Staged, report: IngestReport, code: CodeVersion,
             job: Job) -> None:
    import pyarrow as pa

    from bridge.ingest.pipeline import published_alert_ids_any
    from bridge.store.canonical import arrow_schema
    from bridge.store.spec import get_spec

    job.check()
    lo = _key_ts(staged.ts[0]) if staged.ts[0] is not None else "none"
    hi = _key_ts(staged.ts[1]) if staged.ts[1] is not None else "none"
    key = f"source=duckdb/db={path.stem.replace('/', '_')}/table={table}/from={lo}/to={hi}"
    report.logical_keys.append(key)
    tags = [("source", "duckdb"), ("db_path", str(path)), ("db_sha256", sha), ("table", table),
            ("writer", f"{WRITER_NAME}@{WRITER_VERSION}"), ("git_commit", code.git_commit or "unknown"),
            ("git_dirty", "true" if code.git_dirty else "false")] + [("chat_id", c) for c in sorted(staged.chats)]
    params = {"db_path": str(path), "db_sha256": sha, "table": table, "rows": staged.rows,
              "unmapped_columns": report.unmapped_columns}
    common = dict(tags=tags, writer_name=WRITER_NAME, writer_version=WRITER_VERSION, git_commit=code.git_commit,
                  git_dirty=code.git_dirty, params=params, job=job)
    row = {"source": "duckdb", "scope": table, "scope_name": path.name, "scope_type": "duckdb_table",
           "source_sha256": sha, "record_count": staged.rows, "first_record_id": 1 if staged.rows else None,
           "last_record_id": staged.rows or None, "first_ts": staged.ts[0], "last_ts": staged.ts[1]}
    src = store.publish(SOURCE_TYPE, 1, key, pa.Table.from_pylist([row], schema=arrow_schema(get_spec(SOURCE_TYPE, 1))),
                        **common)
    _note_plain(report, src)
    alerts, dups = _first_per_alert_id(staged.alerts.read())
    report.count("duplicates", "duplicate_row", dups)
    import pyarrow.compute as pc

    known = published_alert_ids_any(store, exclude_key=key)
    if known and alerts.num_rows:
        mask = pc.invert(pc.is_in(alerts.column("alert_id"), value_set=pa.array(sorted(known), pa.string())))
        kept = alerts.filter(mask)
        report.count("duplicates", "already_published", alerts.num_rows - kept.num_rows)
        alerts = kept
    res = store.publish(ALERTS_TYPE, 1, key, alerts, input_artifact_ids=[src.artifact_id], **common)
    _note_plain(report, res)
    report.alerts += 0 if res.deduped else alerts.num_rows
    quarantine = staged.quarantine.read()
    if quarantine.num_rows:
        _note_plain(report, store.publish(QUARANTINE_TYPE, 1, key, quarantine, input_artifact_ids=[src.artifact_id],
                                          **common))


def _ts(value: Any, tz) -> tuple[int | None, str | None]:
    if value is None:
        return None, "missing_utc_time"
    try:
        if isinstance(value, datetime):
            dt = value if value.tzinfo else value.replace(tzinfo=tz)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            secs = value / 1000 if abs(value) > 1e11 else value
            return int(round(secs * 1_000_000)), None
        elif isinstance(value, str):
            s = value.strip()
            if s.lstrip("-").isdigit():
                return _ts(int(s), tz)
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
            dt = dt if dt.tzinfo else dt.replace(tzinfo=tz)
        else:
            return None, "bad_time"
    except (ValueError, OverflowError):
        return None, "bad_time"
    return (dt - _EPOCH) // timedelta(microseconds=1), None


def _chain(value: Any, kind: str) -> tuple[str, str | None]:
    shape = "solana" if kind == "solana" else "unknown"
    if value is None or str(value).strip() == "":
        return shape, None
    chain = {"sol": "solana", "eth": "ethereum", "bnb": "bsc", "binance": "bsc"}.get(str(value).strip().lower(),
                                                                                    str(value).strip().lower())
    if kind == "solana" and chain != "solana":
        return chain, f"a Solana-shaped address labelled {value!r}"
    if kind == "evm" and chain == "solana":
        return chain, f"an EVM address labelled {value!r}"
    if kind == "evm" and chain not in EVM_CHAINS and chain != "unknown":
        log.info("unlisted EVM chain %r kept as given", chain)
    return chain, None


def _int(v: Any) -> int | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _opt(v: Any) -> str | None:
    return None if v is None else str(v)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


