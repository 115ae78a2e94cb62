"""Resolutions, durations, timestamps and the slice logical key."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import InvalidInput
from bridge.ohlcv.grid import (
    TimeRange,
    format_key_ts,
    parse_duration,
    parse_resolution,
    parse_ts,
    slice_logical_key,
)


@pytest.mark.parametrize("text,step", [("1s", 1_000_000), ("1m", 60_000_000), ("5m", 300_000_000),
                                       ("1h", 3_600_000_000), ("1d", 86_400_000_000)])
def test_resolutions(text, step):
    assert parse_resolution(text).step_us == step


@pytest.mark.parametrize("bad", ["", "m", "0m", "01m", "1w", "1.5m", "1 m", "-1m"])
def test_bad_resolution_names_the_field(bad):
    with pytest.raises(InvalidInput) as err:
        parse_resolution(bad)
    assert err.value.data["field"] == "resolution"


def test_durations():
    assert parse_duration("24h") == 24 * 3_600_000_000
    assert parse_duration(90) == 90_000_000
    assert parse_duration(timedelta(minutes=2)) == 120_000_000
    with pytest.raises(InvalidInput):
        parse_duration("a day", "horizon")


def test_timestamps_and_key_form():
    z = parse_ts("2026-01-26T00:00:00Z")
    assert parse_ts("2026-01-26T01:00:00+01:00") == z
    assert parse_ts("2026-01-26T00:00:00") == z  # naive means UTC
    assert parse_ts(datetime(2026, 1, 26, tzinfo=timezone.utc)) == z
    assert format_key_ts(z) == "2026-01-26T00:00:00Z"
    assert format_key_ts(z + 5) == "2026-01-26T00:00:00.000005Z"
    with pytest.raises(InvalidInput):
        parse_ts("yesterday")


def test_slice_key_matches_the_prd_shape():
    rng = TimeRange.parse("2026-01-26T00:00:00Z", "2026-01-26T01:00:00Z")
    assert slice_logical_key("ABC", parse_resolution("1s"), rng) == \
        "token=ABC/res=1s/from=2026-01-26T00:00:00Z/to=2026-01-26T01:00:00Z"
    for bad in ("", "a/b", "a=b", "a b"):
        with pytest.raises(InvalidInput):
            slice_logical_key(bad, parse_resolution("1s"), rng)


def test_empty_range_is_refused():
    with pytest.raises(InvalidInput, match="not before"):
        TimeRange.parse("2026-01-26T01:00:00Z", "2026-01-26T01:00:00Z")


@given(st.integers(min_value=0, max_value=2**52), st.sampled_from(["1s", "1m", "5m", "1h", "1d"]))
def test_floor_and_ceil_bracket_on_grid(us, text):
    res = parse_resolution(text)
    lo, hi = res.floor(us), res.ceil(us)
    assert lo % res.step_us == 0 and hi % res.step_us == 0
    assert lo <= us <= hi and hi - lo in (0, res.step_us)
    assert (hi == lo) == (us % res.step_us == 0)
