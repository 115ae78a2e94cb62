"""OHLCV fixtures: a store and its embedded chDB candle source per test (real chDB through
clickhouse-connect). Sessions open per operation and close after (~0.04 s once chDB is imported),
so every test gets its own chDB directory even with pytest-xdist."""

from __future__ import annotations

import pytest


@pytest.fixture
def store(tmp_path):
    """A fresh lake per test (same as the suite-wide fixture; kept here so this folder stands alone)."""
    from bridge.store import Store

    s = Store(tmp_path / "lake")
    yield s
    s.close()


@pytest.fixture
def source(store):
    from bridge.ohlcv.source import CandleSource

    return CandleSource.for_lake(store.lake)
