"""Telegram export → staging shards → alerts_v1 + alerts_quarantine artifacts, idempotently.

Per chat in the export, three artifacts under one logical key
`source=telegram/chat=<id>/from=<first UTC time>/to=<last UTC time>`
(`from=msg<first id>/to=msg<last id>` when the export carries no UTC times):

    ingest_sources      one row: the chat, the file's SHA-256, messages read, id and time range
      ├─► alerts_v1           the chat's valid alerts not already in another active alerts_v1 artifact
      └─► alerts_quarantine   rejected candidates with reason codes (only when there are any)

(The messages themselves are not copied into the lake: the source row names the file by hash,
and alerts and quarantine rows carry each message's text. Keeping publish memory near the size
of the alerts, not of the export, is the point.)

The whole file is parsed into staging first and published chat by chat afterwards, so a
cancelled or failed parse publishes nothing. Chats without a single candidate address are not
published (counted as skipped `chat_without_candidates`).

Idempotency: an alerts_v1 artifact holds the chat's alerts minus those already in active
alerts_v1 artifacts of the chat under *other* logical keys. Re-ingesting a file recomputes the
same rows under the same key (the store dedupes them: same ids); a newer export overlapping an
older one gets a new key and only the alerts that are new.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from bridge.errors import InvalidInput
from bridge.ingest import normalize as nz
from bridge.ingest.provenance import WRITER_NAME, WRITER_VERSION, CodeVersion, code_version, file_sha256
from bridge.ingest.report import ChatReport, IngestReport
from bridge.ingest.staging import ShardWriter, new_run_dir, remove_run_dir, remove_stale_runs
from bridge.ingest.telegram import ChatEnd, ChatStart, Message, iter_export
from bridge.progress import NULL_JOB, Job

__all__ = ["ChatReport", "IngestReport", "canonical_alerts", "ingest_telegram", "published_alert_ids"]

log = logging.getLogger(__name__)

SOURCE_TYPE, ALERTS_TYPE, QUARANTINE_TYPE = "ingest_sources", "alerts_v1", "alerts_quarantine"


class _StagedChat:
    def __init__(self, run: Path, n: int, start: ChatStart, rows_per_shard: int) -> None:
        from bridge.store.canonical import arrow_schema
        from bridge.store.spec import get_spec

        meta = start.meta
        self.has_id = meta.get("id") is not None
        self.info = nz.ChatInfo(str(meta.get("id")), _opt_str(meta.get("name")), _opt_str(meta.get("type")))
        self.section = start.section
        d = run / f"chat-{n:05d}"
        self.alerts = ShardWriter(d, "alerts", arrow_schema(get_spec(ALERTS_TYPE, 1)), rows_per_shard)
        self.quarantine = ShardWriter(d, "quarantine", arrow_schema(get_spec(QUARANTINE_TYPE, 1)), rows_per_shard)
        self.messages = 0
        self.ts = [None, None]
        self.ids = [None, None]
        self.skipped: Counter = Counter()
        self.duplicates: Counter = Counter()

    def add(self, msg: dict[str, Any], assume_tz) -> None:
        self.messages += 1
        if not self.has_id:  # nothing can be keyed to this chat: counted, not staged
            self.skipped["no_chat_id"] += 1
            return
        res = nz.normalise_message(msg, self.info, assume_tz)
        self.alerts.extend(res.alerts)
        self.quarantine.extend(res.quarantine)
        if res.skipped:
            self.skipped[res.skipped] += 1
        self.duplicates.update(res.duplicates)
        mid = msg.get("id")
        mid = int(mid) if isinstance(mid, (int, float)) and not isinstance(mid, bool) else None
        _extend(self.ts, res.ts_micros)
        _extend(self.ids, mid)

    def source_row(self, sha256: str) -> dict[str, Any]:
        return {"source": "telegram", "scope": self.info.chat_id, "scope_name": self.info.chat_name,
                "scope_type": self.info.chat_type, "source_sha256": sha256, "record_count": self.messages,
                "first_record_id": self.ids[0], "last_record_id": self.ids[1],
                "first_ts": self.ts[0], "last_ts": self.ts[1]}

    def close(self) -> None:
        self.alerts.flush()
        self.quarantine.flush()

    def logical_key(self) -> tuple[str, str, str]:
        if self.ts[0] is not None:
            lo, hi = _key_ts(self.ts[0]), _key_ts(self.ts[1])
        else:
            lo, hi = f"msg{self.ids[0]}", f"msg{self.ids[1]}"
        return f"source=telegram/chat={_key_part(self.info.chat_id)}/from={lo}/to={hi}", lo, hi


def ingest_telegram(
    store: Any,
    path: str | Path,
    *,
    assume_tz: str | None = None,
    job: Job = NULL_JOB,
    rows_per_shard: int = 5_000,
    code: CodeVersion | None = None,
) -> IngestReport:
    """Ingest one Telegram Desktop JSON export (single chat or whole account) into the store.

    Raises:
        InvalidInput: the file is missing, not JSON, or not a Telegram export; bad `assume_tz`.
        Cancelled: the job was cancelled (nothing of the current chat is published).
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise InvalidInput(f"export file not found: {path}", path=str(path))
    try:
        tz = nz.parse_tz(assume_tz)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="assumeTz", value=assume_tz) from exc
    sha = file_sha256(path)
    code = code or code_version()
    report = IngestReport(source="telegram", path=str(path), sha256=sha)
    remove_stale_runs(store.lake.staging)
    run = new_run_dir(store.lake.staging, sha[:16])
    try:
        staged = _stage(path, run, tz, job, rows_per_shard)
        if not staged:
            report.count("skipped", "no_chats_in_file")
        prov = {"path": str(path), "sha256": sha, "assume_tz": assume_tz}
        for i, chat in enumerate(staged):
            job.progress(i, len(staged), f"publishing chat {chat.info.chat_id}", force=True)
            _publish_chat(store, chat, report, prov, code, job)
        job.progress(len(staged), len(staged), "done", force=True)
    finally:
        remove_run_dir(run)
    return report


