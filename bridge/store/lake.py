"""The data lake: a local working folder plus a URL pair — the manifest and the artifact store.

The embedded default is one folder, every path derived here and nowhere else:

    <root>/manifest/manifest.sqlite      the truth ledger (SQLite, WAL)   = sqlite:///<root>/manifest/manifest.sqlite
    <root>/artifacts/<type>/v<n>/<id[:2]>/<id>.parquet (+ .json sidecar)  (artifact store = <root>)
    <root>/artifacts/_quarantine/<type>/v<n>/...      quarantine artifact types
    <root>/cache/                        disposable (DuckDB projections, cached copies of remote files)
    <root>/staging/                      temporary (in-flight publishes, ingestion shards)
    <root>/sources/                      embedded candle store (chDB) and other local sources

A team lake keeps the manifest on PostgreSQL and the files in a bucket; its local folder holds only
cache/, staging/, sources/ and a `lake.toml` naming the pair (docs/team.md):

    [manifest]
    url = "postgresql://research@db.internal/lake"
    [artifacts]
    url = "s3://research-lake/main"
    endpoint = "https://minio.internal:9000"    # non-AWS S3 servers only
    region = "us-east-1"

Each setting is taken from, in order: the argument (CLI flag, daemon option, TS client option),
the environment (QUANTBOT_MANIFEST, QUANTBOT_ARTIFACTS, QUANTBOT_S3_ENDPOINT, QUANTBOT_S3_REGION),
`<root>/lake.toml`, the default. Deleting cache/ and staging/ never loses data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bridge.errors import ValidationFailed

__all__ = ["ARTIFACTS_ENV", "LAKE_ENV", "LAKE_TOML", "MANIFEST_ENV", "Lake", "default_lake_root", "write_lake_toml"]

LAKE_ENV = "QUANTBOT_LAKE"
MANIFEST_ENV = "QUANTBOT_MANIFEST"
ARTIFACTS_ENV = "QUANTBOT_ARTIFACTS"
S3_ENDPOINT_ENV = "QUANTBOT_S3_ENDPOINT"
S3_REGION_ENV = "QUANTBOT_S3_REGION"
LAKE_TOML = "lake.toml"
_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def default_lake_root() -> Path:
    return Path(os.environ.get(LAKE_ENV) or "lake")


def _read_toml(root: Path) -> dict:
    path = root / LAKE_TOML
    if not path.is_file():
        return {}
    import tomllib  # here, not at the top: most lakes have no lake.toml (the daemon's cold start)

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValidationFailed(f"{path} is not valid TOML: {exc}", field="lake.toml", path=str(path)) from exc
    unknown = set(data) - {"manifest", "artifacts"}
    if unknown:
        raise ValidationFailed(f"{path}: unknown section(s) {', '.join(sorted(unknown))} (expected [manifest], [artifacts])",
                               field="lake.toml", path=str(path))
    return data


class Lake:
    """The lake's folder and its URL pair; immutable once made (like a frozen dataclass: equal,
    and hashing alike, when every field is; not one, because importing dataclasses, with the
    inspect module it needs, was a quarter of the daemon's cold start)."""

    root: Path
    manifest_path: Path | None  # only when the PRD CLI's --manifest-db names another place
    manifest_url: str
    artifacts_url: str
    s3_endpoint: str | None
    s3_region: str | None
    _FIELDS = tuple(__annotations__)  # (every field, in order: set by __init__, compared by __eq__)

    def __init__(self, root: str | os.PathLike[str] | None = None, *, manifest_db: str | os.PathLike[str] | None = None,
                 manifest: str | None = None, artifacts: str | None = None, s3_endpoint: str | None = None,
                 s3_region: str | None = None) -> None:
        root_path = Path(root if root is not None else default_lake_root()).resolve()
        toml = _read_toml(root_path)
        t_man, t_art = toml.get("manifest", {}), toml.get("artifacts", {})
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("root", root_path)
        set_("manifest_path", Path(manifest_db).resolve() if manifest_db else None)
        man = manifest or os.environ.get(MANIFEST_ENV) or t_man.get("url")
        if man is None:
            man = _sqlite_url(self.manifest_path or root_path / "manifest" / "manifest.sqlite")
        elif "://" not in man:  # a plain path: relative to the lake when it came from lake.toml
            base = root_path if (not manifest and not os.environ.get(MANIFEST_ENV)) else Path.cwd()
            man = _sqlite_url((base / man).resolve())
        set_("manifest_url", man)
        art = artifacts or os.environ.get(ARTIFACTS_ENV) or t_art.get("url")
        if art is None:
            art = str(root_path)
        elif "://" not in art:
            base = root_path if (not artifacts and not os.environ.get(ARTIFACTS_ENV)) else Path.cwd()
            art = str((base / art).resolve())
        set_("artifacts_url", art.rstrip("/") if art.startswith("s3://") else art)
        set_("s3_endpoint", s3_endpoint or os.environ.get(S3_ENDPOINT_ENV) or t_art.get("endpoint"))
        set_("s3_region", s3_region or os.environ.get(S3_REGION_ENV) or t_art.get("region"))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Lake is immutable: cannot set {name!r} (make another Lake)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Lake is immutable: cannot delete {name!r}")

    def _values(self) -> tuple:
        return tuple(getattr(self, f) for f in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"Lake({', '.join(f'{f}={getattr(self, f)!r}' for f in self._FIELDS)})"

    @property
    def is_team(self) -> bool:
        """The manifest or the artifacts live off this machine."""
        return not self.manifest_url.startswith("sqlite:") or self.artifacts_url.startswith("s3://")

    @property
    def manifest_dir(self) -> Path:
        return self.root / "manifest"

    @property
    def manifest_db(self) -> Path | None:
        """The SQLite manifest's path (None for a PostgreSQL manifest)."""
        if self.manifest_url.startswith("sqlite:"):
            from bridge.store.dialect import dialect_for

            return dialect_for(self.manifest_url).path  # type: ignore[attr-defined]
        return None

    @property
    def manifest_display(self) -> str:
        """The manifest URL without a password."""
        from bridge.store.dialect import redact

        return redact(self.manifest_url)

    @property
    def artifacts(self) -> Path:
        """The local artifacts folder (of a local artifact store)."""
        base = Path(self.artifacts_url) if not self.artifacts_url.startswith("s3://") else self.root
        return base / "artifacts"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    def artifact_rel(self, dir_name: str, artifact_id: str) -> tuple[str, str]:
        """(parquet, sidecar) of an artifact relative to the artifact store, as the manifest keeps
        them. `dir_name` comes from the spec registry, the id is hex: no user string takes part,
        so nothing can land outside the lake."""
        if not _ID_RE.match(artifact_id):
            raise ValueError(f"not an artifact id: {artifact_id!r}")
        base = f"artifacts/{dir_name}/{artifact_id[:2]}/{artifact_id}"
        return f"{base}.parquet", f"{base}.json"

    def artifact_paths(self, dir_name: str, artifact_id: str) -> tuple[Path, Path]:
        """(parquet, sidecar) local paths of an artifact in a local artifact store."""
        pq, sc = self.artifact_rel(dir_name, artifact_id)
        base = self.artifacts.parent
        return base / pq, base / sc

    def exists(self) -> bool:
        """A lake exists where its SQLite manifest file does (made by `init`); a PostgreSQL
        manifest is checked when connecting (its tables are created by `init` or the first open)."""
        db = self.manifest_db
        return db.is_file() if db is not None else True

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
        """Create the lake's local folders (idempotent; a bucket is created by `bridge init`).

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
        dirs = [self.cache, self.staging]
        if self.manifest_db is not None:
            dirs.append(self.manifest_db.parent)
        if not self.artifacts_url.startswith("s3://"):
            dirs.append(self.artifacts)
        for d in dirs:
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError.from_os_error(exc, d, "create the lake folder") from None
        return self


def _sqlite_url(path: Path) -> str:
    return "sqlite:///" + path.as_posix().lstrip("/")


def write_lake_toml(root: Path, *, manifest: str | None, artifacts: str | None, s3_endpoint: str | None = None,
                    s3_region: str | None = None) -> Path:
    """Write `<root>/lake.toml` naming a team lake (what `bridge init --manifest … --artifacts …` does)."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["# This lake's manifest and artifact store (docs/team.md). Credentials never go here:",
             "# PostgreSQL reads PGPASSWORD/~/.pgpass, S3 the AWS environment variables or profile.", ""]
    if manifest:
        lines += ["[manifest]", f"url = {q(manifest)}", ""]
    if artifacts or s3_endpoint or s3_region:
        lines += ["[artifacts]"]
        if artifacts:
            lines.append(f"url = {q(artifacts)}")
        if s3_endpoint:
            lines.append(f"endpoint = {q(s3_endpoint)}")
        if s3_region:
            lines.append(f"region = {q(s3_region)}")
        lines.append("")
    root.mkdir(parents=True, exist_ok=True)
    path = root / LAKE_TOML
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
