"""parquet_columns.text_column against readers._column_text, and read_parquet_items against read_rows.

text_column is the fast twin of _column_text: for every generated Arrow array of a type it takes
(integers of every width, booleans, nulls, decimals of any precision and scale, timestamps of every
unit with and without a time zone, dates, ASCII text, any of them dictionary-encoded or sliced) its
texts must be exactly _column_text's, value by value; for the types it leaves to the row path it
gives None. End to end, a generated Parquet file read as ParquetColumns batches + text_columns_rows
must give what read_rows + validate gives: one entry per row (row number, "valid" or the reason,
the rejected row's content, the valid values), and the same file rejection.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Context, Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_project.core.aggregation import _content
from pipeline_project.core.columnar import text_columns_rows
from pipeline_project.core.contract import EVENT_TYPES
from pipeline_project.core.parquet_columns import text_column
from pipeline_project.core.readers import (
    FileRejected,
    ParquetColumns,
    RawRow,
    _column_text,
    read_parquet_items,
    read_rows,
)
from pipeline_project_tests.core.test_csv_blocks import Outcome, row_entry
from pipeline_project_tests.core.test_readers import parquet

PROFILE = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
INT64 = (-(1 << 63), (1 << 63) - 1)
UNITS = ("s", "ms", "us", "ns")
ZONES = (None, "UTC", "Asia/Kolkata", "America/St_Johns", "+05:45")
EPOCH_DAY = dt.date(1970, 1, 1)
FIRST_DAY, LAST_DAY = (dt.date.min - EPOCH_DAY).days, (dt.date.max - EPOCH_DAY).days
SECONDS_PER_UNIT = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
INTEGER_TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
]


def fast(array: pa.Array) -> list[str | None]:
    """text_column's texts, checked to be an ASCII string array (what text_columns_rows needs)."""
    texts = text_column(array, _column_text)
    assert texts is not None, f"{array.type} should take the fast path"
    assert texts.type == pa.string()
    assert len(texts) == len(array)
    values = texts.to_pylist()
    assert all(v is None or v.isascii() for v in values)
    return values


def assert_same_texts(array: pa.Array) -> None:
    assert fast(array) == _column_text(array)


# --------------------------------------------------------------------------- generated arrays


@st.composite
def with_nulls(draw, values: st.SearchStrategy, kind: pa.DataType) -> pa.Array:
    """An array of kind from values and nulls: plain, or a dictionary (unused entries, null entries
    and null indices included); possibly a slice."""
    items = pa.array(draw(st.lists(st.one_of(st.none(), values), max_size=40)), kind)
    if draw(st.booleans()) and len(items):
        picks = st.one_of(st.none(), st.integers(0, len(items) - 1))
        indices = pa.array(draw(st.lists(picks, max_size=40)), draw(st.sampled_from([pa.int8(), pa.int32()])))
        items = pa.DictionaryArray.from_arrays(indices, items)
    start = draw(st.integers(0, len(items)))
    return items.slice(start, draw(st.integers(0, len(items) - start)))


def scaled(unscaled: int, scale: int) -> Decimal:
    """unscaled * 10**-scale, exactly (the default context would round past 28 digits)."""
    return Decimal(unscaled).scaleb(-scale, Context(prec=100))


def integer_values(kind: pa.DataType) -> st.SearchStrategy:
    if pa.types.is_signed_integer(kind):
        low, high = -(1 << (kind.bit_width - 1)), (1 << (kind.bit_width - 1)) - 1
    else:
        low, high = 0, (1 << kind.bit_width) - 1
    return st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, -1 if low else 1]))


