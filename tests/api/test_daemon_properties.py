"""Properties of the real daemon under a random mix of publishes, cancels, lookups and bad
params, alone or in batches: every request gets exactly one reply, and a publish answered
-32800 registered nothing while one answered with a result is in the manifest."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.daemon import Daemon

_ids = itertools.count()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("props")
    d = Daemon(root / "lake", cwd=root)
    yield d
    assert d.close() == 0


def rows(n: int, tag: str) -> list[dict]:
    return [{"run_id": tag, "metric_name": f"m{i}", "metric_value": float(i), "metric_unit": None,
             "computed_at": "2026-01-01T00:00:00Z"} for i in range(n)]


def message(kind: str, rid: str, n: int) -> dict:
    if kind == "publish":
        params = {"artifactType": "run_metrics", "schemaVersion": 1, "logicalKey": f"prop/{rid}",
                  "dataFrame": rows(n, rid), "writerName": "prop", "writerVersion": "1"}
        return {"jsonrpc": "2.0", "id": rid, "method": "publishDataFrame", "params": params}
    if kind == "get":
        return {"jsonrpc": "2.0", "id": rid, "method": "getArtifact", "params": {"artifactId": "0" * 32}}
    return {"jsonrpc": "2.0", "id": rid, "method": "listArtifacts", "params": {"limit": "x"}}


plans = st.lists(st.tuples(st.sampled_from(["publish", "publish", "cancel", "get", "bad"]),
                           st.integers(1, 2000), st.booleans()), min_size=4, max_size=16)


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(plans)
def test_one_reply_per_request_and_a_cancelled_publish_registers_nothing(daemon, plan):
    batched: dict[str, bool] = {}
    publishes: list[str] = []
    for kind, n, in_batch in plan:
        if kind == "cancel":
            if publishes:
                daemon.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": publishes[n % len(publishes)]}})
            continue
        rid = f"r{next(_ids)}"
        msg = message(kind, rid, n)
        daemon.send_raw((json.dumps([msg]) if in_batch else json.dumps(msg)).encode() + b"\n")
        batched[rid] = in_batch
        if kind == "publish":
            publishes.append(rid)
    replies = {}
    for rid, in_batch in batched.items():
        reply = daemon.reply((rid,) if in_batch else rid, timeout=60)
        if in_batch:
            assert isinstance(reply, list) and len(reply) == 1
            reply = reply[0]
        assert reply["id"] == rid
        replies[rid] = reply
    for rid in publishes:
        found = daemon.result("findByLogicalKey", {"artifactType": "run_metrics", "logicalKey": f"prop/{rid}"})
        if "error" in replies[rid]:
            assert replies[rid]["error"]["code"] == -32800, replies[rid]
            assert found == []
        else:
            assert [a["artifactId"] for a in found] == [replies[rid]["result"]["artifactId"]]
    sentinel = daemon.call("listArtifacts", {"limit": 1}, timeout=30)  # later than any stray reply
    assert "result" in sentinel
    stray = [k for k in daemon._pending if k in batched or (isinstance(k, tuple) and k[0] in batched)]
    assert not stray, stray  # no request was answered twice
