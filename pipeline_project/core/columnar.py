"""The contract's rules over whole columns at once: the fast twin of validation.validate.

Input: the six fields, already stripped of surrounding whitespace (null or empty means missing),
as Arrow string arrays (validate_columns) or as byte ranges of buffers (Texts: a CSV block's
fields, checked where they lie). The rules run in one compiled loop over the rows (`_rules.c`),
byte tests that only ASCII can pass, so the result is exactly validate()'s for any UTF-8 text;
stripping is the caller's job because Python's str.strip and Arrow's trim disagree outside
ASCII. Tests feed both the same rows and compare, and each rule against validation's regular
expressions over near misses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline_project.core._rules import check
from pipeline_project.core.contract import EVENT_TYPES, MONETARY_TYPES, REQUIRED_COLUMNS, ROW_REASONS
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

_TYPE_CODES = {kind: n for n, kind in enumerate(EVENT_TYPES)}
_KINDS = tuple(kind.encode() for kind in EVENT_TYPES)
_MONETARY = bytes(kind in MONETARY_TYPES for kind in EVENT_TYPES)
_RULE_CODES = tuple(REASON_CODES[reason] for reason in ROW_REASONS[1:])  # in the rules' order
_INT64_MAX = (1 << 63) - 1
_EVENT_ID, _USER_ID, _CURRENCY = (REQUIRED_COLUMNS.index(c) for c in ("event_id", "user_id", "currency"))


class BlockRows(NamedTuple):
    """A block of rows, validated: what a file's tally takes in one step."""

    read: int
    rejected: list[tuple[int, str, str]]  # (row number, reason, content) in row order
    valid: pa.RecordBatch  # VALID_SCHEMA


class ValidatedColumns(NamedTuple):
    reasons: np.ndarray  # int8 per input row: VALID or a reason code
    valid: pa.RecordBatch  # VALID_SCHEMA, the rows whose code is VALID, in order


class Texts(NamedTuple):
    """Stripped values as byte ranges of one buffer: value i is data[start[i] : start[i] + length[i]].

    Length 0 means missing. The rules read the values where they lie, whether in an Arrow array or
    straight in a CSV block.
    """

    data: np.ndarray  # uint8, never empty
    start: np.ndarray  # int64
    length: np.ndarray  # int64

    def text(self, row: int) -> str:
        """One value as text; latin-1 keeps any non-ASCII byte non-ASCII, so ASCII rules still reject it."""
        start = int(self.start[row])
        return self.data[start : start + int(self.length[row])].tobytes().decode("latin-1")


def arrow_texts(column: pa.Array) -> Texts:
    """Texts of a string or binary array, as numpy views of its buffers; null means missing."""
    if not pa.types.is_binary(column.type):
        column = column.cast(pa.string())
    validity, offsets, data = column.buffers()
    n = len(column)
    offs = np.frombuffer(offsets, np.int32, n + 1, column.offset * 4).astype(np.int64)
    length = np.diff(offs)
    if validity is not None:
        length[column.is_null().to_numpy(zero_copy_only=False)] = 0
    raw = np.frombuffer(data, np.uint8) if data is not None and data.size else np.zeros(1, np.uint8)
    return Texts(raw, offs[:-1], length)


class Checks(NamedTuple):
    """The rules' verdict on each row, and the values a valid row keeps."""

    reasons: np.ndarray  # int8 per row: VALID or a reason code
    type_code: np.ndarray  # index in EVENT_TYPES, or -1
    hours: np.ndarray  # UTC hour, or -1
    monetary: np.ndarray  # bool: a purchase or refund that passed the checks before the amount
    cents: np.ndarray  # the amount of a monetary row of at most 16 bytes, else 0
    big: dict[int, int]  # row -> cents, amounts of more than 16 bytes


def check_texts(
    event_id: Texts, event_time: Texts, user_id: Texts, event_type: Texts, amount: Texts, currency: Texts
) -> Checks:
    """validate()'s rules in its order, the first failing one naming a row's reason."""
    fields = tuple(
        (t.data, np.ascontiguousarray(t.start, np.int64), np.ascontiguousarray(t.length, np.int64))
        for t in (event_id, event_time, user_id, event_type, amount, currency)
    )
    reasons, type_code, hours, monetary, cents, long_rows = check(fields, _KINDS, _MONETARY, _RULE_CODES)
    reasons = np.frombuffer(reasons, np.int8)
    cents = np.frombuffer(cents, np.int64)
    big = {}
    # Amounts too long for int64 arithmetic: their reason so far is the currency's.
    for row in np.frombuffer(long_rows, np.int64).tolist():
        value = amount_cents(amount.text(row))
        if value is None:
            reasons[row] = REASON_CODES["invalid_amount"]
        else:
            big[row] = value
    return Checks(
        reasons,
        np.frombuffer(type_code, np.int64),
        np.frombuffer(hours, np.int64),
        np.frombuffer(monetary, np.bool_),
        cents,
        big,
    )


def valid_batch(checks: Checks, pick: Callable[[int, pa.Array], pa.Array]) -> pa.RecordBatch:
    """The valid rows in VALID_SCHEMA; pick(field, rows) gives that field (index in REQUIRED_COLUMNS)
    of those rows, an index that is null giving null."""
    keep = np.flatnonzero(checks.reasons == VALID)
    is_money = checks.monetary[keep]
    kept_cents = np.where(is_money, checks.cents[keep], 0)
    big_text = pa.nulls(len(keep), pa.string())
    if checks.big:
        texts = [None] * len(keep)
        for row, value in checks.big.items():
            if checks.reasons[row] != VALID:
                continue
            position = int(np.searchsorted(keep, row))
            if value <= _INT64_MAX:
                kept_cents[position] = value
            else:
                texts[position] = str(value)
        big_text = pa.array(texts, pa.string())
    rows = pa.array(keep)
    return pa.record_batch(
        [
            pick(_EVENT_ID, rows).cast(pa.binary()),
            pick(_USER_ID, rows).cast(pa.binary()),
            pa.array(checks.type_code[keep], pa.int8()),
            pa.array(checks.hours[keep], pa.int8()),
            pick(_CURRENCY, pa.array(keep, mask=~is_money)).cast(pa.string()),
            pa.array(kept_cents, pa.int64()),
            big_text,
        ],
        schema=VALID_SCHEMA,
    )


def validate_columns(
    event_id: pa.Array,
    event_time: pa.Array,
    user_id: pa.Array,
    event_type: pa.Array,
    amount: pa.Array,
    currency: pa.Array,
) -> ValidatedColumns:
    columns = (event_id, event_time, user_id, event_type, amount, currency)
    checks = check_texts(*(arrow_texts(c) for c in columns))
    return ValidatedColumns(checks.reasons, valid_batch(checks, lambda field, rows: columns[field].take(rows)))


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
