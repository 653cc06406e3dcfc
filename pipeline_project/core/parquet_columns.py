"""Native Parquet columns as the contract's text, a whole column at once: the fast twin of
readers._column_text, which stays the one definition of that text.

text_column gives a pa.string() array holding, for every value, exactly the text _column_text
gives (null where it gives None), all ASCII; or None for a column it cannot give that way (floats,
binary, non-ASCII text, nested values), which then keeps the row path. The few values whose text
it does not build itself (a decimal Arrow writes with an exponent, a timestamp or date outside
years 1..9999) it takes from `exact`, the row path's own function.
test_parquet_columns.py checks the equality value by value.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

Exact = Callable[[pa.Array], list[str | None]]

UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}  # fraction digits of a timestamp unit
_SECONDS_PER_DAY = 86_400
_MS_PER_DAY = 86_400_000
# Days from 1970-01-01 to the first and last dates Python's datetime can hold.
_FIRST_DAY = (dt.date.min - dt.date(1970, 1, 1)).days
_LAST_DAY = (dt.date.max - dt.date(1970, 1, 1)).days
_INT32_OFFSETS = 1 << 31


def text_column(array: pa.Array, exact: Exact) -> pa.Array | None:
    """The column's values as exact's texts in a string array, or None where that cannot be had fast."""
    if pat.is_dictionary(array.type):
        # The dictionary is converted once; unused entries count too (a bad one keeps the row path).
        texts = text_column(array.dictionary, exact)
        return None if texts is None else texts.take(array.indices)
    kind = array.type
    if pat.is_string(kind) or pat.is_large_string(kind) or pat.is_string_view(kind):
        return _ascii_text(array)
    if pat.is_integer(kind) or pat.is_boolean(kind):
        return array.cast(pa.string())  # Arrow writes ints as str() does, booleans as JSON does
    if pat.is_null(kind):
        return pa.nulls(len(array), pa.string())
    if pat.is_decimal(kind):
        return _decimal_text(array, exact)
    if pat.is_timestamp(kind):
        return _timestamp_text(array, exact)
    if pat.is_date(kind):
        return _date_text(array, exact)
    return None


def _ascii_text(array: pa.Array) -> pa.Array | None:
    """ASCII text as it is (only for ASCII does str.strip equal the columns' trim)."""
    array = array.cast(pa.string())
    return array if _value_bytes(array).max(initial=0) < 0x80 else None


def _decimal_text(array: pa.Array, exact: Exact) -> pa.Array | None:
    """Arrow's decimal text is format(value, "f") except where it switches to an exponent
    (tiny values at a large scale): those few come from exact."""
    if array.type.scale < 0:
        return None  # every value would take an exponent
    texts = array.cast(pa.string())
    if not np.any(_value_bytes(texts) == ord("E")):
        return texts
    exponent = pc.fill_null(pc.match_substring(texts, "E"), False).to_numpy(zero_copy_only=False)
    return _with_exact(texts, exponent, array, exact)


def _timestamp_text(array: pa.Array, exact: Exact) -> pa.Array | None:
    """YYYY-MM-DDTHH:MM:SS[.fraction]Z of the stored UTC instant, the fraction's digits by unit."""
    digits = UNIT_DIGITS[array.type.unit]
    width = 20 + (digits + 1 if digits else 0)
    if len(array) * width >= _INT32_OFFSETS:
        return None
    seconds, fraction = np.divmod(_stored(array, np.int64), 10**digits)  # floors, as the row path's divmod
    days, second_of_day = np.divmod(seconds, _SECONDS_PER_DAY)
    in_range = (days >= _FIRST_DAY) & (days <= _LAST_DAY)
    chars = np.empty((len(array), width), np.uint8)
    _write_date(chars, np.where(in_range, days, 0))
    chars[:, 10] = ord("T")
    _at(chars, 11, np.uint64)[:] = _clock()[second_of_day]
    if digits:
        chars[:, 19] = ord(".")
        _write_digits(chars, 20, digits, fraction.astype(np.int32))  # below 10**9
    chars[:, -1] = ord("Z")
    return _with_exact(_strings(chars, array), ~in_range & _valid(array), array, exact)


def _date_text(array: pa.Array, exact: Exact) -> pa.Array | None:
    """YYYY-MM-DD; dates outside years 1..9999 take their text from exact."""
    if len(array) * 10 >= _INT32_OFFSETS:
        return None
    if pat.is_date64(array.type):
        days = np.floor_divide(_stored(array, np.int64), _MS_PER_DAY)
    else:
        days = _stored(array, np.int32).astype(np.int64)
    in_range = (days >= _FIRST_DAY) & (days <= _LAST_DAY)
    chars = np.empty((len(array), 10), np.uint8)
    _write_date(chars, np.where(in_range, days, 0))
    return _with_exact(_strings(chars, array), ~in_range & _valid(array), array, exact)


def _write_date(chars: np.ndarray, days: np.ndarray) -> None:
    """YYYY-MM-DD into chars' first ten columns; days within years 1..9999."""
    year, month, day = _civil(days.astype(np.int32))  # int32: several times faster, and wide enough
    _write_digits(chars, 0, 4, year)
    chars[:, 4] = chars[:, 7] = ord("-")
    _write_digits(chars, 5, 2, month)
    _write_digits(chars, 8, 2, day)


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01 in the proleptic Gregorian calendar, for days
    from year 1 on (H. Hinnant's civil_from_days: eras of 400 years, years starting in March)."""
    shifted = days + 719_468  # days since 0000-03-01, never negative from year 1 on
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_from_march = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_from_march + 2) // 5 + 1
    month = np.where(month_from_march < 10, month_from_march + 3, month_from_march - 9)
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day


def _write_digits(chars: np.ndarray, start: int, width: int, values: np.ndarray) -> None:
    """values (0 <= v < 10**width) as zero-padded decimal digits in chars' columns start..start+width,
    written from the right in words of 4, 2 or 1 digits."""
    end = start + width
    while end > start:
        size = next(size for size in (4, 2, 1) if size <= end - start)
        end -= size
        values, low = np.divmod(values, 10**size)
        _at(chars, end, _digit_words(size).dtype)[:] = _digit_words(size)[low]


@functools.cache
def _digit_words(size: int) -> np.ndarray:
    """The texts "0..0" to "9..9" of size digits, each read as one little-endian unsigned int."""
    return np.frombuffer(b"".join(f"{n:0{size}d}".encode() for n in range(10**size)), f"<u{size}")


@functools.cache
def _clock() -> np.ndarray:
    """ "HH:MM:SS" of every second of a day, each read as one little-endian uint64."""
    texts = (f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(_SECONDS_PER_DAY))
    return np.frombuffer("".join(texts).encode(), "<u8")


def _at(chars: np.ndarray, start: int, dtype: type) -> np.ndarray:
    """One value of dtype per row of chars, over the bytes from column start on (an unaligned view)."""
    if len(chars) == 0:
        return np.empty(0, dtype)  # numpy makes no strided view of an empty buffer
    return np.ndarray((len(chars),), dtype, buffer=chars, offset=start, strides=(chars.shape[1],))


def _stored(array: pa.Array, dtype: type) -> np.ndarray:
    """The array's values as stored, a numpy view (whatever a null's slot holds)."""
    return np.frombuffer(array.buffers()[1], dtype, len(array), array.offset * np.dtype(dtype).itemsize)


def _valid(array: pa.Array) -> np.ndarray:
    return array.is_valid().to_numpy(zero_copy_only=False)


def _strings(chars: np.ndarray, array: pa.Array) -> pa.Array:
    """A string array of chars' rows (each a fixed-width text), null where array is null."""
    count, width = chars.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    nulls = array.null_count
    validity = pa.py_buffer(np.packbits(_valid(array), bitorder="little")) if nulls else None
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(chars), validity, nulls)


def _value_bytes(texts: pa.Array) -> np.ndarray:
    """The bytes of a string array's values (nulls' slots among them included), a numpy view."""
    _validity, offsets, data = texts.buffers()
    bounds = np.frombuffer(offsets, np.int32, len(texts) + 1, texts.offset * 4)[[0, -1]]
    if data is None:
        return np.zeros(0, np.uint8)
    return np.frombuffer(data, np.uint8)[bounds[0] : bounds[1]]


def _with_exact(texts: pa.Array, mask: np.ndarray, array: pa.Array, exact: Exact) -> pa.Array:
    """texts with the values where mask is true replaced by exact's texts for them."""
    marked = np.flatnonzero(mask)
    if len(marked) == 0:
        return texts
    replacements = pa.array(exact(array.take(pa.array(marked))), pa.string())
    index = np.arange(len(texts))
    index[marked] = len(texts) + np.arange(len(marked))  # the replacements follow texts
    return pa.concat_arrays([texts, replacements]).take(pa.array(index))