@st.composite
def decimal_arrays(draw) -> pa.Array:
    widths = [(pa.decimal32, 9), (pa.decimal64, 18), (pa.decimal128, 38), (pa.decimal256, 76)]
    make, most = draw(st.sampled_from(widths))  # each type with its largest precision
    precision = draw(st.integers(1, most))
    scale = draw(st.integers(0, precision))
    limit = 10**precision - 1
    unscaled = st.one_of(st.integers(-limit, limit), st.sampled_from([0, 1, -1, limit, -limit]))
    values = unscaled.map(lambda n: scaled(n, scale))
    return draw(with_nulls(values, make(precision, scale)))


def timestamp_values(unit: str) -> st.SearchStrategy:
    """Stored values across int64: near the epoch, in years 1..9999, near their edges (inside and out), anywhere."""
    per_day = 86_400 * SECONDS_PER_UNIT[unit]
    first, last = max(INT64[0], FIRST_DAY * per_day), min(INT64[1], (LAST_DAY + 1) * per_day - 1)
    edges = [e for e in (FIRST_DAY * per_day, (LAST_DAY + 1) * per_day) if INT64[0] <= e <= INT64[1]] or [0]
    near_edges = st.sampled_from(edges).flatmap(
        lambda edge: st.integers(max(INT64[0], edge - 2 * per_day), min(INT64[1], edge + 2 * per_day))
    )
    return st.one_of(
        st.integers(-(10**12), 10**12),
        st.integers(first, last),
        near_edges,
        st.integers(*INT64),
        st.sampled_from([*INT64, 0, -1, 1, first, last]),
    )


def timestamp_arrays() -> st.SearchStrategy:
    kinds = st.builds(pa.timestamp, st.sampled_from(UNITS), st.sampled_from(ZONES))
    return kinds.flatmap(lambda kind: with_nulls(timestamp_values(kind.unit), kind))


def date_arrays(in_range: bool = True) -> st.SearchStrategy:
    if in_range:
        days = st.one_of(st.integers(FIRST_DAY, LAST_DAY), st.sampled_from([FIRST_DAY, LAST_DAY, 0, -1]))
    else:
        days = st.integers(-(1 << 31), (1 << 31) - 1)
    millis = days.flatmap(lambda d: st.integers(d * 86_400_000, d * 86_400_000 + 86_399_999))
    return st.one_of(with_nulls(days, pa.date32()), with_nulls(millis, pa.date64()))


ascii_text = st.text(st.characters(max_codepoint=0x7F), max_size=12)


@given(st.sampled_from(INTEGER_TYPES).flatmap(lambda kind: with_nulls(integer_values(kind), kind)))
@settings(max_examples=150, **PROFILE)
def test_integers_of_every_width_and_sign(array):
    assert_same_texts(array)


@given(st.one_of(with_nulls(st.booleans(), pa.bool_()), with_nulls(st.none(), pa.null())))
@settings(max_examples=40, **PROFILE)
def test_booleans_and_nulls(array):
    assert_same_texts(array)


@given(decimal_arrays())
@settings(max_examples=300, **PROFILE)
def test_decimals_of_any_precision_and_scale(array):
    assert_same_texts(array)


@given(timestamp_arrays())
@settings(max_examples=400, **PROFILE)
def test_timestamps_of_every_unit_with_and_without_a_zone(array):
    assert_same_texts(array)


@given(date_arrays())
@settings(max_examples=100, **PROFILE)
def test_dates(array):
    assert_same_texts(array)


@given(
    st.one_of(
        st.sampled_from([pa.string(), pa.large_string()]).flatmap(lambda kind: with_nulls(ascii_text, kind)),
        # Not dictionary-encoded: Arrow cannot decode a dictionary of string_view (nor can the row path).
        st.lists(st.one_of(st.none(), ascii_text)).map(lambda values: pa.array(values, pa.string_view())),
    )
)
@settings(max_examples=100, **PROFILE)
def test_ascii_text_as_it_is(array):
    assert_same_texts(array)


