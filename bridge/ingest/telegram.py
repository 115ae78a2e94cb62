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

    A root object without `messages` and without `chats` yields nothing (the caller reports it).

    Raises:
        InvalidInput: malformed JSON, or a single-chat root without an `id` before its `messages`.
    """
    root_meta: dict[str, Any] = {}
    chat: ChatStart | None = None
    chat_prefix = ""
    started = root_chat = False
    index = {"chats": -1, "left_chats": -1}
    sink = _Sink()
    coro: Any = None      # builds message objects in C while inside a `messages` array
    array_prefix = ""
    try:
        for prefix, event, value in _IJSON.parse(stream, use_float=True):
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
    except ijson.common.IncompleteJSONError as exc:
        raise InvalidInput(f"{path}: malformed or truncated JSON: {exc}", path=path) from exc


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
