"""Builds Telegram Desktop JSON exports in the real format for the ingestion tests.

`new_message(...)` writes the current format (date_unixtime as a string, from_id "user123",
`text` as a string or an entity array plus `text_entities`); `old=True` writes the pre-2021 shape
(no date_unixtime, integer from_id, no text_entities). `single_chat()` and `account()` give the
two export shapes; `write_large_export()` streams a big export to disk without holding it.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bridge.ingest.codecs import B58_ALPHABET, b58decode, eip55_checksum

# real mints / contracts
USDC_SOL = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
BONK = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"
WSOL = "So11111111111111111111111111111111111111112"
JUP = "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"
PEPE_ETH = "0x6982508145454Ce325dDbE47a25d4ec3d2311933"
USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
# a mixed-case address with its last letter's case flipped: fails EIP-55
BAD_CHECKSUM = "0x6982508145454Ce325dDbE47a25d4eC3d2311933"
# long words the base58 regex matches that do not decode to 32 bytes
LOOKALIKES = ["Thequickbrownfoxjumpsoverthedogs", "Thisisnotacontractjustrandomtextok"]
# TRON address: base58, 34 chars, decodes to 25 bytes
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
LOCAL_OFFSET = timedelta(hours=2)  # the "exporting machine" runs at UTC+2


def b58encode(raw: bytes) -> str:
    num = int.from_bytes(raw, "big")
    out = ""
    while num:
        num, rem = divmod(num, 58)
        out = B58_ALPHABET[rem] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def random_solana(rng: random.Random) -> str:
    return b58encode(bytes(rng.getrandbits(8) for _ in range(32)))


def random_evm(rng: random.Random) -> str:
    return eip55_checksum("0x" + bytes(rng.getrandbits(8) for _ in range(20)).hex())


def plain(text: str) -> dict:
    return {"type": "plain", "text": text}


def ent(kind: str, text: str, **more: Any) -> dict:
    return {"type": kind, "text": text, **more}


def new_message(mid: int, parts: list[Any] | str, *, at: datetime | None = None, old: bool = False,
                sender: str | None = "Alice", sender_id: int = 1001, **extra: Any) -> dict:
    """One message. `parts`: a string or a list of strings/entity dicts (as Telegram writes `text`)."""
    at = at or T0 + timedelta(minutes=mid)
    local = (at + LOCAL_OFFSET).replace(tzinfo=None).isoformat(timespec="seconds")
    msg: dict[str, Any] = {"id": mid, "type": "message", "date": local}
    if not old:
        msg["date_unixtime"] = str(int(at.timestamp()))
    if "edited_at" in extra:
        edited = extra.pop("edited_at")
        msg["edited"] = (edited + LOCAL_OFFSET).replace(tzinfo=None).isoformat(timespec="seconds")
        if not old:
            msg["edited_unixtime"] = str(int(edited.timestamp()))
    msg["from"] = sender
    msg["from_id"] = sender_id if old else f"user{sender_id}"
    msg.update(extra)
    if isinstance(parts, str):
        msg["text"] = parts
        runs = [plain(parts)]
    else:
        runs = [plain(p) if isinstance(p, str) else p for p in parts]
        msg["text"] = parts if any(isinstance(p, dict) for p in parts) else "".join(parts)
    if not old:
        msg["text_entities"] = runs
    return msg


def channel_post(mid: int, parts, *, channel: str = "Alpha Calls", channel_id: int = 777, author: str | None = "Max",
                 **kw: Any) -> dict:
    msg = new_message(mid, parts, sender=channel, **kw)
    msg["from_id"] = f"channel{channel_id}"
    if author is not None:
        msg["author"] = author
    return msg


def service(mid: int, action: str = "pin_message", at: datetime | None = None, old: bool = False) -> dict:
    msg = new_message(mid, "", at=at, old=old)
    for k in ("from", "from_id", "text_entities"):
        msg.pop(k, None)
    msg.update({"type": "service", "actor": "Alice", "actor_id": "user1001", "action": action, "text": ""})
    return msg


def chat(chat_id: int, messages: list[dict], *, name: str = "Alpha Calls", type_: str = "public_channel") -> dict:
    return {"name": name, "type": type_, "id": chat_id, "messages": messages}


def single_chat(chat_id: int, messages: list[dict], **kw: Any) -> dict:
    return chat(chat_id, messages, **kw)


def account(chats: list[dict], left: list[dict] | None = None) -> dict:
    """A whole-account export: account sections around chats.list and left_chats.list."""
    return {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 1001, "first_name": "Alice", "phone_number": "+000", "bio": ""},
        "contacts": {"about": "contacts", "list": [{"user_id": 5, "first_name": "Bob", "date": "2020-01-01T00:00:00"}]},
        "frequent_contacts": {"about": "x", "list": [{"id": 5, "category": "people", "name": "Bob", "rating": 1.5}]},
        "chats": {"about": "chats", "list": chats},
        "left_chats": {"about": "left", "list": left or []},
        "other_data": {"about": "x", "changes_log": []},
    }


def write(path: Path, export: dict) -> Path:
    path.write_text(json.dumps(export, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_large_export(path: Path, n_messages: int, *, chat_id: int = 424242, seed: int = 7,
                       alert_every: int = 10) -> dict:
    """Stream a single-chat export of `n_messages` messages to `path`; every `alert_every`-th message
    names a random Solana mint in a code entity. Returns the expected counts."""
    rng = random.Random(seed)
    expected = {"messages": n_messages, "alerts": 0}
    with path.open("w", encoding="utf-8") as f:
        f.write('{\n "name": "Big Calls",\n "type": "public_supergroup",\n "id": %d,\n "messages": [\n' % chat_id)
        for i in range(1, n_messages + 1):
            if i % alert_every == 0:
                msg = new_message(i, ["new call ", ent("code", random_solana(rng)), " lfg"], at=T0 + timedelta(seconds=i))
                expected["alerts"] += 1
            else:
                msg = new_message(i, f"gm frens, message number {i} about nothing in particular",
                                  at=T0 + timedelta(seconds=i))
            f.write(("  " if i == 1 else ",\n  ") + json.dumps(msg, ensure_ascii=False))
        f.write("\n ]\n}\n")
    return expected


def assert_lookalikes() -> None:
    for word in LOOKALIKES:
        assert all(c in B58_ALPHABET for c in word) and 32 <= len(word) <= 44, word
        assert len(b58decode(word)) != 32, word
