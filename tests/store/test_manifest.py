"""Manifest schema: v1 exactly as the PRD, WAL, numbered migrations, upgrading a v1 manifest."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bridge.store import Store, manifest
from tests.store.samples import publish_metrics

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """SQLite specifics: the embedded default only (PostgreSQL's schema: test_team.py)."""
    return tmp_path / "lake"

PRD_COLUMNS = {
    "artifacts": ["artifact_id", "artifact_type", "schema_version", "logical_key", "status", "path_parquet",
                  "path_sidecar", "file_hash", "content_hash", "row_count", "min_ts", "max_ts", "created_at"],
    "artifact_lineage": ["artifact_id", "input_artifact_id"],
    "artifact_tags": ["artifact_id", "k", "v"],
    "artifact_supersedes": ["artifact_id", "supersedes_artifact_id"],
}


def test_shipped_v1_schema_is_the_prds(tmp_path):
    con = sqlite3.connect(tmp_path / "m.sqlite")
    con.executescript(manifest.manifest_sql())
    for table, cols in PRD_COLUMNS.items():
        assert [r[1] for r in con.execute(f"PRAGMA table_info({table})")] == cols
    idx = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index' AND name LIKE 'idx_%'")}
    assert idx == {"idx_artifacts_type_key", "idx_artifacts_content_hash", "idx_artifacts_type_key_content"}
    uniques = [r for r in con.execute("PRAGMA index_list(artifacts)") if r[2]]
    assert any("file_hash" in [c[2] for c in con.execute(f"PRAGMA index_info('{u[1]}')")] for u in uniques)


def test_new_manifest_is_wal_and_migrated(store):
    con = store.connect()
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions[0] == 1 and versions == sorted(versions) and versions[-1] == manifest.migrations()[-1][0]
    assert store.schema_version == versions[-1]


def test_upgrading_a_v1_manifest_keeps_its_rows(tmp_path):
    lake = tmp_path / "lake"
    (lake / "manifest").mkdir(parents=True)
    shutil.copy(DATA / "manifest_v1.sqlite", lake / "manifest" / "manifest.sqlite")
    store = Store(lake)
    assert store.schema_version == manifest.migrations()[-1][0]
    legacy = store.get("legacy-metrics-1")
    assert legacy.input_artifact_ids == ["legacy-alerts-1"] and legacy.row_count == 2
    assert store.get("legacy-alerts-1").tags == {"source": ["telegram"]}
    assert store.get("legacy-alerts-1").path_parquet == "/home/memez/opn/artifacts/alerts_v1/v1/a.parquet"
    assert publish_metrics(store, inputs=["legacy-alerts-1"]).artifact.input_artifact_ids == ["legacy-alerts-1"]
    # a second open is a no-op
    assert Store(lake).schema_version == store.schema_version


def test_migrations_run_once_with_many_openers(tmp_path):
    import threading

    errors = []

    def open_it():
        try:
            Store(tmp_path / "lake")
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    con = Store(tmp_path / "lake").connect()
    assert con.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(manifest.migrations()) + 1


def test_upgrading_a_v2_manifest_keeps_its_rows(tmp_path):
    lake = tmp_path / "lake"
    (lake / "manifest").mkdir(parents=True)
    shutil.copy(DATA / "manifest_v2.sqlite", lake / "manifest" / "manifest.sqlite")
    store = Store(lake)
    assert store.schema_version == manifest.migrations()[-1][0] > 2
    assert store.get("v2-metrics").logical_key == "run=v2"
    assert store.provenance("v2-metrics").git_commit == "abc"
    names = {r[0] for r in store.connect().execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"experiment_runs", "artifact_provenance", "publish_journal"} <= names


def test_upgrading_to_v4_adds_git_source_and_projection_definitions(tmp_path):
    lake = tmp_path / "lake"
    (lake / "manifest").mkdir(parents=True)
    shutil.copy(DATA / "manifest_v2.sqlite", lake / "manifest" / "manifest.sqlite")
    store = Store(lake)
    assert store.schema_version >= 4
    applied = [r[0] for r in store.connect().execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert "provenance_projections" in applied
    old = store.provenance("v2-metrics")  # published before git_source existed: it was given
    assert old.git_commit == "abc" and old.git_source == "given" and old.git_dirty is not None
    cols = {r[1] for r in store.connect().execute("PRAGMA table_info(projection_definitions)")}
    assert cols == {"projection_id", "record_json", "updated_at"}
