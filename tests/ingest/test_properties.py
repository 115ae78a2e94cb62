"""Invariants (hypothesis): every candidate lands in alerts or quarantine; splitting a chat's
history into overlapping exports, ingested in any order, gives the same canonical alerts as one
export of the whole history."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.ingest.addresses import validate
from bridge.ingest.normalize import ChatInfo, normalise_message
from bridge.ingest.pipeline import canonical_alerts, ingest_telegram
from bridge.ingest.provenance import CodeVersion
from bridge.store import Store
from tests.ingest.builder import (
    BAD_CHECKSUM, BONK, JUP, LOOKALIKES, PEPE_ETH, USDC_BASE, channel_post, ent, random_evm, random_solana,
    single_chat, write,
)

POOL = [BONK, JUP, PEPE_ETH, USDC_BASE, BAD_CHECKSUM, *LOOKALIKES, "gm", "wagmi", "🚀"]
CHAT = ChatInfo("777", "Alpha", "public_channel")


def build_message(mid: int, picks: list[int], kinds: list[int]) -> dict:
    parts = []
    for p, k in zip(picks, kinds):
        word = POOL[p % len(POOL)]
        if k == 0:
            parts.append(f" {word} ")
        elif k == 1:
            parts.append(ent("code", word))
        else:
            parts.append(ent("text_link", "link", href=f"https://dexscreener.com/solana/{word}"))
    return channel_post(mid, parts or "nothing")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=6), st.lists(st.integers(0, 2), min_size=6, max_size=6))
def test_every_candidate_is_an_alert_or_quarantined(picks, kinds):
    msg = build_message(1, picks, kinds)
    res = normalise_message(msg, CHAT)
    words = {POOL[p % len(POOL)] for p in picks}
    candidates = {w for w in words if len(w) >= 32}
    valid = {(w.lower() if w.startswith("0x") else w) for w in candidates if validate(w).reason is None}
    invalid = {w for w in candidates if validate(w).reason is not None}
    assert {a["token_address"] for a in res.alerts} == valid
    assert {q["token_candidate"] for q in res.quarantine} == invalid
    assert len({a["alert_id"] for a in res.alerts}) == len(res.alerts)
    assert normalise_message(msg, CHAT) == res  # deterministic


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10_000), st.integers(5, 30), st.data())
def test_overlapping_exports_in_any_order_equal_one_full_export(tmp_path_factory, seed, n, data):
    rng = random.Random(seed)
    tokens = [random_solana(rng) for _ in range(4)] + [random_evm(rng) for _ in range(2)]
    msgs = [channel_post(i, ["call ", ent("code", rng.choice(tokens))] if rng.random() < 0.6 else "chatter")
            for i in range(1, n + 1)]
    a_end = data.draw(st.integers(1, n))
    b_start = data.draw(st.integers(1, a_end))
    parts = [msgs[:a_end], msgs[b_start - 1:]]
    if data.draw(st.booleans()):
        parts.reverse()
    d = tmp_path_factory.mktemp("prop")
    code = CodeVersion(None, False)
    full_store, split_store = Store(d / "full"), Store(d / "split")
    ingest_telegram(full_store, write(d / "full.json", single_chat(777, msgs)), code=code)
    for i, part in enumerate(parts):
        ingest_telegram(split_store, write(d / f"p{i}.json", single_chat(777, part)), code=code)
    for i, part in enumerate(parts):  # re-ingesting changes nothing
        assert ingest_telegram(split_store, d / f"p{i}.json", code=code).new_artifact_ids == []
    assert canonical_alerts(split_store, "777").equals(canonical_alerts(full_store, "777"))
    full_store.close()
    split_store.close()