@given(with_nulls(st.text(max_size=8), pa.string()))
@settings(max_examples=100, **PROFILE)
def test_text_takes_the_fast_path_exactly_when_it_is_ascii(array):
    stored = array.dictionary if pa.types.is_dictionary(array.type) else array  # a dictionary counts whole
    texts = text_column(array, _column_text)
    if all(v is None or v.isascii() for v in stored.to_pylist()):
        assert texts is not None and texts.to_pylist() == _column_text(array)
    else:
        assert texts is None


@given(date_arrays(in_range=False))
@settings(max_examples=60, **PROFILE)
def test_dates_outside_python_take_the_row_paths_text(array):
    assert_same_texts(array)


# --------------------------------------------------------------------------- exact values


def test_every_day_of_the_first_and_last_four_centuries():
    """The calendar, exhaustively over a whole Gregorian cycle (it repeats every 400 years) at both
    ends of years 1..9999; and a timestamp at every second of a day and every millisecond of a
    second, before the epoch and after."""
    cycle = 146_097
    days = np.concatenate([np.arange(FIRST_DAY, FIRST_DAY + cycle + 366), np.arange(LAST_DAY - cycle, LAST_DAY + 1)])
    assert_same_texts(pa.array(days.astype(np.int32)).cast(pa.date32()))
    day = 86_400
    seconds = np.concatenate([np.arange(-day, day), np.arange(LAST_DAY * day, (LAST_DAY + 1) * day)])
    assert_same_texts(pa.array(seconds).cast(pa.timestamp("s")))
    assert_same_texts(pa.array(np.arange(-2000, 2000)).cast(pa.timestamp("ms", "UTC")))


def test_timestamp_texts_by_unit_before_the_epoch_and_out_of_range():
    day_ns = 86_400 * 10**9
    stored = [-1, 0, None, 1_741_558_507_123_456_789, INT64[0], INT64[1]]
    wants = {
        "s": [
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            None,
            "out of range",
            "out of range",
            "out of range",
        ],
        "ms": [
            "1969-12-31T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            None,
            "out of range",
            "out of range",
            "out of range",
        ],
        "us": [
            "1969-12-31T23:59:59.999999Z",
            "1970-01-01T00:00:00.000000Z",
            None,
            "out of range",
            "out of range",
            "out of range",
        ],
        "ns": [
            "1969-12-31T23:59:59.999999999Z",
            "1970-01-01T00:00:00.000000000Z",
            None,
            "2025-03-09T22:15:07.123456789Z",
            "1677-09-21T00:12:43.145224192Z",
            "2262-04-11T23:47:16.854775807Z",
        ],
    }
    for unit, want in wants.items():
        for zone in (None, "Asia/Kolkata"):
            assert fast(pa.array(stored, pa.int64()).cast(pa.timestamp(unit, zone))) == want
    first_second = FIRST_DAY * 86_400
    edges = pa.array([first_second - 1, first_second, (LAST_DAY + 1) * 86_400 - 1, (LAST_DAY + 1) * 86_400])
    assert fast(edges.cast(pa.timestamp("s"))) == [
        "out of range",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "out of range",
    ]
    assert fast(pa.array([day_ns * 366 + 5], pa.int64()).cast(pa.timestamp("ns", "UTC"))) == [
        "1971-01-02T00:00:00.000000005Z"
    ]


def test_decimal_texts_including_the_ones_arrow_writes_with_an_exponent():
    assert fast(pa.array([Decimal("10.50"), Decimal("-3.00"), Decimal("0.00"), None], pa.decimal128(12, 2))) == [
        "10.50",
        "-3.00",
        "0.00",
        None,
    ]
    tiny = pa.array([Decimal("0E-7"), Decimal("-1E-7"), Decimal("12.3456789")], pa.decimal128(20, 7))
    assert fast(tiny) == ["0.0000000", "-0.0000001", "12.3456789"]
    assert fast(pa.array([Decimal(7)], pa.decimal256(76, 0))) == ["7"]


