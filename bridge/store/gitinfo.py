"""The git state (commit, dirty) of a working directory, for provenance a writer did not give.

`git rev-parse HEAD` and `git status --porcelain`; answers are cached per directory for
`CACHE_SECONDS` so a burst of publishes does not run git for each. Outside a git checkout, or
without git, the state is unknown (commit None, dirty None): it is recorded as unknown, never
guessed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CACHE_SECONDS", "GitState", "git_state"]

log = logging.getLogger(__name__)

CACHE_SECONDS = 10.0
_cache: dict[str, tuple[float, "GitState"]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class GitState:
    commit: str | None
    dirty: bool | None
    source: str  # "detected" | "unknown"


def git_state(directory: str | os.PathLike[str] | None = None) -> GitState:
    """The git state of `directory` (default: the process's working directory)."""
    cwd = str(Path(directory or os.getcwd()).resolve())
    now = time.monotonic()
    with _lock:
        hit = _cache.get(cwd)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    state = _probe(cwd)
    with _lock:
        _cache[cwd] = (now, state)
    return state


def _probe(cwd: str) -> GitState:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # never take index.lock from a reader
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              timeout=10, env=env)
        if head.returncode != 0 or not head.stdout.strip():
            return GitState(None, None, "unknown")
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("git unavailable in %s: %s", cwd, exc)
        return GitState(None, None, "unknown")
    dirty = None if status.returncode != 0 else bool(status.stdout.strip())
    return GitState(head.stdout.strip(), dirty, "detected")
