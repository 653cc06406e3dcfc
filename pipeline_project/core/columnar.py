"""The contract's rules over whole columns at once: the fast twin of validation.validate.

Input: the six fields, already stripped of surrounding whitespace (null or empty means missing),
as Arrow string arrays (validate_columns) or as byte ranges of one buffer (Texts: a CSV block's
fields, checked where they lie). Every rule is a byte-level test at fixed places of a value,
8 bytes at a time where it can be, so the result is exactly validate()'s for any UTF-8 text;
stripping is the caller's job because Python's str.strip and Arrow's trim disagree outside
ASCII. Tests feed both the same rows and compare, and each byte check against validation's
regular expressions over near misses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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

_TYPE_CODES = {kind: n for n, kind in enumerate(EVENT_TYPES)}
_MONETARY = np.array([t in ("purchase", "refund") for t in EVENT_TYPES])
# A contract timestamp is this shape ('0' a digit, '?' 'T' or a space), then an optional fraction
# ('.' and 1 to 9 digits), then an optional zone: 'Z' or this shape ('?' a sign): 19 to 35 bytes.
_TIMESTAMP_SHAPE = b"0000-00-00?00:00:00"
_FRACTION_DIGITS = 9
_OFFSET_SHAPE = b"?00:00"
_FAST_AMOUNT_CHARS = 16  # at most 16 whole digits: times 100 stays below 2**63 cents
_INT64_MAX = (1 << 63) - 1
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_EVENT_ID, _USER_ID, _CURRENCY = (REQUIRED_COLUMNS.index(c) for c in ("event_id", "user_id", "currency"))
_DIGIT = np.zeros(256, bool)
_DIGIT[ord("0") : ord("9") + 1] = True
_UPPER = np.zeros(256, bool)
_UPPER[ord("A") : ord("Z") + 1] = True


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

    Length 0 means missing. Every test below reads bytes at fixed places of each value (a window of
    its first or last bytes), so it costs the same whether the values lie in an Arrow array or
    straight in a CSV block.
    """

    data: np.ndarray  # uint8, never empty
    start: np.ndarray  # int64
    length: np.ndarray  # int64

    def take(self, rows: np.ndarray) -> Texts:
        return Texts(self.data, self.start[rows], self.length[rows])

    def shifted(self, by: np.ndarray) -> Texts:
        """The same values, each starting `by` bytes later (or earlier)."""
        return Texts(self.data, self.start + by, self.length - by)

    def window(self, width: int) -> np.ndarray:
        """Each value's first `width` bytes, a row per value, gathered in one step. Past its value a
        row holds other bytes of the buffer, or zeros past the buffer's ends: callers mask by length."""
        data, start = self.data, self.start
        if len(data) < width:
            data = np.concatenate([data, np.zeros(width - len(data), np.uint8)])
        rows = np.lib.stride_tricks.as_strided(data, (len(data) - width + 1, width), (1, 1), writeable=False)
        inside = (start >= 0) & (start <= len(data) - width)
        if inside.all():
            return rows[start]
        window = np.zeros((len(start), width), np.uint8)
        window[inside] = rows[start[inside]]
        # The few rows that run over an end of the buffer, a byte at a time.
        spots = start[~inside, None] + np.arange(width)
        within = (spots >= 0) & (spots < len(data))
        window[~inside] = np.where(within, data[np.clip(spots, 0, len(data) - 1)], 0)
        return window

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


class _Pattern(NamedTuple):
    """What the bytes of a window must be, 8 bytes (a little-endian uint64 word) at a time."""

    digits: np.ndarray  # per word, the high bit of every byte that must be an ASCII digit
    mask: np.ndarray  # per word, 0xFF at every byte that must be exactly
    value: np.ndarray  # that byte


