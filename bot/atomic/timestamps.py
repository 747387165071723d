"""Timestamps and ISO-8601 durations as Atomic sends them, read leniently: anything unreadable
gives None instead of failing a page (split out of bot/atomic/wire.py)."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any


def parse_timestamp(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO-8601 (with `Z`, an offset, or none: UTC) or epoch seconds/ms.

    Anything unreadable gives None.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text[-1] in "zZ":
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?"
)


def add_iso_duration(start: datetime, duration: str) -> datetime | None:
    """`start` plus an ISO-8601 duration such as `P1D`, `PT12H`, `P1DT2H`, `P1M`; None for garbage.

    Years and months are calendar steps (31 Jan + P1M = 28/29 Feb); the rest are exact.
    """
    text = duration.strip().upper() if isinstance(duration, str) else ""
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "") or text.endswith("T"):
        return None
    parts = {k: v for k, v in match.groupdict().items() if v is not None}
    if not parts:
        return None

    def num(name: str) -> float:
        return float(parts.get(name, "0").replace(",", "."))

    months_total = int(parts.get("years", "0")) * 12 + int(parts.get("months", "0"))
    try:
        result = _add_months(start, months_total) if months_total else start
        return result + timedelta(weeks=num("weeks"), days=num("days"), hours=num("hours"),
                                  minutes=num("minutes"), seconds=num("seconds"))
    except (OverflowError, ValueError):
        return None


def _add_months(start: datetime, months: int) -> datetime:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)
