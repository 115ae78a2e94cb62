"""One Telegram message → candidate alerts (valid rows and quarantined rows).

Rules (docs/ingest.md has the full list):
- alert_id = sha256("<chat_id>|<message_id>|<token_address>").hexdigest()[:32];
  EVM addresses are stored lower-case (the checksum is checked on the text as written),
  Solana addresses as written (base58 is case-sensitive).
- alert_ts: `date_unixtime` (UTC epoch seconds, a string). Without it (old exports) the local
  `date` is read in the caller's `assume_tz` when given; otherwise every candidate of the
  message is quarantined with reason `missing_utc_time`.
- One alert per token per message; where it was found: code > text > link > button.
- Caller: `from` / `from_id` (an int in old exports, kept as its decimal string); in channels
  the caller is the channel itself and `author` is the post's signature.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from bridge.ingest.addresses import (
    FOUND_IN_ORDER,
    Candidate,
    find_in_text,
    find_in_url,
    find_urls,
    resolve_chain,
    validate,
)

__all__ = ["ChatInfo", "Normalised", "alert_id_for", "message_text", "normalise_message", "parse_tz"]

CHANNEL_TYPES = {"private_channel", "public_channel"}
_CODE = {"code", "pre"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ChatInfo:
    chat_id: str
    chat_name: str | None
    chat_type: str | None


@dataclass
class Normalised:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None            # reason when the message yields no candidate
    duplicates: Counter = field(default_factory=Counter)
    ts_micros: int | None = None          # the message's UTC time, when known


def alert_id_for(chat_id: str, message_id: int | str, token_address: str) -> str:
    return hashlib.sha256(f"{chat_id}|{message_id}|{token_address}".encode("utf-8")).hexdigest()[:32]


def parse_tz(spec: str | None) -> tzinfo | None:
    """`UTC`, `+03:00`/`-0530`, or an IANA zone name (Europe/Berlin).

    Raises:
        ValueError: none of those.
    """
    if not spec:
        return None
    s = spec.strip()
    if s.upper() in ("UTC", "Z"):
        return timezone.utc
    if s[0] in "+-":
        digits = s[1:].replace(":", "")
        if len(digits) == 4 and digits.isdigit():
            delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            return timezone(delta if s[0] == "+" else -delta)
        raise ValueError(f"bad UTC offset {spec!r}; use +HH:MM")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {spec!r}") from exc


def entities(msg: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's text as entity objects, whatever the export's format."""
    ents = msg.get("text_entities")
    if isinstance(ents, list):
        return [e for e in ents if isinstance(e, dict)]
    text = msg.get("text")
    if isinstance(text, list):
        return [e if isinstance(e, dict) else {"type": "plain", "text": str(e)} for e in text]
    return [{"type": "plain", "text": text if isinstance(text, str) else ""}]


def message_text(ents: list[dict[str, Any]]) -> str:
    return "".join(str(e.get("text") or "") for e in ents)


def to_micros(value: Any) -> int:
    """`date_unixtime`-style value (string or number of epoch seconds) → epoch microseconds.

    Raises:
        ValueError: not a whole number of seconds.
    """
    if isinstance(value, bool):
        raise ValueError(f"not epoch seconds: {value!r}")
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            raise ValueError(f"not epoch seconds: {value!r}")
    return int(value) * 1_000_000


def local_to_micros(local: Any, tz: tzinfo) -> int:
    """Telegram's local `date` ("2024-01-31T12:00:00") read in `tz` → UTC epoch microseconds."""
    dt = datetime.fromisoformat(str(local)).replace(tzinfo=tz)
    return (dt - _EPOCH) // timedelta(microseconds=1)


def message_time(msg: dict[str, Any], assume_tz: tzinfo | None, key: str = "date") -> tuple[int | None, str | None]:
    """(UTC micros, None) or (None, reason code) for `date` or `edited`."""
    unix = msg.get(f"{key}_unixtime")
    if unix is not None:
        try:
            return to_micros(unix), None
        except ValueError:
            return None, "bad_time"
    if msg.get(key) is None:
        return None, "missing_utc_time"
    if assume_tz is None:
        return None, "missing_utc_time"
    try:
        return local_to_micros(msg[key], assume_tz), None
    except ValueError:
        return None, "bad_time"


def candidates(msg: dict[str, Any], ents: list[dict[str, Any]]) -> tuple[list[Candidate], int]:
    """Every candidate occurrence in text entities and buttons; returns (candidates, occurrences)."""
    found: list[Candidate] = []
    for e in ents:
        kind, text = e.get("type"), str(e.get("text") or "")
        if kind in _CODE:
            found += find_in_text(text, "code")
        elif kind == "text_link":
            found += find_in_url(str(e.get("href") or ""), "link")
            found += _plain(text)
        elif kind == "link":
            found += find_in_url(text, "link")
        else:
            found += _plain(text)
    for row in msg.get("inline_bot_buttons") or []:
        for button in row if isinstance(row, list) else [row]:
            if isinstance(button, dict):
                for key in ("url", "data"):
                    if isinstance(button.get(key), str):
                        found += find_in_url(button[key], "button")
                found += find_in_text(str(button.get("text") or ""), "button")
    return found, len(found)


