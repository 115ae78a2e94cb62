"""The streaming reader on both export shapes."""

import io
import json

import pytest

from bridge.errors import InvalidInput
from bridge.ingest.telegram import ChatEnd, ChatStart, Message, iter_export
from tests.ingest.builder import BONK, account, chat, ent, new_message, service


def events(obj):
    return list(iter_export(io.BytesIO(json.dumps(obj).encode("utf-8"))))


def test_single_chat_root():
    ev = events(chat(1, [new_message(1, "hi"), service(2), new_message(3, ["x", ent("code", BONK)])]))
    assert isinstance(ev[0], ChatStart) and ev[0].meta["id"] == 1 and ev[0].section == "root"
    assert [e.obj["id"] for e in ev if isinstance(e, Message)] == [1, 2, 3]
    assert isinstance(ev[-1], ChatEnd)


def test_account_export_chats_and_left_chats_ignore_other_sections():
    exp = account([chat(1, [new_message(1, "a")]), chat(2, [], type_="personal_chat")],
                  left=[chat(3, [new_message(9, "b")], type_="private_group")])
    ev = events(exp)
    starts = [e for e in ev if isinstance(e, ChatStart)]
    assert [(s.section, s.meta["id"]) for s in starts] == [("chats", 1), ("chats", 2), ("left_chats", 3)]
    assert sum(isinstance(e, ChatEnd) for e in ev) == 3
    assert [e.obj["id"] for e in ev if isinstance(e, Message)] == [1, 9]


def test_nested_message_objects_are_whole():
    msg = new_message(1, ["a", ent("text_link", "b", href="https://x.io")], reactions=[{"type": "emoji", "count": 2}])
    [m] = [e for e in events(chat(1, [msg])) if isinstance(e, Message)]
    assert m.obj == msg


def test_truncated_json_is_refused_with_path():
    data = json.dumps(chat(1, [new_message(1, "a")]))[:-20].encode()
    with pytest.raises(InvalidInput, match="x.json"):
        list(iter_export(io.BytesIO(data), path="x.json"))


def test_messages_before_id_refused():
    data = b'{"name": "n", "messages": [], "id": 5}'
    with pytest.raises(InvalidInput, match="no `id`"):
        list(iter_export(io.BytesIO(data)))


def test_not_an_export_is_refused():
    with pytest.raises(InvalidInput, match="not a Telegram Desktop export"):
        events({"hello": [1, 2, 3]})
    assert events({"chats": {"list": []}}) == []  # an account export with no chats is fine
