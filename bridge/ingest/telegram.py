"""Streaming reader of Telegram Desktop JSON exports (`result.json`), both shapes:

- single chat: the root object is the chat (`name`, `type`, `id`, `messages`: [...]);
- whole account: `chats.list[]` and `left_chats.list[]` hold such chats; every other section
  (personal_information, contacts, frequent_contacts, sessions, ...) is skipped.

The file is read with ijson's C backend (yajl2_c) event by event; inside a `messages` array the
events go to ijson's C items coroutine, which hands over one finished message object at a time,
so memory stays flat whatever the export's size. Telegram writes a chat's
`name`, `type` and `id` before its `messages`. A single-chat root whose `messages` come before
its `id` is refused with a clear error; a chat of an account export without an `id` there is
yielded with no `id` in its meta (the pipeline counts it as skipped `chat_without_id`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from bridge.errors import InvalidInput

__all__ = ["ChatEnd", "ChatStart", "Message", "iter_export"]

log = logging.getLogger(__name__)

try:
    _IJSON = ijson.get_backend("yajl2_c")
except Exception:  # pragma: no cover - the C backend ships with ijson wheels
    log.warning("ijson C backend unavailable; falling back to %s", ijson.backend)
    _IJSON = ijson

# prefix of a chat object -> section name (for the report)
_CHAT_PREFIXES = {"chats.list.item": "chats", "left_chats.list.item": "left_chats"}
_META_KEYS = ("name", "type", "id")


@dataclass
class ChatStart:
    section: str
    meta: dict[str, Any] = field(default_factory=dict)  # name, type, id as found


@dataclass
class Message:
    chat: ChatStart
    obj: dict[str, Any]


@dataclass
class ChatEnd:
    chat: ChatStart


def iter_export(stream: BinaryIO, *, path: str = "<stream>") -> Iterator[ChatStart | Message | ChatEnd]:
    """Yield ChatStart, then each Message, then ChatEnd, for every chat in the export.

    An account export whose `chats` list is empty yields nothing (the caller reports it).

    Raises:
        InvalidInput: not JSON, or truncated (one line naming the file and the byte offset); a
            root that is not an object, or an object with neither `messages` (one chat) nor
            `chats`/`left_chats` (whole account); a single-chat root without an `id` before its
            `messages`.
    """
    root_meta: dict[str, Any] = {}
    chat: ChatStart | None = None
    chat_prefix = ""
    started = root_chat = False
    index = {"chats": -1, "left_chats": -1}
    sink = _Sink()
    coro: Any = None      # builds message objects in C while inside a `messages` array
    array_prefix = ""
    root_keys: set[str] = set()
    first = True
    try:
        for prefix, event, value in _IJSON.parse(stream, use_float=True):
            if first:
                first = False
                if event != "start_map":
                    found = {"start_array": "an array"}.get(event, f"a single {event} value")
                    raise InvalidInput(f"{path}: not a Telegram Desktop export: the file holds {found}; {_EXPECTED}",
                                       path=path, found=event)
            if coro is not None:
                if event == "end_array" and prefix == array_prefix:
                    coro = None
                else:
                    coro.send((prefix, event, value))
                    if sink.items:
                        for obj in sink.items:
                            yield Message(chat, obj)  # type: ignore[arg-type]
                        sink.items.clear()
            elif prefix == "":
                if event == "map_key":
                    root_keys.add(value)
                if event == "map_key" and value == "messages" and chat is None:
                    chat, started, root_chat = ChatStart("root", dict(root_meta)), True, True
                    _check_meta(chat, path)
                    yield chat
                    coro, array_prefix = _message_builder(sink, "messages")
                elif event == "end_map" and root_chat and chat is not None:
                    yield ChatEnd(chat)
                    chat = None
            elif prefix in _META_KEYS and event in _SCALARS:
                root_meta[prefix] = value
            elif prefix in _CHAT_PREFIXES:
                section = _CHAT_PREFIXES[prefix]
                if event == "start_map":
                    index[section] += 1
                    chat = ChatStart(section, {"_index": index[section]})
                    chat_prefix, started = prefix, False
                elif event == "map_key" and value == "messages" and chat is not None:
                    started = True
                    yield chat
                    coro, array_prefix = _message_builder(sink, prefix + ".messages")
                elif event == "end_map" and chat is not None:
                    if not started:
                        yield chat
                    yield ChatEnd(chat)
                    chat, started = None, False
            elif chat is not None and chat_prefix and event in _SCALARS and prefix.startswith(chat_prefix):
                key = prefix[len(chat_prefix) + 1:]
                if key in _META_KEYS:
                    chat.meta[key] = value
    except ijson.common.JSONError as exc:
        raise _json_error(path, exc) from None
    if first:
        raise InvalidInput(f"{path}: not a Telegram Desktop export: the file is empty; {_EXPECTED}", path=path, offset=0)
    if not root_keys & {"messages", "chats", "left_chats"}:
        raise InvalidInput(
            f"{path}: not a Telegram Desktop export: the top-level object has no `messages` or `chats`; {_EXPECTED}",
            path=path, keys=sorted(root_keys)[:20],
        )


_EXPECTED = ("expected Telegram Desktop's result.json (an object with `messages` for one chat, "
             "or `chats.list` for a whole account)")


def _json_error(path: str, exc: Exception) -> InvalidInput:
    """One line naming the file, the byte offset and the parser's reason (yajl's first line)."""
    raw = exc.args[0] if exc.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    reason = (text.strip().splitlines() or ["malformed JSON"])[0].strip().rstrip(".")
    offset = error_offset(Path(path)) if path != "<stream>" else None
    where = f" at byte {offset}" if offset is not None else ""
    what = "truncated JSON" if "premature EOF" in reason or "Incomplete" in reason else "not valid JSON"
    return InvalidInput(f"{path}: {what}{where} ({reason}); {_EXPECTED}", path=path, offset=offset, reason=reason)


def error_offset(path: Path, chunk_size: int = 1 << 16) -> int | None:
    """The byte offset at which the JSON parser gives up on `path` (the file size when it ends
    early), or None if the file is unreadable or parses. Runs only on the error path: it finds the
    failing chunk, then replays that chunk byte by byte in a fresh parser."""
    class _Null:
        def send(self, _value: Any) -> None:
            pass

    def feed(byte_chunk: int | None) -> tuple[str, int]:
        """Feed the file in chunks (chunk number `byte_chunk` byte by byte) to a fresh parser:
        ("chunk", i) or ("byte", offset) where it failed, ("end", size) if it failed at the end,
        ("ok", 0) if it parsed."""
        coro = _IJSON.basic_parse_basecoro(_Null())
        pos = 0
        with path.open("rb") as fh:
            for i, chunk in enumerate(iter(lambda: fh.read(chunk_size), b"")):
                pieces = [chunk[j:j + 1] for j in range(len(chunk))] if i == byte_chunk else [chunk]
                for piece in pieces:
                    try:
                        coro.send(piece)
                    except (ijson.common.JSONError, ValueError):
                        return ("chunk", i) if byte_chunk is None else ("byte", pos)
                    pos += len(piece)
        try:
            coro.close()
        except (ijson.common.JSONError, ValueError):
            return "end", pos
        return "ok", 0

    try:
        kind, where = feed(None)
        if kind == "chunk":
            kind, where = feed(where)
        return None if kind == "ok" else where
    except OSError:
        return None


_SCALARS = ("string", "number", "null", "boolean")


class _Sink:
    """Target of ijson's items coroutine: collects the objects it builds."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def send(self, value: Any) -> None:
        self.items.append(value)


def _message_builder(sink: _Sink, array_prefix: str) -> tuple[Any, str]:
    """An items coroutine for `<array_prefix>.item` (C in the yajl2_c backend): events in, whole
    message objects out to `sink`."""
    return _IJSON.items_basecoro(sink, array_prefix + ".item"), array_prefix


def _check_meta(chat: ChatStart, path: str) -> None:
    if chat.meta.get("id") is None:
        where = "the root chat" if chat.section == "root" else f"{chat.section}.list[{chat.meta.get('_index')}]"
        raise InvalidInput(
            f"{path}: {where} has no `id` before its messages; Telegram Desktop writes name, type and id first",
            path=path, section=chat.section,
        )
