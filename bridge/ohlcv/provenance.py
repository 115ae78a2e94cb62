"""Writer provenance for OHLCV artifacts: writer name/version and the git commit of the code.

The commit is read once per process with `git rev-parse HEAD` and `git status --porcelain` in the
package's source tree; outside a git checkout (an installed wheel) it is None.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bridge import __version__

__all__ = ["WRITER_NAME", "Provenance", "provenance"]

log = logging.getLogger(__name__)

WRITER_NAME = "bridge.ohlcv"


@dataclass(frozen=True)
class Provenance:
    writer_name: str
    writer_version: str
    git_commit: str | None
    git_dirty: bool

    def publish_kwargs(self, component: str) -> dict:
        return {"writer_name": f"{self.writer_name}.{component}", "writer_version": self.writer_version,
                "git_commit": self.git_commit, "git_dirty": self.git_dirty}


@functools.lru_cache(maxsize=1)
def provenance() -> Provenance:
    root = Path(__file__).resolve().parents[2]
    commit, dirty = None, False
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            commit = out.stdout.strip()
            st = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=5)
            dirty = st.returncode == 0 and bool(st.stdout.strip())
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("no git provenance: %s", exc)
    return Provenance(WRITER_NAME, __version__, commit, dirty)