def _stage(path: Path, run: Path, tz, job: Job, rows_per_shard: int) -> list[_StagedChat]:
    size = path.stat().st_size
    staged: list[_StagedChat] = []
    current: _StagedChat | None = None
    with path.open("rb") as raw:
        reader = _CountingReader(raw)
        for n, item in enumerate(iter_export(reader, path=str(path))):
            if isinstance(item, Message):
                current.add(item.obj, tz)  # type: ignore[union-attr]
            elif isinstance(item, ChatStart):
                current = _StagedChat(run, len(staged), item, rows_per_shard)
            elif isinstance(item, ChatEnd):
                current.close()  # type: ignore[union-attr]
                staged.append(current)  # type: ignore[arg-type]
                current = None
            if n % 2000 == 0:
                job.progress(reader.count, size, "parsing")
    return staged


def _publish_chat(store: Any, chat: _StagedChat, report: IngestReport, prov: dict, code: CodeVersion, job: Job) -> None:
    info = chat.info
    cr = ChatReport(chat_id=info.chat_id, chat_name=info.chat_name, chat_type=info.chat_type, section=chat.section,
                    messages=chat.messages)
    report.chats.append(cr)
    report.messages_read += chat.messages
    for reason, n in chat.skipped.items():
        report.count("skipped", reason, n)
    for reason, n in chat.duplicates.items():
        report.count("duplicates", reason, n)
    if not chat.has_id or chat.messages == 0 or (chat.alerts.count == 0 and chat.quarantine.count == 0):
        cr.skipped = "chat_without_id" if not chat.has_id else "empty_chat" if chat.messages == 0 \
            else "chat_without_candidates"
        report.count("skipped", cr.skipped)
        return
    key, lo, hi = chat.logical_key()
    cr.logical_key, cr.covered_from, cr.covered_to = key, lo, hi
    tags = _tags(info, prov, code)
    params = {"export_path": prov["path"], "export_sha256": prov["sha256"], "chat_id": info.chat_id,
              "section": chat.section, "assume_tz": prov["assume_tz"], "messages": chat.messages}
    common = dict(tags=tags, writer_name=WRITER_NAME, writer_version=WRITER_VERSION, git_commit=code.git_commit,
                  git_dirty=code.git_dirty, params=params, job=job)
    import pyarrow as pa

    from bridge.store.canonical import arrow_schema
    from bridge.store.spec import get_spec

    row = pa.Table.from_pylist([chat.source_row(prov["sha256"])], schema=arrow_schema(get_spec(SOURCE_TYPE, 1)))
    src = store.publish(SOURCE_TYPE, 1, key, row, **common)
    _note(report, cr, src, "source_artifact_id")
    alerts = chat.alerts.read()
    cr.alerts_found = alerts.num_rows
    alerts, dups = _first_per_alert_id(alerts)
    report.count("duplicates", "duplicate_message_id", dups)
    alerts, known = drop_published(store, alerts, info.chat_id, exclude_key=key)
    report.count("duplicates", "already_published", known)
    res = store.publish(ALERTS_TYPE, 1, key, alerts, input_artifact_ids=[src.artifact_id], **common)
    _note(report, cr, res, "alerts_artifact_id")
    cr.alerts_published, cr.deduped = alerts.num_rows, res.deduped
    report.alerts += 0 if res.deduped else alerts.num_rows
    quarantine = chat.quarantine.read()
    cr.quarantined = quarantine.num_rows
    for reason in quarantine.column("reason").to_pylist():
        report.count("quarantined", reason)
    if quarantine.num_rows:
        q = store.publish(QUARANTINE_TYPE, 1, key, quarantine, input_artifact_ids=[src.artifact_id], **common)
        _note(report, cr, q, "quarantine_artifact_id")


