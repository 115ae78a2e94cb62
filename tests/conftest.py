"""Shared fixtures: a fresh lake and store per test, and small sample tables."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def sigint_default() -> None:
    """preexec_fn for a child that a test sends Ctrl-C: SIGINT back to its default. A shell without
    job control (a script, CI, `bash -c`) starts a background job (`./scripts/test.sh &`) with
    SIGINT ignored, and Python in the child would then never raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def store(lake_dir: Path):
    from bridge.store import Store

    s = Store(lake_dir)
    yield s
    s.close()


from tests.backends import backend, pg_server, s3_server  # noqa: E402,F401  (fixtures for the team backend)
