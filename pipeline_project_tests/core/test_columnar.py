"""columnar.validate_columns against validation.validate: the same rows give the same codes and values.

validate_columns takes the six fields already stripped (null or empty meaning missing), so every
case feeds validate(*map(clean, raw)) and validate_columns(the cleaned values as Arrow string
columns) and compares row by row: the reason code of every row, and, for the valid rows in order,
(event_id bytes, user_id bytes, type code, UTC hour, currency, cents) with cents_big standing in
for cents when the amount does not fit in int64.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_project.core.columnar import (
    REASON_CODES,
    VALID,
    VALID_SCHEMA,
    Checks,
    Texts,
    arrow_texts,
    check_texts,
    validate_columns,
)
from pipeline_project.core.contract import EVENT_TYPES, REQUIRED_COLUMNS, ROW_REASONS
from pipeline_project.core.validation import ValidRecord, amount_cents, clean, utc_hour, validate

INT64_MAX = (1 << 63) - 1
PROFILE = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
GOOD_TIME = "2025-03-09T10:15:00Z"

# --------------------------------------------------------------------------- the comparison


def expected(rows: list[tuple[str | None, ...]]) -> tuple[list[int], list[tuple]]:
    """(codes, valid tuples) from the row path: validate() over the cleaned values."""
    codes, valid = [], []
    for raw in rows:
        result = validate(*(clean(v) for v in raw))
        if isinstance(result, str):
            codes.append(REASON_CODES[result])
            continue
        assert isinstance(result, ValidRecord)
        codes.append(VALID)
        valid.append(
            (
                result.event_id.encode("utf-8", "surrogatepass"),
                result.user_id.encode("utf-8", "surrogatepass"),
                EVENT_TYPES.index(result.event_type),
                result.utc_hour,
                result.currency,
                result.amount_cents,
            )
        )
    return codes, valid


def columns(rows: list[tuple[str | None, ...]], empty_as_null: bool = True, large: bool = False) -> list[pa.Array]:
    """The six cleaned fields as Arrow columns; a missing value is null, or "" when empty_as_null is False."""
    kind = pa.large_string() if large else pa.string()
    cleaned = [[clean(row[i]) for row in rows] for i in range(6)]
    if not empty_as_null:
        cleaned = [["" if v is None else v for v in column] for column in cleaned]
    return [pa.array(column, kind) for column in cleaned]


def actual(cols: list[pa.Array]) -> tuple[list[int], list[tuple]]:
    result = validate_columns(*cols)
    assert result.valid.schema == VALID_SCHEMA
    assert len(result.reasons) == len(cols[0])
    valid = []
    for row in result.valid.to_pylist():
        big = row["cents_big"]
        # One representation only: cents when it fits in int64, else 0 with the exact decimal text.
        if big is not None:
            assert row["cents"] == 0, row
            assert int(big) > INT64_MAX and big == str(int(big)), row
        cents = row["cents"] if big is None else int(big)
        valid.append((row["event_id"], row["user_id"], row["event_type"], row["hour"], row["currency"], cents))
    return [int(code) for code in result.reasons], valid


def assert_same(rows: list[tuple[str | None, ...]], **column_options) -> None:
    want_codes, want_valid = expected(rows)
    got_codes, got_valid = actual(columns(rows, **column_options))
    mismatched = [
        (rows[i], ROW_REASONS[want - 1] if want else "valid", ROW_REASONS[got - 1] if got else "valid")
        for i, (want, got) in enumerate(zip(want_codes, got_codes, strict=True))
        if want != got
    ]
    assert not mismatched, f"reason codes differ (row, validate, validate_columns): {mismatched}"
    assert got_valid == want_valid


# --------------------------------------------------------------------------- values

EVENT_IDS = st.sampled_from(
    ["e1", "e2", "E1", "10", " e1 ", "a,b", 'q"q', "\u00fc\u00df", "\u65e5\u672c", "\U0001f389", "", " ", None]
)
USER_IDS = st.sampled_from(["u1", "u2", "\u00e9", "x\ty", "", None])
EVENT_TYPE_VALUES = st.sampled_from(
    [*EVENT_TYPES, *EVENT_TYPES, " purchase\t", "VIEW", "Purchase", "refunds", "view\u200b", "", " ", None]
)


@st.composite
def timestamps(draw) -> str:
    year = draw(st.sampled_from(["0000", "0001", "1900", "1999", "2000", "2024", "2025", "9999", "999", "20250"]))
    month = draw(st.sampled_from(["00", "01", "02", "03", "04", "12", "13", "1"]))
    day = draw(st.sampled_from(["00", "01", "09", "28", "29", "30", "31", "32"]))
    sep = draw(st.sampled_from(["T", "T", " ", "t", "_"]))
    hour = draw(st.sampled_from(["00", "09", "23", "24", "99", "1"]))
    minute = draw(st.sampled_from(["00", "30", "59", "60"]))
    second = draw(st.sampled_from(["00", "59", "60"]))
    fraction = draw(st.one_of(st.just(""), st.text("0123456789", min_size=0, max_size=10).map(lambda d: "." + d)))
    zone = draw(
        st.one_of(
            st.sampled_from(["", "", "Z", "z", "+00:00", "-00:00", "+0100", "+01", "Z+01:00"]),
            st.tuples(
                st.sampled_from("+-"),
                st.sampled_from(["00", "01", "05", "12", "23", "24", "99"]),
                st.sampled_from(["00", "30", "45", "59", "60"]),
            ).map(lambda t: f"{t[0]}{t[1]}:{t[2]}"),
        )
    )
    return f"{year}-{month}-{day}{sep}{hour}:{minute}:{second}{fraction}{zone}"


SPECIAL_TIMES = st.sampled_from(
    [
        GOOD_TIME,
        "2024-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2000-02-29T12:00:00Z",
        "2025-02-29T00:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-03-09T24:00:00Z",
        "2025-03-09T10:60:00Z",
        "2025-03-09T10:15:00+23:59",
        "2025-03-09T10:15:00-23:59",
        "2025-03-09T10:15:00+24:00",
        "2025-03-09T10:15:00+05:60",
        "2025-03-09T10:15:00.1Z",
        "2025-03-09T10:15:00.123456789Z",
        "2025-03-09T10:15:00.1234567890Z",
        "2025-03-09 10:15:00",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59.999999999-23:59",
        "2025-03-09",
        "2025-03-09T10:15:00.Z",
        "\uff12025-03-09T10:15:00Z",
        "\u0662\u0660\u0662\u0665-03-09T10:15:00Z",
        "2025-03-09T10:15:00Z\n",
        " 2025-03-09T10:15:00Z ",
        "2025-03-09T10:15:00Z x",
        "",
        None,
    ]
)
TIMES = st.one_of(timestamps(), SPECIAL_TIMES)

SPECIAL_AMOUNTS = [
    "0",
    "00",
    "1.5",
    "1.55",
    "1.555",
    ".5",
    "5.",
    "00012.30",
    "10.50",
    "123456789012345",  # 15 whole digits
    "123456789012345.67",
    "999999999999999.99",
    "9999999999999999",  # 16 whole digits
    "9999999999999999.9",
    "9999999999999999.99",
    "9223372036854775.81",
    "9223372036854775.807",
    "92233720368547758",  # 17 whole digits: 9223372036854775800 cents, fits in int64
    "92233720368547758.07",  # exactly INT64_MAX cents
    "92233720368547758.08",  # one cent more
    "92233720368547759",
    "99999999999999999",
    "99999999999999999.99",
    "999999999999999999",  # 18 whole digits
    "000000000000000001",
    "000000000000000001.5",
    "99999999999999999999.99",  # 20 whole digits
    "12345678901234567890",
    "-1",
    "+1",
    "1e3",
    "1,5",
    "0x10",
    "\u0661\u0662",
    "1\u0665",
    "\uff11",
    " 1.5 ",
    "",
    " ",
    None,
]


@st.composite
def generated_amounts(draw) -> str:
    whole = draw(
        st.one_of(
            st.text("0123456789", min_size=1, max_size=22),
            st.integers(0, 10**22).map(str),
            st.integers(10**14, 10**19).map(str),  # 15 to 20 digits: around the int64 boundary
            st.tuples(st.sampled_from("0123456789"), st.integers(1, 21)).map(lambda t: t[0] * t[1]),
        )
    )
    decimals = draw(st.one_of(st.none(), st.text("0123456789", min_size=0, max_size=3)))
    return whole if decimals is None else f"{whole}.{decimals}"


AMOUNTS = st.one_of(st.sampled_from(SPECIAL_AMOUNTS), generated_amounts())
CURRENCIES = st.sampled_from(["USD", "USD", "EUR", "usd", "Usd", "US", "USDX", "U$D", "\u00dcSD", " JPY ", "", None])


@st.composite
def records(draw) -> tuple[str | None, ...]:
    return (
        draw(EVENT_IDS),
        draw(TIMES),
        draw(USER_IDS),
        draw(EVENT_TYPE_VALUES),
        draw(AMOUNTS),
        draw(CURRENCIES),
    )


# --------------------------------------------------------------------------- properties


@settings(max_examples=200, **PROFILE)
@given(rows=st.lists(records(), max_size=40), empty_as_null=st.booleans())
def test_validate_columns_agrees_with_validate(rows, empty_as_null):
    assert_same(rows, empty_as_null=empty_as_null)


@settings(max_examples=60, **PROFILE)
@given(rows=st.lists(records(), min_size=1, max_size=30), start=st.integers(0, 5), stop=st.integers(0, 5))
def test_sliced_and_large_string_columns(rows, start, stop):
    """Columns with an offset (a slice of a bigger array) and large_string columns give the same answer."""
    filler = ("f", GOOD_TIME, "u", "purchase", "1", "USD")
    everything = [filler] * start + rows + [filler] * stop
    full = columns(everything)
    sliced = [c.slice(start, len(rows)) for c in full]
    want_codes, want_valid = expected(rows)
    assert actual(sliced) == (want_codes, want_valid)
    assert actual(columns(rows, large=True)) == (want_codes, want_valid)


@settings(max_examples=100, **PROFILE)
@given(amount=generated_amounts(), event_type=st.sampled_from(["purchase", "refund"]))
def test_every_amount_length(amount, event_type):
    """Digit strings of every length around the int64 boundary, one row at a time."""
    assert_same([("e1", GOOD_TIME, "u1", event_type, amount, "USD")])


# --------------------------------------------------------------------------- the byte checks one by one

# Near misses: a real timestamp or amount with one byte replaced, inserted or removed, and text
# over the bytes they are made of; neighbours in one buffer, so no check may read its neighbour.
NEAR_BYTES = "0123456789-:T .Z+zt\u00e9\x00"


@st.composite
def near_misses(draw, real) -> str:
    text = draw(real)
    if not text or draw(st.booleans()):
        return text
    at = draw(st.integers(0, len(text)))
    byte = draw(st.sampled_from(NEAR_BYTES))
    edit = draw(st.sampled_from(["replace", "insert", "delete"]))
    if edit == "insert":
        return text[:at] + byte + text[at:]
    return text[:at] + (byte if edit == "replace" else "") + text[at + 1 :]


NEAR_TIMES = st.one_of(
    near_misses(st.one_of(timestamps(), SPECIAL_TIMES.filter(lambda t: t is not None))),
    st.text(NEAR_BYTES, min_size=17, max_size=40),
)
NEAR_AMOUNTS = st.one_of(
    near_misses(st.one_of(generated_amounts(), st.sampled_from([a for a in SPECIAL_AMOUNTS if a is not None]))),
    st.text("0123456789. +-e\u0661", max_size=24),
)


def texts(values: list[str], padding: int) -> Texts:
    """The values in one buffer after `padding` bytes of other text (a slice of a bigger array)."""
    column = pa.array(["9" * padding, *values, "9"], pa.string()).slice(1, len(values))
    return arrow_texts(column)


def checked(field: str, values: list[str], padding: int, **others: str) -> Checks:
    """check_texts over rows whose `field` takes the values (in a buffer after `padding` bytes) and
    whose other fields are the given constants."""
    row = {"event_id": "e", "event_time": GOOD_TIME, "user_id": "u", "event_type": "view"} | others
    return check_texts(
        *(
            texts(values, padding) if name == field else texts([row.get(name, "")] * len(values), 0)
            for name in REQUIRED_COLUMNS
        )
    )


@settings(max_examples=300, **PROFILE)
@given(values=st.lists(NEAR_TIMES, max_size=20), padding=st.integers(0, 40))
def test_timestamp_bytes_agree_with_the_regex(values, padding):
    hours = checked("event_time", values, padding).hours.tolist()
    assert hours == [-1 if (h := utc_hour(v)) is None else h for v in values]


@settings(max_examples=300, **PROFILE)
@given(values=st.lists(NEAR_AMOUNTS, max_size=20), padding=st.integers(0, 40))
def test_amount_bytes_agree_with_amount_cents(values, padding):
    checks = checked("amount", values, padding, event_type="purchase", currency="USD")
    got = [
        checks.big.get(row, cents) if reason == VALID else -1
        for row, (reason, cents) in enumerate(zip(checks.reasons.tolist(), checks.cents.tolist(), strict=True))
    ]
    assert got == [-1 if (c := amount_cents(v)) is None else c for v in values]
    assert {REASON_CODES["invalid_amount"], VALID} >= set(checks.reasons.tolist())


@settings(max_examples=150, **PROFILE)
@given(
    kinds=st.lists(near_misses(st.sampled_from(EVENT_TYPES)), max_size=20),
    currencies=st.lists(st.text("ABCXYZaz@[ \u00dc", max_size=4), max_size=20),
    padding=st.integers(0, 20),
)
def test_type_and_currency_bytes_agree(kinds, currencies, padding):
    assert checked("event_type", kinds, padding).type_code.tolist() == [
        EVENT_TYPES.index(k) if k in EVENT_TYPES else -1 for k in kinds
    ]
    reasons = checked("currency", currencies, padding, event_type="refund", amount="1").reasons.tolist()
    assert reasons == [
        VALID if len(c) == 3 and all("A" <= ch <= "Z" for ch in c) else REASON_CODES["invalid_currency"]
        for c in currencies
    ]


def test_a_range_outside_its_buffer_is_refused():
    """The compiled rules read only inside each buffer: a range reaching past either end is an error."""
    inside = Texts(np.frombuffer(b"abcdef", np.uint8), np.array([0]), np.array([6]))
    for start, length in ((-1, 2), (5, 2), (7, 1)):
        outside = Texts(inside.data, np.array([start]), np.array([length]))
        with pytest.raises(ValueError, match="outside its buffer"):
            check_texts(outside, inside, inside, inside, inside, inside)
    missing = Texts(inside.data, np.array([99]), np.array([0]))  # length 0: missing, never read
    assert check_texts(missing, inside, inside, inside, inside, inside).reasons.tolist() == [
        REASON_CODES["missing_field"]
    ]


# --------------------------------------------------------------------------- pinned examples


def single(*values) -> tuple[int, list[dict]]:
    """validate_columns' code and valid rows for one row of already clean values."""
    result = validate_columns(*(pa.array([v], pa.string()) for v in values))
    return int(result.reasons[0]), result.valid.to_pylist()