def _note(report: IngestReport, cr: ChatReport, res: Any, field: str) -> None:
    setattr(cr, field, res.artifact_id)
    _note_plain(report, res)


def _note_plain(report: IngestReport, res: Any) -> None:
    report.artifact_ids.append(res.artifact_id)
    if not res.deduped:
        report.new_artifact_ids.append(res.artifact_id)


def _tags(info: nz.ChatInfo, prov: dict, code: CodeVersion) -> dict[str, str]:
    tags = {"source": "telegram", "chat_id": info.chat_id, "export_sha256": prov["sha256"],
            "export_path": prov["path"], "writer": f"{WRITER_NAME}@{WRITER_VERSION}",
            "git_commit": code.git_commit or "unknown", "git_dirty": "true" if code.git_dirty else "false"}
    if info.chat_type:
        tags["chat_type"] = info.chat_type
    return tags


# ---------------------------------------------------------------------------------------------
# Dedup across artifacts
# ---------------------------------------------------------------------------------------------

def _first_per_alert_id(table):
    """Keep the first row of each alert_id (a message id repeated in one export)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return table, 0
    idx = pa.array(range(table.num_rows), pa.int64())
    firsts = table.append_column("_i", idx).group_by("alert_id", use_threads=False).aggregate([("_i", "min")])
    keep = pc.sort_indices(firsts.column("_i_min"))
    kept = table.take(pc.take(firsts.column("_i_min"), keep))
    return kept, table.num_rows - kept.num_rows


def _active_alert_artifacts(store: Any, chat_id: str | None) -> list[Any]:
    out, cursor = [], None
    tags = {"chat_id": chat_id} if chat_id is not None else None
    while True:
        page = store.list(artifact_type=ALERTS_TYPE, status="active", tags=tags, limit=1000, cursor=cursor)
        out += page.items
        cursor = page.next_cursor
        if cursor is None:
            return out


def published_alert_ids(store: Any, chat_id: str, *, exclude_key: str | None = None) -> set[str]:
    """alert_ids of the chat in active alerts_v1 artifacts (other than those under `exclude_key`)."""
    import pyarrow.compute as pc

    ids: set[str] = set()
    for art in _active_alert_artifacts(store, chat_id):
        if art.logical_key == exclude_key:
            continue
        t = store.read_table(art.artifact_id, columns=["alert_id", "chat_id"])
        t = t.filter(pc.equal(t.column("chat_id"), chat_id))
        ids.update(t.column("alert_id").to_pylist())
    return ids


def published_alert_ids_any(store: Any, *, exclude_key: str | None = None) -> set[str]:
    """alert_ids of every active alerts_v1 artifact (other than those under `exclude_key`)."""
    ids: set[str] = set()
    for art in _active_alert_artifacts(store, None):
        if art.logical_key != exclude_key:
            ids.update(store.read_table(art.artifact_id, columns=["alert_id"]).column("alert_id").to_pylist())
    return ids


def drop_published(store: Any, alerts, chat_id: str, *, exclude_key: str):
    """(alerts without those already published elsewhere, how many were dropped)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    known = published_alert_ids(store, chat_id, exclude_key=exclude_key)
    if not known or alerts.num_rows == 0:
        return alerts, 0
    mask = pc.invert(pc.is_in(alerts.column("alert_id"), value_set=pa.array(sorted(known), pa.string())))
    kept = alerts.filter(mask)
    return kept, alerts.num_rows - kept.num_rows


def canonical_alerts(store: Any, chat_id: str | None = None):
    """All active alerts_v1 artifacts (of one chat, or all), deduped by alert_id — the row from the
    earliest-created artifact wins — in canonical order (alert_ts, alert_id). A pyarrow Table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from bridge.store.canonical import arrow_schema
    from bridge.store.spec import get_spec

    schema = arrow_schema(get_spec(ALERTS_TYPE, 1))
    tables = []
    for art in _active_alert_artifacts(store, None if chat_id is None else str(chat_id)):
        t = store.read_table(art.artifact_id)
        if chat_id is not None:
            t = t.filter(pc.equal(t.column("chat_id"), str(chat_id)))
        tables.append(t.select(schema.names).cast(schema))
    if not tables:
        return schema.empty_table()
    table, _ = _first_per_alert_id(pa.concat_tables(tables))
    return table.sort_by([("alert_ts", "ascending"), ("alert_id", "ascending")])


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

class _CountingReader:
    """A binary stream that counts bytes read (for progress)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.count += len(data)
        return data


def _extend(bounds: list, value: int | None) -> None:
    if value is None:
        return
    if bounds[0] is None or value < bounds[0]:
        bounds[0] = value
    if bounds[1] is None or value > bounds[1]:
        bounds[1] = value


def _key_ts(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _key_part(value: str) -> str:
    return value.replace("/", "_")


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def ingest_many(store: Any, paths: Sequence[str | Path], **kw: Any) -> list[IngestReport]:
    return [ingest_telegram(store, p, **kw) for p in paths]
