"""The transport in memory: a Server wired to OS pipes in a thread, with handlers made up here.
Every wait is bounded; nothing sleeps for timing."""

from __future__ import annotations

import io
import json
import logging
import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.rpc import InvalidParams, Server


class Echo:
    long_running = False

    def call(self, params, job, rid):
        return bytes(params) if params is not None else b"null"


class Slow:
    """Runs until cancelled or released, reporting progress (`message`, every `pause` seconds)."""

    long_running = True

    def __init__(self, message: str = "working", pause: float = 0.01):
        self.started = threading.Event()
        self.release = threading.Event()
        self.message, self.pause = message, pause

    def call(self, params, job, rid):
        for i in range(10_000 if self.pause else 10**9):
            job.progress(i, 10_000, self.message, force=True)
            self.started.set()
            if self.release.wait(self.pause):
                return b'"done"'
        raise AssertionError("never released")


class Fails:
    long_running = False

    def __init__(self, exc):
        self.exc = exc

    def call(self, params, job, rid):
        raise self.exc


class Domain(Exception):
    pass


def mapper(exc):
    if isinstance(exc, Domain):
        return 1234, "domain failure", {"where": "here"}
    return None


class Pair:
    """A server on a thread, talking over two pipes."""

    def __init__(self, handlers, **kw):
        self.slow = handlers.get("slow")
        c2s_r, c2s_w = os.pipe()
        s2c_r, s2c_w = os.pipe()
        self.to_server = os.fdopen(c2s_w, "wb", buffering=0)
        self.from_server = os.fdopen(s2c_r, "rb")
        self.server = Server(handlers, map_error=mapper, **kw)
        rfile, wfile = os.fdopen(c2s_r, "rb"), os.fdopen(s2c_w, "wb")
        self.code = None

        def run():
            self.code = self.server.serve(rfile, wfile)
            wfile.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def send(self, raw: bytes | str):
        self.to_server.write(raw.encode() if isinstance(raw, str) else raw)

    def frame(self, timeout=10):
        result = []
        t = threading.Thread(target=lambda: result.append(self.from_server.readline()), daemon=True)
        t.start()
        t.join(timeout)
        assert result, "no frame within the timeout"
        return json.loads(result[0]) if result[0] else None

    def close(self):
        self.to_server.close()
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.code


@pytest.fixture
def pair():
    p = Pair({"echo": Echo(), "slow": Slow(), "bad": Fails(ValueError("secret detail")), "domain": Fails(Domain()),
              "params": Fails(InvalidParams("bad param", data={"detail": "at $.x"}))}, max_line_bytes=1024)
    yield p
    p.slow.release.set()
    p.close()


def req(id, method, params=None):
    msg = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg) + "\n"


def test_ids_are_echoed_exactly(pair):
    for rid in (1, 0, -7, "abc", "", None, 2**53, 2**70, -(2**70), 1.5, -0.25, 1e20, "\u00e9\u2603", "1"):
        pair.send(req(rid, "echo", {"x": rid}))
        assert pair.frame() == {"jsonrpc": "2.0", "id": rid, "result": {"x": rid}}


@pytest.mark.parametrize(("line", "code"), [
    ('{"jsonrpc": "2.0", "method": "echo", "params": "bar", "id": 1', -32700),  # spec example: invalid JSON
    ("not json", -32700),
    ('{"jsonrpc":"2.0","method":1,"params":"bar"}', -32600),  # spec example: invalid request object
    ('{"jsonrpc":"1.0","method":"echo","id":1}', -32600),
    ('{"method":"echo","id":1}', -32600),
    ('{"jsonrpc":"2.0","method":"echo","params":5,"id":1}', -32600),
    ('{"jsonrpc":"2.0","method":"echo","params":[1,2],"id":1}', -32602),
    ('{"jsonrpc":"2.0","method":"nope","id":1}', -32601),
    ("[]", -32600),
    ("{\"a\": Infinity}", -32700),
    ('{"jsonrpc":"2.0","method":"echo","id":true}', -32600),  # ids are strings, numbers or null
    ('{"jsonrpc":"2.0","method":"echo","id":{"a":1}}', -32600),
    ('{"jsonrpc":"2.0","method":"echo","id":[1]}', -32600),
    ('{"jsonrpc":"2.0","method":"echo","id":1e400}', -32700),  # not representable: a parse error
    ('{"jsonrpc":"2.0","method":"echo","id":1} {"x":1}', -32700),  # trailing garbage
    ('"just a string"', -32600),
    ("5", -32600),
])
def test_standard_errors(pair, line, code):
    pair.send(line + "\n")
    assert pair.frame()["error"]["code"] == code


