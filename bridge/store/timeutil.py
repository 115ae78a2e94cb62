"""UTC time helpers. One text form everywhere (manifest, sidecars, wire):
`YYYY-MM-DDTHH:MM:SS.ffffffZ` — fixed width, so text order is time order."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["iso", "iso_from_micros", "now_iso", "parse_iso"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    return f"{dt.year:04d}" + dt.strftime("-%m-%dT%H:%M:%S.%fZ")  # (strftime's %Y drops the zeros of years < 1000)


def iso_from_micros(us: int) -> str:
    from datetime import timedelta

    return iso(_EPOCH + timedelta(microseconds=int(us)))


def now_iso() -> str:
    return iso(datetime.now(timezone.utc))


def parse_iso(text: str) -> datetime:
    """ISO-8601 → aware UTC datetime. `Z` and offsets accepted; no offset means UTC.

    Raises:
        ValueError: not an ISO-8601 timestamp.
    """
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def to_micros(dt: datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
