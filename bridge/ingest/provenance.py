"""Provenance of an ingestion: the source file's SHA-256, and the writer (name, version, git
commit and dirty state of the code that ran, read from `git` in the package's repository)."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WRITER_NAME", "WRITER_VERSION", "CodeVersion", "code_version", "file_sha256"]

log = logging.getLogger(__name__)

WRITER_NAME = "bridge.ingest"
WRITER_VERSION = "1.0.0"
_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CodeVersion:
    git_commit: str | None
    git_dirty: bool


def code_version(repo: Path | None = None) -> CodeVersion:
    """`git rev-parse HEAD` and `git status --porcelain` of the code's repository.
    Outside a git checkout (an installed wheel) the commit is None and dirty False, with a log line."""
    cwd = str(repo or _REPO)
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            log.info("no git commit for %s: %s", cwd, head.stderr.strip())
            return CodeVersion(None, False)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("git unavailable for %s: %s", cwd, exc)
        return CodeVersion(None, False)
    commit = head.stdout.strip() or None
    dirty = status.returncode != 0 or bool(status.stdout.strip())
    return CodeVersion(commit, dirty)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
