"""Process facts shared by the packages that recover from crashed peers, and the fault-injection
hook the crash-safety tests use."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

__all__ = ["crashpoint", "holdpoint", "pid_alive", "usable_cpus"]


def usable_cpus() -> int:
    """The CPUs this process may run on (`taskset`, cgroup cpusets), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def pid_alive(pid: int) -> bool:
    """True while `pid` runs on this machine (a zombie counts as dead; another user's process
    as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def crashpoint(name: str) -> None:
    """Fault injection for the crash-safety tests: QB_CRASH_AT=<name> SIGKILLs this process here."""
    if os.environ.get("QB_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def holdpoint(name: str) -> None:
    """Fault injection for the concurrency tests: with QB_HOLD_AT=<name> and QB_HOLD_FILE=<path>,
    touch `<path>.reached` here and wait until `<path>` exists (a long call held on purpose)."""
    if os.environ.get("QB_HOLD_AT") != name:
        return
    release = Path(os.environ["QB_HOLD_FILE"])
    Path(f"{release}.reached").touch()
    while not release.exists():
        time.sleep(0.01)
