"""Message → alerts/quarantine rows, for old and new message formats."""

from datetime import timedelta

import pytest

from bridge.ingest.normalize import ChatInfo, alert_id_for, normalise_message, parse_tz
from tests.ingest.builder import (
    BAD_CHECKSUM, BONK, JUP, LOOKALIKES, PEPE_ETH, T0, USDC_BASE, USDC_SOL, WSOL, channel_post, ent, new_message,
    service,
)

CHAT = ChatInfo("777", "Alpha Calls", "public_channel")
GROUP = ChatInfo("555", "Degen Group", "private_supergroup")


def by_token(res):
    return {a["token_address"]: a for a in res.alerts}


def test_new_format_entity_array_code_entity():
    msg = channel_post(10, ["🚀 new call ", ent("code", BONK), " send it"])
    res = normalise_message(msg, CHAT)
    [a] = res.alerts
    assert a["alert_id"] == alert_id_for("777", 10, BONK)
    assert a["alert_ts"] == int((T0 + timedelta(minutes=10)).timestamp()) * 1_000_000
    assert (a["chain"], a["found_in"], a["caller_name"], a["caller_id"], a["author_signature"]) == \
        ("solana", "code", "Alpha Calls", "channel777", "Max")
    assert a["text"] == f"🚀 new call {BONK} send it"
    assert res.quarantine == [] and res.skipped is None


def test_old_format_without_unixtime_is_quarantined_unless_tz_given():
    msg = new_message(3, f"CA: {USDC_SOL}", old=True)
    assert isinstance(msg["from_id"], int) and "date_unixtime" not in msg and "text_entities" not in msg
    res = normalise_message(msg, GROUP)
    assert res.alerts == []
    [q] = res.quarantine
    assert (q["reason"], q["token_candidate"], q["alert_ts"]) == ("missing_utc_time", USDC_SOL, None)
    res = normalise_message(msg, GROUP, parse_tz("+02:00"))  # the exporting machine's offset
    [a] = res.alerts
    assert a["alert_ts"] == int((T0 + timedelta(minutes=3)).timestamp()) * 1_000_000
    assert a["caller_id"] == "1001" and a["caller_name"] == "Alice"


def test_old_and_new_formats_give_the_same_alert():
    parts = ["buy ", ent("code", JUP), " now"]
    new = normalise_message(new_message(4, parts), GROUP).alerts
    old = normalise_message(new_message(4, parts, old=True), GROUP, parse_tz("+02:00")).alerts
    assert [a["alert_id"] for a in new] == [a["alert_id"] for a in old]
    assert new[0]["alert_ts"] == old[0]["alert_ts"]


def test_several_tokens_one_alert_each_and_repeats_counted():
    msg = new_message(5, [f"two calls {BONK} and ", ent("code", PEPE_ETH), f" (again {BONK}) erc20"])
    res = normalise_message(msg, GROUP)
    toks = by_token(res)
    assert set(toks) == {BONK, PEPE_ETH.lower()}
    assert toks[PEPE_ETH.lower()]["chain"] == "ethereum"  # from the word erc20
    assert res.duplicates["repeated_in_message"] == 1


def test_addresses_only_in_links_and_buttons():
    msg = new_message(6, ["chart ", ent("text_link", "here", href=f"https://dexscreener.com/base/{USDC_BASE}")],
                      inline_bot_buttons=[[{"type": "url", "text": "Buy", "url": f"https://pump.fun/coin/{WSOL}"}]])
    toks = by_token(normalise_message(msg, GROUP))
    assert (toks[USDC_BASE.lower()]["found_in"], toks[USDC_BASE.lower()]["chain"]) == ("link", "base")
    assert (toks[WSOL]["found_in"], toks[WSOL]["chain"]) == ("button", "solana")


def test_plain_url_in_old_string_text_counts_as_link():
    msg = new_message(7, f"see https://etherscan.io/token/{PEPE_ETH}", old=True)
    [a] = normalise_message(msg, GROUP, parse_tz("UTC")).alerts
    assert (a["found_in"], a["chain"]) == ("link", "ethereum")


def test_edited_forwarded_reply_facts():
    edited = T0 + timedelta(hours=1)
    msg = new_message(8, ["fwd ", ent("code", BONK)], edited_at=edited, forwarded_from="Whale Calls",
                      reply_to_message_id=2)
    [a] = normalise_message(msg, GROUP).alerts
    assert a["is_edited"] and a["edited_ts"] == int(edited.timestamp()) * 1_000_000
    assert a["is_forwarded"] and a["forwarded_from"] == "Whale Calls"
    assert a["reply_to_message_id"] == 2


def test_deleted_account_has_null_caller_name():
    msg = new_message(9, ["x ", ent("code", BONK)], sender=None)
    [a] = normalise_message(msg, GROUP).alerts
    assert a["caller_name"] is None and a["caller_id"] == "user1001"


def test_lookalikes_bad_checksum_and_chatter():
    msg = new_message(11, f"{LOOKALIKES[0]} {LOOKALIKES[1]} and {BAD_CHECKSUM}")
    res = normalise_message(msg, GROUP)
    assert res.alerts == []
    assert sorted(q["reason"] for q in res.quarantine) == ["bad_evm_checksum", "wrong_length", "wrong_length"]
    chatter = normalise_message(new_message(12, "gm, anyone watching the game tonight?"), GROUP)
    assert (chatter.alerts, chatter.quarantine, chatter.skipped) == ([], [], "no_candidates")


def test_service_message_skipped():
    res = normalise_message(service(13), GROUP)
    assert res.skipped == "service" and res.ts_micros is not None


def test_parse_tz():
    assert parse_tz("Europe/Berlin") is not None
    with pytest.raises(ValueError):
        parse_tz("Mars/Olympus")


def test_message_without_integer_id_is_counted_not_crashing():
    msg = new_message(1, ["x ", ent("code", BONK)])
    msg["id"] = "oops"
    assert normalise_message(msg, GROUP).skipped == "bad_message_id"
