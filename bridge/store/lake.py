"""The data lake's layout: one root directory, every path derived here and nowhere else.

    <root>/manifest/manifest.sqlite      the truth ledger (SQLite, WAL)
    <root>/artifacts/<type>/v<n>/<id[:2]>/<id>.parquet (+ .json sidecar)
    <root>/artifacts/_quarantine/<type>/v<n>/...      quarantine artifact types
    <root>/cache/                        disposable (DuckDB projections, ...)
    <root>/staging/                      temporary (in-flight publishes, ingestion shards)
    <root>/sources/                      embedded candle store (chDB) and other local sources

Deleting cache/ and staging/ never loses data.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LAKE_ENV", "Lake", "default_lake_root"]

LAKE_ENV = "QUANTBOT_LAKE"
_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def default_lake_root() -> Path:
    return Path(os.environ.get(LAKE_ENV) or "lake")


@dataclass(frozen=True)
class Lake:
    root: Path
    manifest_path: Path | None = None  # only when the PRD CLI's --manifest-db names another place

    def __init__(self, root: str | os.PathLike[str] | None = None, *, manifest_db: str | os.PathLike[str] | None = None) -> None:
        object.__setattr__(self, "root", Path(root if root is not None else default_lake_root()).resolve())
        object.__setattr__(self, "manifest_path", Path(manifest_db).resolve() if manifest_db else None)

    @property
    def manifest_dir(self) -> Path:
        return self.root / "manifest"

    @property
    def manifest_db(self) -> Path:
        return self.manifest_path or self.manifest_dir / "manifest.sqlite"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    def artifact_paths(self, dir_name: str, artifact_id: str) -> tuple[Path, Path]:
        """(parquet, sidecar) of an artifact. `dir_name` comes from the spec registry, the id is hex:
        no user string takes part, so nothing can land outside the lake."""
        if not _ID_RE.match(artifact_id):
            raise ValueError(f"not an artifact id: {artifact_id!r}")
        base = self.artifacts / dir_name / artifact_id[:2] / artifact_id
        return base.with_suffix(".parquet"), base.with_suffix(".json")

    def exists(self) -> bool:
        """A lake exists where its manifest file does (made by `init`)."""
        return self.manifest_db.is_file()

    def require(self) -> "Lake":
        """This lake if it exists.

        Raises:
            LakeNotFound: no manifest at the path (a mistyped --lake); `bridge init` creates one.
        """
        from bridge.errors import LakeNotFound

        if self.root.exists() and not self.root.is_dir():
            raise LakeNotFound(self.root, "it is a file, not a directory")
        if not self.exists():
            raise LakeNotFound(self.root)
        return self

    def ensure(self) -> "Lake":
        """Create the lake's folders (idempotent).

        Raises:
            InvalidInput: the root (or a parent) is a file.
            StorageError: the folders cannot be created (permission, read-only, disk full).
        """
        from bridge.errors import InvalidInput, StorageError

        for d in (self.root, *self.root.parents):
            if d.exists():
                if not d.is_dir():
                    raise InvalidInput(f"cannot create a lake at {self.root}: {d} is a file, not a directory",
                                       path=str(self.root))
                break
        for d in (self.manifest_db.parent, self.artifacts, self.cache, self.staging):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError.from_os_error(exc, d, "create the lake folder") from None
        return self