def _pattern(text: bytes, wildcards: bool = True) -> _Pattern:
    """A pattern of text's bytes; with wildcards, '0' stands for any digit and '?' for any byte."""
    words = -(-len(text) // 8)
    digits, mask, value = (np.zeros(words, np.uint64) for _ in range(3))
    for position, byte in enumerate(text):
        word, shift = divmod(position, 8)
        if wildcards and byte == ord("0"):
            digits[word] |= np.uint64(0x80 << 8 * shift)
        elif not (wildcards and byte == ord("?")):
            mask[word] |= np.uint64(0xFF << 8 * shift)
            value[word] |= np.uint64(byte << 8 * shift)
    return _Pattern(digits, mask, value)


def _in_range(words: np.ndarray, low: int, high: int) -> np.ndarray:
    """The high bit of every byte of the words that lies in [low, high], low >= 1, high < 0x7F:
    each byte's low seven bits plus a constant carry into its high bit exactly when they reach
    the bound, and never into the next byte."""
    seven = words & _LOW7
    reaches_low = seven + _EVERY_BYTE * np.uint64(0x80 - low)
    passes_high = seven + _EVERY_BYTE * np.uint64(0x7F - high)
    return reaches_low & ~passes_high & ~words & _HIGH  # and the byte itself below 0x80


def _matches(words: np.ndarray, pattern: _Pattern) -> np.ndarray:
    """Whether each row of words (n x words, as many as the pattern has or more) fits the pattern."""
    ok = np.ones(len(words), bool)
    for word, (digits, mask, value) in enumerate(zip(*pattern, strict=True)):
        column = words[:, word]
        if mask:
            ok &= (column & mask) == value
        if digits:
            ok &= (_in_range(column, ord("0"), ord("9")) & digits) == digits
    return ok


def _has_bits(bits: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Whether each row of two words has every bit that row of wanted has."""
    hits = (bits & wanted) == wanted
    return hits[:, 0] & hits[:, 1]


def _words(window: np.ndarray) -> np.ndarray:
    return window.view("<u8")


def _type_codes(kinds: Texts) -> np.ndarray:
    """Index in EVENT_TYPES of each value, or -1."""
    codes = np.full(len(kinds.start), -1, np.int64)
    words = _words(kinds.window(_TYPE_WIDTH))
    for code, (kind, pattern) in enumerate(zip(EVENT_TYPES, _TYPE_PATTERNS, strict=True)):
        codes[(kinds.length == len(kind)) & _matches(words, pattern)] = code
    return codes


def _numbers(window: np.ndarray, position: int, digits: int) -> np.ndarray:
    """The decimal number each row holds at position (callers mask rows without digits there)."""
    value = np.zeros(len(window), np.int32)
    for column in range(position, position + digits):
        value = value * 10 + window[:, column]  # int32: the uint8 byte never wraps
    return value - int("1" * digits) * ord("0")


def _eight_digits(words: np.ndarray) -> np.ndarray:
    """The number each word of 8 ASCII digits writes (first byte most significant), pairs of
    digits, then fours, then the eight combined within the word; other bytes give garbage."""
    value = words - _EVERY_BYTE * np.uint64(ord("0"))
    value = (value * np.uint64(10) + (value >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    value = (value * np.uint64(100) + (value >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    return (value * np.uint64(10_000) + (value >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def _utc_hours(times: Texts) -> np.ndarray:
    """UTC hour per value, or -1 where the value is not a real contract timestamp.

    The zone is told by the last bytes alone (a fraction holds only '.' and digits), which fixes
    where the fraction ends; then every byte has one place to be checked at.
    """
    n = times.length
    zone = times.shifted(n - 8).window(8)  # the last 8 bytes: the zone is the last 6 or 1
    sign = zone[:, 2]
    zulu = (n > len(_TIMESTAMP_SHAPE)) & (zone[:, 7] == ord("Z"))
    offset = (
        (n >= len(_TIMESTAMP_SHAPE) + 6)
        & ((sign == ord("+")) | (sign == ord("-")))
        & _matches(_words(zone), _OFFSET_PATTERN)
    )
    fraction = n - len(_TIMESTAMP_SHAPE) - np.where(zulu, 1, np.where(offset, 6, 0))  # '.' and its digits
    head = times.window(_TIMESTAMP_WIDTH)
    words = _words(head)
    separator = head[:, 10]
    wanted = _FRACTION_DIGITS_AT[np.clip(fraction, 0, len(_FRACTION_DIGITS_AT) - 1)]
    fraction_digits = _has_bits(_in_range(words[:, 2:], ord("0"), ord("9")), wanted)
    ok = (
        (n >= len(_TIMESTAMP_SHAPE))
        & _matches(words, _TIMESTAMP_PATTERN)
        & ((separator == ord("T")) | (separator == ord(" ")))
        & ((fraction == 0) | ((fraction >= 2) & (fraction <= 1 + _FRACTION_DIGITS) & (head[:, 19] == ord("."))))
        & fraction_digits
    )
    year, month, day = _numbers(head, 0, 4), _numbers(head, 5, 2), _numbers(head, 8, 2)
    hour, minute, second = _numbers(head, 11, 2), _numbers(head, 14, 2), _numbers(head, 17, 2)
    offset_hours, offset_minutes = _numbers(zone, 3, 2), _numbers(zone, 6, 2)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    real = (
        ok
        & (year >= 1)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= month_days)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
        & (~offset | ((offset_hours <= 23) & (offset_minutes <= 59)))
    )
    minutes = np.where(offset, (offset_hours * 60 + offset_minutes) * np.where(sign == ord("-"), -1, 1), 0)
    utc = ((hour * 60 + minute - minutes) // 60) % 24
    return np.where(real, utc, -1)


def _cents(amounts: Texts) -> tuple[np.ndarray, dict[int, int]]:
    """(cents per value, -1 where invalid; {row: cents} for amounts of more than 16 bytes).

    An amount is digits with at most one '.', two or one bytes before its end.
    """
    n = amounts.length
    last = amounts.shifted(n - 3).window(3)
    two_decimals = (n >= 3) & (last[:, 0] == ord("."))
    one_decimal = (n >= 2) & ~two_decimals & (last[:, 1] == ord("."))
    whole_digits = n - np.where(two_decimals, 3, np.where(one_decimal, 2, 0))
    short = n <= _FAST_AMOUNT_CHARS
    dot = np.where((two_decimals | one_decimal) & short, whole_digits, _FAST_AMOUNT_CHARS)
    wanted = _FIRST_BYTES[np.where(short, n, 0)] & ~_BYTE_AT[dot]
    digits = _in_range(_words(amounts.window(_FAST_AMOUNT_CHARS)), ord("0"), ord("9"))
    ok = short & (whole_digits >= 1) & _has_bits(digits, wanted)
    # The whole part right-aligned in 16 bytes, whatever precedes it made '0'.
    aligned = _words(amounts.shifted(whole_digits - _FAST_AMOUNT_CHARS).window(_FAST_AMOUNT_CHARS))
    before = _FIRST_BYTES[np.clip(_FAST_AMOUNT_CHARS - whole_digits, 0, _FAST_AMOUNT_CHARS)] >> np.uint64(7)
    before *= np.uint64(0xFF)  # every byte before the whole part
    numbers = _eight_digits((aligned & ~before) | (before & (_EVERY_BYTE * np.uint64(ord("0")))))
    whole = (numbers[:, 0] * np.uint64(10**8) + numbers[:, 1]).astype(np.int64)
    tail = last.astype(np.int64) - ord("0")
    fraction = np.where(two_decimals, tail[:, 1] * 10 + tail[:, 2], np.where(one_decimal, tail[:, 2] * 10, 0))
    cents = np.where(ok, whole * 100 + fraction, -1)
    big = {}
    for row in np.flatnonzero(~short).tolist():
        value = amount_cents(amounts.text(row))
        if value is not None:
            big[row] = value
            cents[row] = 0
    return cents, big


def _currency_ok(currencies: Texts) -> np.ndarray:
    letters = _in_range(_words(currencies.window(8))[:, 0], ord("A"), ord("Z"))
    return (currencies.length == 3) & ((letters & _FIRST_BYTES[3, 0]) == _FIRST_BYTES[3, 0])


def _high_bits(positions) -> np.ndarray:
    """Two words with the high bit of each byte at the given positions (0 to 15) set."""
    bits = np.zeros(2, np.uint64)
    for position in positions:
        bits[position // 8] |= np.uint64(0x80 << 8 * (position % 8))
    return bits


_HIGH = np.uint64(0x8080808080808080)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_EVERY_BYTE = np.uint64(0x0101010101010101)
_TIMESTAMP_WIDTH = 32  # the longest timestamp without its zone (29 bytes), in whole words
_TIMESTAMP_PATTERN = _pattern(_TIMESTAMP_SHAPE)
_OFFSET_PATTERN = _pattern(b"???00:00")  # the last 8 bytes: a sign at 2, 'HH:MM' after it
# By the length of the fraction, its digits' high bits in words 2 and 3 (bytes 16 to 31).
_FRACTION_DIGITS_AT = np.array(
    [_high_bits([p - 16 for p in range(20, 19 + length)]) for length in range(_FRACTION_DIGITS + 2)]
)
_TYPE_WIDTH = -(-max(map(len, EVENT_TYPES)) // 8) * 8
_TYPE_PATTERNS = [_pattern(kind.encode(), wildcards=False) for kind in EVENT_TYPES]
_FIRST_BYTES = np.array([_high_bits(range(k)) for k in range(_FAST_AMOUNT_CHARS + 1)])  # by length
_BYTE_AT = np.array(
    [_high_bits([k]) if k < _FAST_AMOUNT_CHARS else _high_bits([]) for k in range(_FAST_AMOUNT_CHARS + 1)]
)


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
    n = len(event_id.start)
    missing = (event_id.length == 0) | (event_time.length == 0) | (user_id.length == 0) | (event_type.length == 0)
    type_code = _type_codes(event_type)
    bad_type = ~missing & (type_code < 0)
    hours = np.full(n, -1, np.int64)
    timed = np.flatnonzero(~missing & ~bad_type)
    hours[timed] = _utc_hours(event_time.take(timed))
    bad_time = ~missing & ~bad_type & (hours < 0)
    monetary = ~missing & ~bad_type & ~bad_time & _MONETARY[np.maximum(type_code, 0)]
    cents = np.zeros(n, np.int64)
    bad_amount = np.zeros(n, bool)
    bad_currency = np.zeros(n, bool)
    money_rows = np.flatnonzero(monetary)
    money_cents, money_big = _cents(amount.take(money_rows))
    cents[money_rows] = np.maximum(money_cents, 0)
    big = {int(money_rows[row]): value for row, value in money_big.items()}
    bad_amount[money_rows] = money_cents < 0
    bad_currency[money_rows] = (money_cents >= 0) & ~_currency_ok(currency.take(money_rows))
    reasons = np.select(
        [missing, bad_type, bad_time, bad_amount, bad_currency],
        [REASON_CODES[r] for r in ROW_REASONS[1:]],
        VALID,
    ).astype(np.int8)
    return Checks(reasons, type_code, hours, monetary, cents, big)


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