def _plain(text: str) -> list[Candidate]:
    """A plain run: URLs in it count as links (old exports have no link entities)."""
    urls = find_urls(text)
    out: list[Candidate] = []
    for url in urls:
        out += find_in_url(url, "link")
        text = text.replace(url, " ")
    return find_in_text(text, "text") + out


def _merge(cands: list[Candidate]) -> tuple[dict[str, list[Candidate]], dict[str, list[Candidate]], dict]:
    """Occurrences validated and grouped: valid ones by canonical address (EVM lower-case),
    invalid ones by the string as written. Returns (valid groups, invalid groups, checks)."""
    checks = {}
    valid: dict[str, list[Candidate]] = {}
    invalid: dict[str, list[Candidate]] = {}
    for c in cands:
        if c.value not in checks:
            checks[c.value] = validate(c.value)
        chk = checks[c.value]
        if chk.reason is None:
            key = chk.address.lower() if chk.kind == "evm" else chk.address
            valid.setdefault(key, []).append(c)
        else:
            invalid.setdefault(c.value, []).append(c)
    return valid, invalid, checks


def _first(occ: list[Candidate]) -> Candidate:
    return min(occ, key=lambda c: FOUND_IN_ORDER.index(c.found_in))


def normalise_message(msg: dict[str, Any], chat: ChatInfo, assume_tz: tzinfo | None = None) -> Normalised:
    """Candidate alerts of one message: valid ones as alerts_v1 rows, the rest as quarantine rows."""
    out = Normalised()
    mtype = msg.get("type", "message")
    ts, time_reason = message_time(msg, assume_tz)
    out.ts_micros = ts
    if mtype != "message":
        out.skipped = mtype if mtype in ("service", "unsupported") else f"type_{mtype}"
        return out
    message_id = msg.get("id")
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        out.skipped = "bad_message_id"
        return out
    ents = entities(msg)
    text = message_text(ents)
    found, occurrences = candidates(msg, ents)
    if not found:
        out.skipped = "no_candidates"
        return out
    valid, invalid, checks = _merge(found)
    if occurrences > len(valid) + len(invalid):
        out.duplicates["repeated_in_message"] += occurrences - len(valid) - len(invalid)
    for value, occ in invalid.items():
        chk = checks[value]
        out.quarantine.append(_q(chat, message_id, ts, value, chk.reason, chk.detail, text))
    if not valid:
        return out
    base = _message_facts(msg, chat, text, assume_tz)
    for address, occ in valid.items():
        if ts is None:
            detail = "no date_unixtime; pass assume_tz to read the local date" if time_reason == "missing_utc_time" \
                else f"unreadable date_unixtime {msg.get('date_unixtime')!r}"
            out.quarantine.append(_q(chat, message_id, None, address, time_reason, detail, text))
            continue
        chain = resolve_chain(checks[occ[0].value].kind, [c.chain_hint for c in occ], text)
        out.alerts.append(dict(base, alert_id=alert_id_for(chat.chat_id, message_id, address), alert_ts=ts,
                               token_address=address, chain=chain, found_in=_first(occ).found_in))
    return out


def _message_facts(msg: dict[str, Any], chat: ChatInfo, text: str, assume_tz: tzinfo | None) -> dict[str, Any]:
    from_id = msg.get("from_id")
    edited_ts, _ = message_time(msg, assume_tz, "edited")
    reply = msg.get("reply_to_message_id")
    return {
        "chat_id": chat.chat_id,
        "chat_name": chat.chat_name,
        "chat_type": chat.chat_type,
        "message_id": int(msg["id"]),
        "caller_name": _str(msg.get("from")),
        "caller_id": None if from_id is None else str(from_id),
        "author_signature": _str(msg.get("author")),
        "is_forwarded": "forwarded_from" in msg or "forwarded_from_id" in msg,
        "forwarded_from": _str(msg.get("forwarded_from")),
        "reply_to_message_id": int(reply) if isinstance(reply, (int, float)) else None,
        "is_edited": "edited" in msg or "edited_unixtime" in msg,
        "edited_ts": edited_ts,
        "text": text,
    }


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _q(chat: ChatInfo, message_id: Any, ts: int | None, token: str, reason: str, detail: str | None,
       text: str) -> dict[str, Any]:
    return {"chat_id": chat.chat_id, "message_id": int(message_id) if isinstance(message_id, (int, float)) else None,
            "alert_ts": ts, "token_candidate": token, "reason": reason, "detail": detail, "text": text}

