"""The stdio transport: claim stdin and stdout for the protocol, watch for the parent's death.

`claim_stdout()` keeps a private duplicate of file descriptor 1 for protocol frames and points
fd 1 at stderr, so a `print()` in a handler, a library writing to stdout, or a child process
inheriting fd 1 lands in the log instead of corrupting the stream (MCP's stdio server does the
same). `claim_stdin()` does the same for requests: the protocol reads a private duplicate of
fd 0 and fd 0 reads /dev/null, so a child process that reads its stdin (a tool asking for a
password, `cat`, a pager) gets EOF instead of swallowing the client's next requests. The
duplicates are not inheritable (PEP 446), so no child holds the protocol pipes open.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from typing import BinaryIO

__all__ = ["claim_stdin", "claim_stdout", "exit_with_parent", "serve_stdio", "watch_output"]

log = logging.getLogger(__name__)


def claim_stdin() -> BinaryIO:
    """The protocol's input: a private duplicate of fd 0; fd 0 (and sys.stdin) then read /dev/null."""
    requests_fd = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(devnull, 0)
    finally:
        os.close(devnull)
    return os.fdopen(requests_fd, "rb", buffering=0)


def claim_stdout() -> BinaryIO:
    """The protocol's output: a private duplicate of fd 1; fd 1 (and sys.stdout) then write to stderr."""
    sys.stdout.flush()
    frames_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(frames_fd, "wb", buffering=1 << 16)


def exit_with_parent(on_orphan=None, interval: float = 0.5) -> None:
    """Exit when the parent process dies: the kernel signal on Linux, and a polling thread as
    a fallback (and for platforms without prctl)."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                log.warning("parent process %d is gone; exiting", parent)
                if on_orphan is not None:
                    on_orphan()
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def watch_output(fd: int, on_closed) -> None:
    """Call `on_closed` (once, on a daemon thread) as soon as the reader of pipe `fd` is gone,
    without waiting for a write to fail: poll() reports POLLERR on a pipe's write end once its
    read end is closed. (Not a pipe, e.g. a file or a terminal: nothing to watch.)"""
    import select
    import stat

    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode) and not stat.S_ISSOCK(os.fstat(fd).st_mode):
            return
    except OSError:
        return

    def watch() -> None:
        poller = select.poll()
        poller.register(fd, 0)  # POLLERR / POLLHUP are always reported
        while True:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            except OSError:
                return
            if any(ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, ev in events):
                on_closed()
                return

    threading.Thread(target=watch, name="output-watch", daemon=True).start()


def _end_now() -> None:
    """The client is gone and in-flight work was cancelled: end the process with status 0 (the
    protocol reader may be blocked on a stdin the client never closes)."""
    logging.shutdown()
    os._exit(0)


def serve_stdio(server) -> int:
    """Run `server` (a bridge.rpc.Server) on this process's stdin/stdout until `exit`, EOF or
    the parent's death. Returns the exit status; if work that ignored cancellation is still
    running when the loop ends (after the server's bounded drain), the process ends here
    instead of waiting for it: the thread pool's workers would otherwise keep it alive."""
    requests, out = claim_stdin(), claim_stdout()
    exit_with_parent(on_orphan=server.stop)
    server.on_output_lost = _end_now
    watch_output(out.fileno(), server.output_lost)
    code = server.serve(requests, out)
    if server.outstanding:
        log.warning("%d request(s) ignored cancellation; exiting without waiting for them", server.outstanding)
        logging.shutdown()
        os._exit(code)
    return code
