"""`bridge lake copy`: a local lake to every backend and back, ids unchanged, idempotent, checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bridge.errors import IntegrityError
from bridge.store import Store
from bridge.store.copy import copy_lake
from tests.conftest import REPO
from tests.store.samples import publish_candles, publish_metrics


def _snapshot(store: Store):
    arts = store.list(limit=10_000).items
    rel = lambda a: a.path_parquet.removeprefix(store.files.uri(""))  # noqa: E731
    return (
        [(a.artifact_id, a.status, a.file_hash, a.content_hash, a.created_at, a.tags, a.input_artifact_ids,
          a.supersedes, a.superseded_by, rel(a)) for a in arts],
        {a.artifact_id: store.provenance(a.artifact_id) for a in arts},
        sorted(tuple(r) for r in store.connect().execute("SELECT artifact_id, event, at, detail FROM artifact_events")),
        sorted(tuple(r) for r in store.connect().execute("SELECT artifact_id, file_bytes FROM artifacts")),
        sorted(r[0] for r in store.connect().execute("SELECT artifact_id FROM stale_roots")),  # kept by triggers
        [(s.artifact_id, len(s.reasons)) for s in store.stale()],
    )


def test_local_lake_to_backend_and_back(tmp_path, backend):
    local = Store(tmp_path / "local")
    c1 = publish_candles(local, seed=1, tags={"res": "1m"}).artifact_id
    c2 = publish_candles(local, seed=2).artifact_id
    local.supersede(c2, c1)
    m = publish_metrics(local, [c2]).artifact_id
    old = publish_metrics(local, [c1], run="r0").artifact_id  # made from the superseded c1: stale
    gone = publish_candles(local, key="token=G/res=1m", seed=3).artifact_id
    local.tombstone(gone, "bad feed")
    local.gc(dry_run=False)  # its files are gone: the copy keeps the rows, not files
    assert [s.artifact_id for s in local.stale()] == [old]

    team = Store(backend.lake(tmp_path / "team"))
    first = copy_lake(local, team)
    assert (first.artifacts, first.copied, first.skipped) == (5, 5, 0) and first.files_copied == 8
    assert _snapshot(team) == _snapshot(local)
    assert team.verify().ok
    assert team.read_table(m).equals(local.read_table(m))
    if team.dialect.name == "postgresql":  # the copy leaves the planner statistics of what it loaded
        analyzed = dict(team.connect().execute(
            "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables"
            " WHERE relname IN ('artifacts', 'artifact_tags', 'artifact_lineage')").fetchall())
        assert analyzed == {"artifacts": True, "artifact_tags": True, "artifact_lineage": True}
    again = copy_lake(local, team)  # idempotent
    assert (again.copied, again.skipped, again.files_copied) == (0, 5, 0)

    back = Store(tmp_path / "back")
    copy_lake(team, back)
    assert _snapshot(back) == _snapshot(local) and back.verify().ok
    assert back.upstream(m).nodes[0].artifact_id == c2


def test_a_damaged_source_file_stops_the_copy(tmp_path, backend):
    src = Store(backend.lake(tmp_path / "src"))
    a = publish_candles(src).artifact
    raw = bytearray(src.files.read_bytes(a.path_parquet))
    raw[len(raw) // 2] ^= 0xFF
    src.files.write_bytes(a.path_parquet, bytes(raw))
    dst = Store(tmp_path / "dst")
    with pytest.raises(IntegrityError, match="does not have the bytes"):
        copy_lake(src, dst)
    assert dst.list().items == [] and not any(dst.files.list_keys())


def test_cli_lake_copy_and_init_of_a_team_lake(tmp_path, pg_server, s3_server):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
    bridge = lambda *a: subprocess.run([sys.executable, "-m", "bridge", *a], capture_output=True, text=True,  # noqa: E731
                                       env=env, cwd=tmp_path, timeout=120)
    local = Store(tmp_path / "local")
    ids = [publish_candles(local, seed=s).artifact_id for s in range(3)]
    db = pg_server.create_database()
    try:
        init = bridge("init", "--lake", "team", "--manifest", db, "--artifacts", s3_server.new_prefix(),
                      "--s3-endpoint", s3_server.endpoint, "--json")
        assert init.returncode == 0, init.stderr
        info = json.loads(init.stdout)
        assert info["manifest"].startswith("postgresql://") and info["artifacts"].startswith("s3://")
        assert (tmp_path / "team" / "lake.toml").is_file()
        out = bridge("lake", "copy", "local", "team", "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["copied"] == 3
        ls = bridge("ls", "--lake", "team", "--json")  # the folder's lake.toml names the backend
        assert sorted(a["artifact_id"] for a in json.loads(ls.stdout)["items"]) == sorted(ids)
        assert bridge("verify", "--lake", "team").returncode == 0
        same = bridge("lake", "copy", "team", "team")
        assert same.returncode == 2 and "same lake" in same.stderr and "Traceback" not in same.stderr
    finally:
        pg_server.drop_database(db)
