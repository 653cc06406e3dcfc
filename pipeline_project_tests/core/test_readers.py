"""Readers on in-memory bytes: CSV, JSONL (plain and gzip) and Parquet, row numbers and file rejections."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline_project.core.readers import CSV_FIELD_LIMIT as FIELD_LIMIT
from pipeline_project.core.readers import FileRejected, RawRow, read_rows
from pipeline_project.core.validation import validate
from pipeline_project_tests.core import reference
from pipeline_project_tests.core.reference import Quarantined

MAX = 1 << 20
HEADER = "event_id,event_time,user_id,event_type,amount,currency"


def rows(fmt: str, data: bytes, max_bytes: int = MAX) -> list[RawRow]:
    return list(read_rows(fmt, io.BytesIO(data), max_bytes))


def rejection(fmt: str, data: bytes, max_bytes: int = MAX) -> str:
    with pytest.raises(FileRejected) as info:
        list(read_rows(fmt, io.BytesIO(data), max_bytes))
    return info.value.reason


def csv_bytes(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode()


# --------------------------------------------------------------------------- CSV


def test_csv_rows_values_in_contract_order_with_line_numbers_and_original_text():
    data = csv_bytes(
        HEADER,
        "e1,2025-03-09T10:15:00Z,u1,purchase,10.50,USD",
        "e2,2025-03-09T11:00:00Z,u2,view,,",
    )
    assert rows("csv", data) == [
        RawRow(
            2,
            ("e1", "2025-03-09T10:15:00Z", "u1", "purchase", "10.50", "USD"),
            "e1,2025-03-09T10:15:00Z,u1,purchase,10.50,USD",
        ),
        RawRow(3, ("e2", "2025-03-09T11:00:00Z", "u2", "view", "", ""), "e2,2025-03-09T11:00:00Z,u2,view,,"),
    ]


def test_csv_bom_and_crlf():
    data = b"\xef\xbb\xbf" + csv_bytes(HEADER, "e1,t,u1,view,,", "e2,t,u2,view,,", newline="\r\n")
    assert rows("csv", data) == [
        RawRow(2, ("e1", "t", "u1", "view", "", ""), "e1,t,u1,view,,"),
        RawRow(3, ("e2", "t", "u2", "view", "", ""), "e2,t,u2,view,,"),
    ]


def test_csv_bom_on_a_header_only_file_without_newline():
    assert rows("csv", b"\xef\xbb\xbf" + HEADER.encode()) == []


def test_csv_old_mac_line_endings():
    data = csv_bytes(HEADER, "e1,t,u1,view,,", "e2,t,u2,view,,", newline="\r")
    assert [(r.row_number, r.values[0]) for r in rows("csv", data)] == [(2, "e1"), (3, "e2")]


def test_csv_quoted_fields_hold_commas_quotes_and_newlines():
    data = csv_bytes(
        HEADER + ",note",
        'e1,"2025-03-09T10:15:00Z",u1,purchase,"1,5","a ""quoted"" word","line one',
        'line two, still the note"',
        "e2,t,u2,view,,,plain",
    )
    assert rows("csv", data) == [
        RawRow(
            2,
            ("e1", "2025-03-09T10:15:00Z", "u1", "purchase", "1,5", 'a "quoted" word'),
            'e1,"2025-03-09T10:15:00Z",u1,purchase,"1,5","a ""quoted"" word","line one\nline two, still the note"',
        ),
        RawRow(4, ("e2", "t", "u2", "view", "", ""), "e2,t,u2,view,,,plain"),
    ]


def test_csv_quoted_newline_with_crlf_is_kept_in_the_content():
    data = csv_bytes(HEADER, 'e1,t,u1,view,,"x\r\ny"', "e2,t,u2,view,,", newline="\r\n")
    assert rows("csv", data) == [
        RawRow(2, ("e1", "t", "u1", "view", "", "x\r\ny"), 'e1,t,u1,view,,"x\r\ny"'),
        RawRow(4, ("e2", "t", "u2", "view", "", ""), "e2,t,u2,view,,"),
    ]


def test_csv_wrong_field_counts_are_malformed_with_original_text_and_start_line():
    data = csv_bytes(
        HEADER,
        "e1,t,u1,view,,",
        "e2,t,u2,view,",  # 5 fields
        "e3,t,u3,view,,,",  # 7 fields
        'e4,"multi',  # 2 fields over two lines, starting at line 5
        'line",x',
        "lonely",
        "e5,t,u5,view,,",
    )
    assert rows("csv", data) == [
        RawRow(2, ("e1", "t", "u1", "view", "", ""), "e1,t,u1,view,,"),
        RawRow(3, None, "e2,t,u2,view,"),
        RawRow(4, None, "e3,t,u3,view,,,"),
        RawRow(5, None, 'e4,"multi\nline",x'),
        RawRow(7, None, "lonely"),
        RawRow(8, ("e5", "t", "u5", "view", "", ""), "e5,t,u5,view,,"),
    ]


def test_csv_malformed_quoting_is_a_malformed_row_and_reading_goes_on():
    data = csv_bytes(
        HEADER,
        'e1,"t"x,u1,view,,',  # a character after a closing quote
        "e2,t,u2,view,,",
        '"e3,t,u3,view,,',  # never closed: swallows the rest of the file
        "e4,t,u4,view,,",
    )
    assert rows("csv", data) == [
        RawRow(2, None, 'e1,"t"x,u1,view,,'),
        RawRow(3, ("e2", "t", "u2", "view", "", ""), "e2,t,u2,view,,"),
        RawRow(4, None, '"e3,t,u3,view,,\ne4,t,u4,view,,'),
    ]


def test_csv_blank_lines_are_ignored_but_counted_in_line_numbers():
    data = csv_bytes("", "   ", HEADER, "", "e1,t,u1,view,,", " \t ", '""', '" "', "e2,t,u2,view,,", "", newline="\r\n")
    # docs/data-contract.md: a row with no fields or one empty or whitespace-only field ("" included) is blank.
    assert [(r.row_number, r.values[0]) for r in rows("csv", data)] == [(5, "e1"), (9, "e2")]
    assert [(n, v["event_id"]) for n, v in reference.read_file("a.csv", data, None)] == [(5, "e1"), (9, "e2")]


def test_csv_columns_in_any_order_extra_columns_and_padded_header_names():
    data = csv_bytes(
        "country, currency ,amount,event_type,user_id,event_time,event_id,extra",
        "US,USD,10.50,purchase,u1,2025-03-09T10:15:00Z,e1,whatever",
    )
    assert rows("csv", data) == [
        RawRow(
            2,
            ("e1", "2025-03-09T10:15:00Z", "u1", "purchase", "10.50", "USD"),
            "US,USD,10.50,purchase,u1,2025-03-09T10:15:00Z,e1,whatever",
        )
    ]


def test_csv_values_are_passed_on_unstripped():
    data = csv_bytes(HEADER, " e1 , 2025-03-09T10:15:00Z ,u1,  view,,")
    assert rows("csv", data)[0].values == (" e1 ", " 2025-03-09T10:15:00Z ", "u1", "  view", "", "")


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("event_id,event_time,user_id,event_type,amount", "missing_columns: header lacks currency"),
        ("event_id,event_time,user_id,event_type", "missing_columns: header lacks amount, currency"),
        ("Event_ID,event_time,user_id,event_type,amount,currency", "missing_columns: header lacks event_id"),
        ("e1,2025-03-09T10:15:00Z,u1,view,,", "missing_columns: header lacks " + HEADER.replace(",", ", ")),
    ],
)
def test_csv_missing_columns(header, detail):
    data = csv_bytes(header, "e1,2025-03-09T10:15:00Z,u1,view,,")
    with pytest.raises(FileRejected) as info:
        rows("csv", data)
    assert (info.value.reason, str(info.value)) == ("missing_columns", detail)


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"\r\n\r\n  \r\n", HEADER.encode(), csv_bytes(HEADER), csv_bytes(HEADER, "", "", newline="\r\n")],
    ids=["empty", "one newline", "blank lines", "header no newline", "header", "header and blank lines"],
)
def test_csv_empty_and_header_only_files_have_no_rows(data):
    assert rows("csv", data) == []
    assert rows("csv.gz", gzip.compress(data)) == []


@pytest.mark.parametrize(
    "data",
    [
        csv_bytes(HEADER, "e1,t,SURPRISE,view,,").replace(b"SURPRISE", b"M\xfcnchen"),  # Latin-1 in a row
        csv_bytes(HEADER).replace(b"amount", b"amo\xffunt"),  # in the header
        csv_bytes(HEADER, "e1,t,u1,view,,", "e2,t,u2,view,,") + b"\xc3",  # truncated sequence at the end
        csv_bytes(HEADER, "e1,t,SURPRISE,view,,").replace(b"SURPRISE", b"\xed\xa0\x80"),  # an encoded surrogate
    ],
    ids=["latin-1 row", "header", "truncated sequence", "encoded surrogate"],
)
def test_csv_not_utf8_is_an_unreadable_file(data):
    assert rejection("csv", data) == "unreadable_file"
    assert rejection("csv.gz", gzip.compress(data)) == "unreadable_file"


def test_csv_not_utf8_far_into_the_file_rejects_the_file_after_rows_were_yielded():
    good = "".join(f"e{n},2025-03-09T10:15:00Z,u{n},view,,\n" for n in range(1000))
    data = (HEADER + "\n" + good).encode() + b"e-bad,t,\xe9,view,,\n"
    reader = read_rows("csv", io.BytesIO(data), MAX)
    first = next(reader)
    assert first.values[0] == "e0"
    with pytest.raises(FileRejected) as info:
        list(reader)
    assert info.value.reason == "unreadable_file"


def test_csv_gzip_gives_the_same_rows():
    data = b"\xef\xbb\xbf" + csv_bytes(HEADER, "e1,t,u1,view,,", "", 'e2,t,u2,view,,"a\r\nb"', newline="\r\n")
    assert rows("csv.gz", gzip.compress(data)) == rows("csv", data)
    assert len(rows("csv", data)) == 2


def test_csv_gzip_with_several_members_reads_them_all():
    data = gzip.compress(csv_bytes(HEADER, "e1,t,u1,view,,")) + gzip.compress(csv_bytes("e2,t,u2,view,,"))
    assert [(r.row_number, r.values[0]) for r in rows("csv.gz", data)] == [(2, "e1"), (3, "e2")]


@pytest.mark.parametrize("fmt", ["csv.gz", "jsonl.gz"])
@pytest.mark.parametrize(
    "damage",
    [
        lambda gz: gz[:-12],  # truncated inside the deflate stream
        lambda gz: gz[:-4],  # trailer cut
        lambda gz: gz[:-8] + bytes(8),  # CRC and length wrong
        lambda gz: b"not gzip at all",
        lambda gz: gz[:10] + b"\xff" * 16 + gz[26:],  # corrupt deflate data
    ],
    ids=["truncated", "trailer cut", "bad crc", "not gzip", "corrupt data"],
)
def test_corrupt_gzip_is_an_unreadable_file(fmt, damage):
    lines = [HEADER] if fmt == "csv.gz" else []
    lines += [
        json.dumps({"event_id": f"e{n}", "note": "x" * 40}) if fmt == "jsonl.gz" else f"e{n},t,u,view,,"
        for n in range(200)
    ]
    gz = gzip.compress(csv_bytes(*lines), mtime=0)
    assert rejection(fmt, damage(gz)) == "unreadable_file"


@pytest.mark.parametrize("fmt", ["csv.gz", "jsonl.gz"])
def test_gzip_bomb_over_max_bytes_is_too_large(fmt):
    content = (HEADER + "\n").encode() + b"\n" * 5_000_000  # 5 MB of blank lines, a few KB compressed
    bomb = gzip.compress(content)
    assert len(bomb) < 10_000
    assert rejection(fmt, bomb, max_bytes=1_000_000) == "too_large"


def test_gzip_content_at_the_limit_is_fine_and_one_byte_more_is_too_large():
    content = csv_bytes(HEADER, "e1,t,u1,view,,")
    assert len(rows("csv.gz", gzip.compress(content), max_bytes=len(content))) == 1
    assert rejection("csv.gz", gzip.compress(content), max_bytes=len(content) - 1) == "too_large"


def test_plain_file_over_max_bytes_is_too_large():
    content = csv_bytes(HEADER, *(f"e{n},t,u1,view,," for n in range(100)))
    assert rejection("csv", content, max_bytes=len(content) - 1) == "too_large"
    assert rejection("jsonl", b'{"event_id": "e1"}\n' * 100, max_bytes=1000) == "too_large"
    assert len(rows("csv", content, max_bytes=len(content))) == 100


@pytest.mark.parametrize("size", [131_073, FIELD_LIMIT])
def test_csv_long_fields_up_to_the_limit_are_fine(size):
    """RFC 4180 sets no field limit; ours (16 MiB) only bounds what an unterminated quote can hold."""
    data = (HEADER + ",note\n" + f"e1,2025-03-09T10:15:00Z,u1,view,,,{'x' * size}\n" + "e2,t,u2,view,,,n\n").encode()
    expected = [
        (2, ("e1", "2025-03-09T10:15:00Z", "u1", "view", "", "")),
        (3, ("e2", "t", "u2", "view", "", "")),
    ]
    ref = reference.read_file("a.csv", data, None)
    assert [(n, v and tuple(v[f] for f in reference.FIELDS)) for n, v in ref] == expected
    assert [(r.row_number, r.values) for r in rows("csv", data, max_bytes=len(data))] == expected


def test_csv_field_over_the_limit_quarantines_the_file():
    """Past the limit the parser has lost the record boundary, so no row after it can be trusted."""
    data = (HEADER + ",note\n" + f'e1,2025-03-09T10:15:00Z,u1,view,,,"{"x" * (FIELD_LIMIT + 1)}"\n').encode()
    with pytest.raises(Quarantined) as ref:
        reference.read_file("a.csv", data, None)
    assert ref.value.reason == "unreadable_file"
    with pytest.raises(FileRejected) as raised:
        rows("csv", data, max_bytes=len(data))
    assert raised.value.reason == "unreadable_file"
    assert raised.value.detail == f"a CSV field is longer than {FIELD_LIMIT} characters"


def test_csv_long_quoted_field_with_line_breaks_is_one_record():
    """A long field spanning many lines is still one record: the next row is found at its real line."""
    note = "x\n" * 100_000  # 200,000 characters over 100,001 lines
    data = (HEADER + ",note\n" + f'e1,2025-03-09T10:15:00Z,u1,view,,,"{note}"\n' + "e2,t,u2,view,,,n\n").encode()
    expected = [(2, ("e1", "2025-03-09T10:15:00Z", "u1", "view", "", "")), (100_003, ("e2", "t", "u2", "view", "", ""))]
    ref = reference.read_file("a.csv", data, None)
    assert [(n, v and tuple(v[f] for f in reference.FIELDS)) for n, v in ref] == expected
    assert [(r.row_number, r.values) for r in rows("csv", data)] == expected


# --------------------------------------------------------------------------- JSONL


def jsonl(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode()


def test_jsonl_object_per_line():
    line = (
        '{"event_id": "e1", "event_time": "2025-03-09T10:15:00Z", "user_id": "u1", '
        '"event_type": "purchase", "amount": "10.50", "currency": "USD", "country": "US"}'
    )
    assert rows("jsonl", jsonl(line)) == [
        RawRow(1, ("e1", "2025-03-09T10:15:00Z", "u1", "purchase", "10.50", "USD"), line)
    ]


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        ("10.50", "10.50"),  # not 10.5: the literal decimal value, not a float
        ("10", "10"),
        ("0.01", "0.01"),
        ("12.345", "12.345"),
        ("-1", "-1"),
        ("1e3", "1e3"),
        ("1.0E+2", "1.0E+2"),
        ("0.1", "0.1"),
        ("12345678901234567890.99", "12345678901234567890.99"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
    ],
)
def test_jsonl_numbers_are_kept_as_their_literal_text(literal, text):
    line = f'{{"event_id": 42, "amount": {literal}, "currency": "USD"}}'
    assert rows("jsonl", jsonl(line))[0].values == ("42", None, None, None, text, "USD")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_jsonl_nan_and_infinity_are_not_json(constant):
    line = f'{{"event_id": "e1", "amount": {constant}}}'
    assert rows("jsonl", jsonl(line)) == [RawRow(1, None, line)]


@pytest.mark.parametrize(
    "line",
    [
        "[1, 2]",
        "[]",
        '"a string"',
        "42",
        "10.50",
        "null",
        "true",
        '{"event_id": "e1",',
        '{"event_id": "e1"} {"event_id": "e2"}',
        "{'event_id': 'e1'}",
        '{"event_id": "e1",}',
        "event_id,event_time",
        '{"event_id": "e1"}}',
    ],
)
def test_jsonl_lines_that_are_not_json_objects_are_malformed(line):
    data = jsonl('{"event_id": "ok1"}', line, '{"event_id": "ok2"}')
    assert rows("jsonl", data) == [
        RawRow(1, ("ok1", None, None, None, None, None), '{"event_id": "ok1"}'),
        RawRow(2, None, line),
        RawRow(3, ("ok2", None, None, None, None, None), '{"event_id": "ok2"}'),
    ]


def test_jsonl_deeply_nested_line_is_a_malformed_row_not_a_crash():
    """A line that is not valid JSON is a malformed_row, however deep its brackets go.

    json.loads raises RecursionError (not ValueError) past the interpreter's recursion limit.
    """
    line = "[" * 100_000
    data = jsonl('{"event_id": "ok1"}', line, '{"event_id": "ok2"}')
    expected = [(1, "ok1"), (2, None), (3, "ok2")]
    assert [(n, v and v["event_id"]) for n, v in reference.read_file("a.jsonl", data, None)] == expected
    assert [(r.row_number, r.values and r.values[0]) for r in rows("jsonl", data)] == expected


def test_jsonl_nulls_missing_keys_booleans_and_nested_values():
    line = '{"event_id": null, "user_id": true, "event_type": false, "amount": {"v": "x"}, "currency": ["USD"]}'
    assert rows("jsonl", jsonl(line))[0].values == (None, None, "true", "false", '{"v":"x"}', '["USD"]')


def test_jsonl_strings_are_passed_on_unstripped_and_unicode_intact():
    line = '{"event_id": " e1 ", "user_id": "M\\u00fcller", "event_type": "view\\t"}'
    assert rows("jsonl", jsonl(line))[0].values == (" e1 ", None, "Müller", "view\t", None, None)


def test_jsonl_blank_lines_crlf_bom_and_no_final_newline():
    data = b"\xef\xbb\xbf" + b'{"event_id": "e1"}\r\n\r\n   \r\n\t\r\n{"event_id": "e2"}\r\n\n{"event_id": "e3"}'
    assert rows("jsonl", data) == [
        RawRow(1, ("e1", None, None, None, None, None), '{"event_id": "e1"}'),
        RawRow(5, ("e2", None, None, None, None, None), '{"event_id": "e2"}'),
        RawRow(7, ("e3", None, None, None, None, None), '{"event_id": "e3"}'),
    ]


@pytest.mark.parametrize("data", [b"", b"\n", b"\n  \n\r\n"], ids=["empty", "newline", "blank lines"])
def test_jsonl_empty_files_have_no_rows(data):
    assert rows("jsonl", data) == []
    assert rows("jsonl.gz", gzip.compress(data)) == []


@pytest.mark.parametrize(
    "data",
    [b'{"event_id": "e1"}\n{"event_id": "M\xfcller"}\n', b'{"event_id": "\xff"}\n', b"\xfe\xff{}\n"],
    ids=["latin-1", "0xff", "utf-16 bom"],
)
def test_jsonl_not_utf8_is_an_unreadable_file(data):
    assert rejection("jsonl", data) == "unreadable_file"
    assert rejection("jsonl.gz", gzip.compress(data)) == "unreadable_file"


def test_jsonl_gzip_gives_the_same_rows():
    data = jsonl('{"event_id": "e1", "amount": 10.50}', "", "[1]", newline="\r\n")
    assert rows("jsonl.gz", gzip.compress(data)) == rows("jsonl", data)
    assert [r.row_number for r in rows("jsonl", data)] == [1, 3]


# --------------------------------------------------------------------------- Parquet


def parquet(table: pa.Table, **options) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, **options)
    return out.getvalue()


def strings(**columns) -> pa.Table:
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def test_parquet_string_columns():
    table = strings(
        country=["US", "DE"],
        currency=["USD", None],
        amount=["10.50", None],
        event_type=["purchase", " view "],
        user_id=["u1", "u2"],
        event_time=["2025-03-09T10:15:00Z", "2025-03-09 11:00:00+01:00"],
        event_id=["e1", "e2"],
    )
    assert rows("parquet", parquet(table)) == [
        RawRow(1, ("e1", "2025-03-09T10:15:00Z", "u1", "purchase", "10.50", "USD"), None),
        RawRow(2, ("e2", "2025-03-09 11:00:00+01:00", "u2", " view ", None, None), None),
    ]


def native_table() -> pa.Table:
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    return pa.table(
        {
            "event_id": pa.array([1, 2, 3, 4], pa.int64()),
            "event_time": pa.array(
                [
                    dt.datetime(2025, 3, 9, 10, 15, 0, 123000, tzinfo=kolkata),
                    dt.datetime(2025, 3, 9, 0, 30, tzinfo=kolkata),
                    None,
                    dt.datetime(2025, 3, 9, 23, 0, tzinfo=dt.UTC),
                ],
                pa.timestamp("us", tz="Asia/Kolkata"),
            ),
            "user_id": pa.array(["u1", "u2", "u3", None]).dictionary_encode(),
            "event_type": ["purchase", "refund", "view", "purchase"],
            "amount": pa.array([Decimal("10.50"), Decimal("0.01"), None, Decimal("-3.00")], pa.decimal128(10, 2)),
            "currency": ["USD", "EUR", None, "USD"],
        }
    )


def test_parquet_native_types_timestamp_with_time_zone_decimal_int_and_dictionary():
    got = rows("parquet", parquet(native_table()))
    assert got == [
        RawRow(1, ("1", "2025-03-09T04:45:00.123000Z", "u1", "purchase", "10.50", "USD"), None),
        RawRow(2, ("2", "2025-03-08T19:00:00.000000Z", "u2", "refund", "0.01", "EUR"), None),
        RawRow(3, ("3", None, "u3", "view", None, None), None),
        RawRow(4, ("4", "2025-03-09T23:00:00.000000Z", None, "purchase", "-3.00", "USD"), None),
    ]
    assert [validate(*r.values) for r in got][:3] == [
        ("1", "u1", "purchase", 4, "USD", 1050),
        ("2", "u2", "refund", 19, "EUR", 1),
        "missing_field",
    ]
    assert validate(*got[3].values) == "missing_field"


@pytest.mark.parametrize(
    ("unit", "text"),
    [
        ("s", "2025-03-09T22:05:07.000Z"),  # Parquet has no seconds unit: pyarrow stores it as ms
        ("ms", "2025-03-09T22:05:07.123Z"),
        ("us", "2025-03-09T22:05:07.123456Z"),
        ("ns", "2025-03-09T22:05:07.123456789Z"),
    ],
)
def test_parquet_naive_timestamp_is_utc_in_every_unit(unit, text):
    nanos = int(dt.datetime(2025, 3, 9, 22, 5, 7, tzinfo=dt.UTC).timestamp()) * 10**9 + 123456789
    divisor = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    table = pa.table(
        {
            "event_id": ["e1"],
            "event_time": pa.array([nanos // divisor], pa.int64()).cast(pa.timestamp(unit)),
            "user_id": ["u1"],
            "event_type": ["view"],
            "amount": pa.array([None], pa.string()),
            "currency": pa.array([None], pa.string()),
        }
    )
    got = rows("parquet", parquet(table))
    assert got == [RawRow(1, ("e1", text, "u1", "view", None, None), None)]
    assert validate(*got[0].values) == ("e1", "u1", "view", 22, None, 0)


def test_parquet_timestamp_before_the_epoch():
    table = native_table().set_column(1, "event_time", pa.array([-1, 0, None, 1], pa.int64()).cast(pa.timestamp("us")))
    assert [r.values[1] for r in rows("parquet", parquet(table))] == [
        "1969-12-31T23:59:59.999999Z",
        "1970-01-01T00:00:00.000000Z",
        None,
        "1970-01-01T00:00:00.000001Z",
    ]


def test_parquet_integer_and_float_amounts_and_a_date_column():
    table = pa.table(
        {
            "event_id": ["e1", "e2", "e3"],
            "event_time": pa.array([dt.date(2025, 3, 9)] * 3, pa.date32()),
            "user_id": ["u1", "u2", "u3"],
            "event_type": ["purchase"] * 3,
            "amount": pa.array([10, 0, 7], pa.int64()),
            "currency": ["USD"] * 3,
        }
    )
    got = rows("parquet", parquet(table))
    assert [r.values[1] for r in got] == ["2025-03-09"] * 3
    assert [r.values[4] for r in got] == ["10", "0", "7"]
    assert validate(*got[0].values) == "invalid_timestamp"  # a date alone is not a timestamp
    floats = table.set_column(4, "amount", pa.array([10.5, 0.1, 1e16]))
    assert [r.values[4] for r in rows("parquet", parquet(floats))] == ["10.5", "0.1", "1e+16"]


@pytest.mark.parametrize("kind, scale", [(pa.date32(), 1), (pa.date64(), 86_400_000)])
def test_parquet_dates_out_of_pythons_range_are_rows_not_a_crash(kind, scale):
    days = [-719_163, -719_162, 2_932_896, 2_932_897, -1]  # 0000-12-31, 0001-01-01, 9999-12-31, 10000-01-01
    table = strings(
        event_id=["e1", "e2", "e3", "e4", "e5"],
        event_time=[None] * 5,
        user_id=["u"] * 5,
        event_type=["view"] * 5,
        amount=[None] * 5,
        currency=[None] * 5,
    ).set_column(
        1, "event_time", pa.array([d * scale for d in days], pa.int32() if scale == 1 else pa.int64()).cast(kind)
    )
    got = rows("parquet", parquet(table))
    assert [r.values[1] for r in got] == ["out of range", "0001-01-01", "9999-12-31", "out of range", "1969-12-31"]
    assert {validate(*r.values) for r in got} == {"invalid_timestamp"}


def test_parquet_row_numbers_run_across_row_groups():
    table = strings(
        event_id=[f"e{n}" for n in range(10)],
        event_time=["t"] * 10,
        user_id=["u"] * 10,
        event_type=["view"] * 10,
        amount=[None] * 10,
        currency=[None] * 10,
    )
    got = rows("parquet", parquet(table, row_group_size=3))
    assert [(r.row_number, r.values[0]) for r in got] == [(n + 1, f"e{n}") for n in range(10)]


def test_parquet_missing_column():
    table = native_table().drop_columns(["currency", "user_id"])
    with pytest.raises(FileRejected) as info:
        rows("parquet", parquet(table))
    assert (info.value.reason, str(info.value)) == (
        "missing_columns",
        "missing_columns: schema lacks user_id, currency",
    )


def test_parquet_with_no_rows_and_an_empty_file():
    assert rows("parquet", parquet(native_table().slice(0, 0))) == []
    assert rows("parquet", b"") == []


def test_parquet_binary_column_that_is_not_utf8_is_an_unreadable_file():
    table = native_table().set_column(2, "user_id", pa.array([b"u1", b"M\xfcller", None, b"u4"], pa.binary()))
    assert rejection("parquet", parquet(table)) == "unreadable_file"
    utf8 = table.set_column(2, "user_id", pa.array([b"u1", "M\u00fcller".encode(), None, b"u4"], pa.binary()))
    assert [r.values[2] for r in rows("parquet", parquet(utf8))] == ["u1", "M\u00fcller", None, "u4"]


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[:-30], lambda b: b[: len(b) // 2], lambda b: b"PAR1 but not really", lambda b: b"hello, world\n"],
    ids=["footer cut", "half", "fake magic", "text"],
)
def test_unreadable_parquet(damage):
    assert rejection("parquet", damage(parquet(native_table()))) == "unreadable_file"


# --------------------------------------------------------------------------- the reference reads the same way


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (
            "a.csv",
            b"\xef\xbb\xbf" + csv_bytes(HEADER, "", 'e1,t,u1,view,,"x\r\ny"', "bad,row", 'e2,"t"x,,,,', newline="\r\n"),
        ),
        ("a.jsonl", jsonl('{"event_id": 1, "amount": 10.50}', "", "[1]", "NaN", '{"user_id": null}')),
        ("a.parquet", parquet(native_table())),
    ],
)
def test_reference_reader_agrees_with_the_core_reader(name, data):
    """Same rows, same row numbers; Parquet timestamps may be spelled differently, so compare outcomes."""
    fmt = name.split(".", 1)[1]
    core = [
        (r.row_number, None if r.values is None else dict(zip(reference.FIELDS, r.values, strict=True)))
        for r in rows(fmt, data)
    ]
    ref = reference.read_file(name, data, MAX)
    assert [n for n, _ in ref] == [n for n, _ in core]
    if fmt == "parquet":
        assert [reference.check(v) for _, v in ref] == [reference.check(v) for _, v in core]
    else:
        assert ref == core
