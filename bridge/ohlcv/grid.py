"""Resolutions, the candle grid and slice time ranges (pure Python, no heavy imports).

A resolution is `<n><unit>` with unit s, m, h or d (`1s`, `1m`, `5m`, `1h`, `1d`). Its grid is
anchored at the Unix epoch: a `1m` candle opens at second 0 of a minute, a `1d` candle at 00:00 UTC.
Times inside the package are epoch microseconds (int) or aware UTC datetimes; on the wire and in
logical keys they are ISO-8601 with `Z`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bridge.errors import InvalidInput

__all__ = [
    "Resolution",
    "TimeRange",
    "format_key_ts",
    "parse_duration",
    "parse_resolution",
    "parse_ts",
    "slice_logical_key",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_UNIT_US = {"s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}
_RES_RE = re.compile(r"^([1-9][0-9]{0,5})([smhd])$")


@dataclass(frozen=True)
class Resolution:
    """A candle interval: its text (`5m`) and its length in microseconds."""

    text: str
    step_us: int

    def floor(self, us: int) -> int:
        return us - us % self.step_us

    def ceil(self, us: int) -> int:
        return -((-us) // self.step_us) * self.step_us

    def __str__(self) -> str:
        return self.text


def parse_resolution(text: str) -> Resolution:
    """`1m` → Resolution('1m', 60_000_000).

    Raises:
        InvalidInput: not `<n><s|m|h|d>`.
    """
    m = _RES_RE.match(str(text).strip())
    if not m:
        raise InvalidInput(
            f"resolution {text!r} is not <n><unit> with unit s, m, h or d (e.g. 1s, 1m, 5m, 1h, 1d)",
            field="resolution", value=str(text),
        )
    return Resolution(m.group(0), int(m.group(1)) * _UNIT_US[m.group(2)])


def parse_duration(value: str | int | float | timedelta, field: str = "duration") -> int:
    """A duration as microseconds: `30m`, `24h`, `2d`, `90s`, a timedelta, or seconds as a number.

    Raises:
        InvalidInput: not a positive duration.
    """
    if isinstance(value, timedelta):
        us = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        us = int(round(float(value) * 1_000_000))
    else:
        m = re.match(r"^([0-9]+)([smhd])$", str(value).strip())
        if not m:
            raise InvalidInput(f"{field} {value!r} is not a duration like 90s, 30m, 24h or 2d", field=field, value=str(value))
        us = int(m.group(1)) * _UNIT_US[m.group(2)]
    if us < 0:
        raise InvalidInput(f"{field} must not be negative", field=field, value=str(value))
    return us


def parse_ts(value: str | datetime | int, field: str = "ts") -> int:
    """ISO-8601 text (Z, offset, or naive = UTC), an aware datetime, or epoch microseconds → epoch µs.

    Raises:
        InvalidInput: unparseable.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a timestamp", field=field, value=value)
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        s = str(value).strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            raise InvalidInput(f"{field} {value!r} is not an ISO-8601 timestamp", field=field, value=str(value)) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
    delta = dt.astimezone(timezone.utc) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def format_key_ts(us: int) -> str:
    """Logical-key form: `2026-01-26T00:00:00Z`, with `.ffffff` only when there are microseconds."""
    dt = to_datetime(us)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def format_iso(us: int) -> str:
    """The store's fixed-width form `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    return to_datetime(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class TimeRange:
    """Half-open [start, end) in epoch microseconds."""

    start: int
    end: int

    @classmethod
    def parse(cls, start: str | datetime | int, end: str | datetime | int) -> "TimeRange":
        """Raises:
        InvalidInput: unparseable, or start not before end.
        """
        lo, hi = parse_ts(start, "from"), parse_ts(end, "to")
        if lo >= hi:
            raise InvalidInput(
                f"empty time range: from {format_key_ts(lo)} is not before to {format_key_ts(hi)}",
                field="to", value=format_key_ts(hi),
            )
        return cls(lo, hi)


def slice_logical_key(token: str, resolution: Resolution, rng: TimeRange) -> str:
    """The PRD's slice key: `token=…/res=…/from=…/to=…` (half-open [from, to))."""
    if not token or "/" in token or "=" in token or any(ord(ch) < 33 for ch in token):
        raise InvalidInput(f"token {token!r} cannot be used in a logical key (empty, '/', '=' or whitespace)",
                           field="token", value=token)
    return f"token={token}/res={resolution.text}/from={format_key_ts(rng.start)}/to={format_key_ts(rng.end)}"