def test_integers_dates_and_dictionaries():
    assert fast(pa.array([INT64[0], INT64[1], None], pa.int64())) == [
        "-9223372036854775808",
        "9223372036854775807",
        None,
    ]
    assert fast(pa.array([(1 << 64) - 1, 0], pa.uint64())) == ["18446744073709551615", "0"]
    assert fast(pa.array([True, False, None])) == ["true", "false", None]
    assert fast(pa.array([FIRST_DAY, LAST_DAY, None, -1], pa.int32()).cast(pa.date32())) == [
        "0001-01-01",
        "9999-12-31",
        None,
        "1969-12-31",
    ]
    assert fast(pa.array([-1, 86_400_000], pa.int64()).cast(pa.date64())) == ["1969-12-31", "1970-01-02"]
    assert fast(pa.array(["u1", None, "u1", "u2"]).dictionary_encode()) == ["u1", None, "u1", "u2"]
    assert fast(pa.array([3, 3, None], pa.int16()).dictionary_encode()) == ["3", "3", None]


@pytest.mark.parametrize(
    "array",
    [
        pa.array([1.5, None]),
        pa.array([b"u1"], pa.binary()),
        pa.array(["M\u00fcller", "u2"]),
        pa.array(["u1", "M\u00fcller"]).dictionary_encode().slice(0, 1),  # an unused entry counts
        pa.array([[1]]),
        pa.array([Decimal("1E+2"), None], pa.decimal128(5, -2)),
        pa.array([dt.time(10, 15)]),
    ],
    ids=["float", "binary", "non-ASCII", "non-ASCII dictionary entry", "list", "negative scale", "time"],
)
def test_what_is_left_to_the_row_path(array):
    assert text_column(array, _column_text) is None


# --------------------------------------------------------------------------- end to end


def parquet_row_entry(row: RawRow) -> tuple:
    """row_entry, with a rejected row's content as the tally writes it for Parquet."""
    number, reason, _content_text, values = row_entry(row)
    return (number, reason, None if reason == "valid" else _content(row), values)


def via_rows(data: bytes) -> Outcome:
    outcome = Outcome(rows=[])
    try:
        for row in read_rows("parquet", io.BytesIO(data), 1 << 30):
            outcome.rows.append(parquet_row_entry(row))
            outcome.read += 1
    except FileRejected as problem:
        outcome.rejected = problem.reason
    return outcome


def column_entries(item: ParquetColumns) -> list[tuple]:
    parsed = text_columns_rows(*item)
    rejected = {number: (reason, content) for number, reason, content in parsed.rejected}
    valid = iter(parsed.valid.to_pylist())
    entries = []
    for number in range(item.first_row, item.first_row + len(item.columns[0])):
        if number in rejected:
            entries.append((number, *rejected.pop(number), None))
            continue
        row = next(valid)
        cents = row["cents"] if row["cents_big"] is None else int(row["cents_big"])
        values = (row["event_id"], row["user_id"], row["event_type"], row["hour"], row["currency"], cents)
        entries.append((number, "valid", None, values))
    assert not rejected and next(valid, None) is None
    assert parsed.read == len(entries)
    return entries


def via_items(data: bytes, batch_rows: int) -> Outcome:
    outcome = Outcome(rows=[])
    try:
        for item in read_parquet_items(io.BytesIO(data), batch_rows):
            if isinstance(item, ParquetColumns):
                assert item.first_row == len(outcome.rows) + 1, "batches are consecutive"
                entries = column_entries(item)
                outcome.blocks += 1
            else:
                entries = [parquet_row_entry(item)]
                outcome.raw_rows += 1
            outcome.rows += entries
            outcome.read += len(entries)
    except FileRejected as problem:
        outcome.rejected = problem.reason
    return outcome


