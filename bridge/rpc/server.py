"""The JSON-RPC 2.0 server loop: envelopes, dispatch, concurrency, cancellation, progress.

Transport only: it knows method *names* and handler objects, nothing about what they do.

- Quick handlers run on the reader thread (no hand-off cost); `long_running` ones on a worker
  pool, so a quick call is never stuck behind a slow one.
- `$/cancelRequest {id}` cancels the request's Job; a handler that stops answers -32800. A
  handler that finished anyway answers with its result (the work happened). A request cancelled
  while queued for a worker never starts.
- Long handlers report through their Job; each report becomes a `$/progress` notification
  `{id, done, total, message}`.
- Every request with an id gets exactly one reply, whatever the handler does (raises, even
  `sys.exit()`); notifications never get one, not even errors. Invalid UTF-8 anywhere in a line
  is a parse error.
- Batches are supported: their replies come as one array once every member is done.
- Lifecycle: `shutdown` (then other requests get code 11), the `exit` notification, EOF on
  stdin, or a closed output (a failed write; stdio also watches the pipe) end the loop. At EOF in-flight work finishes and is answered; at `exit` it is cancelled
  and waited for up to `drain_timeout`, after which what still runs is answered -32800 here and
  its late reply dropped (stdio.serve_stdio then ends the process without waiting for it).
- With DEBUG logging on, one log line per call: method, id, outcome, milliseconds.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO, Protocol

import msgspec

from bridge.errors import Cancelled
from bridge.progress import NULL_JOB, Job
from bridge.rpc.errors import InternalError, InvalidParams, InvalidRequest, MethodNotFound, ParseError, RpcError
from bridge.rpc.framing import FrameWriter, LineReader, TooLong

__all__ = ["Handler", "Server"]

log = logging.getLogger(__name__)

SHUTTING_DOWN = 11
ECHO_CHARS = 1000  # longest string an error message or error data carries
ERROR_DATA_BYTES = 64 << 10  # error data larger than this once encoded is reduced to its type
_UNSET = msgspec.UNSET


class Handler(Protocol):
    long_running: bool

    def call(self, params: msgspec.Raw | None, job: Job, request_id: Any) -> bytes | msgspec.Raw:
        """Encoded JSON result (bytes, or a msgspec.Raw: bytes-like, joined into the reply as it is).
        Raises InvalidParams, Cancelled, or any error for map_error."""


ErrorMapper = Callable[[BaseException], "tuple[int, str, Any] | None"]


class _Envelope(msgspec.Struct, gc=False):  # holds no containers: never in a reference cycle
    jsonrpc: str
    method: str
    id: int | float | str | None | msgspec.UnsetType = _UNSET  # fractional ids: discouraged, echoed
    params: msgspec.Raw = msgspec.Raw(b"")


_encode = msgspec.json.Encoder(enc_hook=str).encode
_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_first_byte = struct.Struct("B").unpack_from  # (params' first byte,): half the cost of memoryview(params)[0]
_NOT_JSON = (msgspec.DecodeError, RecursionError, ValueError)  # what decoding a line raises (invalid UTF-8: a ValueError)


class Server:
    def __init__(self, handlers: Mapping[str, Handler], *, map_error: ErrorMapper, max_line_bytes: int = 64 << 20,
                 max_reply_bytes: int = 128 << 20, workers: int = 4, drain_timeout: float = 10.0) -> None:
        self._handlers = handlers
        self._map_error = map_error
        self._max_line = max_line_bytes
        self._max_reply = max_reply_bytes
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc-worker")
        self._inflight: dict[Any, Job] = {}
        self._batches: set[Callable[..., None]] = set()  # batches with members on the pool: their reply
        self._lock = threading.Lock()
        self._drain_timeout = drain_timeout
        # Replies of pool work are written by a done-callback; stop() waits until every such
        # callback has *finished* (not merely until the futures are done), so no reply is lost to
        # the output being closed right after serve() returns. Every write from a thread other
        # than the reader's happens while it counts here (replies of pool work; progress, which
        # _run waits for before the reply; _abandon's answers), and serve()'s reader writes
        # without the writer's lock only at 0.
        self._outstanding = 0
        self._idle = threading.Condition(self._lock)
        self._single: set = set()  # in-flight ids sent alone (not in a batch)
        self._abandoned: set = set()  # answered -32800 at exit while still running; drop their late reply
        # Methods seen to be quick while serving: serve()'s loop calls them without _dispatch's
        # checks. Only filled while serve() runs (replies join its burst), with tracing off, and
        # emptied when shutdown is asked (every later call must be refused) and when serve ends.
        self._quick: dict[str, Callable[..., bytes | msgspec.Raw]] = {}  # method name: its handler's `call`
        self._shutting_down = False
        self.exit_requested = False
        self._trace = False
        self._writer: FrameWriter | None = None
        self._burst: list[bytes | msgspec.Raw] | None = None  # see serve()
        self._reader_thread: int | None = None
        self._output_lost = False
        self.on_output_lost: Callable[[], None] | None = None

    @property
    def shutting_down(self) -> bool:
        """True once `shutdown` was answered: every later request is refused (code 11)."""
        return self._shutting_down

    @shutting_down.setter
    def shutting_down(self, value: bool) -> None:
        self._shutting_down = value
        if value:
            self._quick.clear()

    # -- loop ----------------------------------------------------------------------------------

    def output_lost(self) -> None:
        """The peer stopped reading (stdout closed): nobody can receive a reply any more, so end
        as `exit` does: stop reading, cancel in-flight work and wait for it (bounded), then call
        `on_output_lost` (stdio ends the process there: the reader may be blocked on an open stdin)."""
        with self._lock:
            if self._output_lost:
                return
            self._output_lost = True
        log.warning("the client stopped reading replies (output closed); cancelling in-flight work and exiting")
        self.exit_requested = True
        self.stop()
        if self.on_output_lost is not None:
            self.on_output_lost()

    def serve(self, rfile: BinaryIO, wfile: BinaryIO) -> int:
        self._writer = FrameWriter(wfile, on_broken=self.output_lost)
        self._trace = log.isEnabledFor(logging.DEBUG)  # one line per call (method, id, outcome, time)
        reader = LineReader(rfile, self._max_line)
        # Replies the reader thread makes while handling one read's lines are gathered here and
        # written together (one write for a pipelined burst); replies from the pool go out at once.
        burst: list[bytes | msgspec.Raw] = []
        self._burst, self._reader_thread = burst, threading.get_ident()
        # The hot loop's names, bound once (_quick and _inflight are never rebound, only changed).
        writer = self._writer
        quick, inflight, max_reply, write_parts, unlocked = (self._quick, self._inflight, self._max_reply,
                                                             writer.write_parts, writer.unlocked)
        fill, lines_of, into, view, max_line = reader.fill, reader.lines, reader.buffer, reader.view, self._max_line
        handle_line = self.handle_line
        try:
            while not self.exit_requested:
                n = fill()
                if n and reader.clean and n <= max_line and into[n - 1] == 10:
                    lines = bytes(view[:n - 1]).split(b"\n")  # (LineReader.lines' usual case, inline)
                elif (lines := lines_of(n)) is None:
                    log.info("stdin closed; finishing in-flight requests, then exiting")
                    self.stop(cancel=False)
                    break
                try:
                    for line in lines:
                        if line.__class__ is bytes and line.isascii():
                            # The common case, inline: a single request (ASCII, so valid UTF-8) of a
                            # method seen to be quick (_quick, see _handle), with an id and object
                            # (or no) params: every check of _dispatch holds, so straight to the
                            # handler, and the reply joins the burst as parts (_call's and _result's
                            # work, less a frame's copy). Anything else: _handle, or handle_line for
                            # what is not one request object (a batch, a blank line, not JSON).
                            try:
                                env = _decode_envelope(line)
                            except _NOT_JSON:
                                handle_line(line)  # (a batch may hold `exit`: checked below, as for any line)
                            else:
                                call = quick.get(env.method)
                                rid = env.id
                                params = env.params
                                if (call is None or rid is _UNSET or rid in inflight or env.jsonrpc != "2.0"
                                        or (len(params) and _first_byte(params)[0] != 0x7B)):
                                    self._handle(env)
                                else:
                                    try:
                                        result = call(params if len(params) else None, NULL_JOB, rid)
                                    except (Exception, SystemExit) as exc:  # noqa: BLE001 - answered, as in _call
                                        burst += (self._failure(env.method, rid, exc), b"\n")
                                    else:
                                        if len(result) <= max_reply:
                                            burst += (_RESULT_HEAD, _encode(rid), _RESULT_MID, result, b"}\n")
                                        else:
                                            burst += (self._result(env.method, rid, result), b"\n")
                        else:
                            self._handle_one(line)  # too long, or not ASCII (handle_line checks its UTF-8)
                        if self.exit_requested:
                            break
                finally:
                    if burst:
                        # Without the writer's lock when no other thread can write: every write
                        # from elsewhere is counted in _outstanding while under way, and none can
                        # start at 0: each needs a request in flight on the pool, which only this
                        # thread puts there, and which counts until its reply is written.
                        if unlocked is None or self._outstanding or writer.closed:
                            write_parts(burst)
                        else:
                            data = b"".join(burst)
                            try:
                                if (done := unlocked(data)) < len(data):
                                    writer.rest(data, done)
                            except (ValueError, OSError):
                                writer.lost()
                        burst.clear()
        finally:
            if burst:
                self._writer.write_parts(burst)
            self._burst = None
            self._quick.clear()
            self.stop()
        return 0

    def _handle_one(self, line: bytes | TooLong) -> None:
        if isinstance(line, TooLong):
            self._send_error(None, InvalidRequest(
                f"message of {line.size} bytes exceeds the limit of {line.limit} bytes; send big data as a "
                "file path", data={"limitBytes": line.limit, "sizeBytes": line.size}))
        else:  # (not ASCII: a blank line is ASCII, and never comes here)
            self.handle_line(line)

    def stop(self, *, cancel: bool = True) -> None:
        """End: cancel in-flight work (exit notification, orphaned) or let it finish (stdin EOF:
        a person piping requests in still gets every reply), then release the pool."""
        with self._lock:
            jobs = list(self._inflight.values())
        if cancel:
            for job in jobs:
                job.cancel()
        with self._idle:
            drained = self._idle.wait_for(lambda: self._outstanding == 0,
                                          timeout=self._drain_timeout if cancel else None)
        if not drained:
            self._abandon()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _abandon(self) -> None:
        """Work that ignored cancellation past the drain timeout: answer each such request now
        (-32800) so the client is not left waiting, and drop the reply should it finish later."""
        with self._lock:
            stuck = [rid for rid in self._inflight if rid in self._single]
            self._abandoned.update(stuck)
            batches = list(self._batches)
            if not stuck and not batches:
                return
            # (stop() may run on another thread while serve() still reads: these writes count as
            # outstanding, so the reader's own writes take the lock meanwhile)
            self._outstanding += 1
        try:
            log.warning("%d request(s) and %d batch(es) still running %.0f s after cancellation: %r; answering them "
                        "-32800 now", len(stuck), len(batches), self._drain_timeout, stuck)
            for rid in stuck:
                self._write(self._error_frame(rid, RpcError("the daemon is exiting; the work did not stop in time"),
                                              code=-32800, data={"type": "RequestCancelled"}))
            for fire in batches:  # (a batch's members still on the pool, answered now in its one reply)
                fire(at_exit=True)
        finally:
            self._settled()

    def _settled(self) -> None:
        """One counted write from another thread (see _outstanding) is done."""
        with self._idle:
            self._outstanding -= 1
            self._idle.notify_all()

    @property
    def outstanding(self) -> int:
        """Requests on the pool whose reply has not been written yet (and writes from other
        threads under way: progress, answers at exit)."""
        with self._lock:
            return self._outstanding

    # -- messages ------------------------------------------------------------------------------

    def handle_line(self, line: bytes) -> None:
        if not line.isascii():  # msgspec leaves raw params unchecked: validate UTF-8 for the whole line
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._send_error(None, ParseError(data={"detail": f"invalid UTF-8 at byte {exc.start}"}))
                return
        if line.lstrip()[:1] == b"[":
            self._handle_batch(line)
            return
        try:
            env = _decode_envelope(line)
        except _NOT_JSON as exc:
            if line.strip():  # a blank line is skipped, not answered
                self._send_error(*self._diagnose(line, exc))
            return
        self._handle(env)

    def _handle(self, env: _Envelope) -> None:
        """One decoded request or notification (not in a batch), by the general path. A quick
        method met here while serving goes into _quick: serve()'s loop calls it directly from then on."""
        handler = self._handlers.get(env.method)
        if (handler is not None and self._burst is not None and not self._trace and not self.shutting_down
                and env.method != "shutdown" and not handler.long_running):
            self._quick[env.method] = handler.call
        reply = self._dispatch(env)
        if isinstance(reply, Future):
            self._track(reply, lambda f: self._write(f.result()))
        elif reply is not None:
            self._write(reply)

    def _track(self, fut: Future, done: Callable[[Future], None]) -> None:
        with self._idle:
            self._outstanding += 1

        def finish(f: Future) -> None:
            try:
                done(f)
            except Exception:  # noqa: BLE001 - a reply that cannot be written (peer gone) is logged
                log.exception("could not deliver a reply")
            finally:
                self._settled()

        fut.add_done_callback(finish)

    def _handle_batch(self, line: bytes) -> None:
        try:
            items = msgspec.json.decode(line, type=list[msgspec.Raw])
        except _NOT_JSON as exc:
            self._send_error(*self._diagnose(line, exc))
            return
        if not items:
            self._send_error(None, InvalidRequest("empty batch"))
            return
        replies: list[bytes | Future] = []
        ids: dict[Future, Any] = {}  # each member on the pool: its request's id
        for raw in items:
            try:
                env = _decode_envelope(raw)
            except _NOT_JSON as exc:
                replies.append(self._error_frame(*self._diagnose(bytes(raw), exc)))
                continue
            reply = self._dispatch(env, in_batch=True)
            if reply is not None:
                replies.append(reply)
                if isinstance(reply, Future):
                    ids[reply] = env.id
        if not replies:
            return  # all notifications
        gate = threading.Lock()
        fired = []

        def fire(_f: Future | None = None, *, at_exit: bool = False) -> None:
            """The batch's one reply: once every member is done, or at exit (_abandon) with the
            members still running, or cancelled unstarted, answered -32800."""
            with gate:
                if fired or (not at_exit and any(not f.done() for f in ids)):
                    return
                fired.append(True)
            self._batches.discard(fire)
            frames = [r if not isinstance(r, Future) else r.result() if r.done() and not r.cancelled()
                      else self._error_frame(ids[r], RpcError("the daemon is exiting; the work did not stop in time"),
                                             code=-32800, data={"type": "RequestCancelled"}) for r in replies]
            frames = [f for f in frames if f is not None]
            if frames:
                self._write(b"[" + b",".join(frames) + b"]")

        if not ids:
            fire()
            return
        with self._lock:
            self._batches.add(fire)
        for f in ids:
            self._track(f, fire)

    def _diagnose(self, line: bytes, exc: BaseException) -> tuple[Any, RpcError]:
        """Parse error, or a valid JSON value that is not a valid request (echo its id if usable)."""
        try:
            obj = msgspec.json.decode(line)
        except _NOT_JSON as parse_exc:
            return None, ParseError(data={"detail": _short(parse_exc)})
        rid = obj.get("id") if isinstance(obj, dict) else None
        rid = rid if isinstance(rid, (str, int, float)) and not isinstance(rid, bool) else None
        return rid, InvalidRequest(data={"detail": _short(exc)})

    def _dispatch(self, env: _Envelope, *, in_batch: bool = False) -> bytes | Future | None:
        is_notification = env.id is _UNSET
        rid = None if is_notification else env.id
        if env.jsonrpc != "2.0":
            return None if is_notification else self._error_frame(rid, InvalidRequest('"jsonrpc" must be "2.0"'))
        if env.method.startswith("$/") or env.method == "exit":
            self._control(env)
            return None if is_notification else self._error_frame(
                rid, InvalidRequest(f"{env.method} is a notification; send it without an id"))
        if is_notification:
            log.warning("ignoring notification %r (only $/cancelRequest and exit are understood)", env.method)
            return None
        shape = _params_shape_error(env.params)
        if shape is not None:
            return self._error_frame(rid, shape)
        if self.shutting_down:
            return self._refused(rid)
        handler = self._handlers.get(env.method)
        if handler is None:
            return self._error_frame(rid, MethodNotFound(f"Method not found: {env.method}",
                                                         data={"method": env.method}))
        params = env.params if len(env.params) else None
        if rid in self._inflight:  # no lock needed: only this (the reader) thread adds ids, workers remove them
            return self._error_frame(rid, InvalidRequest(f"request id {rid!r} is already in flight"))
        if not (handler.long_running or in_batch):
            # Quick: run here on the reader thread; nothing can cancel it before it ends.
            return self._run(handler, env.method, rid, params, NULL_JOB, track=False)
        with self._lock:
            progress = _Progress(self, rid)
            job = progress.job = Job(progress, min_interval=0.2)
            self._inflight[rid] = job
            if not in_batch:
                self._single.add(rid)
        try:
            return self._pool.submit(self._run, handler, env.method, rid, params, job, progress=progress)
        except RuntimeError:  # the pool was shut down (the output is gone): nobody to answer
            with self._lock:
                self._inflight.pop(rid, None)
                self._single.discard(rid)
            return self._refused(rid)

    def _control(self, env: _Envelope) -> None:
        if env.method == "exit":
            self.exit_requested = True
        elif env.method == "$/cancelRequest":
            try:
                target = msgspec.json.decode(env.params or b"{}", type=dict).get("id")
            except (msgspec.DecodeError, ValueError):
                return
            with self._lock:
                job = self._inflight.get(target)
            if job is not None:
                job.cancel()

    def _run(self, handler: Handler, method: str, rid: Any, params, job: Job, *, track: bool = True,
             progress: _Progress | None = None) -> bytes | None:
        t0 = time.perf_counter() if self._trace else 0.0
        frame: bytes | None = None
        try:
            frame = self._call(handler, method, rid, params, job)
        finally:
            if track:
                with self._lock:
                    self._inflight.pop(rid, None)
                    self._single.discard(rid)
                    if rid in self._abandoned:  # already answered at exit
                        self._abandoned.discard(rid)
                        frame = None
                if progress is not None:
                    with progress.lock:  # a report being written (from another thread) goes out before the reply
                        pass
            if self._trace:
                log.debug("%s id=%r -> %s in %.2f ms", method, rid, _outcome(frame),
                          (time.perf_counter() - t0) * 1000)
        return frame

    def _call(self, handler: Handler, method: str, rid: Any, params, job: Job) -> bytes:
        """The reply frame of one request, whatever the handler does (short of KeyboardInterrupt)."""
        try:
            if job is not NULL_JOB and job.cancelled:  # cancelled while queued behind other long work: do not start it
                raise Cancelled(f"{method} was cancelled before it started")
            result = handler.call(params, job, rid)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - every request gets a reply; a library's
            return self._failure(method, rid, exc)  # sys.exit() must not end us
        return self._result(method, rid, result)

    def _result(self, method: str, rid: Any, result: bytes | msgspec.Raw) -> bytes:
        if method == "shutdown":
            self.shutting_down = True
        if len(result) > self._max_reply:
            log.warning("%s (id %.40r): reply of %d bytes over the limit of %d bytes; answering an error",
                        method, rid, len(result), self._max_reply)
            return self._error_frame(rid, RpcError(
                f"the reply of {len(result):,} bytes exceeds the daemon's limit of {self._max_reply:,} bytes; "
                "ask for less (a query can write its result to a file with output)"),
                code=-32603, data={"type": "ReplyTooLarge", "sizeBytes": len(result), "limitBytes": self._max_reply})
        return b"".join((_RESULT_HEAD, _encode(rid), _RESULT_MID, result, b"}"))

    def _failure(self, method: str, rid: Any, exc: BaseException) -> bytes:
        """The error reply for what a handler raised."""
        if isinstance(exc, RpcError):
            return self._error_frame(rid, exc)
        if isinstance(exc, Cancelled):
            return self._error_frame(rid, RpcError(str(exc)), code=-32800, data={"type": "RequestCancelled"})
        mapped = None if isinstance(exc, SystemExit) else self._map_error(exc)
        if mapped is None:
            log.error("internal error in %s (id %r)", method, rid, exc_info=exc)
            return self._error_frame(rid, InternalError("Internal error; the daemon's log (stderr) has details"))
        code, message, data = mapped
        return self._error_frame(rid, RpcError(message), code=code, data=data)

    # -- output --------------------------------------------------------------------------------

    def _error_frame(self, rid: Any, err: RpcError, *, code: int | None = None, data: Any = None) -> bytes:
        """An error reply. Every string in `message` and `data` is cut to ECHO_CHARS characters
        (errors quote what they were sent: a 50 MB artifact id must not come back, twice); should
        `data` still encode to more than ERROR_DATA_BYTES, only its `type` is kept, with
        `truncated: true`. The id is echoed whole, as JSON-RPC requires."""
        body = err.to_dict()
        if code is not None:
            body["code"] = code
        if data is not None:
            body["data"] = data
        body["message"] = clip(body["message"])
        if "data" in body:
            body["data"] = clip(body["data"])
            if len(_encode(body["data"])) > ERROR_DATA_BYTES:
                kept = body["data"].get("type") if isinstance(body["data"], dict) else None
                body["data"] = {"truncated": True, **({"type": kept} if kept is not None else {})}
        return _encode({"jsonrpc": "2.0", "id": rid, "error": body})

    def _refused(self, rid: Any) -> bytes:
        """The reply to a request after `shutdown`, or one the stopped pool cannot take: code 11."""
        return self._error_frame(rid, RpcError("the server is shutting down; send exit", {"type": "ServerShuttingDown"}),
                                 code=SHUTTING_DOWN)

    def _send_error(self, rid: Any, err: RpcError) -> None:
        self._write(self._error_frame(rid, err))

    def _write(self, frame: bytes | None) -> None:
        if frame is None or self._writer is None:
            return
        burst = self._burst
        if burst is not None and threading.get_ident() == self._reader_thread:
            burst += (frame, b"\n")  # the reader's reply: written with the rest of its burst
        else:
            self._writer.write(frame)

    def _notify(self, method: str, params: dict) -> None:
        if self._writer is not None:
            self._writer.write(_encode({"jsonrpc": "2.0", "method": method, "params": params}))


