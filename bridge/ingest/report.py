"""What an ingestion reports (IngestReport, with a ChatReport per Telegram chat). A module of its own,
light to import: the RPC contract (bridge.api.ingest) returns these types as they are, and must
not load the parser or pyarrow to declare them."""

from __future__ import annotations

import msgspec

__all__ = ["ChatReport", "IngestReport"]


class ChatReport(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    chat_id: str
    chat_name: str | None = None
    chat_type: str | None = None
    section: str = "root"
    messages: int = 0
    logical_key: str | None = None
    covered_from: str | None = None
    covered_to: str | None = None
    alerts_found: int = 0
    alerts_published: int = 0
    quarantined: int = 0
    source_artifact_id: str | None = None
    alerts_artifact_id: str | None = None
    quarantine_artifact_id: str | None = None
    deduped: bool = False
    skipped: str | None = None


# camelCase when encoded (the RPC methods return these as they are); the CLI's --json keeps snake_case.
class IngestReport(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """What one ingestion read, published, deduplicated, quarantined and skipped, by reason."""

    source: str
    path: str
    sha256: str | None = None
    messages_read: int = 0
    alerts: int = 0                          # alert rows published by this run (new)
    duplicates: dict[str, int] = {}          # repeated_in_message, duplicate_message_id, already_published
    quarantined: dict[str, int] = {}         # by reason code
    skipped: dict[str, int] = {}             # messages (service, no_candidates, ...) and chats, by reason
    unmapped_columns: list[str] = []         # legacy migration only
    logical_keys: list[str] = []             # legacy migration (Telegram: per chat in `chats`)
    chats: list[ChatReport] = []
    artifact_ids: list[str] = []
    new_artifact_ids: list[str] = []

    def count(self, field: str, reason: str, n: int = 1) -> None:
        if n:
            bucket = getattr(self, field)
            bucket[reason] = bucket.get(reason, 0) + n
