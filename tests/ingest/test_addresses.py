"""Candidate extraction, chain inference and validation reasons."""

import pytest

from bridge.ingest.addresses import chain_from_url, chain_from_words, find_in_text, find_in_url, validate
from tests.ingest.builder import BAD_CHECKSUM, BONK, LOOKALIKES, PEPE_ETH, TRON, USDC_BASE


@pytest.mark.parametrize("url,chain", [
    (f"https://dexscreener.com/solana/{BONK}", "solana"),
    (f"https://dexscreener.com/base/{USDC_BASE}", "base"),
    (f"https://birdeye.so/token/{USDC_BASE}?chain=bsc", "bsc"),
    (f"https://pump.fun/coin/{BONK}", "solana"),
    (f"https://etherscan.io/token/{PEPE_ETH}", "ethereum"),
    (f"https://basescan.org/address/{USDC_BASE}", "base"),
    (f"https://bscscan.com/token/{USDC_BASE}", "bsc"),
    (f"https://gmgn.ai/sol/token/{BONK}", "solana"),
    (f"https://www.dextools.io/app/en/ether/pair-explorer/{PEPE_ETH}", None),
    ("https://example.com/solana/abc", None),
])
def test_chain_from_url(url, chain):
    assert chain_from_url(url) == chain


def test_chain_from_words_needs_exactly_one_chain():
    assert chain_from_words("new ERC20 gem") == "ethereum"
    assert chain_from_words("launching on Base today") == "base"
    assert chain_from_words("the base of the pyramid") is None
    assert chain_from_words("ethereum and bsc both") is None


@pytest.mark.parametrize("value,reason", [
    (BONK, None), (PEPE_ETH, None), (PEPE_ETH.lower(), None), (PEPE_ETH.upper().replace("0X", "0x"), None),
    (BAD_CHECKSUM, "bad_evm_checksum"), (TRON, "wrong_length"), (LOOKALIKES[0], "wrong_length"),
    ("0x" + "a" * 39, "wrong_length"), ("DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB26O", "undecodable_base58"),
])
def test_validate_reasons(value, reason):
    assert validate(value).reason == reason


def test_plain_text_finds_strict_shapes_only_code_finds_loose():
    assert find_in_text("look at DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB26O now", "text") == []
    [c] = find_in_text("DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB26O", "code")
    assert c.strong and validate(c.value).reason == "undecodable_base58"
    # a 64-hex transaction hash is not an address
    assert find_in_text("tx 0x" + "ab" * 32, "text") == []


def test_url_candidates_carry_the_link_chain():
    [c] = find_in_url(f"https://dexscreener.com/bsc/{USDC_BASE.lower()}", "button")
    assert (c.found_in, c.chain_hint) == ("button", "bsc")