class _Progress:
    """The `$/progress` sink of one pool request's Job. A report goes out only while that very
    job is in flight and not answered at exit (not after its request ended, say from a handler's
    own thread, nor for a later request with the same id), under `lock`, which the request's end
    (Server._run) waits for: so no report follows the reply, and every report is written while
    its request still counts as outstanding (see Server.serve's lock-free write)."""

    __slots__ = ("job", "lock", "rid", "server")

    def __init__(self, server: Server, rid: Any) -> None:
        self.server, self.rid, self.job, self.lock = server, rid, None, threading.Lock()

    def __call__(self, done: int, total: int | None, message: str) -> None:
        with self.lock:
            server, rid = self.server, self.rid
            if server._inflight.get(rid) is not self.job or rid in server._abandoned:
                return
            server._notify("$/progress", {"id": rid, "done": done, "total": total, "message": message})


# a success reply: these, the id, these, the result, `}` (serve()'s loop and _result)
_RESULT_HEAD, _RESULT_MID = b'{"jsonrpc":"2.0","id":', b',"result":'


def _params_shape_error(params: msgspec.Raw) -> RpcError | None:
    """JSON-RPC's rule for `params`: absent, an object, or an array (we take named params only)."""
    if not len(params):
        return None
    first = bytes(params).lstrip()[:1]
    if first == b"{":
        return None
    if first == b"[":
        return InvalidParams("params must be an object of named parameters")
    return InvalidRequest('"params" must be an object or an array')


def _outcome(frame: bytes | None) -> str:
    """For the debug trace: 'result', 'error <code>' or 'dropped'."""
    if frame is None:
        return "dropped (answered at exit)"
    try:
        reply = msgspec.json.decode(frame[: 1 << 16]) if len(frame) < 1 << 16 else None
    except msgspec.DecodeError:
        reply = None
    if isinstance(reply, dict) and "error" in reply:
        return f"error {reply['error'].get('code')}"
    return "result"


def clip(value: Any, limit: int | None = None) -> Any:
    """`value` with every string (in nested dicts and lists too, keys included) cut to `limit`
    characters plus a note of how many were left out."""
    limit = ECHO_CHARS if limit is None else limit
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}… [{len(value) - limit:,} more characters]"
    if isinstance(value, dict):
        return {clip(k, limit) if isinstance(k, str) else k: clip(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clip(v, limit) for v in value]
    return value


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
