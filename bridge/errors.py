"""The domain error hierarchy. No wire codes here: `bridge.api.errors` maps these to JSON-RPC.

    BridgeError                      anything the bridge raises on purpose
    ├── NotFound                     a named thing does not exist
    │   ├── LakeNotFound             no lake at the path (only `init` creates one)
    │   ├── ArtifactNotFound
    │   ├── ProjectionNotFound
    │   └── RunNotFound
    ├── InvalidInput                 the caller asked for something malformed
    │   ├── UnknownArtifactType
    │   ├── ValidationFailed         data does not fit its artifact type (column, row)
    │   ├── UnknownInputArtifact     lineage names ids the manifest does not know
    │   ├── InvalidSupersession
    │   └── InvalidState             e.g. tombstoning what is already tombstoned
    ├── ReadOnlyViolation            a projection query tried to write or reach outside
    ├── SourceUnavailable            a candle source (ClickHouse/chDB) failed
    ├── IntegrityError               the lake disagrees with its manifest
    ├── Busy                         the lake stayed locked past the timeout
    ├── StorageError                 the disk refused a write or read (full, file too large,
    │                                quota, read-only, permission, I/O error); names the path
    └── Cancelled                    the caller cancelled the work

Every error carries `data`: a JSON-able dict naming what was wrong and where
(artifact id, column, row, path, ...). Messages say what to do where there is something to do.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactNotFound",
    "BridgeError",
    "Busy",
    "Cancelled",
    "IntegrityError",
    "InvalidInput",
    "InvalidState",
    "InvalidSupersession",
    "LakeNotFound",
    "NotFound",
    "ProjectionNotFound",
    "ReadOnlyViolation",
    "RunNotFound",
    "SourceUnavailable",
    "StorageError",
    "UnknownArtifactType",
    "UnknownInputArtifact",
    "ValidationFailed",
]


class BridgeError(Exception):
    """Base of every deliberate error. `data` says what and where, for people and programs."""

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = {k: v for k, v in data.items() if v is not None}

    def __str__(self) -> str:
        return self.message


class NotFound(BridgeError):
    pass


class LakeNotFound(NotFound):
    def __init__(self, root: Any, reason: str = "") -> None:
        if reason:
            message = f"no lake at {root}: {reason}; pass the lake's folder with --lake"
        else:
            message = f"no lake at {root} (create one with `bridge init --lake {root}`)"
        super().__init__(message, path=str(root))


class ArtifactNotFound(NotFound):
    def __init__(self, artifact_id: str) -> None:
        super().__init__(
            f"artifact {artifact_id!r} is not in the manifest; list artifacts with `bridge ls`",
            artifact_id=artifact_id,
        )


class ProjectionNotFound(NotFound):
    def __init__(self, projection_id: str) -> None:
        super().__init__(
            f"projection {projection_id!r} does not exist; build it first or list them with `bridge project ls`",
            projection_id=projection_id,
        )


class RunNotFound(NotFound):
    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"experiment run {run_id!r} does not exist; list runs with `bridge experiment ls`",
            run_id=run_id,
        )


class InvalidInput(BridgeError):
    pass


class UnknownArtifactType(InvalidInput):
    def __init__(self, artifact_type: str, schema_version: int | None, known: list[str]) -> None:
        what = artifact_type if schema_version is None else f"{artifact_type} v{schema_version}"
        super().__init__(
            f"unknown artifact type {what}; known types: {', '.join(known)}",
            artifact_type=artifact_type,
            schema_version=schema_version,
            known=known,
        )


class ValidationFailed(InvalidInput):
    """Data does not fit its artifact type. `column` and `row` (0-based data row) say where."""

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        row: int | None = None,
        value: Any = None,
        rule: str | None = None,
        **more: Any,
    ) -> None:
        where = []
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        full = f"{message} ({', '.join(where)})" if where else message
        super().__init__(full, column=column, row=row, value=_jsonable(value), rule=rule, **more)


class UnknownInputArtifact(InvalidInput):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"input artifact(s) not in the manifest: {', '.join(missing)}; publish them first",
            missing=missing,
        )


class InvalidSupersession(InvalidInput):
    pass


class InvalidState(InvalidInput):
    pass


class ReadOnlyViolation(BridgeError):
    pass


class SourceUnavailable(BridgeError):
    pass


class IntegrityError(BridgeError):
    pass


class Busy(BridgeError):
    pass


class StorageError(BridgeError):
    """The disk refused: full (ENOSPC), file too large (EFBIG), quota, read-only, permission,
    I/O error. `path` names the file; `errno` the OS error. Nothing half-written is left."""

    @classmethod
    def from_os_error(cls, exc: OSError, path: Any = None, action: str = "write") -> "StorageError":
        import errno as _errno

        where = path if path is not None else (exc.filename or "?")
        code = exc.errno
        reason = exc.strerror or str(exc)
        hint = {
            _errno.ENOSPC: "free disk space and retry",
            _errno.EFBIG: "the file size limit (ulimit -f) or the filesystem refused the size; raise it and retry",
            _errno.EDQUOT: "the disk quota is exceeded; free space and retry",
            _errno.EROFS: "the filesystem is read-only",
            _errno.EACCES: "check the permissions",
            _errno.EPERM: "check the permissions",
        }.get(code or -1, "check the disk and retry")
        return cls(f"cannot {action} {where}: {reason}; {hint}", path=str(where),
                   errno=_errno.errorcode.get(code or -1, code), action=action)


class Cancelled(BridgeError):
    def __init__(self, message: str = "cancelled by the caller") -> None:
        super().__init__(message)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
