"""Record validation: the contract's rules in order, first failing rule wins."""

from __future__ import annotations

import calendar
import re
from typing import NamedTuple

from pipeline_project.core.contract import EVENT_TYPES, MONETARY_TYPES

# re.ASCII: \d must not accept other scripts' digits.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|([+-])(\d{2}):(\d{2}))?",
    re.ASCII,
)
_AMOUNT = re.compile(r"(\d+)(?:\.(\d{1,2}))?", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_EVENT_TYPES = frozenset(EVENT_TYPES)


class ValidRecord(NamedTuple):
    event_id: str
    user_id: str
    event_type: str
    utc_hour: int
    currency: str | None  # set for purchase and refund only
    amount_cents: int  # 0 for non-monetary types


def clean(value: str | None) -> str | None:
    """Surrounding whitespace is ignored; None and empty both mean missing."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def utc_hour(timestamp: str) -> int | None:
    """The UTC hour of a contract timestamp, or None when it is not a real date and time."""
    match = _TIMESTAMP.fullmatch(timestamp)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not (year >= 1 and 1 <= month <= 12 and hour <= 23 and minute <= 59 and second <= 59):
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    offset_minutes = 0
    if match.group(8):
        offset_hours, offset_mins = int(match.group(9)), int(match.group(10))
        if offset_hours > 23 or offset_mins > 59:
            return None
        offset_minutes = offset_hours * 60 + offset_mins
        if match.group(8) == "-":
            offset_minutes = -offset_minutes
    # Only the hour is needed, so no datetime arithmetic that could overflow at year 1 or 9999.
    return ((hour * 60 + minute - offset_minutes) // 60) % 24


def amount_cents(amount: str) -> int | None:
    match = _AMOUNT.fullmatch(amount)
    if match is None:
        return None
    whole, fraction = match.groups()
    return int(whole) * 100 + int((fraction or "").ljust(2, "0"))


def validate(
    event_id: str | None,
    event_time: str | None,
    user_id: str | None,
    event_type: str | None,
    amount: str | None,
    currency: str | None,
) -> ValidRecord | str:
    """A ValidRecord, or the name of the first rule the raw values break."""
    event_id, event_time, user_id, event_type = (
        clean(event_id),
        clean(event_time),
        clean(user_id),
        clean(event_type),
    )
    if event_id is None or event_time is None or user_id is None or event_type is None:
        return "missing_field"
    if event_type not in _EVENT_TYPES:
        return "invalid_event_type"
    hour = utc_hour(event_time)
    if hour is None:
        return "invalid_timestamp"
    if event_type not in MONETARY_TYPES:
        return ValidRecord(event_id, user_id, event_type, hour, None, 0)
    amount = clean(amount)
    cents = None if amount is None else amount_cents(amount)
    if cents is None:
        return "invalid_amount"
    currency = clean(currency)
    if currency is None or _CURRENCY.fullmatch(currency) is None:
        return "invalid_currency"
    return ValidRecord(event_id, user_id, event_type, hour, currency, cents)
