"""Fast timestamp formatting: the generator writes tens of millions of timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US


@lru_cache(maxsize=4096)
def day_text(day_number: int) -> str:
    """`yyyy-mm-dd` of a day counted from the epoch."""
    return datetime.fromtimestamp(day_number * 86_400, UTC).strftime("%Y-%m-%d")


@lru_cache(maxsize=1 << 14)
def _second_text(seconds: int, separator: str) -> str:
    """`yyyy-mm-dd<separator>hh:mm:ss`; cached, as a message's timestamps share seconds."""
    day, within_day = divmod(seconds, 86_400)
    hours, within_hour = divmod(within_day, 3600)
    minutes, seconds = divmod(within_hour, 60)
    return f"{day_text(day)}{separator}{hours:02d}:{minutes:02d}:{seconds:02d}"


def iso_millis(us: int) -> str:
    """Segment's format: `2024-03-01T14:05:09.123Z`."""
    seconds, micros = divmod(us, SECOND_US)
    return f"{_second_text(seconds, 'T')}.{micros // 1000:03d}Z"


def amplitude_time(us: int) -> str:
    """Amplitude's export format: `2024-03-01 14:05:09.123456` (UTC)."""
    seconds, micros = divmod(us, SECOND_US)
    return f"{_second_text(seconds, ' ')}.{micros:06d}"


def day_number(us: int) -> int:
    return us // DAY_US