def day_times(unit: str) -> st.SearchStrategy:
    """Stored values of a day, mostly: valid hours, with the edges of the range now and then."""
    per_second = SECONDS_PER_UNIT[unit]
    start = int(dt.datetime(2025, 3, 9, tzinfo=dt.UTC).timestamp()) * per_second
    # Parquet stores seconds as milliseconds: keep them inside what that can hold.
    low, high = (-(INT64[1] // 1000), INT64[1] // 1000) if unit == "s" else INT64
    return st.one_of(
        st.integers(start - 86_400 * per_second, start + 2 * 86_400 * per_second),
        st.integers(low, high),
        st.sampled_from([low, high, FIRST_DAY * 86_400 * per_second - 1, (LAST_DAY + 1) * 86_400 * per_second]),
    ).filter(lambda v: low <= v <= high)


@st.composite
def column(draw, values: st.SearchStrategy, size: int, kind: pa.DataType | None = None) -> pa.Array:
    """size values, up to a fifth of them null."""
    items = draw(st.lists(values, min_size=size, max_size=size))
    for row in draw(st.sets(st.integers(0, max(size - 1, 0)), max_size=size // 5)):
        items[row] = None
    return pa.array(items, kind)


@st.composite
def event_time_columns(draw, size: int) -> pa.Array:
    choice = draw(st.sampled_from(["timestamp", "timestamp", "text", "date"]))
    if choice == "text":
        texts = st.sampled_from(["2025-03-09T10:15:00Z", " 2025-03-09 23:59:59.5+01:00 ", "2025-02-30T00:00:00Z", "x"])
        return draw(column(texts, size, pa.string()))
    if choice == "date":
        return draw(column(st.integers(FIRST_DAY, LAST_DAY), size, pa.date32()))
    kind = pa.timestamp(draw(st.sampled_from(UNITS)), draw(st.sampled_from(ZONES)))
    return draw(column(day_times(kind.unit), size, kind))


@st.composite
def amount_columns(draw, size: int) -> pa.Array:
    choice = draw(st.sampled_from(["decimal", "decimal", "integer", "text", "float"]))
    if choice == "decimal":
        precision = draw(st.integers(1, 40))
        scale = draw(st.one_of(st.just(min(2, precision)), st.integers(0, precision)))
        limit = 10**precision - 1
        unscaled = st.one_of(st.integers(-limit, limit), st.integers(0, min(limit, 9_999)))
        kind = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
        return draw(column(unscaled.map(lambda n: scaled(n, scale)), size, kind))
    if choice == "integer":
        kind = draw(st.sampled_from(INTEGER_TYPES))
        return draw(column(integer_values(kind), size, kind))
    if choice == "float":
        return draw(column(st.floats(-1e6, 1e6), size))
    texts = st.sampled_from(["10.50", " 3 ", "-1.00", "1.234", "", "99999999999999999999.99"])
    return draw(column(texts, size, pa.string()))


@st.composite
def id_columns(draw, size: int, prefix: str) -> pa.Array:
    choice = draw(st.sampled_from(["text", "text", "integer", "binary"]))
    if choice == "integer":
        kind = draw(st.sampled_from(INTEGER_TYPES))
        return draw(column(integer_values(kind), size, kind))
    odd = draw(st.sampled_from([[""], ["", " ", f"{prefix}\u00e9"]]))  # non-ASCII: the batch keeps the row path
    names = st.sampled_from([f"{prefix}{n}" for n in range(6)] + odd)
    if choice == "binary":
        encoding = draw(st.sampled_from(["utf-8", "latin-1"]))  # latin-1: not UTF-8, the file is rejected
        return draw(column(names.map(lambda name: name.encode(encoding)), size, pa.binary()))
    return draw(column(names, size, pa.string()))


def maybe_dictionary(draw, array: pa.Array) -> pa.Array:
    if draw(st.booleans()) and not pa.types.is_floating(array.type):
        return array.dictionary_encode()
    return array


@st.composite
def parquet_files(draw) -> tuple[bytes, int]:
    size = draw(st.integers(0, 30))
    types = st.sampled_from([*EVENT_TYPES, *EVENT_TYPES, " view ", "click", ""])
    currencies = st.sampled_from(["USD", "EUR", "USD", "usd", " GBP ", ""])
    columns = {
        "event_id": id_columns(size, "e"),
        "event_time": event_time_columns(size),
        "user_id": id_columns(size, "u"),
        "event_type": column(types, size, pa.string()),
        "amount": amount_columns(size),
        "currency": column(currencies, size, pa.string()),
    }
    names = draw(st.permutations(list(columns)))
    table = pa.table({name: maybe_dictionary(draw, draw(columns[name])) for name in names})
    table = table.append_column("country", pa.array(["DE"] * size))  # a column the contract ignores
    return parquet(table, row_group_size=draw(st.integers(1, 40))), draw(st.integers(1, 12))


@given(parquet_files())
@settings(max_examples=150, **PROFILE)
def test_any_native_file_agrees_with_the_row_path(case):
    data, batch_rows = case
    want, got = via_rows(data), via_items(data, batch_rows)
    assert got.comparable() == want.comparable()


def test_a_native_file_goes_as_columns_with_exact_rejections():
    table = pa.table(
        {
            "event_id": pa.array([1, 2, 3, 4], pa.int64()),
            "event_time": pa.array([0, -1, None, 1 << 62], pa.int64()).cast(pa.timestamp("us", "Asia/Kolkata")),
            "user_id": pa.array([7, 8, 9, 7], pa.uint32()).dictionary_encode(),
            "event_type": ["purchase", "refund", "view", "view"],
            "amount": pa.array([Decimal("10.50"), Decimal("-0.01"), None, None], pa.decimal128(12, 2)),
            "currency": ["USD", "EUR", None, None],
        }
    )
    items = list(read_parquet_items(io.BytesIO(parquet(table)), batch_rows=3))
    assert [type(item) for item in items] == [ParquetColumns, ParquetColumns]
    assert [c.to_pylist() for c in items[0].columns] == [
        ["1", "2", "3"],
        ["1970-01-01T00:00:00.000000Z", "1969-12-31T23:59:59.999999Z", None],
        ["7", "8", "9"],
        ["purchase", "refund", "view"],
        ["10.50", "-0.01", None],
        ["USD", "EUR", None],
    ]
    rows = text_columns_rows(*items[0])
    assert rows.rejected == [
        (
            2,
            "invalid_amount",
            '{"event_id": "2", "event_time": "1969-12-31T23:59:59.999999Z", "user_id": "8", '
            '"event_type": "refund", "amount": "-0.01", "currency": "EUR"}',
        ),
        (
            3,
            "missing_field",
            '{"event_id": "3", "event_time": null, "user_id": "9", "event_type": "view", '
            '"amount": null, "currency": null}',
        ),
    ]
    assert text_columns_rows(*items[1]).rejected == [
        (
            4,
            "invalid_timestamp",
            '{"event_id": "4", "event_time": "out of range", "user_id": "7", "event_type": "view", '
            '"amount": null, "currency": null}',
        )
    ]
    assert via_items(parquet(table), 3).comparable() == via_rows(parquet(table)).comparable()


def test_a_batch_with_a_float_column_keeps_the_row_path():
    table = pa.table(
        {
            "event_id": ["e1", "e2"],
            "event_time": pa.array([0, 1], pa.int64()).cast(pa.timestamp("ms")),
            "user_id": ["u1", "u2"],
            "event_type": ["purchase", "view"],
            "amount": [10.5, None],
            "currency": ["USD", None],
        }
    )
    items = list(read_parquet_items(io.BytesIO(parquet(table))))
    assert items == [
        RawRow(1, ("e1", "1970-01-01T00:00:00.000Z", "u1", "purchase", "10.5", "USD"), None),
        RawRow(2, ("e2", "1970-01-01T00:00:00.001Z", "u2", "view", None, None), None),
    ]
