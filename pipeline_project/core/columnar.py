"""The contract's rules over whole columns at once: the fast twin of validation.validate.

Input: the six fields as Arrow string arrays, already stripped of surrounding whitespace
(null or empty means missing). Every rule is a byte-level test, so the result is exactly
validate()'s for any UTF-8 text; stripping is the caller's job because Python's str.strip and
Arrow's trim disagree outside ASCII. A test feeds both the same rows and compares.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline_project.core.contract import EVENT_TYPES, REQUIRED_COLUMNS, ROW_REASONS
from pipeline_project.core.validation import ValidRecord, amount_cents

# The valid rows a file contributes, in file order. Ids are UTF-8 bytes (a JSON file can carry
# lone surrogates, kept with surrogatepass so that equal ids stay equal and different ones
# different). cents holds the amount when it fits in int64; a larger one (the contract puts no
# bound on digits) goes as decimal text in cents_big.
VALID_SCHEMA = pa.schema(
    [
        ("event_id", pa.binary()),
        ("user_id", pa.binary()),
        ("event_type", pa.int8()),  # index in EVENT_TYPES
        ("hour", pa.int8()),  # UTC hour
        ("currency", pa.string()),  # null unless purchase or refund
        ("cents", pa.int64()),
        ("cents_big", pa.string()),
    ]
)
VALID = 0  # reason code 0; a rejected row's code is 1 + its index in ROW_REASONS
REASON_CODES = {reason: n + 1 for n, reason in enumerate(ROW_REASONS)}

_TYPES = pa.array(EVENT_TYPES)
_TYPE_CODES = {kind: n for n, kind in enumerate(EVENT_TYPES)}
_MONETARY = np.array([t in ("purchase", "refund") for t in EVENT_TYPES])
_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?$"
_AMOUNT = r"^[0-9]+(\.[0-9]{1,2})?$"
_FAST_AMOUNT_CHARS = 16  # at most 16 whole digits: times 100 stays below 2**63 cents
_INT64_MAX = (1 << 63) - 1
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


class BlockRows(NamedTuple):
    """A block of rows, validated: what a file's tally takes in one step."""

    read: int
    rejected: list[tuple[int, str, str]]  # (row number, reason, content) in row order
    valid: pa.RecordBatch  # VALID_SCHEMA


class ValidatedColumns(NamedTuple):
    reasons: np.ndarray  # int8 per input row: VALID or a reason code
    valid: pa.RecordBatch  # VALID_SCHEMA, the rows whose code is VALID, in order


def _bytes(column: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, length, data) of a string array's values, as numpy views of its buffers."""
    column = column.cast(pa.string())
    _validity, offsets, data = column.buffers()
    n = len(column)
    offs = np.frombuffer(offsets, np.int32, n + 1, column.offset * 4)
    bytes_ = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offs[:-1], np.diff(offs), bytes_


def _at(data: np.ndarray, index: np.ndarray) -> np.ndarray:
    """data[index] as int64; index is always inside data where it matters (callers mask)."""
    if len(data) == 0:
        return np.zeros(len(index), np.int64)
    return data[np.minimum(index, len(data) - 1)].astype(np.int64)


def _digits(data: np.ndarray, start: np.ndarray, first: int, count: int) -> np.ndarray:
    value = np.zeros(len(start), np.int64)
    for k in range(first, first + count):
        value = value * 10 + _at(data, start + k) - 48
    return value


