"""Validation rules, exactly as the contract states them; each case runs against the core and the reference.

Running the same table against pipeline_project.core.validation and the independent reference
(pipeline_project_tests/core/reference.py) checks both: the core against the contract, and the
oracle the day-level tests rely on.
"""

from __future__ import annotations

import pytest

from pipeline_project.core.validation import ValidRecord, amount_cents, clean, utc_hour, validate
from pipeline_project_tests.core import reference

FIELDS = ("event_id", "event_time", "user_id", "event_type", "amount", "currency")
GOOD_TIME = "2025-03-09T10:15:00Z"


def core(values: dict) -> tuple | str:
    result = validate(*(values.get(name) for name in FIELDS))
    if isinstance(result, str):
        return result
    assert isinstance(result, ValidRecord)
    return (result.event_id, result.user_id, result.event_type, result.utc_hour, result.currency, result.amount_cents)


def ref(values: dict) -> tuple | str:
    result = reference.check(values)
    if isinstance(result, str):
        return result
    amount = result.get("amount")
    cents = 0 if amount is None else int(amount * 100)
    assert amount is None or cents == amount * 100  # never more than two decimals
    return (result["event_id"], result["user_id"], result["event_type"], result["hour"], result.get("currency"), cents)


@pytest.fixture(params=[core, ref], ids=["core", "reference"])
def check(request):
    return request.param


def row(**overrides) -> dict:
    values = {"event_id": "e1", "event_time": GOOD_TIME, "user_id": "u1", "event_type": "view"}
    values.update(overrides)
    return values


def purchase(amount, currency="USD", event_type="purchase") -> dict:
    return row(event_type=event_type, amount=amount, currency=currency)


# --------------------------------------------------------------------------- rules and their order


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(row(), ("e1", "u1", "view", 10, None, 0), id="valid view"),
        pytest.param(row(event_type="add_to_cart"), ("e1", "u1", "add_to_cart", 10, None, 0), id="valid add_to_cart"),
        pytest.param(purchase("10.50"), ("e1", "u1", "purchase", 10, "USD", 1050), id="valid purchase"),
        pytest.param(purchase("2.25", "EUR", "refund"), ("e1", "u1", "refund", 10, "EUR", 225), id="valid refund"),
        # 1. missing_field: each identity field, by None, by "" and by whitespace only
        *(
            pytest.param(row(**{name: missing}), "missing_field", id=f"missing {name} {missing!r}")
            for name in ("event_id", "event_time", "user_id", "event_type")
            for missing in (None, "", "   ", "\t\r\n")
        ),
        pytest.param({}, "missing_field", id="nothing at all"),
        # missing_field wins over every later rule
        pytest.param(
            {"event_id": None, "event_time": "garbage", "user_id": "u", "event_type": "checkout", "amount": "-1"},
            "missing_field",
            id="missing before invalid_event_type",
        ),
        pytest.param(row(user_id="", event_time="not a time"), "missing_field", id="missing before invalid_timestamp"),
        pytest.param(
            {"event_id": "e1", "event_time": GOOD_TIME, "event_type": "purchase", "amount": "x", "currency": "x"},
            "missing_field",
            id="missing before invalid_amount",
        ),
        # 2. invalid_event_type: exactly one of four, case-sensitive; wins over later rules
        *(
            pytest.param(row(event_type=kind), "invalid_event_type", id=f"type {kind!r}")
            for kind in ("checkout", "View", "PURCHASE", "Refund", "add-to-cart", "addtocart", "view,purchase", "vie w")
        ),
        pytest.param(row(event_type="checkout", event_time="bad"), "invalid_event_type", id="type before timestamp"),
        pytest.param(
            row(event_type="Purchase", event_time="bad", amount="-1", currency="x"),
            "invalid_event_type",
            id="type before amount",
        ),
        # 3. invalid_timestamp wins over amount and currency
        pytest.param(
            row(event_type="purchase", event_time="2025-03-09", amount="-1", currency="usd"),
            "invalid_timestamp",
            id="timestamp before amount",
        ),
        # 4. amount, then currency; purchase and refund only
        pytest.param(purchase("-1", "usd"), "invalid_amount", id="amount before currency"),
        pytest.param(purchase("-1", "usd", "refund"), "invalid_amount", id="refund amount before currency"),
        pytest.param(purchase(None), "invalid_amount", id="missing amount"),
        pytest.param(purchase(""), "invalid_amount", id="empty amount"),
        pytest.param(purchase("  "), "invalid_amount", id="blank amount"),
        pytest.param(purchase("10.00", None), "invalid_currency", id="missing currency"),
        pytest.param(purchase("10.00", ""), "invalid_currency", id="empty currency"),
        pytest.param(purchase("10.00", None, "refund"), "invalid_currency", id="refund missing currency"),
        # other types: amount and currency are not checked at all
        *(
            pytest.param(
                row(event_type=kind, amount=amount, currency=currency),
                ("e1", "u1", kind, 10, None, 0),
                id=f"{kind} ignores amount {amount!r} currency {currency!r}",
            )
            for kind in ("view", "add_to_cart")
            for amount, currency in (("-1", "usd"), ("NaN", "US"), (None, None), ("12.345", "USDX"), ("10.00", "USD"))
        ),
    ],
)
def test_rules_in_order(check, values, expected):
    assert check(values) == expected


