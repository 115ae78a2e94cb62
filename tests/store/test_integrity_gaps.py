"""Issue 12 items 7, 10, 12: gc'd data can come back (by a rule), verify names what each problem
reaches, one text limit for the manifest, git provenance never silently missing, read-only files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bridge.errors import InvalidState, ValidationFailed
from bridge.store import Store
from bridge.store.limits import MAX_JSON_BYTES, MAX_TEXT_CHARS
from tests.store.samples import candles, publish_candles, publish_metrics


def events(store, aid):
    return [r[0] for r in store.connect().execute(
        "SELECT event FROM artifact_events WHERE artifact_id = ? ORDER BY event_id", (aid,))]


def test_tombstoned_and_gcd_data_comes_back_only_with_revive(store, tmp_path):
    a = publish_candles(store, seed=1)
    store.tombstone(a.artifact_id, reason="bad feed")
    report = store.gc(dry_run=False)
    assert report.removed == [a.artifact_id] and not store.files.exists(a.artifact.path_parquet)
    assert store.verify().ok  # gc'd on purpose: not a problem
    with pytest.raises(InvalidState, match=r"tombstoned \(reason: bad feed\).*revive") as info:
        publish_candles(store, seed=1)
    assert info.value.data["artifact_id"] == a.artifact_id
    assert not store.files.exists(a.artifact.path_parquet)  # the refusal wrote nothing
    back = publish_candles(store, seed=1, revive=True)
    assert back.deduped and back.artifact_id == a.artifact_id and back.artifact.status == "active"
    assert store.files.exists(back.artifact.path_parquet) and store.files.exists(back.artifact.path_sidecar)
    assert events(store, a.artifact_id) == ["published", "tombstoned", "files_removed", "files_restored", "revived"]
    assert store.verify().ok  # same bytes, same sidecar fields
    assert store.files.read_table(back.artifact.path_parquet).num_rows == 50
    again = publish_candles(store, seed=1)  # now an ordinary dedup
    assert again.deduped and again.artifact_id == a.artifact_id


def test_tombstoned_not_yet_gcd_revives_without_rewriting(store, tmp_path):
    a = publish_candles(store, seed=2)
    store.tombstone(a.artifact_id)
    with pytest.raises(InvalidState):
        publish_candles(store, seed=2)
    path = tmp_path / "same.parquet"
    pq.write_table(store.files.read_table(a.artifact.path_parquet), path)
    back = store.publish("ohlcv_slice", 2, a.artifact.logical_key, path, writer_name="t", writer_version="1",
                         revive=True)
    assert back.artifact.status == "active" and events(store, a.artifact_id)[-1] == "revived"


def test_lost_files_of_an_active_artifact_are_restored_by_a_republish(store):
    a = publish_candles(store, seed=3)
    store.files.delete(a.artifact.path_parquet)
    store.files.delete(a.artifact.path_sidecar)
    kinds = [i.kind for i in store.verify().issues]
    assert kinds == ["missing_file"]
    back = publish_candles(store, seed=3)
    assert back.deduped and store.files.exists(back.artifact.path_parquet)
    assert store.verify().ok and events(store, a.artifact_id)[-1] == "files_restored"


def test_verify_reports_gcd_files_of_an_active_artifact(store):
    a = publish_candles(store, seed=4)
    store.tombstone(a.artifact_id)
    store.gc(dry_run=False)
    with store.connect():  # status flipped back behind the store's back (e.g. a hand-edited manifest)
        store.connect().execute("UPDATE artifacts SET status = 'active' WHERE artifact_id = ?", (a.artifact_id,))
    issues = store.verify().issues
    assert [(i.kind, i.artifact_id) for i in issues] == [("missing_file", a.artifact_id)]


def test_verify_names_the_downstream_artifacts_each_problem_reaches(store):
    a = publish_candles(store, seed=5)
    b = publish_candles(store, key="token=B/res=1m", seed=6)
    m = publish_metrics(store, [a.artifact_id])
    m2 = store.publish("run_metrics", 1, "run=r2", [
        {"run_id": "r2", "metric_name": "x", "metric_value": 1.0, "metric_unit": None,
         "computed_at": "2026-01-26T00:00:00Z"}], writer_name="t", writer_version="1",
        input_artifact_ids=[m.artifact_id])
    store.files.delete(a.artifact.path_parquet)
    store.files.delete(b.artifact.path_parquet)
    by_id = {i.artifact_id: i for i in store.verify().issues}
    assert by_id[a.artifact_id].affected == sorted([m.artifact_id, m2.artifact_id])
    assert by_id[b.artifact_id].affected == []


@pytest.mark.parametrize(("field", "kw"), [
    ("writerName", {"writer_name": "w" * (MAX_TEXT_CHARS + 1)}),
    ("writerVersion", {"writer_version": "1\x00"}),
    ("gitCommit", {"git_commit": "a" * 10_000}),
    ("tags key 'k'", {"tags": {"k" * (MAX_TEXT_CHARS + 1): "v"}}),
    ("tags['k']", {"tags": {"k": "x\x00y"}}),
    ("tags['k']", {"tags": {"k": "v" * (1 << 20)}}),
    ("params", {"params": {"blob": "x" * MAX_JSON_BYTES}}),
    ("logicalKey", {"logical_key": "k" * (MAX_TEXT_CHARS + 1)}),
])
def test_every_string_reaching_the_manifest_has_one_limit(store, field, kw):
    args = {"writer_name": "w", "writer_version": "1", "logical_key": "token=A/res=1m", **kw}
    key = args.pop("logical_key")
    with pytest.raises(ValidationFailed) as info:
        store.publish("ohlcv_slice", 2, key, candles(5), **args)
    assert info.value.data["field"].startswith(field.split("[")[0].split(" '")[0]), info.value.data
    assert store.connect().execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0
    if store.lake.manifest_db is not None:  # SQLite: the refused text did not grow the file
        assert os.path.getsize(store.lake.manifest_db) < 1 << 20


def test_text_at_the_limit_is_fine_and_the_reason_of_a_tombstone_is_limited(store):
    a = store.publish("ohlcv_slice", 2, "token=A/res=1m/" + "k" * (MAX_TEXT_CHARS - 15), candles(5), writer_name="w" * MAX_TEXT_CHARS,
                      writer_version="1", tags={"t": "v" * MAX_TEXT_CHARS, "empty": ""}, git_commit="c")
    with pytest.raises(ValidationFailed, match="reason"):
        store.tombstone(a.artifact_id, reason="r" * (MAX_TEXT_CHARS + 1))
    assert store.get(a.artifact_id).status == "active"


def test_git_provenance_given_detected_or_unknown(store, tmp_path, monkeypatch):
    from bridge.store import gitinfo

    given = publish_candles(store, key="token=G/res=1m", git_commit="abc", git_dirty=True)
    p = store.provenance(given.artifact_id)
    assert (p.git_commit, p.git_dirty, p.git_source) == ("abc", True, "given")
    outside = tmp_path / "not_a_repo"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    gitinfo._cache.clear()
    unknown = publish_candles(store, key="token=U/res=1m")
    p = store.provenance(unknown.artifact_id)
    assert (p.git_commit, p.git_dirty, p.git_source) == (None, None, "unknown")
    repo = tmp_path / "repo"
    repo.mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    (repo / "f").write_text("1")
    git("add", "f")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    (repo / "f").write_text("2")  # dirty
    monkeypatch.chdir(repo)
    gitinfo._cache.clear()
    detected = publish_candles(store, key="token=D/res=1m")
    p = store.provenance(detected.artifact_id)
    assert (p.git_commit, p.git_dirty, p.git_source) == (head, True, "detected")
    side = json.loads(store.files.read_bytes(detected.artifact.path_sidecar))
    assert side["git_commit"] == head and side["git_source"] == "detected"


def test_published_files_are_read_only(store):
    a = publish_candles(store, seed=7).artifact
    for p in (a.path_parquet, a.path_sidecar):
        if store.files.remote:  # an object has no mode: no key a manifest row names is written again
            assert store.files.exists(p)
            continue
        mode = stat.S_IMODE(os.stat(p).st_mode)
        assert mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0, oct(mode)
    store.tombstone(a.artifact_id)
    assert store.gc(dry_run=False).removed == [a.artifact_id]  # gc still removes read-only files
    assert not store.files.exists(a.path_parquet)


def test_every_derived_type_refuses_a_publish_without_inputs(store):
    from bridge.store.spec import SPECS

    derived = [s for s in SPECS.values() if s.derived]
    names = {s.artifact_type for s in derived}
    assert {"experiment_trades", "experiment_fills", "experiment_metrics", "experiment_equity_curve",
            "experiment_diagnostics", "coverage_summary", "coverage_gaps", "alert_forward_coverage"} <= names
    for spec in derived:
        with pytest.raises(ValidationFailed) as info:
            store.publish(spec.artifact_type, spec.schema_version, "k=v", [], writer_name="w", writer_version="1")
        assert info.value.data["rule"] == "derived_requires_inputs", spec.artifact_type
    assert store.connect().execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0
