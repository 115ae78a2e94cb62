from __future__ import annotations

import pytest

from tests.daemon import Daemon


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "lake")
    yield d
    d.close()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory):
    """One daemon for a whole module (speed); tests must not depend on each other's state."""
    root = tmp_path_factory.mktemp("shared")
    d = Daemon(root / "lake", cwd=root)
    d.result("initialize", {"protocolVersion": "1.0", "clientInfo": {"name": "pytest"}})
    yield d
    d.close()
