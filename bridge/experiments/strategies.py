"""Strategies as artifacts: publish, read, list (type `strategy`, one row, canonical JSON).

    from bridge.experiments.strategies import Strategies
    strategies = Strategies(store)
    ref = strategies.publish(strategy)           # StrategyRef (same strategy -> same artifact id)
    strategy = strategies.get(ref.artifact_id)   # StrategyConfig, validated
    refs = strategies.import_file("scenarios.json")   # the researchers' scenario format

The logical key is `strategy=<first 16 hex of SHA-256 of the canonical JSON>`, so publishing the
same strategy twice (from any name of the file, any machine) gives the same artifact.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgspec

from bridge.errors import InvalidInput, ValidationFailed
from bridge.experiments.strategy import StrategyConfig, strategy_from_mapping

__all__ = ["ARTIFACT_TYPE", "ImportResult", "ImportedStrategy", "Strategies", "StrategyRef"]

ARTIFACT_TYPE = "strategy"
WRITER = "bridge-strategy"


class StrategyRef(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    artifact_id: str
    name: str
    strategy_hash: str
    created_at: str | None = None
    status: str | None = None
    deduped: bool = False
    strategy: StrategyConfig | None = None


class ImportedStrategy(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """One scenario of an imported file: its artifact and the fields that map with a different rule."""

    scenario: str
    artifact_id: str
    deduped: bool
    strategy: StrategyConfig
    notes: list[str] = []


class ImportResult(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    source: str
    strategies: list[ImportedStrategy]


def strategy_hash(strategy: StrategyConfig) -> str:
    return hashlib.sha256(strategy.canonical_json().encode("utf-8")).hexdigest()


def _key_and_table(s: StrategyConfig):
    import pyarrow as pa

    text = s.canonical_json()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    table = pa.table({"name": pa.array([s.name], pa.string()), "strategy_json": pa.array([text], pa.string()),
                      "strategy_hash": pa.array([digest], pa.string())})
    return f"strategy={digest[:16]}", table


class Strategies:
    """Strategy artifacts of one store."""

    def __init__(self, store) -> None:
        self.store = store

    def plan(self, strategy: Any) -> tuple[str, str]:
        """(artifact id, content hash) the strategy has, or will have once published, without publishing."""
        from bridge.store import canonical
        from bridge.store.spec import get_spec
        from bridge.store.store import artifact_id_for

        s = strategy_from_mapping(strategy)
        spec = get_spec(ARTIFACT_TYPE, 1)
        key, table = _key_and_table(s)
        chash = canonical.content_hash(canonical.canonicalize(table, spec, key), spec)
        return artifact_id_for(ARTIFACT_TYPE, 1, key, chash), chash

    def publish(self, strategy: Any, *, git_commit: str | None = None, git_dirty: bool = False) -> StrategyRef:
        """Publish a strategy (StrategyConfig or a JSON-like mapping); idempotent.

        Raises:
            ValidationFailed: not a valid strategy (names the field).
        """
        s = strategy_from_mapping(strategy)
        key, table = _key_and_table(s)
        digest = table.column("strategy_hash")[0].as_py()
        res = self.store.publish(ARTIFACT_TYPE, 1, key, table, tags={"name": s.name},
                                 writer_name=WRITER, writer_version="1", git_commit=git_commit, git_dirty=git_dirty)
        return StrategyRef(artifact_id=res.artifact_id, name=s.name, strategy_hash=digest, deduped=res.deduped,
                           strategy=s)

    def get(self, artifact_id: str) -> StrategyConfig:
        """Raises:
        ArtifactNotFound: no such artifact.
        InvalidInput: the artifact is not a strategy (or its JSON no longer validates).
        """
        art = self.store.get(artifact_id)
        if art.artifact_type != ARTIFACT_TYPE:
            raise InvalidInput(f"{artifact_id} is a {art.artifact_type}, not a strategy", artifact_id=artifact_id,
                               artifact_type=art.artifact_type)
        text = self.store.read_table(artifact_id, ["strategy_json"]).column("strategy_json")[0].as_py()
        try:
            return strategy_from_mapping(msgspec.json.decode(text))
        except ValidationFailed as exc:
            raise InvalidInput(f"strategy artifact {artifact_id} does not validate: {exc}",
                               artifact_id=artifact_id) from None

    def ref(self, artifact_id: str) -> StrategyRef:
        art = self.store.get(artifact_id)
        s = self.get(artifact_id)
        return StrategyRef(artifact_id=artifact_id, name=s.name, strategy_hash=strategy_hash(s),
                           created_at=art.created_at, status=art.status, strategy=s)

    def list(self, *, status: str | None = "active", limit: int = 1000) -> list[StrategyRef]:
        """Strategy artifacts (name from the tag, hash prefix from the logical key), by name."""
        page = self.store.list(artifact_type=ARTIFACT_TYPE, status=status, limit=limit)
        out = []
        for art in page.items:
            names = art.tags.get("name") or [""]
            out.append(StrategyRef(artifact_id=art.artifact_id, name=names[0], created_at=art.created_at,
                                   status=art.status, strategy_hash=art.logical_key.partition("=")[2]))
        return sorted(out, key=lambda r: (r.name, r.artifact_id))

    def import_file(self, path: str | Path, *, git_commit: str | None = None,
                    git_dirty: bool = False) -> ImportResult:
        """Publish every scenario of a file in the researchers' scenario format.

        Raises:
            ValidationFailed: unreadable file, unknown field (its path), unsupported value.
        """
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ValidationFailed(f"cannot read {p}: {exc.strerror}", path=str(p)) from None
        try:
            data = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise ValidationFailed(f"{p} is not JSON: {exc}", path=str(p)) from None
        return self.import_data(data, source=str(p), git_commit=git_commit, git_dirty=git_dirty)

    def import_data(self, data: Any, *, source: str = "<inline>", git_commit: str | None = None,
                    git_dirty: bool = False) -> ImportResult:
        from bridge.experiments.scenario import convert_scenarios

        converted = convert_scenarios(data)  # validates everything before publishing anything
        out = []
        for c in converted:
            ref = self.publish(c.strategy, git_commit=git_commit, git_dirty=git_dirty)
            out.append(ImportedStrategy(scenario=c.name, artifact_id=ref.artifact_id, deduped=ref.deduped,
                                        strategy=c.strategy, notes=c.notes))
        return ImportResult(source=source, strategies=out)