def test_crlf_lines_are_accepted_and_replies_use_bare_newlines(pair):
    pair.send(req(1, "echo", {}).replace("\n", "\r\n"))
    line = []
    t = threading.Thread(target=lambda: line.append(pair.from_server.readline()), daemon=True)
    t.start()
    t.join(10)
    assert line and line[0] == b'{"jsonrpc":"2.0","id":1,"result":{}}\n'


def test_invalid_request_echoes_a_usable_id(pair):
    pair.send('{"jsonrpc":"2.0","method":7,"id":"keep"}\n')
    assert pair.frame()["id"] == "keep"


def test_errors_from_handlers(pair):
    pair.send(req(1, "bad"))
    err = pair.frame()["error"]
    assert err["code"] == -32603 and "secret" not in json.dumps(err)  # traceback to the log only
    pair.send(req(2, "domain"))
    assert pair.frame()["error"] == {"code": 1234, "message": "domain failure", "data": {"where": "here"}}
    pair.send(req(3, "params"))
    assert pair.frame()["error"]["data"] == {"detail": "at $.x"}


def test_notifications_are_never_answered(pair):
    pair.send('{"jsonrpc":"2.0","method":"echo","params":{}}\n{"jsonrpc":"2.0","method":"nope"}\n')
    pair.send(req(9, "echo", {}))
    assert pair.frame()["id"] == 9  # the first frame is the answer to the request, nothing before it


