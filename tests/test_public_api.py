"""The deliberate public surface (httpx style): these names, and the layering rules."""

from __future__ import annotations

import subprocess
import sys

import bridge.errors
import bridge.store


def test_store_exports():
    assert sorted(bridge.store.__all__) == sorted([
        "LAKE_ENV", "Artifact", "ArtifactPage", "GcReport", "Lake", "LineageEdge", "LineageGraph", "LineageNode",
        "PublishResult", "StaleArtifact", "StaleReason", "Store", "VerifyIssue", "VerifyReport", "artifact_id_for",
    ])
    for name in bridge.store.__all__:
        assert hasattr(bridge.store, name)


def test_errors_form_one_hierarchy():
    for name in bridge.errors.__all__:
        cls = getattr(bridge.errors, name)
        assert issubclass(cls, bridge.errors.BridgeError)
        assert cls.__name__ in bridge.errors.__doc__  # drawn in the module's tree


def test_import_linter_contracts_hold():
    from pathlib import Path

    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" in proc.stdout and "0 broken" in proc.stdout
