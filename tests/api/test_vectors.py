"""Replay NDJSON transcripts (tests/vectors/*.ndjson) against the real daemon.

    --> {request or notification, or a raw line}    sent as is
    <-- {expected reply}                           the next frame ($/progress skipped), compared
                                                   as parsed JSON; "<any>" matches any value
Lines starting with # are comments. Each file gets a fresh lake. Replies to the requests that
precede a `<--` may arrive in any order when the requests ran concurrently; transcripts keep one
request in flight at a time, so order is deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.daemon import Daemon

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ANY = "<any>"


def parse(path: Path) -> list[tuple[str, str]]:
    steps = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        arrow, _, body = line.partition(" ")
        assert arrow in ("-->", "<--"), f"{path.name}:{n}: lines start with --> or <--"
        steps.append((arrow, body))
    return steps


def matches(expected, actual, where="$") -> None:
    if expected == ANY:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(expected) == set(actual), f"{where}: {expected} != {actual}"
        for k in expected:
            matches(expected[k], actual[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(expected) == len(actual), f"{where}: {expected} != {actual}"
        if where == "$":  # a batch reply: members in any order
            actual = sorted(actual, key=lambda r: json.dumps(r.get("id")))
            expected = sorted(expected, key=lambda r: json.dumps(r.get("id")))
        for i, (e, a) in enumerate(zip(expected, actual)):
            matches(e, a, f"{where}[{i}]")
    else:
        assert expected == actual, f"{where}: expected {expected!r}, got {actual!r}"


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.ndjson")), ids=lambda p: p.stem)
def test_transcript(tmp_path, path):
    daemon = Daemon(tmp_path / "lake", cwd=tmp_path)
    try:
        for arrow, body in parse(path):
            if arrow == "-->":
                daemon.send_raw(body.encode("utf-8") + b"\n")
                continue
            frame = daemon.next_frame(timeout=60)
            while isinstance(frame, dict) and frame.get("method") == "$/progress":
                frame = daemon.next_frame(timeout=60)
            matches(json.loads(body), frame)
    finally:
        assert daemon.close() == 0


def test_vectors_cover_every_application_error():
    from bridge.api.errors import ERROR_TABLE

    text = "\n".join(p.read_text() for p in VECTORS.glob("*.ndjson"))
    # Cancellation (-32800) depends on timing, so test_daemon.py covers it; the catch-all classes and
    # errors that need a damaged lake or a locked manifest are covered in tests/store.
    wanted = {code for _, code, name, _ in ERROR_TABLE if name not in (
        "NotFound", "InvalidInput", "BridgeError", "IntegrityError", "Busy", "InvalidState", "RequestCancelled",
        "StorageError")}  # StorageError needs a full disk: tests/store/test_storage_errors.py runs the daemon so
    missing = sorted(c for c in wanted | {-32700, -32600, -32601, -32602, 10, 11} if f'"code":{c},' not in text)
    assert not missing, f"no transcript shows error codes {missing}"