def test_reason_codes_follow_row_reasons():
    assert VALID == 0
    assert REASON_CODES == {
        "malformed_row": 1,
        "missing_field": 2,
        "invalid_event_type": 3,
        "invalid_timestamp": 4,
        "invalid_amount": 5,
        "invalid_currency": 6,
    }


def test_negative_offset_carries_into_the_next_day():
    code, valid = single("e1", "2025-03-09T23:30:00-01:00", "u1", "view", None, None)
    assert code == VALID
    assert valid == [
        {
            "event_id": b"e1",
            "user_id": b"u1",
            "event_type": 0,
            "hour": 0,
            "currency": None,
            "cents": 0,
            "cents_big": None,
        }
    ]


@pytest.mark.parametrize(
    ("timestamp", "hour"),
    [
        ("2025-03-09T00:15:00+01:00", 23),
        ("2025-03-09T10:15:00+05:30", 4),
        ("2025-03-09T10:15:00-05:45", 16),
        ("2025-03-09 10:15:00.123456789", 10),
        ("2024-02-29T00:00:00Z", 0),
        ("2000-02-29T12:00:00Z", 12),
        ("0001-01-01T00:00:00+23:59", 0),
        ("9999-12-31T23:59:59.999999999-23:59", 23),
    ],
)
def test_pinned_hours(timestamp, hour):
    assert validate("e1", timestamp, "u1", "add_to_cart", None, None).utc_hour == hour
    code, valid = single("e1", timestamp, "u1", "add_to_cart", None, None)
    assert code == VALID
    assert [(row["event_type"], row["hour"]) for row in valid] == [(1, hour)]


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        ("1900-02-29T00:00:00Z", "invalid_timestamp"),
        ("2025-13-01T00:00:00Z", "invalid_timestamp"),
        ("2025-03-09T24:00:00Z", "invalid_timestamp"),
        ("2025-03-09T10:60:00Z", "invalid_timestamp"),
        ("2025-03-09T10:15:00+24:00", "invalid_timestamp"),
        ("2025-03-09T10:15:00+05:60", "invalid_timestamp"),
        ("2025-03-09T10:15:00.1234567890Z", "invalid_timestamp"),
        ("0000-01-01T00:00:00Z", "invalid_timestamp"),
    ],
)
def test_pinned_bad_timestamps(timestamp, reason):
    assert validate("e1", timestamp, "u1", "view", None, None) == reason
    assert single("e1", timestamp, "u1", "view", None, None) == (REASON_CODES[reason], [])


