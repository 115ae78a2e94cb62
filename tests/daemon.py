"""A test client for the real daemon: spawn `python -m bridge serve`, send frames, read replies
with timeouts (never sleeps), keep notifications apart, and collect stderr."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class Daemon:
    def __init__(self, lake: Path, *, cwd: Path | None = None, args: tuple[str, ...] = (), env: dict | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "serve", "--lake", str(lake), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd or lake.parent,
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr: list[bytes] = []
        self.raw: list[bytes] = []
        self.notifications: list[dict] = []
        self._next = 0
        self._pending: dict[Any, Any] = {}
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.raw.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _pump_err(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    # -- sending ---------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj: Any) -> None:
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def request(self, method: str, params: Any = None, *, id: Any = None) -> Any:
        if id is None:
            self._next += 1
            id = self._next
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return id

    def call(self, method: str, params: Any = None, timeout: float = 60) -> dict:
        return self.reply(self.request(method, params), timeout=timeout)

    def result(self, method: str, params: Any = None, timeout: float = 60) -> Any:
        reply = self.call(method, params, timeout)
        assert "result" in reply, reply
        return reply["result"]

    # -- receiving -------------------------------------------------------------------------------

    def next_frame(self, timeout: float = 30) -> Any:
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError("daemon closed stdout; stderr: " + b"".join(self.stderr[-20:]).decode(errors="replace"))
        return json.loads(line)

    def reply(self, id: Any, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while id not in self._pending:
            frame = self.next_frame(max(0.01, deadline - time.monotonic()))
            if isinstance(frame, dict) and "method" in frame and "id" not in frame:
                self.notifications.append(frame)
            elif isinstance(frame, list):
                self._pending[tuple(sorted(str(f.get("id")) for f in frame))] = frame
            else:
                self._pending[frame.get("id")] = frame
        return self._pending.pop(id)

    def close(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