def test_surrounding_whitespace_is_ignored_in_every_field(check):
    values = {
        "event_id": "  e7 ",
        "event_time": "\t2025-03-09 23:05:00.5-01:30\n",
        "user_id": " u 9 ",
        "event_type": " refund\t",
        "amount": " 0.01 ",
        "currency": "\tGBP ",
    }
    # 23:05 at -01:30 is 00:35 UTC the next day: hour 0. Inner whitespace stays.
    assert check(values) == ("e7", "u 9", "refund", 0, "GBP", 1)


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("timestamp", "hour"),
    [
        ("2025-03-09T10:15:00", 10),  # no offset means UTC
        ("2025-03-09 10:15:00", 10),  # space separator
        ("2025-03-09T10:15:00Z", 10),
        ("2025-03-09 10:15:00Z", 10),
        ("2025-03-09T10:15:00.1Z", 10),
        ("2025-03-09T10:15:00.12", 10),
        ("2025-03-09T10:15:00.123", 10),
        ("2025-03-09T10:15:00.123456", 10),
        ("2025-03-09T10:15:00.123456789Z", 10),
        ("2025-03-09T10:15:00.999999999+00:00", 10),
        ("2025-03-09T10:15:00+00:00", 10),
        ("2025-03-09T10:15:00-00:00", 10),
        ("2025-03-09T10:15:00+02:00", 8),
        ("2025-03-09T10:15:00-02:00", 12),
        ("2025-03-09T10:15:00+05:30", 4),  # 04:45 UTC
        ("2025-03-09T10:45:00+05:30", 5),  # 05:15 UTC
        ("2025-03-09T10:15:00-05:45", 16),  # 16:00 UTC
        ("2025-03-09T10:14:59-05:45", 15),  # 15:59:59 UTC
        ("2025-03-09T10:15:00+14:00", 20),
        ("2025-03-09T00:30:00+01:00", 23),  # wraps back to the previous day
        ("2025-03-09T23:30:00-01:00", 0),  # wraps forward to the next day
        ("2025-03-09T00:00:00+23:59", 0),  # 00:01 the previous day
        ("2025-03-09T23:59:59.999999999+23:59", 0),
        ("2025-03-09T00:00:00Z", 0),
        ("2025-03-09T23:59:59Z", 23),
        ("2024-02-29T12:00:00Z", 12),  # leap year
        ("2000-02-29T12:00:00Z", 12),  # divisible by 400: leap year
        ("2025-01-31T01:00:00Z", 1),
        ("2025-04-30T02:00:00Z", 2),
        ("2025-12-31T23:00:00Z", 23),
        ("0001-01-01T00:30:00+01:00", 23),  # no overflow at the first representable day
        ("9999-12-31T23:30:00-01:00", 0),  # nor at the last
    ],
)
def test_valid_timestamps_and_their_utc_hour(check, timestamp, hour):
    assert check(row(event_time=timestamp)) == ("e1", "u1", "view", hour, None, 0)
    assert utc_hour(timestamp) == hour
    assert reference.utc_hour(timestamp) == hour


