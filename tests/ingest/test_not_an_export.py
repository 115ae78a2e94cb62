"""Input that is not a Telegram export, or not whole JSON: refused with one line naming the file
(and, for broken JSON, the byte offset); nothing is published."""

from __future__ import annotations

import json
import os

import pytest

from bridge.errors import InvalidInput
from bridge.ingest import ingest_telegram
from bridge.ingest.telegram import error_offset


@pytest.mark.parametrize(("body", "expect"), [
    (b"[1,2,3]", "the file holds an array"),
    (b"{}", "has no `messages` or `chats`"),
    (b'{"name": "x", "about": 3}', "has no `messages` or `chats`"),
    (b'"text"', "a single string value"),
    (b"", "truncated JSON at byte 0"),
])
def test_not_an_export_is_refused_naming_the_file(store, tmp_path, body, expect):
    path = tmp_path / "odd.json"
    path.write_bytes(body)
    with pytest.raises(InvalidInput) as info:
        ingest_telegram(store, path)
    msg = str(info.value)
    assert str(path) in msg and expect in msg and "\n" not in msg
    assert "result.json" in msg  # says what was expected
    assert store.connect().execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0


def test_truncated_and_binary_files_name_the_byte_offset(store, tmp_path):
    good = json.dumps({"name": "c", "type": "public_channel", "id": 1,
                       "messages": [{"id": i, "type": "message", "date": "2026-01-01T00:00:00",
                                     "text": "x" * 50} for i in range(3000)]}).encode()
    cut = tmp_path / "cut.json"
    cut.write_bytes(good[:150_000])  # past the first 64 KiB chunk
    with pytest.raises(InvalidInput, match=rf"truncated JSON at byte 150000 ") as info:
        ingest_telegram(store, cut)
    assert "\n" not in str(info.value) and info.value.data["offset"] == 150_000
    bad_at = 100_001
    broken = tmp_path / "broken.json"
    broken.write_bytes(good[:bad_at] + b"\x00\xff" + good[bad_at + 2:])
    with pytest.raises(InvalidInput, match=rf"not valid JSON at byte {bad_at} ") as info:
        ingest_telegram(store, broken)
    assert "\n" not in str(info.value) and "b'" not in str(info.value)
    binary = tmp_path / "blob.json"
    binary.write_bytes(os.urandom(64) + b"\xff")
    binary.write_bytes(b"\x81" + binary.read_bytes())
    with pytest.raises(InvalidInput, match=r"blob.json: not valid JSON at byte 0 ") as info:
        ingest_telegram(store, binary)
    assert "\n" not in str(info.value) and "b'" not in str(info.value)
    assert error_offset(tmp_path / "missing.json") is None


def test_account_export_with_no_chats_is_still_fine(store, tmp_path):
    path = tmp_path / "empty_account.json"
    path.write_text(json.dumps({"about": "x", "chats": {"about": "y", "list": []}}))
    rep = ingest_telegram(store, path)
    assert rep.skipped == {"no_chats_in_file": 1} and rep.alerts == 0
