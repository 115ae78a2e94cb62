"""Lake is a value: equal and hashing alike when every field is, immutable, and it survives pickle
and copy (it is no dataclass, for the daemon's cold start: bridge/store/lake.py)."""

from __future__ import annotations

import copy
import pickle

import pytest

from bridge.store.lake import Lake


def test_a_lake_is_an_immutable_value(tmp_path, monkeypatch):
    monkeypatch.delenv("QUANTBOT_MANIFEST", raising=False)
    monkeypatch.delenv("QUANTBOT_ARTIFACTS", raising=False)
    a, b = Lake(tmp_path / "lake"), Lake(str(tmp_path / "lake"))
    other = Lake(tmp_path / "lake", manifest="postgresql://u@h/db")
    assert a == b and hash(a) == hash(b) and len({a, b, other}) == 2
    assert a != other and a != str(a.root) and other.manifest_url == "postgresql://u@h/db"
    for restored in (pickle.loads(pickle.dumps(other)), copy.copy(other), copy.deepcopy(other)):
        assert restored == other and restored.manifest_url == other.manifest_url and restored.is_team
    with pytest.raises(AttributeError, match="immutable"):
        a.root = tmp_path  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del a.manifest_url
    assert repr(a).startswith(f"Lake(root={a.root!r}, ") and "s3_region=None" in repr(a)