@pytest.mark.parametrize(
    ("amount", "cents", "cents_big"),
    [
        ("0", 0, None),
        ("1.5", 150, None),
        ("1.55", 155, None),
        ("00012.30", 1230, None),
        ("9223372036854775.81", 922337203685477581, None),
        ("9999999999999999.99", 999999999999999999, None),
        ("92233720368547758", 9223372036854775800, None),
        ("92233720368547758.07", INT64_MAX, None),
        ("92233720368547758.08", 0, "9223372036854775808"),
        ("99999999999999999", 0, "9999999999999999900"),
        ("999999999999999999", 0, "99999999999999999900"),
        ("99999999999999999999.99", 0, "9999999999999999999999"),
    ],
)
def test_pinned_amounts(amount, cents, cents_big):
    assert validate("e1", GOOD_TIME, "u1", "purchase", amount, "USD").amount_cents == int(cents_big or cents)
    code, valid = single("e1", GOOD_TIME, "u1", "purchase", amount, "USD")
    assert (code, [(row["currency"], row["cents"], row["cents_big"]) for row in valid]) == (
        VALID,
        [("USD", cents, cents_big)],
    )


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        ("1.555", "USD", "invalid_amount"),
        (".5", "USD", "invalid_amount"),
        ("5.", "USD", "invalid_amount"),
        ("\u0661\u0662", "USD", "invalid_amount"),
        (None, "USD", "invalid_amount"),
        ("1", "usd", "invalid_currency"),
        ("1", "US", "invalid_currency"),
        ("1", "USDX", "invalid_currency"),
        ("1", None, "invalid_currency"),
    ],
)
def test_pinned_money_rejections(amount, currency, reason):
    assert validate("e1", GOOD_TIME, "u1", "refund", amount, currency) == reason
    assert single("e1", GOOD_TIME, "u1", "refund", amount, currency) == (REASON_CODES[reason], [])


