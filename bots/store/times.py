"""Times in the store: milliseconds since the epoch, read back as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)
