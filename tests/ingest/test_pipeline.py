"""Telegram export → artifacts in a real lake: report, quarantine, lineage, idempotency,
overlapping exports, canonical alerts, provenance, cancellation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bridge.errors import Cancelled, InvalidInput
from bridge.ingest.normalize import alert_id_for
from bridge.ingest.pipeline import canonical_alerts, ingest_telegram
from bridge.ingest.provenance import CodeVersion
from bridge.progress import Job
from tests.ingest.builder import (
    BAD_CHECKSUM, BONK, JUP, LOOKALIKES, PEPE_ETH, T0, USDC_BASE, USDC_SOL, WSOL, account, channel_post, chat, ent,
    new_message, service, single_chat, write,
)

CODE = CodeVersion("a" * 40, False)


def calls_channel(ids=range(1, 9)):
    """A channel: calls in code entities, links, buttons; chatter; a service message."""
    posts = {
        1: channel_post(1, ["🚀 ", ent("code", BONK)]),
        2: channel_post(2, "gm"),
        3: channel_post(3, ["chart ", ent("text_link", "dex", href=f"https://dexscreener.com/base/{USDC_BASE}")]),
        4: service(4),
        5: channel_post(5, "two: ", inline_bot_buttons=[[{"type": "url", "text": "Buy",
                                                            "url": f"https://pump.fun/coin/{WSOL}"}]]),
        6: channel_post(6, f"lookalike {LOOKALIKES[0]} and bad {BAD_CHECKSUM}"),
        7: channel_post(7, ["again ", ent("code", BONK)], edited_at=T0 + timedelta(hours=3)),
        8: channel_post(8, [f"eth {PEPE_ETH} + ", ent("code", JUP)], forwarded_from="Whales"),
    }
    for i in ids:
        if i not in posts:
            posts[i] = channel_post(i, [f"call #{i} ", ent("code", USDC_SOL)] if i % 2 else f"chatter {i}")
    return chat(777, [posts[i] for i in ids], name="Alpha Calls", type_="public_channel")


def account_export():
    return account(
        [calls_channel(),
         chat(555, [new_message(1, f"old call {USDC_SOL}", old=True), new_message(2, "lol", old=True)],
              name="Old Group", type_="private_group"),
         chat(9, [new_message(1, "dinner at 8?"), new_message(2, "ok")], name="Bob", type_="personal_chat")],
        left=[chat(321, [new_message(1, ["x ", ent("code", BONK)])], name="Left", type_="private_supergroup")],
    )


def test_account_export_report_and_artifacts(store, tmp_path):
    path = write(tmp_path / "result.json", account_export())
    rep = ingest_telegram(store, path, code=CODE)
    assert rep.messages_read == 8 + 2 + 2 + 1
    assert rep.alerts == 7  # channel: BONK x2 messages, USDC_BASE, WSOL, PEPE, JUP; left chat: BONK
    assert rep.quarantined == {"wrong_length": 1, "bad_evm_checksum": 1, "missing_utc_time": 1}
    assert rep.skipped == {"service": 1, "no_candidates": 4, "chat_without_candidates": 1}
    by_chat = {c.chat_id: c for c in rep.chats}
    assert by_chat["9"].skipped == "chat_without_candidates" and by_chat["9"].alerts_artifact_id is None
    ch = by_chat["777"]
    assert ch.logical_key == "source=telegram/chat=777/from=20240301T090100Z/to=20240301T090800Z"
    alerts = store.read_table(ch.alerts_artifact_id).to_pylist()
    assert {(a["token_address"], a["found_in"], a["chain"]) for a in alerts} == {
        (BONK, "code", "solana"), (USDC_BASE.lower(), "link", "base"), (WSOL, "button", "solana"),
        (PEPE_ETH.lower(), "text", "ethereum"), (JUP, "code", "solana")}
    assert len(alerts) == 6
    # lineage: alerts and quarantine both derive from the chat's source record
    raw = store.get(ch.source_artifact_id)
    assert raw.artifact_type == "ingest_sources" and store.read_table(raw.artifact_id).column("record_count").to_pylist() == [8]
    assert store.get(ch.alerts_artifact_id).input_artifact_ids == [raw.artifact_id]
    assert store.get(ch.quarantine_artifact_id).input_artifact_ids == [raw.artifact_id]
    q = store.read_table(ch.quarantine_artifact_id).to_pylist()
    assert {(r["reason"], r["token_candidate"]) for r in q} == {("wrong_length", LOOKALIKES[0]),
                                                               ("bad_evm_checksum", BAD_CHECKSUM)}
    old = by_chat["555"]
    assert old.logical_key == "source=telegram/chat=555/from=msg1/to=msg2" and old.alerts_published == 0
    assert by_chat["321"].section == "left_chats"
    # staging is cleaned up
    assert list((store.lake.staging / "alerts_v1_shards").iterdir()) == []


def test_reingest_publishes_nothing_new(store, tmp_path):
    path = write(tmp_path / "result.json", account_export())
    first = ingest_telegram(store, path, code=CODE)
    n = store.connect().execute("SELECT count(*) FROM artifacts").fetchone()[0]
    again = ingest_telegram(store, path, code=CODE)
    assert again.new_artifact_ids == [] and again.artifact_ids == first.artifact_ids
    assert again.alerts == 0
    assert store.connect().execute("SELECT count(*) FROM artifacts").fetchone()[0] == n


def test_overlapping_newer_export_publishes_only_new_alerts(store, tmp_path):
    a = write(tmp_path / "a.json", single_chat(777, calls_channel(range(1, 12))["messages"]))
    b = write(tmp_path / "b.json", single_chat(777, calls_channel(range(6, 16))["messages"]))
    ra = ingest_telegram(store, a, code=CODE)
    rb = ingest_telegram(store, b, code=CODE)
    [ca], [cb] = ra.chats, rb.chats
    assert ca.logical_key != cb.logical_key
    new_b = store.read_table(cb.alerts_artifact_id).column("message_id").to_pylist()
    assert sorted(new_b) == [13, 15]  # 6..11 were in export a
    assert rb.duplicates["already_published"] == cb.alerts_found - 2
    canon = canonical_alerts(store, chat_id="777")
    ids = canon.column("alert_id").to_pylist()
    assert len(ids) == len(set(ids)) == ca.alerts_published + 2
    assert alert_id_for("777", 15, USDC_SOL) in ids
    # re-running either export changes nothing
    for p in (a, b):
        assert ingest_telegram(store, p, code=CODE).new_artifact_ids == []
    assert canonical_alerts(store, chat_id="777").equals(canon)


def test_canonical_alerts_filters_by_chat_and_sorts(store, tmp_path):
    ingest_telegram(store, write(tmp_path / "r.json", account_export()), code=CODE)
    everything = canonical_alerts(store)
    assert everything.num_rows == 7
    assert set(canonical_alerts(store, "321").column("token_address").to_pylist()) == {BONK}
    assert canonical_alerts(store, "nope").num_rows == 0
    ts = everything.column("alert_ts").to_pylist()
    assert ts == sorted(ts)


def test_provenance_from_git_in_sidecar_and_tags(store, tmp_path, fp):
    fp.register(["git", "rev-parse", "HEAD"], stdout="b" * 40 + "\n")
    fp.register(["git", "status", "--porcelain"], stdout=" M bridge/ingest/pipeline.py\n")
    path = write(tmp_path / "r.json", single_chat(777, calls_channel(range(1, 3))["messages"]))
    rep = ingest_telegram(store, path)
    art = store.get(rep.chats[0].alerts_artifact_id)
    assert art.tags["git_commit"] == ["b" * 40] and art.tags["git_dirty"] == ["true"]
    assert art.tags["export_sha256"] == [rep.sha256] and art.tags["export_path"] == [str(path.resolve())]
    side = json.loads(open(art.path_sidecar, encoding="utf-8").read())
    assert side["git_commit"] == "b" * 40 and side["git_dirty"] is True
    assert side["writer_name"] == "bridge.ingest" and side["params"]["export_sha256"] == rep.sha256
    import hashlib
    assert rep.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_provenance_outside_git(store, tmp_path, fp):
    # the ingest's own code version, then the store's provenance of the writer's directory
    fp.register(["git", "rev-parse", "HEAD"], returncode=128, stderr="fatal: not a git repository\n", occurrences=2)
    rep = ingest_telegram(store, write(tmp_path / "r.json", single_chat(777, [channel_post(1, ["x", ent("code", BONK)])])))
    assert store.get(rep.artifact_ids[0]).tags["git_commit"] == ["unknown"]


def test_cancel_during_parse_publishes_nothing(store, tmp_path):
    path = write(tmp_path / "r.json", account_export())
    job = Job(lambda done, total, msg: job.cancel(), min_interval=0)
    with pytest.raises(Cancelled):
        ingest_telegram(store, path, job=job, code=CODE)
    assert store.connect().execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0
    assert list((store.lake.staging / "alerts_v1_shards").iterdir()) == []


def test_missing_file_and_bad_tz(store, tmp_path):
    with pytest.raises(InvalidInput, match="not found"):
        ingest_telegram(store, tmp_path / "nope.json")
    with pytest.raises(InvalidInput, match="time zone"):
        ingest_telegram(store, write(tmp_path / "r.json", chat(1, [])), assume_tz="Nowhere/Land")


def test_assume_tz_recovers_old_export(store, tmp_path):
    path = write(tmp_path / "old.json", chat(555, [new_message(1, f"old call {USDC_SOL}", old=True)], type_="private_group"))
    rep = ingest_telegram(store, path, assume_tz="+02:00", code=CODE)
    [c] = rep.chats
    assert c.logical_key == "source=telegram/chat=555/from=20240301T090100Z/to=20240301T090100Z"
    assert rep.alerts == 1 and rep.quarantined == {}


def test_truncated_account_export_publishes_nothing(store, tmp_path):
    text = json.dumps(account_export())
    path = tmp_path / "cut.json"
    path.write_text(text[: int(len(text) * 0.8)], encoding="utf-8")  # the first chats are complete
    with pytest.raises(InvalidInput, match=r"truncated JSON at byte \d+"):
        ingest_telegram(store, path, code=CODE)
    assert store.connect().execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0
    assert list((store.lake.staging / "alerts_v1_shards").iterdir()) == []


def test_account_chat_without_id_is_counted_not_fatal(store, tmp_path):
    odd = chat(0, [new_message(1, ["x ", ent("code", BONK)]), new_message(2, "y")], name="Saved")
    del odd["id"]
    exp = account([odd, chat(321, [new_message(1, ["x ", ent("code", JUP)])], type_="private_supergroup")])
    rep = ingest_telegram(store, write(tmp_path / "r.json", exp), code=CODE)
    assert rep.messages_read == 3 and rep.alerts == 1
    assert rep.skipped == {"no_chat_id": 2, "chat_without_id": 1}  # its messages; the chat
    assert [c.skipped for c in rep.chats] == ["chat_without_id", None]


def test_stale_staging_runs_are_removed_fresh_ones_kept(store, tmp_path):
    import os
    import time as _time

    root = store.lake.staging / "alerts_v1_shards"
    old, fresh = root / "dead-run", root / "live-run"
    for d in (old, fresh):
        (d / "chat-00000").mkdir(parents=True)
        (d / "chat-00000" / "alerts-00000.parquet").write_bytes(b"x")
    two_days = _time.time() - 2 * 86400
    for p in (old, old / "chat-00000", old / "chat-00000" / "alerts-00000.parquet"):
        os.utime(p, (two_days, two_days))
    ingest_telegram(store, write(tmp_path / "r.json", single_chat(777, [channel_post(1, ["x", ent("code", BONK)])])),
                    code=CODE)
    assert not old.exists() and fresh.exists()