@pytest.mark.parametrize(
    "timestamp",
    [
        "2025-03-09",  # date only
        "2025-03-09T10:15",  # no seconds
        "2025-03-09T10",
        "10:15:00",  # time only
        "2025-13-01T00:00:00Z",  # month 13
        "2025-00-10T00:00:00Z",  # month 0
        "2025-03-00T00:00:00Z",  # day 0
        "2025-03-32T00:00:00Z",
        "2025-04-31T00:00:00Z",  # April has 30 days
        "2025-02-29T00:00:00Z",  # not a leap year
        "1900-02-29T00:00:00Z",  # divisible by 100, not by 400
        "0000-01-01T00:00:00Z",  # there is no year 0
        "2025-03-09T24:00:00Z",
        "2025-03-09T25:00:00Z",
        "2025-03-09T10:60:00Z",
        "2025-03-09T10:15:60Z",  # no leap seconds
        "2025-03-09T10:15:61Z",
        "2025-03-09T10:15:00.Z",  # a dot without digits
        "2025-03-09T10:15:00.1234567890Z",  # 10 fraction digits
        "2025-03-09T10:15:00,5Z",  # comma fraction
        "2025-03-09T10:15:00+24:00",
        "2025-03-09T10:15:00-24:00",
        "2025-03-09T10:15:00+05:60",
        "2025-03-09T10:15:00+0530",
        "2025-03-09T10:15:00+05",
        "2025-03-09T10:15:00+5:30",
        "2025-03-09T10:15:00+05:30Z",
        "2025-03-09T10:15:00 Z",
        "2025-03-09T10:15:00z",  # lower-case z
        "2025-03-09t10:15:00Z",  # lower-case t
        "2025-03-09_10:15:00Z",
        "2025-03-09T10:15:00 UTC",
        "2025-3-9T10:15:00Z",  # unpadded
        "25-03-09T10:15:00Z",
        "+2025-03-09T10:15:00Z",
        "20250309T101500Z",  # ISO basic format
        "2025-03-09T1:15:00Z",
        "1741515300",  # epoch seconds
        "1741515300.5",
        "1741515300000",  # epoch milliseconds
        "Sun, 09 Mar 2025 10:15:00 GMT",
        "\u0662\u0660\u0662\u0665-03-09T10:15:00Z",  # Arabic-Indic digits in the year
        "\uff12\uff10\uff12\uff15-03-09T10:15:00Z",  # full-width digits
    ],
)
def test_invalid_timestamps(check, timestamp):
    assert check(row(event_time=timestamp)) == "invalid_timestamp"
    assert utc_hour(timestamp) is None
    assert reference.utc_hour(timestamp) is None


def test_trailing_newline_is_whitespace_not_part_of_the_timestamp(check):
    # A regex with $ would accept "...Z\n" by itself; validate strips it first, so it is valid either way,
    # but utc_hour on the raw text must not.
    assert utc_hour("2025-03-09T10:15:00Z\n") is None
    assert check(row(event_time="2025-03-09T10:15:00Z\n")) == ("e1", "u1", "view", 10, None, 0)


# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("10", 1000),
        ("10.5", 1050),
        ("10.50", 1050),
        ("0.01", 1),
        ("0", 0),
        ("0.0", 0),
        ("007.5", 750),
        ("99999999999999999999.99", 9999999999999999999999),  # no float anywhere
        (" 12.34 ", 1234),  # surrounding whitespace ignored
    ],
)
def test_valid_amounts(check, amount, cents):
    assert check(purchase(amount)) == ("e1", "u1", "purchase", 10, "USD", cents)
    assert check(purchase(amount, event_type="refund")) == ("e1", "u1", "refund", 10, "USD", cents)
    assert amount_cents(amount.strip()) == cents


@pytest.mark.parametrize(
    "amount",
    [
        "-1",
        "-0.01",
        "+1",
        "1,000.00",
        "1000,00",
        "1 000",
        "1_000",  # int() and Decimal() would accept this
        "NaN",
        "nan",
        "Infinity",
        "inf",
        "1e3",
        "1E3",
        "12.345",
        "10.500",
        ".5",
        "5.",
        "10.5.0",
        "0x10",
        "$10",
        "10 USD",
        "\u0661\u0662",  # Arabic-Indic digits '١٢'
        "\uff11\uff12",  # full-width digits
        "\u0661\u0662.\u0665\u0660",
        "12.\u0665",
    ],
)
def test_invalid_amounts(check, amount):
    assert check(purchase(amount)) == "invalid_amount"
    assert check(purchase(amount, event_type="refund")) == "invalid_amount"
    assert amount_cents(amount) is None


# --------------------------------------------------------------------------- currencies


@pytest.mark.parametrize("currency", ["USD", "EUR", "GBP", "JPY", "XXX", " CHF\t"])
def test_valid_currencies(check, currency):
    assert check(purchase("1.00", currency)) == ("e1", "u1", "purchase", 10, currency.strip(), 100)


@pytest.mark.parametrize(
    "currency",
    ["usd", "Usd", "US", "USDX", "U", "U$D", "US D", "123", "\u00c4BC", "\uff35\uff33\uff24", "USD\u0301"],
)
def test_invalid_currencies(check, currency):
    assert check(purchase("1.00", currency)) == "invalid_currency"
    assert check(purchase("1.00", currency, "refund")) == "invalid_currency"


# --------------------------------------------------------------------------- clean


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [(None, None), ("", None), ("   ", None), ("\t\n", None), (" a ", "a"), ("a b", "a b"), ("0", "0")],
)
def test_clean(raw, cleaned):
    assert clean(raw) == cleaned
    assert reference.clean(raw) == cleaned
