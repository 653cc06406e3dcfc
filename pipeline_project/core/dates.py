"""Strict day parsing: partition keys, RUN_DATE and CLI dates are checked before any I/O."""

from __future__ import annotations

import datetime as dt
import re

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class InvalidDay(ValueError):
    pass


def parse_day(text: str, what: str = "date") -> dt.date:
    if not isinstance(text, str) or not _DAY.fullmatch(text):
        raise InvalidDay(f"{what} {text!r} is not a date in the form YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidDay(f"{what} {text!r} is not a real calendar date") from None


def days_between(first: dt.date, last: dt.date) -> list[str]:
    if last < first:
        raise InvalidDay(f"the range ends ({last}) before it starts ({first})")
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def check_in_range(day: dt.date, first: dt.date, last: dt.date, what: str = "date") -> None:
    if not first <= day <= last:
        raise InvalidDay(f"{what} {day} is outside the partitions, which run from {first} to {last}")