def test_rule_order_and_non_monetary_rows_ignore_amount_and_currency():
    rows = [
        (None, "garbage", "u1", "checkout", "x", "x"),  # missing_field first
        ("e1", "garbage", "u1", "VIEW", "x", "x"),  # then invalid_event_type
        ("e1", "garbage", "u1", "purchase", "x", "x"),  # then invalid_timestamp
        ("e1", GOOD_TIME, "u1", "purchase", "x", "x"),  # then invalid_amount
        ("e1", GOOD_TIME, "u1", "purchase", "1", "x"),  # then invalid_currency
        ("e2", GOOD_TIME, "u2", "view", "x", "x"),  # non-monetary: valid, currency null, cents 0
        ("e3", GOOD_TIME, "u3", "refund", "2.25", "EUR"),
    ]
    result = validate_columns(*columns(rows))
    assert result.reasons.tolist() == [2, 3, 4, 5, 6, VALID, VALID]
    assert result.valid.to_pylist() == [
        {
            "event_id": b"e2",
            "user_id": b"u2",
            "event_type": 0,
            "hour": 10,
            "currency": None,
            "cents": 0,
            "cents_big": None,
        },
        {
            "event_id": b"e3",
            "user_id": b"u3",
            "event_type": 3,
            "hour": 10,
            "currency": "EUR",
            "cents": 225,
            "cents_big": None,
        },
    ]
    assert_same(rows)


def test_non_ascii_ids_become_their_utf8_bytes():
    rows = [("\u00fc\u00df", GOOD_TIME, "\U0001f389", "view", None, None)]
    result = validate_columns(*columns(rows))
    assert result.valid.column("event_id").to_pylist() == ["\u00fc\u00df".encode()]
    assert result.valid.column("user_id").to_pylist() == ["\U0001f389".encode()]
    assert_same(rows)


def test_empty_columns():
    result = validate_columns(*(pa.array([], pa.string()) for _ in range(6)))
    assert result.reasons.tolist() == []
    assert result.valid.num_rows == 0 and result.valid.schema == VALID_SCHEMA
