"""The store's tests run on every backend: each test using `lake_dir` (or `store`) runs once per
combination of manifest (SQLite, PostgreSQL) and artifact store (local folder, S3 bucket), on real
servers the session starts (tests/backends.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def lake_dir(tmp_path: Path, backend) -> Path:
    return backend.lake(tmp_path / "lake")
