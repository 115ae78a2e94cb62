"""CLI (`bridge ingest telegram`, `bridge migrate duckdb`) and the API handlers, on a real lake."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import msgspec
import pytest

from bridge.api import ingest as api
from bridge.progress import Job
from tests.conftest import REPO
from tests.ingest.builder import BONK, LOOKALIKES, channel_post, ent, single_chat, write
from tests.ingest.test_legacy import legacy_db


def export(tmp_path):
    return write(tmp_path / "result.json", single_chat(777, [channel_post(1, ["🚀 ", ent("code", BONK)]),
                                                           channel_post(2, f"hmm {LOOKALIKES[0]}")]))


def bridge(*args, check=True):
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=check)


def test_cli_ingest_telegram_json_and_rerun(tmp_path):
    path, lake = export(tmp_path), str(tmp_path / "lake")
    bridge("init", "--lake", lake)
    out = json.loads(bridge("ingest", "telegram", str(path), "--lake", lake, "--json").stdout)
    [rep] = out["reports"]
    assert rep["alerts"] == 1 and rep["quarantined"] == {"wrong_length": 1} and len(rep["new_artifact_ids"]) == 3
    again = json.loads(bridge("ingest", "telegram", str(path), "--lake", lake, "--json").stdout)
    assert again["reports"][0]["new_artifact_ids"] == []
    human = bridge("ingest", "telegram", str(path), "--lake", lake).stdout
    assert "unchanged" in human and "0 new, 3 existing" in human


def test_cli_errors_exit_2(tmp_path):
    bridge("init", "--lake", str(tmp_path / "lake"))
    res = bridge("ingest", "telegram", str(tmp_path / "nope.json"), "--lake", str(tmp_path / "lake"), check=False)
    assert res.returncode == 2 and "not found" in res.stderr
    db = legacy_db(tmp_path / "a.duckdb")
    res = bridge("migrate", "duckdb", str(db), "--lake", str(tmp_path / "lake"), "--map", "bogus", check=False)
    assert res.returncode == 2 and "TARGET=VALUE" in res.stderr


def test_cli_migrate_duckdb(tmp_path):
    db = legacy_db(tmp_path / "a.duckdb")
    bridge("init", "--lake", str(tmp_path / "lake"))
    out = json.loads(bridge("migrate", "duckdb", str(db), "--lake", str(tmp_path / "lake"), "--json",
                            "--map", "text=message", "--default", "chat_type=public_channel").stdout)
    assert out["alerts"] == 2 and out["unmapped_columns"] == ["id", "score", "notes"]


def test_api_handlers_report_progress_and_camel_case(store, tmp_path):
    seen = []
    ctx = SimpleNamespace(store=store, job=Job(lambda d, t, m: seen.append(m), min_interval=0))
    res = api.ingest_telegram(ctx, api.IngestTelegramParams(paths=[str(export(tmp_path))]))
    wire = json.loads(msgspec.json.encode(res))
    assert wire["reports"][0]["messagesRead"] == 2 and "newArtifactIds" in wire["reports"][0]
    assert any("publishing" in m for m in seen)
    rep = api.migrate_duckdb(ctx, msgspec.json.decode(
        json.dumps({"path": str(legacy_db(tmp_path / "a.duckdb")), "mapping": {"text": "message"}}),
        type=api.MigrateDuckdbParams))
    assert rep.unmapped_columns == ["id", "score", "notes"]
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"paths": [], "bogus": 1}', type=api.IngestTelegramParams)


def test_api_cancel_publishes_nothing(store, tmp_path):
    job = Job()
    job.cancel()
    from bridge.errors import Cancelled

    with pytest.raises(Cancelled):
        api.ingest_telegram(SimpleNamespace(store=store, job=job), api.IngestTelegramParams(paths=[str(export(tmp_path))]))
    assert store.connect().execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0


def test_api_module_imports_nothing_heavy():
    code = "import sys, bridge.api.ingest, bridge.cli.ingest, bridge.ingest; " \
           "print([m for m in ('pyarrow', 'duckdb', 'pandas') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
