"""Instructions a process executes, counted by valgrind's callgrind: the same count on a busy or a
quiet machine (user-space instructions of every thread; not the kernel's work). Used by the
benchmarks' load-independent checks (`--instructions`); needs valgrind."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path


class Callgrind:
    """`with Callgrind(args) as cg: ...` runs `args` under callgrind, stdin/stdout/stderr piped
    (cg.proc: talk to it); cg.finish(stdin) closes its stdin, waits for it to exit and returns
    the instructions it executed; then cg.self_cost("libcrypto") is the part executed in objects
    whose name contains that text (callgrind_annotate, exclusive cost)."""

    def __init__(self, args: list[str], *, cwd: Path | None = None, env: dict | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.out = Path(self._tmp.name) / "callgrind.out"
        self.proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out}", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                                     env=env)

    def __enter__(self) -> "Callgrind":
        return self

    def finish(self, stdin: bytes = b"") -> int:
        _, err = self.proc.communicate(stdin)
        if self.proc.returncode != 0:
            raise RuntimeError(f"{self.proc.args} exited with {self.proc.returncode}: {err.decode()[-2000:]}")
        return collected(err.decode())

    def self_cost(self, object_contains: str) -> int:
        ann = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", str(self.out)],
                             capture_output=True, text=True, check=True).stdout
        return sum(int(line.split()[0].replace(",", "")) for line in ann.splitlines()
                   if object_contains in line and line.strip()[:1].isdigit())

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self._tmp.cleanup()


def collected(stderr: str) -> int:
    """The total valgrind prints at exit ("Collected : N")."""
    return int(stderr.rsplit("Collected : ", 1)[1].split()[0])


def instructions(args: list[str], stdin: bytes = b"", *, cwd: Path | None = None, env: dict | None = None) -> int:
    """Instructions the process `args` executes with `stdin` as its input."""
    with Callgrind(args, cwd=cwd, env=env) as cg:
        return cg.finish(stdin)
