"""Domain errors → JSON-RPC errors: one table, most specific first, applied in one place.

Codes outside JSON-RPC's reserved -32768..-32000, in bands per area:

    10–99       lifecycle (protocol version, shutting down)
    1000–1099   artifact store        1100–1199 projections
    1200–1299   ingestion             1300–1399 OHLCV sources
    1400–1499   experiments
    -32800      request cancelled (LSP's RequestCancelled)

`data` is the domain error's own data (what and where), with camelCase keys, plus `type`.
"""

from __future__ import annotations

from typing import Any

from bridge import errors as e

__all__ = ["APP_ERRORS", "CANCELLED", "ERROR_TABLE", "SERVER_SHUTTING_DOWN", "UNSUPPORTED_PROTOCOL_VERSION",
           "error_for", "wire_data"]

CANCELLED = -32800
UNSUPPORTED_PROTOCOL_VERSION = 10
SERVER_SHUTTING_DOWN = 11

# (domain class, code, name, doc) — most specific first; the first isinstance match wins.
ERROR_TABLE: list[tuple[type[BaseException], int, str, str]] = [
    (e.Cancelled, CANCELLED, "RequestCancelled", "the request was cancelled ($/cancelRequest or timeout); nothing was published"),
    (e.ArtifactNotFound, 1001, "ArtifactNotFound", "no artifact with that id"),
    (e.ValidationFailed, 1002, "ValidationFailed", "data does not fit its artifact type; data names column, row, rule"),
    (e.UnknownInputArtifact, 1003, "UnknownInputArtifact", "lineage names artifacts the manifest does not have"),
    (e.InvalidSupersession, 1004, "InvalidSupersession", "the supersession is not allowed (type, status, cycle)"),
    (e.InvalidState, 1005, "InvalidState", "the operation does not fit the object's state"),
    (e.UnknownArtifactType, 1006, "UnknownArtifactType", "no such artifact type and schema version"),
    (e.IntegrityError, 1007, "IntegrityError", "the lake disagrees with its manifest"),
    (e.Busy, 1008, "Busy", "a shared resource (the manifest, the embedded chDB store) stayed locked past the timeout; retry"),
    (e.StorageError, 1010, "StorageError",
     "the disk refused a write (full, file too large, quota, read-only, permission, I/O error); data names path and errno; nothing half-written is left"),
    (e.ProjectionNotFound, 1101, "ProjectionNotFound", "no projection with that id"),
    (e.ReadOnlyViolation, 1102, "ReadOnlyViolation", "a projection query tried to write or to read outside the projection"),
    (e.SourceUnavailable, 1301, "SourceUnavailable", "the candle source (ClickHouse / chDB) failed or is unreachable"),
    (e.RunNotFound, 1401, "RunNotFound", "no experiment run with that id"),
    (e.NotFound, 1000, "NotFound", "a named object does not exist"),
    (e.InvalidInput, 1009, "InvalidInput", "the request is well-formed but asks for something invalid"),
    (e.BridgeError, 1099, "BridgeError", "another deliberate error; see message and data"),
]

APP_ERRORS = {name: code for _, code, name, _ in ERROR_TABLE}


def error_for(exc: BaseException) -> tuple[int, str, dict[str, Any]] | None:
    """(code, message, data) for a domain error, or None for anything else (→ -32603).
    The OS refusing a write (ENOSPC, EFBIG, EDQUOT, EROFS, EIO) and SQLite's disk errors count
    as StorageError wherever they were raised."""
    exc = _storage(exc)
    for cls, code, name, _ in ERROR_TABLE:
        if isinstance(exc, cls):
            data = wire_data(getattr(exc, "data", {}) or {})
            data["type"] = name
            return code, str(exc), data
    return None


def _storage(exc: BaseException) -> BaseException:
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EIO):
        return e.StorageError.from_os_error(exc)
    import sqlite3

    if isinstance(exc, sqlite3.DatabaseError):
        from bridge.store.manifest import storage_error

        return storage_error("the manifest", exc) or exc
    return exc


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def wire_data(data: Any) -> Any:
    if isinstance(data, dict):
        return {_camel(str(k)): wire_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [wire_data(v) for v in data]
    if isinstance(data, float) and data != data:  # NaN never goes on the wire
        return "NaN"
    return data