def _utc_hours(column: pa.Array) -> np.ndarray:
    """UTC hour per value, or -1 where the value is not a real contract timestamp."""
    ok = pc.fill_null(pc.match_substring_regex(column, _TIMESTAMP), False).to_numpy(zero_copy_only=False)
    hours = np.full(len(column), -1, np.int64)
    rows = np.flatnonzero(ok)
    if len(rows) == 0:
        return hours
    start, length, data = _bytes(column.take(pa.array(rows)))
    year, month, day = _digits(data, start, 0, 4), _digits(data, start, 5, 2), _digits(data, start, 8, 2)
    hour, minute, second = _digits(data, start, 11, 2), _digits(data, start, 14, 2), _digits(data, start, 17, 2)
    # Past position 12 only ':', digits, '.', 'Z' and the offset's sign can occur.
    sign = _at(data, start + length - 6)
    has_offset = (sign == ord("+")) | (sign == ord("-"))
    offset_hours = _digits(data, start + length - 5, 0, 2)
    offset_minutes = _digits(data, start + length - 2, 0, 2)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    real = (
        (year >= 1)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= month_days)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
        & (~has_offset | ((offset_hours <= 23) & (offset_minutes <= 59)))
    )
    offset = np.where(has_offset, (offset_hours * 60 + offset_minutes) * np.where(sign == ord("-"), -1, 1), 0)
    utc = ((hour * 60 + minute - offset) // 60) % 24
    hours[rows] = np.where(real, utc, -1)
    return hours


def _cents(column: pa.Array) -> tuple[np.ndarray, dict[int, int]]:
    """(cents per value, -1 where invalid; {row: cents} for amounts too big for int64)."""
    ok = pc.fill_null(pc.match_substring_regex(column, _AMOUNT), False).to_numpy(zero_copy_only=False)
    cents = np.full(len(column), -1, np.int64)
    start, length, data = _bytes(column)
    fast = ok & (length <= _FAST_AMOUNT_CHARS)
    rows = np.flatnonzero(fast)
    if len(rows):
        s, n = start[rows], length[rows]
        dot = pc.find_substring(column.take(pa.array(rows)), ".").to_numpy(zero_copy_only=False)
        whole_digits = np.where(dot >= 0, dot, n)
        whole = np.zeros(len(rows), np.int64)
        for k in range(_FAST_AMOUNT_CHARS):
            inside = k < whole_digits
            whole = np.where(inside, whole * 10 + _at(data, s + k) - 48, whole)
        decimals = np.where(dot >= 0, n - dot - 1, 0)
        tenths = np.where(decimals >= 1, _at(data, s + whole_digits + 1) - 48, 0)
        hundredths = np.where(decimals >= 2, _at(data, s + whole_digits + 2) - 48, 0)
        cents[rows] = whole * 100 + tenths * 10 + hundredths
    big = {}
    for row in np.flatnonzero(ok & ~fast).tolist():
        value = amount_cents(column[row].as_py())
        big[row] = value
        cents[row] = 0
    return cents, big


def _currency_ok(column: pa.Array) -> np.ndarray:
    start, length, data = _bytes(column)
    ok = length == 3
    for k in range(3):
        c = _at(data, start + k)
        ok &= (c >= ord("A")) & (c <= ord("Z"))
    return ok


def validate_columns(
    event_id: pa.Array,
    event_time: pa.Array,
    user_id: pa.Array,
    event_type: pa.Array,
    amount: pa.Array,
    currency: pa.Array,
) -> ValidatedColumns:
    n = len(event_id)

    def present(column: pa.Array) -> np.ndarray:
        return pc.fill_null(pc.greater(pc.binary_length(column), 0), False).to_numpy(zero_copy_only=False)

    missing = ~(present(event_id) & present(event_time) & present(user_id) & present(event_type))
    type_code = pc.fill_null(pc.index_in(event_type, value_set=_TYPES), -1).to_numpy(zero_copy_only=False)
    bad_type = ~missing & (type_code < 0)
    hours = np.full(n, -1, np.int64)
    checked = np.flatnonzero(~missing & ~bad_type)
    if len(checked):
        hours[checked] = _utc_hours(event_time.take(pa.array(checked)))
    bad_time = ~missing & ~bad_type & (hours < 0)
    monetary = ~missing & ~bad_type & ~bad_time & _MONETARY[np.maximum(type_code, 0)]
    cents = np.zeros(n, np.int64)
    big: dict[int, int] = {}
    bad_amount = np.zeros(n, bool)
    bad_currency = np.zeros(n, bool)
    money_rows = np.flatnonzero(monetary)
    if len(money_rows):
        take = pa.array(money_rows)
        money_cents, money_big = _cents(amount.take(take))
        cents[money_rows] = np.maximum(money_cents, 0)
        big = {int(money_rows[row]): value for row, value in money_big.items()}
        bad_amount[money_rows] = money_cents < 0
        bad_currency[money_rows] = (money_cents >= 0) & ~_currency_ok(currency.take(take))
    reasons = np.select(
        [missing, bad_type, bad_time, bad_amount, bad_currency],
        [REASON_CODES[r] for r in ROW_REASONS[1:]],
        VALID,
    ).astype(np.int8)
    keep = np.flatnonzero(reasons == VALID)
    take = pa.array(keep)
    is_money = monetary[keep]
    kept_cents = np.where(is_money, cents[keep], 0)
    big_text = pa.nulls(len(keep), pa.string())
    if big:
        texts = [None] * len(keep)
        for row, value in big.items():
            if reasons[row] != VALID:
                continue
            position = int(np.searchsorted(keep, row))
            if value <= _INT64_MAX:
                kept_cents[position] = value
            else:
                texts[position] = str(value)
        big_text = pa.array(texts, pa.string())
    valid = pa.record_batch(
        [
            event_id.take(take).cast(pa.binary()),
            user_id.take(take).cast(pa.binary()),
            pa.array(type_code[keep], pa.int8()),
            pa.array(hours[keep], pa.int8()),
            pc.if_else(pa.array(is_money), currency.take(take).cast(pa.string()), pa.scalar(None, pa.string())),
            pa.array(kept_cents, pa.int64()),
            big_text,
        ],
        schema=VALID_SCHEMA,
    )
    return ValidatedColumns(reasons, valid)


def records_batch(records: list[ValidRecord]) -> pa.RecordBatch:
    """Valid rows of the row path (validation.validate's records) in VALID_SCHEMA."""
    cents = [r.amount_cents if r.amount_cents <= _INT64_MAX else 0 for r in records]
    big = [str(r.amount_cents) if r.amount_cents > _INT64_MAX else None for r in records]
    return pa.RecordBatch.from_arrays(
        [
            pa.array([r.event_id.encode("utf-8", "surrogatepass") for r in records], pa.binary()),
            pa.array([r.user_id.encode("utf-8", "surrogatepass") for r in records], pa.binary()),
            pa.array([_TYPE_CODES[r.event_type] for r in records], pa.int8()),
            pa.array([r.utc_hour for r in records], pa.int8()),
            pa.array([r.currency for r in records], pa.string()),
            pa.array(cents, pa.int64()),
            pa.array(big, pa.string()),
        ],
        schema=VALID_SCHEMA,
    )


# What str.strip() removes from ASCII text.
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def text_columns_rows(first_row: int, columns: list[pa.Array]) -> BlockRows:
    """Rows given as six ASCII string columns (Parquet), numbered from first_row."""
    checked = validate_columns(*(pc.utf8_trim(c, characters=_ASCII_WHITESPACE) for c in columns))
    rejected = []
    for row in np.flatnonzero(checked.reasons != VALID).tolist():
        values = {name: column[row].as_py() for name, column in zip(REQUIRED_COLUMNS, columns, strict=True)}
        reason = ROW_REASONS[checked.reasons[row] - 1]
        rejected.append((first_row + row, reason, json.dumps(values, ensure_ascii=False)))
    return BlockRows(len(columns[0]), rejected, checked.valid)