def test_batch_spec_example(pair):
    batch = [
        {"jsonrpc": "2.0", "method": "echo", "params": [1, 2, 4], "id": "1"},
        {"jsonrpc": "2.0", "method": "echo", "params": {"n": 7}},
        {"jsonrpc": "2.0", "method": "echo", "params": {"a": 42}, "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "echo", "id": "9"},
    ]
    pair.send(json.dumps(batch) + "\n")
    replies = {str(r["id"]): r for r in pair.frame()}
    assert replies["1"]["error"]["code"] == -32602
    assert replies["2"]["result"] == {"a": 42}
    assert replies["None"]["error"]["code"] == -32600
    assert replies["5"]["error"]["code"] == -32601
    assert replies["9"]["result"] is None
    assert len(replies) == 5


def test_batch_of_notifications_gets_no_reply(pair):
    pair.send('[{"jsonrpc":"2.0","method":"echo","params":{}},{"jsonrpc":"2.0","method":"echo"}]\n')
    pair.send(req(1, "echo", {}))
    assert pair.frame()["id"] == 1


def test_batch_invalid_members(pair):
    pair.send("[1,2,3]\n")
    assert [r["error"]["code"] for r in pair.frame()] == [-32600] * 3


def test_quick_calls_overtake_slow_ones_and_cancel_answers_minus_32800(pair):
    pair.send(req("s", "slow"))
    assert pair.slow.started.wait(5)
    pair.send(req("q", "echo", {"v": 1}))
    frames = []
    while True:
        f = pair.frame()
        if f.get("id") == "q":
            break
        frames.append(f)
    assert all(f["method"] == "$/progress" and f["params"]["id"] == "s" for f in frames)
    pair.send('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"s"}}\n')
    while (f := pair.frame()).get("method") == "$/progress":
        pass
    assert f["id"] == "s" and f["error"]["code"] == -32800


def test_duplicate_inflight_id_is_refused(pair):
    pair.send(req("warm", "echo", {}))  # echo is known quick from now on: serve() calls it inline
    assert pair.frame()["id"] == "warm"
    pair.send(req("dup", "slow"))
    assert pair.slow.started.wait(5)
    pair.send(req("dup", "echo", {}))
    while (f := pair.frame()).get("method") == "$/progress":
        pass
    assert f["id"] == "dup" and f["error"]["code"] == -32600
    pair.slow.release.set()
    while (f := pair.frame()).get("method") == "$/progress":
        pass
    assert f == {"jsonrpc": "2.0", "id": "dup", "result": "done"}


def test_overlong_line_answered_and_skipped(pair):
    pair.send(req(1, "echo", {"x": "y" * 5000}))
    err = pair.frame()["error"]
    assert err["code"] == -32600 and err["data"]["limitBytes"] == 1024
    pair.send(req(2, "echo", {}))
    assert pair.frame()["id"] == 2


def test_shutdown_and_exit():
    p = Pair({"echo": Echo(), "shutdown": Echo()})
    p.send(req(1, "shutdown", {}))
    assert p.frame()["id"] == 1
    _refused_then_exit(p, 2)
    assert p.code == 0


@pytest.mark.parametrize("exit_line", ['{"jsonrpc":"2.0","method":"exit"}', '[{"jsonrpc":"2.0","method":"exit"}]'])
def test_exit_stops_the_rest_of_its_read_alone_or_in_a_batch(exit_line):
    """`exit` ends the loop before the next line of the same read, whether it came alone or in a
    batch: the request after it (sent in the same write) is neither run nor answered."""
    calls = []

    class Counted(Echo):
        def call(self, params, job, rid):
            calls.append(rid)
            return super().call(params, job, rid)

    p = Pair({"echo": Counted()})
    p.send(req(1, "echo", {}))
    assert p.frame()["id"] == 1  # (echo is now on the inline path)
    p.send(exit_line + "\n" + req(2, "echo", {}))
    p.thread.join(10)
    assert not p.thread.is_alive() and p.code == 0
    assert p.from_server.read() == b"" and calls == [1]


def _refused_then_exit(p, rid: int) -> None:
    """After shutdown: a call is refused (code 11), then `exit` ends the server."""
    p.send(req(rid, "echo", {}))
    assert p.frame()["error"]["code"] == 11
    p.send('{"jsonrpc":"2.0","method":"exit"}\n')
    p.thread.join(10)


def test_exit_cancels_inflight_work():
    slow = Slow()
    p = Pair({"slow": slow})
    p.send(req(1, "slow"))
    assert slow.started.wait(5)
    p.send('{"jsonrpc":"2.0","method":"exit"}\n')
    p.thread.join(10)
    assert not p.thread.is_alive() and p.code == 0
    frames = []
    while (f := p.frame()) is not None:
        frames.append(f)
    assert frames[-1]["error"]["code"] == -32800  # still answered


messages = st.one_of(
    st.builds(lambda i: req(i, "echo", {"i": i}), st.integers(0, 10**6)),
    st.builds(lambda i: req(i, "nope"), st.integers(0, 10**6)),
    st.builds(lambda i: req(i, "domain"), st.integers(0, 10**6)),
    st.just('{"jsonrpc":"2.0","method":"echo"}\n'),
    st.just("garbage\n"),
    st.builds(lambda i: json.dumps([json.loads(req(i, "echo", {})), json.loads(req(-i - 1, "nope"))]) + "\n",
              st.integers(0, 10**6)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(messages, max_size=30))
def test_exactly_one_reply_per_request(msgs):
    p = Pair({"echo": Echo(), "domain": Fails(Domain())})
    ids: list = []
    expected_frames = 0
    for m in msgs:
        if m.startswith("["):
            ids += [x["id"] for x in json.loads(m)]
            expected_frames += 1
        elif m.startswith("garbage"):
            expected_frames += 1
        else:
            obj = json.loads(m)
            if "id" in obj:
                ids.append(obj["id"])
                expected_frames += 1
        p.send(m)
    p.to_server.close()
    p.thread.join(10)
    got: list = []
    frames = 0
    while (f := p.frame()) is not None:
        frames += 1
        got += [x.get("id") for x in (f if isinstance(f, list) else [f]) if x.get("id") is not None]
    assert frames == expected_frames
    assert sorted(got) == sorted(ids)


class QuickOnPool(Echo):
    long_running = True  # answered from a worker's done-callback


def test_eof_right_after_pool_work_loses_no_reply():
    """Regression: serve() returned once the futures were done but before their done-callbacks
    had written the replies, so closing the output right after lost a reply now and then."""
    for i in range(150):
        p = Pair({"echo": QuickOnPool()})
        p.send(req(i, "echo", {"i": i}) + req(-i - 1, "echo", {}))
        p.to_server.close()
        p.thread.join(10)
        frames = []
        while (f := p.frame()) is not None:
            frames.append(f["id"])
        assert sorted(frames) == sorted([i, -i - 1]), f"round {i}: {frames}"


def test_a_request_cancelled_while_queued_never_starts():
    first, queued = Slow(), Slow()
    p = Pair({"first": first, "queued": queued, "echo": Echo()}, workers=1)
    try:
        p.send(req("a", "first"))
        assert first.started.wait(5)
        p.send(req("b", "queued"))  # waits for the only worker
        p.send('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"b"}}\n')
        p.send(req("sync", "echo", {}))  # read after the cancel: once answered, the cancel was seen
        replies = {}
        while "sync" not in replies:
            f = p.frame()
            if "id" in f:
                replies[f["id"]] = f
        first.release.set()
        while len(replies) < 3:
            f = p.frame()
            if "id" in f:
                replies[f["id"]] = f
        assert replies["a"]["result"] == "done"
        assert replies["b"]["error"]["code"] == -32800 and not queued.started.is_set()
    finally:
        first.release.set()
        queued.release.set()
        assert p.close() == 0


class Stuck:
    """Long work that ignores cancellation until released."""

    long_running = True

    def __init__(self):
        self.started = threading.Event()
        self.release = threading.Event()

    def call(self, params, job, rid):
        self.started.set()
        self.release.wait(20)
        return b'"finished anyway"'


def test_exit_answers_work_that_ignores_cancel_once_the_drain_times_out():
    stuck = Stuck()
    p = Pair({"stuck": stuck}, drain_timeout=0.3)
    try:
        p.send(req(7, "stuck"))
        assert stuck.started.wait(5)
        p.send('{"jsonrpc":"2.0","method":"exit"}\n')
        p.thread.join(10)
        assert not p.thread.is_alive() and p.code == 0
        assert p.frame() == {"jsonrpc": "2.0", "id": 7, "error": {
            "code": -32800, "message": "the daemon is exiting; the work did not stop in time",
            "data": {"type": "RequestCancelled"}}}
        assert p.frame() is None  # nothing else
    finally:
        stuck.release.set()


def test_exit_answers_a_batch_whose_members_ignore_cancel_or_never_started():
    """A batch at exit: a member that ignores cancellation past the drain timeout, and one still
    queued behind it (the pool then cancels it unstarted), are both answered -32800 in the batch's
    one reply, with the member answered at once; nothing comes later."""
    stuck = Stuck()
    p = Pair({"stuck": stuck, "echo": Echo()}, drain_timeout=0.3, workers=1)
    try:
        p.send(json.dumps([json.loads(req(1, "stuck")), json.loads(req(2, "echo", {"v": 2})),
                           {"jsonrpc": "2.0", "id": 3, "method": "nope"}]) + "\n")
        assert stuck.started.wait(5)  # (the only worker: echo waits behind it)
        p.send('{"jsonrpc":"2.0","method":"exit"}\n')
        p.thread.join(10)
        assert not p.thread.is_alive() and p.code == 0
        cancelled = {"code": -32800, "message": "the daemon is exiting; the work did not stop in time",
                     "data": {"type": "RequestCancelled"}}
        assert p.frame() == [{"jsonrpc": "2.0", "id": 1, "error": cancelled},
                             {"jsonrpc": "2.0", "id": 2, "error": cancelled},
                             {"jsonrpc": "2.0", "id": 3, "error": {"code": -32601, "message": "Method not found: nope",
                                                                   "data": {"method": "nope"}}}]
        assert p.frame() is None  # nothing else
    finally:
        stuck.release.set()


@pytest.mark.parametrize("line", [
    b'{"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":"\xff"}}',  # inside params (raw to the envelope)
    b'{"jsonrpc":"2.0","id":1,"method":"nope","params":{"x":"\xc3"}}',  # truncated sequence, unknown method
    b'[{"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":"\xed\xa0\x80"}}]',  # surrogate, in a batch
    b'\xff\xfe{}',
])
def test_invalid_utf8_anywhere_is_a_parse_error(pair, line):
    pair.send(line + b"\n")
    assert pair.frame() == {"jsonrpc": "2.0", "id": None, "error": {
        "code": -32700, "message": "Parse error", "data": {"detail": pair_detail(line)}}}
    pair.send(req(2, "echo", {"x": "é ☃ 😀"}))  # valid UTF-8 still fine
    assert pair.frame()["result"] == {"x": "é ☃ 😀"}


def pair_detail(line: bytes) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    raise AssertionError("valid line")


def test_a_handler_calling_sys_exit_gets_an_internal_error_and_the_server_lives_on():
    p = Pair({"exit_now": Fails(SystemExit(3)), "echo": Echo()})
    p.send(req(1, "exit_now"))
    assert p.frame()["error"]["code"] == -32603
    p.send(req(2, "echo", {}))
    assert p.frame()["id"] == 2
    assert p.close() == 0


def test_debug_trace_names_method_id_and_outcome(caplog):
    p = Pair({"echo": Echo(), "domain": Fails(Domain())})
    with caplog.at_level(logging.DEBUG, logger="bridge.rpc.server"):
        p.server._trace = True  # serve() already started; what --log-level DEBUG sets at start
        p.send(req(1, "echo", {}))
        p.frame()
        p.send(req(2, "domain"))
        p.frame()
    lines = [r.getMessage() for r in caplog.records if r.name == "bridge.rpc.server"]
    assert any(m.startswith("echo id=1 -> result in") for m in lines), lines
    assert any(m.startswith("domain id=2 -> error 1234 in") for m in lines), lines
    p.close()


# -- what a reply may carry (issue #12 items 4 and 5) --------------------------------------------

class Echoes:
    """A domain error quoting its whole input in the message and twice in data (as msgspec and
    our own errors do)."""

    long_running = False

    def call(self, params, job, rid):
        value = json.loads(bytes(params))["v"]
        raise Domain(value)


def quoting_mapper(exc):
    if isinstance(exc, Domain):
        v = exc.args[0]
        data = {"value": v, "nested": [{"again": v}], "type": "Domain"}
        if isinstance(v, str):
            data[v] = 1
        return 1234, f"bad value {v!r}", data
    return None


def test_error_replies_cut_what_they_echo():
    big = "x" * (3 << 20)
    pair = Pair({"echoes": Echoes()}, max_line_bytes=8 << 20)
    pair.server._map_error = quoting_mapper  # before any request
    try:
        pair.send(req(1, "echoes", {"v": big}))
        reply = pair.frame()
        assert len(json.dumps(reply)) < 10_000
        err = reply["error"]
        assert err["code"] == 1234 and err["data"]["type"] == "Domain"
        assert err["message"].startswith("bad value 'xxx") and "more characters]" in err["message"]
        assert err["data"]["value"] == "x" * 1000 + f"… [{(3 << 20) - 1000:,} more characters]"
        assert err["data"]["nested"] == [{"again": err["data"]["value"]}]
        # an unknown method named by a huge string: cut; the id alone comes back whole (JSON-RPC)
        pair.send(req("i" * 100_000, "m" * 100_000))
        reply = pair.frame()
        assert reply["id"] == "i" * 100_000 and len(reply["error"]["message"]) < 1100
        # many short strings that add up: the data shrinks to its type
        pair.send(req(2, "echoes", {"v": ["y" * 900] * 500}))
        reply = pair.frame()
        assert reply["error"]["data"] == {"truncated": True, "type": "Domain"} and len(json.dumps(reply)) < 10_000
        pair.send(req(3, "echoes", {"v": "short"}))
        assert pair.frame()["error"]["data"] == {"value": "short", "nested": [{"again": "short"}], "type": "Domain",
                                                 "short": 1}
    finally:
        pair.close()


class Big:
    long_running = False

    def call(self, params, job, rid):
        return b'"' + b"z" * int(json.loads(bytes(params))["n"]) + b'"'


def test_a_reply_over_the_limit_becomes_an_error():
    pair = Pair({"big": Big()}, max_reply_bytes=10_000)
    try:
        pair.send(req(1, "big", {"n": 9_000}))
        assert len(pair.frame()["result"]) == 9_000
        pair.send(req(2, "big", {"n": 20_000}))
        err = pair.frame()["error"]
        assert err["code"] == -32603 and err["data"] == {"type": "ReplyTooLarge", "sizeBytes": 20_002,
                                                          "limitBytes": 10_000}
        assert "output" in err["message"]
        pair.send(req(3, "big", {"n": 5}))
        assert pair.frame()["result"] == "zzzzz"
    finally:
        pair.close()


def test_a_pipelined_burst_is_answered_in_one_write_and_in_full():
    """One read of many lines (quick calls, errors of every kind, a notification): every request
    answered, the reader's replies written together."""

    class Counting(io.BytesIO):
        writes = 0

        def write(self, b):
            Counting.writes += 1
            return super().write(b)

    lines = [req(i, "echo", {"i": i}) for i in range(50)]
    lines += [req(50, "nope"), req(51, "echo", [1]), '{"jsonrpc":"2.0","id":52,"method":"echo","params":5}\n',
              '{"jsonrpc":"2.0","method":"echo"}\n', req(53, "domain", {}), "not json\n", req(54, "echo")]
    out = Counting()
    server = Server({"echo": Echo(), "domain": Fails(Domain())}, map_error=mapper)
    assert server.serve(io.BytesIO("".join(lines).encode()), out) == 0
    replies = {r["id"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert [replies[i]["result"] for i in range(50)] == [{"i": i} for i in range(50)]
    assert [replies[i]["error"]["code"] for i in (50, 51, 52, 53)] == [-32601, -32602, -32600, 1234]
    assert replies[None]["error"]["code"] == -32700 and replies[54]["result"] is None
    assert len(replies) == 56 and Counting.writes == 1


# -- serve()'s inline path for quick methods ---------------------------------------------------------


class _NeverQuick(dict):
    """A `_quick` table that stays empty: every request takes the general path."""

    def __setitem__(self, key, value):
        pass


class _Held:
    """Long-running: holds its request in flight until the input ends, so a later request with
    the same id meets it there, whatever the timing."""

    long_running = True

    def __init__(self):
        self.released = threading.Event()

    def call(self, params, job, rid):
        assert self.released.wait(10), "the input never reached EOF"
        return b'"held"'


def _serve_all(data: bytes, *, general_only: bool) -> bytes:
    """Every byte a fresh server writes for `data` (one read, then EOF)."""

    held = _Held()

    class Input(io.BytesIO):  # no file descriptor: LineReader reads it with read1
        def read1(self, n=-1):
            chunk = super().read1(n)
            if not chunk:
                held.released.set()  # EOF: every line was handled
            return chunk

    handlers = {"echo": Echo(), "domain": Fails(Domain()), "bad": Fails(ValueError("secret")),
                "params": Fails(InvalidParams("bad param", data={"detail": "at $.x"})), "shutdown": Echo(),
                "held": held}
    server = Server(handlers, map_error=mapper, max_line_bytes=4096, max_reply_bytes=200)
    if general_only:
        server._quick = _NeverQuick()
    out = io.BytesIO()
    assert server.serve(Input(data), out) == 0
    return out.getvalue()


_ids = st.sampled_from(["dup", 0, 1, -3, 2**53 + 1, "a", "", "é", None, 1.5])
_params = st.one_of(st.none(), st.just({}), st.dictionaries(st.sampled_from(["x", "y"]), st.integers() | st.text(max_size=5)),
                    st.just([1, 2]), st.just(7), st.just("s"), st.just({"big": "z" * 300}))


@st.composite
def _requests(draw):
    method = draw(st.sampled_from(["echo", "echo", "echo", "domain", "bad", "params", "held", "nope", "$/x", "shutdown"]))
    msg = {"jsonrpc": draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0"])), "method": method}
    if draw(st.sampled_from([True, True, True, False])):  # else a notification
        msg["id"] = draw(_ids)
    params = draw(_params)
    if params is not None:
        msg["params"] = params
    text = json.dumps(msg, ensure_ascii=draw(st.booleans()))
    return draw(st.sampled_from(["", "", "", " "])) + text + "\n"


# Each case the inline path must turn down, written out once so that every run meets most of them.
_edges = st.sampled_from([
    '{"jsonrpc":"2.0","id":"dup","method":"held"}\n',  # "dup" in flight until EOF
    # ... and a quick request with that id, refused while it is (also: "dup" from _ids)
    '{"jsonrpc":"2.0","id":"dup","method":"held"}\n{"jsonrpc":"2.0","id":"dup","method":"echo","params":{}}\n',
    '{"jsonrpc":"2.0","method":"echo","params":{"x":1}}\n',  # a quick method's notification
    '{"jsonrpc":"1.0","id":1,"method":"echo"}\n',
    '{"jsonrpc":"2.0","id":2,"method":"echo","params":[1,2]}\n',
    '{"jsonrpc":"2.0","id":3,"method":"echo","params":7}\n',
    f'{{"jsonrpc":"2.0","id":4,"method":"echo","params":{{"big":"{"z" * 300}"}}}}\n',  # reply over the limit
    '{"jsonrpc":"2.0","id":5,"method":"domain","params":{}}\n',  # a handler that fails
    "garbage\n", "\n", "{\n", "BATCH",
])
_lines = st.one_of(_requests(), _requests(), _edges, _edges)


@settings(max_examples=60, deadline=None)
@given(st.lists(_lines, min_size=4, max_size=25))
def test_the_inline_path_answers_exactly_as_the_general_path(lines):
    """serve() answers a quick method it has seen before without _dispatch: whatever the stream
    (ids of every kind, ids still in flight on the pool, notifications, bad versions, params that
    are arrays or scalars, handlers that fail, replies over the limit, shutdown part-way, batches,
    garbage), the bytes written are the same as with that path turned off. (Compared as a multiset
    of frames: batches and `held` are answered from the worker pool, so their replies may come
    before or after the replies of the reader's burst.)"""
    warm = '{"jsonrpc":"2.0","id":0,"method":"echo"}\n{"jsonrpc":"2.0","id":0,"method":"domain"}\n'  # both quick now
    # a batch runs on the pool: its ids are unique, or whether a later request with the same id
    # finds it still in flight would depend on timing, with either path
    lines = [f'[{{"jsonrpc":"2.0","id":{1000 + i},"method":"echo"}}]\n' if m == "BATCH" else m for i, m in enumerate(lines)]
    data = (warm + "".join(lines)).encode()
    frames = lambda out: sorted(out.split(b"\n"))  # noqa: E731
    assert frames(_serve_all(data, general_only=False)) == frames(_serve_all(data, general_only=True))


def test_a_quick_method_seen_before_is_refused_after_shutdown():
    p = Pair({"echo": Echo(), "shutdown": Echo()})
    for i in (1, 2):  # the second call takes the inline path
        p.send(req(i, "echo", {"i": i}))
        assert p.frame() == {"jsonrpc": "2.0", "id": i, "result": {"i": i}}
    assert p.server._quick  # it did
    p.send(req(3, "shutdown", {}))
    assert p.frame()["id"] == 3
    _refused_then_exit(p, 4)
    assert p.code == 0 and not p.server._quick


# -- the reader's writes without the writer's lock -----------------------------------------------------


def test_replies_never_interleave_with_a_workers_writes():
    """The reader thread writes its replies without the writer's lock only while no pool work is
    outstanding: with a job on the pool writing big progress frames nonstop, 100 quick calls with
    replies bigger than the pipe's buffer (each written in pieces) all come back whole, and every
    byte on the wire belongs to a whole frame."""
    chatty = Slow("m" * 20_000, pause=0)  # progress with a 20 kB message, nonstop
    p = Pair({"echo": Echo(), "chatty": chatty})
    lines: list[bytes] = []
    got_reply = threading.Semaphore(0)

    def read_all():
        for line in p.from_server:
            lines.append(line)
            if b'"result"' in line[:40]:
                got_reply.release()

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    p.send(req(0, "echo", {}))  # the next echo calls take the inline path
    assert got_reply.acquire(timeout=10)
    p.send(req("c", "chatty", {}))
    assert chatty.started.wait(10)
    big = {"x": "y" * 100_000}
    for i in range(1, 101):
        p.send(req(i, "echo", big))
        assert got_reply.acquire(timeout=10), f"no reply to call {i}"
    chatty.release.set()
    assert got_reply.acquire(timeout=10)
    assert p.close() == 0
    reader.join(10)
    frames = [json.loads(line) for line in lines]  # raises on a torn or interleaved frame
    replies = {f["id"]: f["result"] for f in frames if "result" in f}
    assert replies == {0: {}, "c": "done", **{i: big for i in range(1, 101)}}
    assert sum(f.get("method") == "$/progress" for f in frames) > 100  # the worker did write meanwhile


def test_a_failed_reply_write_without_the_lock_loses_the_output_once():
    """The inline path's own write: when the client has stopped reading, the failed write marks
    the output lost (as the locked write does), which ends the server; nothing is raised."""
    lost = []
    p = Pair({"echo": Echo()})
    p.server.on_output_lost = lambda: lost.append(True)
    p.send(req(1, "echo", {}))
    assert p.frame()["id"] == 1  # seen: the next call takes the inline path
    p.from_server.close()
    p.send(req(2, "echo", {}) + req(3, "echo", {}))  # one burst, one failed write
    for _ in range(1000):
        if lost:
            break
        threading.Event().wait(0.01)
    assert p.server._writer.closed and p.server.exit_requested
    assert p.close() == 0 and lost == [True]


class _GateLock:
    """The writer's real lock, except that the first acquire by thread `name` parks there (as if
    that thread were preempted right before the lock) until `go` is set; `entered` is set once it
    holds the real lock."""

    def __init__(self, real, name):
        self.real, self.name, self.used = real, name, False
        self.arrived, self.go, self.entered = threading.Event(), threading.Event(), threading.Event()

    def __enter__(self):
        parks = not self.used and threading.current_thread().name == self.name
        if parks:
            self.used = True
            self.arrived.set()
            assert self.go.wait(10)
        self.real.acquire()
        if parks:
            self.entered.set()

    def __exit__(self, *exc):
        self.real.release()


def _race_a_parked_writer(p, gate):
    """With the thread `gate` parks about to write, and the work it writes for over (its count
    gone, so the reader may skip the lock): a reply bigger than the pipe, then the parked write;
    every frame must come out whole. (Without counting the parked write, the reader writes
    without the lock while it does: the frames tear.)"""
    for _ in range(1000):  # bounded: its own count settles at once (the parked write's, if counted, never)
        if p.server.outstanding == 0:
            break
        threading.Event().wait(0.001)
    import fcntl
    import termios

    big = {"x": "y" * 1_000_000}
    p.send(req(9, "echo", big))
    for _ in range(1000):  # until the reply fills the pipe: the reader is inside its write
        if int.from_bytes(fcntl.ioctl(p.from_server.fileno(), termios.FIONREAD, b"\0" * 4), "little") >= 32768:
            break
        threading.Event().wait(0.001)
    gate.go.set()
    gate.entered.wait(0.5)  # at once without the fix; with it, only after the reader's write is read
    return big


def test_progress_from_a_handlers_own_thread_comes_before_the_reply_and_never_tears_one():
    """A handler's own thread begins a progress report while its request runs, and is held back
    right before the writer's lock past the handler's return: the request's reply waits for it (no
    progress after a reply), the request counts meanwhile, so the reader's next reply takes the
    lock, and every frame comes out whole. A report from the job once its request ended, or after
    its id was reused by another request, is not sent."""

    class Spawner:
        long_running = True

        def call(self, params, job, rid):
            threading.Thread(target=lambda: job.progress(1, 2, "p" * 200_000, force=True), name="helper",
                             daemon=True).start()
            assert gate.arrived.wait(10)  # the helper is past the sink's check, parked at the lock
            self.job = job
            return b'"spawned"'

    spawner, reuser = Spawner(), Slow("working")
    p = Pair({"echo": Echo(), "spawn": spawner, "reuse": reuser})
    p.send(req(0, "echo", {}))
    assert p.frame()["id"] == 0  # the writer exists, and echo takes the inline path from now on
    gate = _GateLock(p.server._writer._lock, "helper")
    p.server._writer._lock = gate
    p.send(req("s", "spawn", {}))
    assert gate.arrived.wait(10)
    big = _race_a_parked_writer(p, gate)
    frames = [json.loads(p.from_server.readline()) for _ in range(3)]  # (raises on a torn frame)
    assert [f.get("id", f.get("method")) for f in frames] == [9, "$/progress", "s"]
    assert frames[0]["result"] == big and frames[2]["result"] == "spawned"
    spawner.job.progress(2, 2, "late", force=True)  # its request has ended
    p.send(req("s", "reuse", {}))  # the same id, another request
    assert reuser.started.wait(10)
    spawner.job.progress(2, 2, "late", force=True)
    reuser.release.set()
    later = []
    while (f := p.frame()).get("method") == "$/progress":
        later.append(f["params"]["message"])
    assert f == {"jsonrpc": "2.0", "id": "s", "result": "done"} and set(later) <= {"working"}
    assert p.close() == 0


def test_answers_at_exit_from_another_thread_never_tear_a_reply():
    """stop() on another thread (the parent-death watcher's) while serve() still reads: the
    -32800 answer for work that ignored cancellation counts as outstanding while it is written,
    even after that work ended, so the reader's replies take the lock meanwhile."""
    stuck = Stuck()
    p = Pair({"echo": Echo(), "stuck": stuck}, drain_timeout=0.2)
    p.send(req(0, "echo", {}))
    assert p.frame()["id"] == 0
    gate = _GateLock(p.server._writer._lock, "parent-watch")
    p.server._writer._lock = gate
    long_id = "h" * 200_000  # (echoed whole: an answer bigger than the pipe, written in pieces)
    p.send(req(long_id, "stuck", {}))
    assert stuck.started.wait(10)
    for _ in range(1000):  # the reader counts the request just after handing it to the pool
        if p.server.outstanding:
            break
        threading.Event().wait(0.001)
    threading.Thread(target=p.server.stop, name="parent-watch", daemon=True).start()
    assert gate.arrived.wait(10)  # _abandon chose the request and is about to answer it
    stuck.release.set()  # which ends now: its late reply is dropped
    big = _race_a_parked_writer(p, gate)
    frames = [json.loads(p.from_server.readline()) for _ in range(2)]  # (raises on a torn frame)
    assert {f["id"]: f.get("result", f.get("error", {}).get("code")) for f in frames} == {9: big, long_id: -32800}
    assert p.close() == 0
