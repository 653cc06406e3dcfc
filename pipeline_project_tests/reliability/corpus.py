"""A corpus of hostile raw files, generated here (no binary fixtures), each with its expected outcome.

Every entry is one file under `raw-data/DAY/`: its name, its bytes, the file status and reason the
data contract gives it, and, for a processed file, every read row with its row number and outcome
("valid", "duplicate" or a row reason), the exact quarantine content of a rejected row, and what a
valid row is (event id, user, type, UTC hour, currency, cents). The outcomes are written by hand
from docs/data-contract.md, not computed by the pipeline's code.

`expected_numbers(entries)` turns entries into the report numbers (in reference.report_numbers'
shape), re-deciding duplicates for the day as a whole: a row valid in its own file is a duplicate
when an earlier file (in key order) already held a valid record with its event id.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
import struct
import zlib
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

DAY = "2025-03-09"
RAW = f"raw-data/{DAY}/"
Q = f"quarantine/{DAY}/"
MAX_FILE_BYTES = 1 << 20  # the corpus runs with a 1 MiB limit, so too_large is cheap to show
HEADER = "event_id,event_time,user_id,event_type,amount,currency"
FIELDS = tuple(HEADER.split(","))
ROW_REASONS = (
    "malformed_row",
    "missing_field",
    "invalid_event_type",
    "invalid_timestamp",
    "invalid_amount",
    "invalid_currency",
)
EVENT_TYPES = ("view", "add_to_cart", "purchase", "refund")
BOTH = frozenset({"local", "s3"})
S3_ONLY = frozenset({"s3"})  # keys a folder cannot hold (a '..' or '.' segment, a key ending in '/')
SUFFIXES = (
    (".csv.gz", "csv.gz"),
    (".jsonl.gz", "jsonl.gz"),
    (".parquet", "parquet"),
    (".jsonl", "jsonl"),
    (".csv", "csv"),
)


@dataclass(frozen=True)
class Event:
    """What a valid (or duplicate) record is; for a duplicate only event_id matters."""

    event_id: str
    user_id: str = ""
    event_type: str = ""
    hour: int = 0
    currency: str | None = None
    cents: int = 0


@dataclass(frozen=True)
class Row:
    row_number: int
    outcome: str  # "valid", "duplicate" or a row reason (when this file is alone in the day)
    content: str | dict | None = None  # rejected rows: quarantine content (a dict for Parquet's JSON object)
    event: Event | None = None  # valid and duplicate rows


@dataclass(frozen=True)
class Entry:
    name: str  # relative to raw-data/DAY/
    data: bytes
    status: str  # "processed", "quarantined" or "ignored" (not considered at all)
    reason: str | None = None
    rows: tuple[Row, ...] = ()
    backends: frozenset = BOTH
    note: str = ""

    @property
    def format(self) -> str | None:
        base = self.name.rsplit("/", 1)[-1]
        return next((fmt for suffix, fmt in SUFFIXES if base.endswith(suffix) and base != suffix), None)

    @property
    def key(self) -> str:
        return RAW + self.name


# --------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expect:
    outcome: str
    event: Event | None = None


def V(event_id, user_id, event_type, hour, currency=None, cents=0) -> Expect:  # noqa: N802
    """A valid record (in its own file)."""
    return Expect("valid", Event(event_id, user_id, event_type, hour, currency, cents))


def Dup(event_id) -> Expect:  # noqa: N802
    return Expect("duplicate", Event(event_id))


def Bad(reason) -> Expect:  # noqa: N802
    assert reason in ROW_REASONS, reason
    return Expect(reason)


def csv_line(*fields: str) -> str:
    """Fields joined the RFC 4180 way: quoted when they hold a comma, a quote or a line break."""
    return ",".join(f'"{f}"' if re.search(r'[,"\r\n]', f) else f for f in (f.replace('"', '""') for f in fields))


def text_file(
    kind: str,
    items: list[tuple[str, Expect | None]],
    newline: str = "\n",
    bom: bool = False,
    final_newline: bool = True,
) -> tuple[bytes, tuple[Row, ...]]:
    """A CSV or JSONL file from its records' raw texts, with their 1-based start lines.

    items: (raw text of a record, header or blank line, expectation or None when it is no record).
    A CSV record's text may span lines (quoted line breaks: CRLF, LF or CR each count one line);
    a JSONL line never holds an LF, and a trailing CR on it is its CRLF ending (not content).
    """
    rows = []
    line = 1
    for text, expect in items:
        if kind == "jsonl":
            assert "\n" not in text
            content, breaks = text.removesuffix("\r"), 0
        else:
            content, breaks = text, len(re.findall(r"\r\n|\r|\n", text))
        if expect is not None:
            rejected = expect.outcome in ROW_REASONS
            rows.append(Row(line, expect.outcome, content if rejected else None, expect.event))
        line += breaks + 1
    body = newline.join(text for text, _ in items) + (newline if final_newline and items else "")
    return (("\ufeff" if bom else "") + body).encode(), tuple(rows)


def processed(name: str, data: bytes, rows: tuple[Row, ...] = (), **kw) -> Entry:
    return Entry(name, data, "processed", None, rows, **kw)


def quarantined(name: str, data: bytes, reason: str, **kw) -> Entry:
    return Entry(name, data, "quarantined", reason, **kw)


def ignored(name: str, data: bytes, **kw) -> Entry:
    return Entry(name, data, "ignored", **kw)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def parquet(columns: dict[str, pa.Array], row_group_size: int | None = None) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out, row_group_size=row_group_size)
    return out.getvalue()


def strings(columns: dict[str, list]) -> dict[str, pa.Array]:
    return {name: pa.array(values, pa.string()) for name, values in columns.items()}


def string_parquet_rows(columns: dict[str, list], expects: list[Expect]) -> tuple[Row, ...]:
    """Rows of a Parquet file of string columns: a rejected row's content is its six raw values."""
    records = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    assert len(records) == len(expects)
    return tuple(
        Row(n, e.outcome, {f: r[f] for f in FIELDS} if e.outcome in ROW_REASONS else None, e.event)
        for n, (r, e) in enumerate(zip(records, expects, strict=True), start=1)
    )


def gzip_bomb(rows_block: bytes, repeats: int, head: bytes = b"") -> bytes:
    """One gzip member whose content is head + rows_block * repeats, built without compressing it all.

    A full flush resets the compressor, so every repeat of the block compresses to the same bytes:
    compress it once and repeat the output. The CRC and size trailer are those of the whole content.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    unit = comp.compress(rows_block) + comp.flush(zlib.Z_FULL_FLUSH)
    assert comp.compress(rows_block) + comp.flush(zlib.Z_FULL_FLUSH) == unit  # the output really repeats
    last = comp.flush()
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(rows_block, crc)
    size = len(head) + len(rows_block) * repeats
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + first + unit * repeats + last + struct.pack("<II", crc, size & 0xFFFFFFFF)


# --------------------------------------------------------------------------- CSV


def csv_basic() -> Entry:
    data, rows = text_file(
        "csv",
        [
            (HEADER, None),
            ("b1,2025-03-09T10:15:00Z,u1,view,,", V("b1", "u1", "view", 10)),
            ("b2,2025-03-09T11:00:00Z,u2,add_to_cart,,", V("b2", "u2", "add_to_cart", 11)),
            ("b3,2025-03-09T12:00:00Z,u1,purchase,10.50,USD", V("b3", "u1", "purchase", 12, "USD", 1050)),
            ("b4,2025-03-09T13:00:00Z,u3,refund,2.25,USD", V("b4", "u3", "refund", 13, "USD", 225)),
            # first occurrences for the combined day's cross-file duplicates:
            ("x-shared,2025-03-09T14:00:00Z,u4,view,,", V("x-shared", "u4", "view", 14)),
            ("x-first-invalid,2025-03-09T24:00:00Z,u4,view,,", Bad("invalid_timestamp")),
        ],
    )
    return processed("csv/basic.csv", data, rows, note="plain LF CSV, all four types")


def csv_bom_crlf() -> Entry:
    data, rows = text_file(
        "csv",
        [
            (HEADER, None),
            ("c1,2025-03-09 08:00:00,u5,view,,", V("c1", "u5", "view", 8)),
            ("c2,2025-03-09T08:30:00+01:00,u5,purchase,1.00,EUR", V("c2", "u5", "purchase", 7, "EUR", 100)),
            ("x-shared,2025-03-09T09:00:00Z,u6,view,,", V("x-shared", "u6", "view", 9)),  # dup in the day
            ("c3,2025-03-09T09:00:00Z,u6,refund,1.005,EUR", Bad("invalid_amount")),
        ],
        newline="\r\n",
        bom=True,
    )
    return processed("csv/bom crlf.csv", data, rows, note="BOM + CRLF, a space in the name")


def csv_cr_only() -> Entry:
    data, rows = text_file(
        "csv",
        [
            (HEADER, None),
            ("d1,2025-03-09T01:02:03Z,u7,view,,", V("d1", "u7", "view", 1)),
            ("", None),  # a blank line (CR CR)
            ("d2,2025-03-09T01:02:03Z,u7,bogus,,", Bad("invalid_event_type")),
        ],
        newline="\r",
    )
    return processed("csv/cr only.csv", data, rows, note="old Mac CR line endings")


def csv_quoted_newlines() -> Entry:
    data, rows = text_file(
        "csv",
        [
            (HEADER, None),
            ('e1,2025-03-09T02:00:00Z,"u8\nsecond line",view,,', V("e1", "u8\nsecond line", "view", 2)),
            ('"e2",2025-03-09T02:00:00Z,u9,purchase,"3.10","US\n\nD"', Bad("invalid_currency")),
            ('e3,2025-03-09T02:00:00Z,"u10\r\nx",view,,', V("e3", "u10\r\nx", "view", 2)),
            ('e4,"2025-03-09T02:00:00Z","u11","view","",""', V("e4", "u11", "view", 2)),
            ('e5,2025-03-09T02:00:00Z,"u ""quoted"", and comma",view,,', V("e5", 'u "quoted", and comma', "view", 2)),
            ('e6,2025-03-09T02:00:00Z,u12,"bo\ngus",,', Bad("invalid_event_type")),
        ],
    )
    return processed("csv/quoted newlines.csv", data, rows, note="quoted LF, CRLF, blank line, quotes, commas")


def csv_malformed_quoting() -> Entry:
    data, rows = text_file(
        "csv",
        [
            (HEADER, None),
            ('q1,"2025-03-09T03:00:00Z"Z,u12,view,,', Bad("malformed_row")),  # text after a closing quote
            ('q2,2025-03-09T03:00:00Z,u12,"view" ,,', Bad("malformed_row")),  # a space after a closing quote
            ("q3,2025-03-09T03:00:00Z,u12,view,,", V("q3", "u12", "view", 3)),  # reading goes on
            # an unterminated quote runs to the end of the file: one malformed record from its line on
            ('"q4,2025-03-09T03:00:00Z,u12,view,,\nq5,2025-03-09T03:00:00Z,u12,view,,', Bad("malformed_row")),
        ],
    )
    return processed("csv/malformed quoting.csv", data, rows)


def csv_bare_quotes() -> Entry:
    # RFC 4180 section 2, rule 5: "If fields are not enclosed with double quotes, then double quotes
    # may not appear inside the fields." docs/data-contract.md section 5 rule 0: a CSV row that breaks
    # RFC 4180 is malformed_row.
    data, rows = text_file(
        "csv",
        [
            (HEADER, None),
            ('bq1,2025-03-09T03:00:00Z,u"12,view,,', Bad("malformed_row")),
            ('bq2, "2025-03-09T03:00:00Z",u12,view,,', Bad("malformed_row")),
            ("bq3,2025-03-09T03:00:00Z,u12,view,,", V("bq3", "u12", "view", 3)),
        ],
    )
    return processed(
        "csv/bare quotes.csv",
        data,
        rows,
        note="a double quote inside an unquoted CSV field breaks RFC 4180 (rule 5): malformed_row",
    )


def csv_field_counts() -> Entry:
    data, rows = text_file(
        "csv",
        [
            (HEADER, None),
            ("f1,2025-03-09T04:00:00Z,u13,view,,,extra", Bad("malformed_row")),  # 7 fields
            ("f2,2025-03-09T04:00:00Z,u13,view", Bad("malformed_row")),  # 4 fields
            ("f3", Bad("malformed_row")),  # 1 non-blank field
            (",,,,,", Bad("missing_field")),  # 6 empty fields: a row, not a blank line
            ("", None),  # blank
            ("   ", None),  # one whitespace-only field: blank
            ('""', None),  # one empty quoted field: blank
            ('" \t"', None),  # one quoted whitespace field: blank
            ("f4,2025-03-09T04:00:00Z,u13,view,,", V("f4", "u13", "view", 4)),
            ('f5,2025-03-09T04:00:00Z,u13,purchase,"1,000.00",USD', Bad("invalid_amount")),
            ("f6,2025-03-09T04:00:00Z,u13,purchase,1,000.00,USD", Bad("malformed_row")),  # 7 fields
        ],
        final_newline=False,
    )
    return processed("csv/field counts.csv", data, rows, note="too many / too few fields, blank rows")


def csv_order_and_extras() -> Entry:
    header = " currency , amount,country,event_type,user_id , event_time,event_id,notes"
    data, rows = text_file(
        "csv",
        [
            (header, None),
            ("USD,12.30,US,purchase,u14,2025-03-09T05:00:00Z,g1,hello", V("g1", "u14", "purchase", 5, "USD", 1230)),
            (" EUR , 0.5 ,DE, refund , u15 , 2025-03-09T05:59:59.999Z , g2 ,", V("g2", "u15", "refund", 5, "EUR", 50)),
            ("usd,1.00,US,purchase,u14,2025-03-09T05:00:00Z,g3,", Bad("invalid_currency")),
        ],
    )
    return processed("csv/order and extras.csv", data, rows, note="any column order, padded names, extra columns")


def csv_repeated_header() -> Entry:
    data, rows = text_file(
        "csv",
        [
            (HEADER + ",user_id,event_id", None),  # a repeated name: the first column counts
            ("h1,2025-03-09T06:00:00Z,u16,view,,,IGNORED,h-other", V("h1", "u16", "view", 6)),
            ("h2,2025-03-09T06:00:00Z,,view,,,u17,h3", Bad("missing_field")),
        ],
    )
    return processed("csv/repeated header.csv", data, rows)


def csv_blank_before_header() -> Entry:
    data, rows = text_file(
        "csv",
        [
            ("", None),
            ("  ", None),
            (HEADER, None),
            ("", None),
            ("i1,2025-03-09T06:00:00Z,u18,view,,", V("i1", "u18", "view", 6)),
        ],
    )
    return processed("csv/blank before header.csv", data, rows, note="header is the first non-blank row")


def csv_timestamps() -> Entry:
    valid = [
        ("2025-03-09T10:15:00Z", 10),
        ("2025-03-09 10:15:00Z", 10),
        ("2025-03-09T10:15:00", 10),  # no offset: UTC
        ("2025-03-09 23:59:59", 23),
        ("2025-03-09T10:15:00.1Z", 10),
        ("2025-03-09T10:15:00.123456789Z", 10),
        ("2025-03-09T10:15:00.000", 10),
        ("2025-03-09T00:30:00+01:00", 23),
        ("2025-03-09T23:30:00-01:00", 0),
        ("2025-03-09T12:00:00+05:30", 6),
        ("2025-03-09T12:00:00-09:30", 21),
        ("2025-03-09T05:00:00+23:59", 5),
        ("2025-03-09T05:00:00-23:59", 4),
        ("2025-03-09T10:15:00+00:00", 10),
        ("2025-03-09T10:15:00-00:00", 10),
        ("2025-03-09T00:00:00.5+00:30", 23),
        ("2025-03-09T10:15:00.5-00:01", 10),
        ("2025-03-09T00:00:59+00:01", 23),
        ("2024-02-29T13:00:00Z", 13),  # leap day
        ("2000-02-29T13:00:00Z", 13),  # divisible by 400
        ("0001-01-01T00:00:00Z", 0),
        ("0001-01-01T00:30:00+01:00", 23),
        ("9999-12-31T23:59:59.999999999-23:59", 23),
        (" 2025-03-09T14:15:00Z ", 14),  # surrounding whitespace is ignored
    ]
    invalid = [
        "2025-13-01T00:00:00Z",  # bad month
        "2025-00-10T00:00:00Z",
        "2025-02-29T00:00:00Z",  # not a leap year
        "1900-02-29T00:00:00Z",
        "2025-04-31T00:00:00Z",
        "2025-03-00T00:00:00Z",
        "2025-03-32T00:00:00Z",
        "2025-03-09T25:00:00Z",  # hour 25
        "2025-03-09T24:00:00Z",
        "2025-03-09T10:60:00Z",
        "2025-03-09T10:00:60Z",  # no leap second
        "2025-03-09",  # date only
        "10:15:00",
        "2025-03-09T10:15Z",
        "2025-03-09T10:15",
        "2025-03-09T10:15:00.Z",
        "2025-03-09T10:15:00.1234567890Z",  # 10 fraction digits
        "1741515300",  # epoch numbers
        "1741515300000",
        "1741515300.5",
        "2025-03-09T10:15:00+24:00",  # bad offsets
        "2025-03-09T10:15:00+01:60",
        "2025-03-09T10:15:00+0100",
        "2025-03-09T10:15:00+01",
        "2025-03-09T10:15:00+1:00",
        "2025-03-09T10:15:00Z+01:00",
        "2025-03-09T10:15:00 +01:00",
        "2025-03-09T10:15:00-25:00",
        "2025-03-09T10:15:00UTC",
        "2025-03-09T10:15:00 UTC",
        "2025-03-09T10:15:00+01:00:00",
        "2025-03-09T10:15:00\u221201:00",  # a Unicode minus
        "2025-03-09t10:15:00Z",  # T and Z are uppercase only
        "2025-03-09T10:15:00z",
        "0000-01-01T00:00:00Z",  # year 0
        "2025-3-9T10:15:00Z",
        "25-03-09T10:15:00Z",
        "+2025-03-09T10:15:00Z",
        "12025-03-09T10:15:00Z",
        "2025/03/09 10:15:00",
        "2025-03-09_10:15:00",
        "2025-03-09  10:15:00",
        "2025-03-09T10:15:00,5Z",  # a comma fraction
        "\uff12\uff10\uff12\uff15-03-09T10:15:00Z",  # fullwidth digits
        "2025-03-09T1\u0660:15:00Z",  # an Arabic-Indic digit
        "Sun, 09 Mar 2025 10:15:00 GMT",
        "2025-03-09T10:15:00.123Z\u200b",  # a zero-width space is not whitespace
        "NaN",
        "now",
    ]
    items: list[tuple[str, Expect | None]] = [(HEADER, None)]
    for n, (stamp, hour) in enumerate(valid):
        items.append((csv_line(f"tv{n}", stamp, "ut", "view", "", ""), V(f"tv{n}", "ut", "view", hour)))
    for n, stamp in enumerate(invalid):
        items.append((csv_line(f"ti{n}", stamp, "ut", "view", "", ""), Bad("invalid_timestamp")))
    data, rows = text_file("csv", items)
    return processed("csv/timestamps.csv", data, rows, note="every allowed timestamp form and many that are not")


def csv_amounts() -> Entry:
    t = "2025-03-09T09:00:00Z"
    valid = [
        ("10.50", "USD", 1050),
        ("0", "USD", 0),
        ("0.01", "USD", 1),
        ("5", "USD", 500),
        ("007.50", "USD", 750),
        (" 12.30 ", "USD", 1230),
        ("1234567890123.45", "USD", 123456789012345),
        ("0.5", "EUR", 50),
        ("2.00", " EUR ", 200),
    ]
    bad_amounts = [
        "-1",
        "+1",
        "1,000.00",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e3",
        "12.345",
        ".5",
        "5.",
        "",
        "   ",
        "1 000",
        "\u0661\u0660",  # Arabic-Indic digits
        "\uff11\uff10",  # fullwidth digits
        "0x10",
        "10.5.0",
        "$10",
        "-0",
        "10.50USD",
    ]
    bad_currencies = ["usd", "Usd", "US", "USDD", "", "U$D", "\uff35\uff33\uff24", "US D", "12A"]
    items: list[tuple[str, Expect | None]] = [(HEADER, None)]
    for n, (amount, currency, cents) in enumerate(valid):
        kind = "refund" if n % 3 == 2 else "purchase"
        items.append(
            (csv_line(f"av{n}", t, "ua", kind, amount, currency), V(f"av{n}", "ua", kind, 9, currency.strip(), cents))
        )
    for n, amount in enumerate(bad_amounts):
        kind = "refund" if n % 2 else "purchase"
        items.append((csv_line(f"aa{n}", t, "ua", kind, amount, "USD"), Bad("invalid_amount")))
    for n, currency in enumerate(bad_currencies):
        kind = "refund" if n % 2 else "purchase"
        items.append((csv_line(f"ac{n}", t, "ua", kind, "1.00", currency), Bad("invalid_currency")))
    items += [
        (csv_line("ax1", t, "ua", "purchase", "NaN", "usd"), Bad("invalid_amount")),  # amount is checked first
        (csv_line("ax2", t, "ub", "view", "-1", "usd"), V("ax2", "ub", "view", 9)),  # not checked for views
        (csv_line("ax3", t, "ub", "add_to_cart", "NaN", ""), V("ax3", "ub", "add_to_cart", 9)),
    ]
    data, rows = text_file("csv", items)
    return processed("csv/amounts.csv", data, rows, note="amounts and currencies")


def csv_rules() -> Entry:
    t = "2025-03-09T09:00:00Z"
    data, rows = text_file(
        "csv",
        [
            (HEADER, None),
            (f",{t},u50,view,,", Bad("missing_field")),
            ("r2,,u50,view,,", Bad("missing_field")),
            (f"r3,{t},,view,,", Bad("missing_field")),
            (f"r4,{t},u50,,,", Bad("missing_field")),
            (f"r5,{t},   ,view,,", Bad("missing_field")),
            (f"r6,{t},\u00a0\u3000,view,,", Bad("missing_field")),  # Unicode whitespace only
            (",not a time,u50,bogus,-1,usd", Bad("missing_field")),  # the first failing rule wins
            ("r8,not a time,u50,bogus,,", Bad("invalid_event_type")),
            ("r9,not a time,u50,purchase,-1,usd", Bad("invalid_timestamp")),
            (f"r10,{t},u50,purchase,-1,usd", Bad("invalid_amount")),
            (f"r11,{t},u50,purchase,1.00,usd", Bad("invalid_currency")),
            (f"r12,{t},u50,View,,", Bad("invalid_event_type")),
            (f"r13,{t},u50,PURCHASE,1.00,USD", Bad("invalid_event_type")),
            (f"r14,{t},u50,add-to-cart,,", Bad("invalid_event_type")),
            (f"r15,{t},u50,click,,", Bad("invalid_event_type")),
            (f"r16,{t},u50,purchase\u200b,1.00,USD", Bad("invalid_event_type")),
            ("r17, 2025-03-09T09:00:00Z ,\tu51\t, refund ,1.00,USD", V("r17", "u51", "refund", 9, "USD", 100)),
            (f"\u00a0r19\u00a0,{t},u52,view,,", V("r19", "u52", "view", 9)),
            (f"r20,{t},u53,view,any,thing", V("r20", "u53", "view", 9)),
            # U+2028, U+2029 and U+0085 are no CSV line breaks, and stay unescaped in the quarantine line
            (f"r21,{t},u\u2028z,bogus\u2029\u0085,,", Bad("invalid_event_type")),
        ],
    )
    return processed("csv/rules.csv", data, rows, note="missing fields, event types, first failing rule wins")


def csv_duplicates() -> Entry:
    data, rows = text_file(
        "csv",
        [
            (HEADER, None),
            ("k1,2025-03-09T10:00:00Z,u60,purchase,1.00,USD", V("k1", "u60", "purchase", 10, "USD", 100)),
            ("k1,2025-03-09T11:00:00Z,u61,refund,5.00,USD", Dup("k1")),  # not aggregated
            (" k1 ,2025-03-09T11:00:00Z,u61,view,,", Dup("k1")),  # ids compare trimmed
            ("K1,2025-03-09T11:00:00Z,u61,view,,", V("K1", "u61", "view", 11)),  # ... and exactly
            ("k2,2025-03-09T25:00:00Z,u62,view,,", Bad("invalid_timestamp")),
            ("k2,2025-03-09T12:00:00Z,u62,view,,", V("k2", "u62", "view", 12)),  # first occurrence was invalid
            ("k2,2025-03-09T12:00:00Z,u62,view,,", Dup("k2")),
            ("k3,2025-03-09T12:00:00Z,u63,view,,", V("k3", "u63", "view", 12)),
            ("k3,2025-03-09T12:00:00Z,u63,bogus,,", Bad("invalid_event_type")),  # rejected, not a duplicate
            ("k1\u00a0,2025-03-09T12:00:00Z,u64,view,,", Dup("k1")),
            ("k4,2025-03-09T12:00:00Z,u65,view,,", V("k4", "u65", "view", 12)),
            ('"k4",2025-03-09T12:00:00Z,u65,view,,', Dup("k4")),
        ],
    )
    return processed("csv/duplicates.csv", data, rows, note="duplicates within a file")


def csv_empty_and_header_only() -> list[Entry]:
    return [
        processed("csv/empty.csv", b""),
        processed("csv/bom only.csv", b"\xef\xbb\xbf"),
        processed("csv/header only.csv", (HEADER + "\n").encode()),
        processed("csv/header only no newline.csv", HEADER.encode()),
        processed("csv/header only bom crlf.csv", ("\ufeff" + HEADER + "\r\n").encode()),
        processed("csv/blank lines only.csv", b"\n\n  \n\r\n\t\r"),
    ]


def csv_missing_columns() -> list[Entry]:
    row = "\nm1,2025-03-09T00:00:00Z,u70,view,,\n"
    return [
        quarantined("csv/missing currency.csv", (HEADER.replace(",currency", "") + row).encode(), "missing_columns"),
        quarantined("csv/case header.csv", (HEADER.replace("event_id", "Event_ID") + row).encode(), "missing_columns"),
        quarantined("csv/double bom.csv", ("\ufeff\ufeff" + HEADER + row).encode(), "missing_columns"),
        quarantined("csv/unparseable header.csv", ('"event_id"x,' + HEADER + row).encode(), "missing_columns"),
        quarantined("csv/header in quotes.csv", ('"' + HEADER + '"' + row).encode(), "missing_columns"),
        quarantined(
            "csv/semicolons.csv", (HEADER.replace(",", ";") + row.replace(",", ";")).encode(), "missing_columns"
        ),
    ]


def csv_not_utf8() -> list[Entry]:
    good = "".join(f"lat{n},2025-03-09T07:00:00Z,u{n},view,,\n" for n in range(3000))  # > one text chunk
    latin1 = (HEADER + "\n" + "x-quarantined,2025-03-09T07:00:00Z,u71,view,,\n" + good).encode()
    latin1 += "lat-x,2025-03-09T07:00:00Z,M\u00fcller,view,,\n".encode("latin-1")
    return [
        quarantined("csv/latin1.csv", latin1, "unreadable_file", note="valid rows first, then a Latin-1 byte"),
        quarantined("csv/latin1.csv.gz", gz(latin1), "unreadable_file"),
        quarantined("csv/utf16.csv", (HEADER + "\n").encode("utf-16"), "unreadable_file"),
        quarantined(
            "csv/surrogate bytes.csv",
            (HEADER + "\ns1,2025-03-09T07:00:00Z,u\xed\xa0\x80,view,,\n").encode("latin-1"),
            "unreadable_file",
        ),
        quarantined(
            "csv/overlong.csv",
            (HEADER + "\n").encode() + b"o1,2025-03-09T07:00:00Z,\xc0\xaf,view,,\n",
            "unreadable_file",
        ),
    ]


def csv_gzip() -> list[Entry]:
    plain, rows = text_file(
        "csv",
        [
            (HEADER, None),
            ("z1,2025-03-09T15:00:00Z,u80,purchase,9.99,GBP", V("z1", "u80", "purchase", 15, "GBP", 999)),
            ("z2,2025-03-09T15:00:00Z,u80,refund,,GBP", Bad("invalid_amount")),
        ],
    )
    member1 = gz((HEADER + "\nzm1,2025-03-09T16:00:00Z,u81,view,,\n").encode())
    member2 = gz(b"zm2,2025-03-09T16:00:00Z,u81,add_to_cart,,\n")
    whole = gz(plain)
    bad_crc = bytearray(whole)
    bad_crc[-8] ^= 0xFF
    return [
        processed("csv/ok.csv.gz", whole, rows),
        processed(
            "csv/multi member.csv.gz",
            member1 + member2,
            (
                Row(2, "valid", None, Event("zm1", "u81", "view", 16)),
                Row(3, "valid", None, Event("zm2", "u81", "add_to_cart", 16)),
            ),
        ),
        quarantined("csv/truncated.csv.gz", whole[: len(whole) // 2], "unreadable_file"),
        quarantined("csv/no trailer.csv.gz", whole[:-8], "unreadable_file"),
        quarantined("csv/bad crc.csv.gz", bytes(bad_crc), "unreadable_file"),
        quarantined("csv/not gzip.csv.gz", plain, "unreadable_file"),
        quarantined("csv/garbage after member.csv.gz", whole + b"garbage!", "unreadable_file"),
    ]


def size_limits() -> list[Entry]:
    """Files around MAX_FILE_BYTES, stored or decompressed."""
    head = (HEADER + "\n").encode()
    lines = []
    size = len(head)
    n = 0
    while size < MAX_FILE_BYTES - 100:
        line = f"L{n:06d},2025-03-09T00:00:00Z,ul,view,,\n".encode()
        lines.append(line)
        size += len(line)
        n += 1
    pad = MAX_FILE_BYTES - size - len(f"L{n:06d},2025-03-09T00:00:00Z,,view,,\n")
    last = f"L{n:06d},2025-03-09T00:00:00Z,{'u' * pad},view,,\n".encode()
    at_limit = head + b"".join(lines) + last
    assert len(at_limit) == MAX_FILE_BYTES
    rows = tuple(Row(i + 2, "valid", None, Event(f"L{i:06d}", "ul", "view", 0)) for i in range(n))
    rows += (Row(n + 2, "valid", None, Event(f"L{n:06d}", "u" * pad, "view", 0)),)
    row = b"bomb,2025-03-09T00:00:00Z,u0,view,,\n"
    small_bomb = gzip_bomb(row * 1024, 2 * MAX_FILE_BYTES // (1024 * len(row)) + 1, head)
    return [
        processed("big/at limit.csv", at_limit, rows, note="exactly MAX_FILE_BYTES: fine"),
        processed("big/at limit.csv.gz", gz(at_limit), rows, note="decompresses to exactly MAX_FILE_BYTES"),
        quarantined("big/one byte over.csv", at_limit + b"\n", "too_large"),
        quarantined("big/one byte over.csv.gz", gz(at_limit + b"\n"), "too_large"),
        quarantined("big/small bomb.csv.gz", small_bomb, "too_large", note="a few KiB expanding past the limit"),
    ]


# --------------------------------------------------------------------------- JSON lines


def jsonl_shapes() -> Entry:
    def obj(eid: str, hour: int, user: str = "u30", kind: str = "view", extra: str = "") -> str:
        when = f"2025-03-09T{hour:02d}:00:00Z"
        return f'{{"event_id":"{eid}","event_time":"{when}","user_id":"{user}","event_type":"{kind}"{extra}}}'

    deep = "[" * 100_000
    data, rows = text_file(
        "jsonl",
        [
            (obj("j1", 18), V("j1", "u30", "view", 18)),
            ("[1,2]", Bad("malformed_row")),
            ('"just a string"', Bad("malformed_row")),
            ("42", Bad("malformed_row")),
            ("null", Bad("malformed_row")),
            ("true", Bad("malformed_row")),
            ('{"event_id":"j2","event_time":', Bad("malformed_row")),
            (
                '{"event_id":NaN,"event_time":"2025-03-09T18:00:00Z","user_id":"u30","event_type":"view"}',
                Bad("malformed_row"),
            ),
            (obj("j3", 18, kind="purchase", extra=',"amount":Infinity,"currency":"USD"'), Bad("malformed_row")),
            (obj("j3b", 18, kind="refund", extra=',"amount":-Infinity,"currency":"USD"'), Bad("malformed_row")),
            ("", None),
            ("   \t", None),
            ("{}", Bad("missing_field")),
            (
                '{"event_id":"j4","event_time":"2025-03-09T18:00:00Z","user_id":null,"event_type":"view"}',
                Bad("missing_field"),
            ),
            (obj("j5", 18, user="u31", extra=',"event_type":"bogus"'), Bad("invalid_event_type")),  # last key wins
            (obj("j6", 18, user="u31", kind="bogus", extra=',"event_type":"view"'), V("j6", "u31", "view", 18)),
            (
                '{"event_id":{"a":1,"b":[true,null]},"event_time":"2025-03-09T19:00:00Z","user_id":["u",1],"event_type":"view"}',
                V('{"a":"1","b":[true,null]}', '["u","1"]', "view", 19),
            ),
            (
                '{"event_id":"j7","event_time":"2025-03-09T19:00:00Z","user_id":"u32","event_type":{"t":"view"}}',
                Bad("invalid_event_type"),
            ),
            (
                obj("j8", 19, user="u32", kind="purchase", extra=',"amount":{"v":10},"currency":"USD"'),
                Bad("invalid_amount"),
            ),
            (
                obj("x-first-invalid", 20, user="u33", extra=',"extra":{"deep":[1,2,3]}'),
                V("x-first-invalid", "u33", "view", 20),
            ),
            (obj("j9", 20, user="u33") + "\r", V("j9", "u33", "view", 20)),  # a CRLF line
            (obj("j10", 20, user="u33", kind="View") + "\r", Bad("invalid_event_type")),
            (obj("\\ud800", 21, user="u34"), V("\ud800", "u34", "view", 21)),  # a lone surrogate escape
            (obj("j11", 21, user="u34", kind="\\udc00"), Bad("invalid_event_type")),
            (deep, Bad("malformed_row")),  # absurdly deep nesting
            (obj("j12", 21, user="u35") + "   ", V("j12", "u35", "view", 21)),
            ("  " + obj("j13", 21, user="u35"), V("j13", "u35", "view", 21)),
            (obj("j14", 21, user="u\u2028x\u0085y"), V("j14", "u\u2028x\u0085y", "view", 21)),  # no line breaks
            (obj("j15", 21, user="u36", kind="\\u0076iew"), V("j15", "u36", "view", 21)),  # a JSON escape
            (
                '{"event_id":"j16","event_time":"2025-03-09T21:00:00Z","user_id":"u\\u0037","event_type":"vi\\u0065w"}',
                V("j16", "u7", "view", 21),
            ),
            (obj("j17", 21, user="u\u2028x\u0085y", kind="nope\u2029"), Bad("invalid_event_type")),
            (obj("j1", 22, user="u36"), Dup("j1")),
        ],
        final_newline=False,
    )
    return processed("json/shapes.jsonl", data, rows, note="arrays, strings, numbers, broken, nested, nulls")


def jsonl_numbers() -> Entry:
    def line(
        eid: str, kind: str = "view", rest: str = "", user: str = '"u37"', when: str = '"2025-03-09T06:00:00Z"'
    ) -> str:
        return f'{{"event_id":{eid},"event_time":{when},"user_id":{user},"event_type":"{kind}"{rest}}}'

    data, rows = text_file(
        "jsonl",
        [
            (
                line("1", "purchase", ',"amount":10.50,"currency":"USD"', user="2"),
                V("1", "2", "purchase", 6, "USD", 1050),
            ),
            (line('"1"'), Dup("1")),  # the JSON number 1 and the string "1" are the same id
            (line("1.0"), V("1.0", "u37", "view", 6)),  # ... but 1.0 is another
            (line('"n4"', "purchase", ',"amount":1e3,"currency":"USD"'), Bad("invalid_amount")),
            (line('"n5"', "purchase", ',"amount":-1,"currency":"USD"'), Bad("invalid_amount")),
            (line('"n6"', "refund", ',"amount":12.345,"currency":"USD"'), Bad("invalid_amount")),
            (line('"n7"', "purchase", ',"amount":0.10,"currency":"USD"'), V("n7", "u37", "purchase", 6, "USD", 10)),
            (line('"n8"', "refund", ',"amount":10,"currency":"USD"'), V("n8", "u37", "refund", 6, "USD", 1000)),
            (line('"n9"', "purchase", ',"amount":"1,000.00","currency":"USD"'), Bad("invalid_amount")),
            (line('"n10"', "purchase", ',"amount":1E2,"currency":"USD"'), Bad("invalid_amount")),
            (line('"n11"', when="1741515300"), Bad("invalid_timestamp")),
            (line('"n12"', "refund", ',"amount":5,"currency":null'), Bad("invalid_currency")),
            (line('"n13"', user="true"), V("n13", "true", "view", 6)),
            (line("[1, 2]", user="false"), V('["1","2"]', "false", "view", 6)),
            (line('"x-shared"'), V("x-shared", "u37", "view", 6)),  # a duplicate in the combined day
            (line('"n16"', "purchase", ',"amount":"  3.50  ","currency":" usd "'), Bad("invalid_currency")),
            (line('"n17"', "refund", ',"amount":0,"currency":"JPY"'), V("n17", "u37", "refund", 6, "JPY", 0)),
            (line('"n18"', "purchase", ',"amount":-0,"currency":"USD"'), Bad("invalid_amount")),
            (line('"n19"', "purchase", ',"amount":1.5e1,"currency":"USD"'), Bad("invalid_amount")),
            (
                line('"n20"', "purchase", ',"amount":12345678901234567890.99,"currency":"USD"'),
                V("n20", "u37", "purchase", 6, "USD", 1234567890123456789099),
            ),
            (line('"n21"', "purchase", ',"amount":true,"currency":"USD"'), Bad("invalid_amount")),
        ],
    )
    return processed("json/numbers.jsonl", data, rows, note="JSON numbers by their literal text, booleans, nested")


def jsonl_others() -> list[Entry]:
    bom_crlf, rows = text_file(
        "jsonl",
        [
            (
                '{"event_id":"g1","event_time":"2025-03-09T03:00:00+03:00","user_id":"u40","event_type":"view"}\r',
                V("g1", "u40", "view", 0),
            ),
            ("\r", None),  # blank
            (
                '{"event_id":"g2","event_time":"2025-03-09T03:00:00Z","user_id":"u40","event_type":"purchase","amount":"5.","currency":"USD"}\r',
                Bad("invalid_amount"),
            ),
        ],
        bom=True,
    )
    good = b'{"event_id":"bu1","event_time":"2025-03-09T03:00:00Z","user_id":"u41","event_type":"view"}\n'
    return [
        processed("json/bom crlf.jsonl.gz", gz(bom_crlf), rows),
        processed("json/empty.jsonl", b""),
        processed("json/blank.jsonl", b"\n \n\t\r\n\r\n"),
        processed("json/bom only.jsonl.gz", gz(b"\xef\xbb\xbf")),
        quarantined("json/bad utf8.jsonl", good + b'{"event_id":"bu2","user_id":"\xff"}\n', "unreadable_file"),
        quarantined("json/bad utf8 in string.jsonl.gz", gz(good * 50 + b'{"event_id":"\xe9"}\n'), "unreadable_file"),
        quarantined("json/truncated.jsonl.gz", gz(good * 50)[:-30], "unreadable_file"),
    ]


# --------------------------------------------------------------------------- Parquet


def parquet_strings() -> Entry:
    cols = {
        "event_id": ["s1", "x-shared", "x-first-invalid", " s2 ", "s3", None, "  ", "s2"],
        "event_time": [
            "2025-03-09T15:00:00Z",
            "2025-03-09T15:00:00Z",
            "2025-03-09 15:00:00-00:30",
            "2025-03-09T16:00:00Z",
            "2025-03-09T16:00:00Z",
            "2025-03-09T16:00:00Z",
            "2025-03-09T16:00:00Z",
            "2025-03-09T17:00:00Z",
        ],
        "user_id": ["u20", "u20", "u21", " u22 ", "u22", "u22", "u22", "u23"],
        "event_type": ["view", "view", "add_to_cart", " purchase ", "purchase", "view", "view", "view"],
        "amount": [None, None, "", " 7.00 ", "7.00", None, None, None],
        "currency": [None, None, "", " GBP ", "gbp", None, None, None],
        "country": ["US", "US", None, "GB", "GB", "GB", "GB", "GB"],
    }
    expects = [
        V("s1", "u20", "view", 15),
        V("x-shared", "u20", "view", 15),
        V("x-first-invalid", "u21", "add_to_cart", 15),
        V("s2", "u22", "purchase", 16, "GBP", 700),
        Bad("invalid_currency"),
        Bad("missing_field"),
        Bad("missing_field"),
        Dup("s2"),
    ]
    return processed("pq/strings.parquet", parquet(strings(cols)), string_parquet_rows(cols, expects))


def utc(*args) -> int:
    """Microseconds since the epoch of a UTC date and time."""
    return (dt.datetime(*args) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


def parquet_natives() -> list[Entry]:
    tz = parquet(
        {
            "event_id": pa.array([101, 102, 103, 101], pa.int64()),
            "event_time": pa.array(
                [utc(2025, 3, 9, 10, 15, 0, 123456), utc(2025, 3, 9, 23, 59, 59), None, utc(2025, 3, 9, 1)],
                pa.timestamp("us", tz="Asia/Kolkata"),
            ),
            "user_id": pa.array([7, 8, 9, 7], pa.int64()),
            "event_type": pa.array(["purchase", "refund", "view", "view"]).dictionary_encode(),
            "amount": pa.array([Decimal("10.50"), Decimal("0.05"), None, None], pa.decimal128(12, 2)),
            "currency": pa.array(["USD", "EUR", None, None], pa.large_string()),
        }
    )
    tz_rows = (
        Row(1, "valid", None, Event("101", "7", "purchase", 10, "USD", 1050)),
        Row(2, "valid", None, Event("102", "8", "refund", 23, "EUR", 5)),
        Row(
            3,
            "missing_field",
            {
                "event_id": "103",
                "event_time": None,
                "user_id": "9",
                "event_type": "view",
                "amount": None,
                "currency": None,
            },
        ),
        Row(4, "duplicate", None, Event("101")),
    )
    ns = 1_000_000_000
    naive = parquet(
        {
            "country": pa.array(["US"] * 5),
            "event_id": pa.array(["n1", "n2", "n3", "n4", "n5"]),
            "event_time": pa.array(
                [
                    utc(2025, 3, 9, 7, 30) * 1000 + 1,
                    -3600 * ns,
                    utc(2025, 3, 9, 12) * 1000,
                    utc(2025, 3, 9, 12) * 1000,
                    utc(2025, 3, 9, 13) * 1000,
                ],
                pa.timestamp("ns"),
            ),
            "user_id": pa.array([True, False, True, True, False]),
            "event_type": pa.array(["purchase", "view", "purchase", "refund", "purchase"]),
            "amount": pa.array([10.5, None, 10.499999, 100.0, 1e16], pa.float64()),
            "currency": pa.array(["USD", None, "USD", "USD", "USD"]),
        },
        row_group_size=2,
    )
    naive_rows = (
        Row(1, "valid", None, Event("n1", "true", "purchase", 7, "USD", 1050)),
        Row(2, "valid", None, Event("n2", "false", "view", 23)),
        Row(
            3,
            "invalid_amount",
            {
                "event_id": "n3",
                "event_time": "2025-03-09T12:00:00.000000000Z",
                "user_id": "true",
                "event_type": "purchase",
                "amount": "10.499999",
                "currency": "USD",
            },
        ),
        Row(4, "valid", None, Event("n4", "true", "refund", 12, "USD", 10000)),
        Row(
            5,
            "invalid_amount",
            {
                "event_id": "n5",
                "event_time": "2025-03-09T13:00:00.000000000Z",
                "user_id": "false",
                "event_type": "purchase",
                "amount": "1e+16",
                "currency": "USD",
            },
        ),
    )
    scale3 = parquet(
        {
            "event_id": pa.array(["o1", "o2", "o3"]),
            "event_time": pa.array(
                [utc(2025, 3, 9, 10) // 1000, utc(1969, 7, 20, 20, 17, 40) // 1000, utc(2025, 3, 9, 10) // 1000],
                pa.timestamp("ms"),
            ),
            "user_id": pa.array(["u90", "u90", "u90"]),
            "event_type": pa.array(["purchase", "view", "refund"]),
            "amount": pa.array([Decimal("10.500"), Decimal("1.000"), None], pa.decimal128(10, 3)),
            "currency": pa.array(["USD", "USD", "USD"]),
        }
    )
    scale3_rows = (
        Row(
            1,
            "invalid_amount",
            {
                "event_id": "o1",
                "event_time": "2025-03-09T10:00:00.000Z",
                "user_id": "u90",
                "event_type": "purchase",
                "amount": "10.500",
                "currency": "USD",
            },
        ),
        Row(2, "valid", None, Event("o2", "u90", "view", 20)),
        Row(
            3,
            "invalid_amount",
            {
                "event_id": "o3",
                "event_time": "2025-03-09T10:00:00.000Z",
                "user_id": "u90",
                "event_type": "refund",
                "amount": None,
                "currency": "USD",
            },
        ),
    )
    ints = parquet(
        {
            "event_id": pa.array(["i1", "i2", "i3"]),
            "event_time": pa.array(["2025-03-09T11:00:00Z"] * 3),
            "user_id": pa.array(["u91"] * 3),
            "event_type": pa.array(["purchase"] * 3),
            "amount": pa.array([5, -1, 0], pa.int32()),
            "currency": pa.array(["USD", "USD", "CHF"]),
        }
    )
    ints_rows = (
        Row(1, "valid", None, Event("i1", "u91", "purchase", 11, "USD", 500)),
        Row(
            2,
            "invalid_amount",
            {
                "event_id": "i2",
                "event_time": "2025-03-09T11:00:00Z",
                "user_id": "u91",
                "event_type": "purchase",
                "amount": "-1",
                "currency": "USD",
            },
        ),
        Row(3, "valid", None, Event("i3", "u91", "purchase", 11, "CHF", 0)),
    )
    dates = parquet(
        {
            "event_id": pa.array(["dt1", "dt2"]),
            "event_time": pa.array([dt.date(2025, 3, 9), dt.date(2025, 3, 9)], pa.date32()),
            "user_id": pa.array(["u92", "u92"]),
            "event_type": pa.array(["view", None]),
            "amount": pa.array([None, None], pa.null()),
            "currency": pa.array([None, None], pa.null()),
        }
    )
    dates_rows = (
        Row(
            1,
            "invalid_timestamp",
            {
                "event_id": "dt1",
                "event_time": "2025-03-09",
                "user_id": "u92",
                "event_type": "view",
                "amount": None,
                "currency": None,
            },
        ),
        Row(
            2,
            "missing_field",
            {
                "event_id": "dt2",
                "event_time": "2025-03-09",
                "user_id": "u92",
                "event_type": None,
                "amount": None,
                "currency": None,
            },
        ),
    )
    return [
        processed("pq/native tz.parquet", tz, tz_rows, note="int ids, tz timestamp, decimal(12,2), dictionary"),
        processed(
            "pq/native naive.parquet", naive, naive_rows, note="naive ns timestamp, floats, booleans, row groups"
        ),
        processed("pq/native decimal scale 3.parquet", scale3, scale3_rows),
        processed("pq/native int amounts.parquet", ints, ints_rows),
        processed("pq/native dates.parquet", dates, dates_rows),
    ]


def parquet_bad() -> list[Entry]:
    six = {name: ["p1"] for name in FIELDS}
    whole = parquet(strings(six))
    no_currency = {k: v for k, v in six.items() if k != "currency"}
    return [
        quarantined("pq/missing column.parquet", parquet(strings(no_currency)), "missing_columns"),
        quarantined("pq/garbage.parquet", b"PAR1 this is not really a parquet file PAR1", "unreadable_file"),
        quarantined("pq/truncated.parquet", whole[:-20], "unreadable_file"),
        quarantined("pq/csv named parquet.parquet", (HEADER + "\n").encode(), "unreadable_file"),
        quarantined(
            "pq/binary not utf8.parquet",
            parquet({**strings(six), "event_id": pa.array([b"\xff\xfe"], pa.binary())}),
            "unreadable_file",
        ),
        processed("pq/empty.parquet", b""),
        processed("pq/no rows.parquet", parquet(strings({name: [] for name in FIELDS}))),
    ]


# --------------------------------------------------------------------------- names, folders, markers


def small_csv(eid: str, user: str, hour: int) -> tuple[bytes, tuple[Row, ...]]:
    return text_file(
        "csv",
        [
            (HEADER, None),
            (f"{eid},2025-03-09T{hour:02d}:00:00Z,{user},view,,", V(eid, user, "view", hour)),
            (f"{eid}-bad,2025-03-09T{hour:02d}:00:00Z,{user},nope,,", Bad("invalid_event_type")),
        ],
    )


def small_jsonl(eid: str, user: str, hour: int) -> tuple[bytes, tuple[Row, ...]]:
    return text_file(
        "jsonl",
        [
            (
                f'{{"event_id":"{eid}","event_time":"2025-03-09T{hour:02d}:00:00Z","user_id":"{user}","event_type":"view"}}',
                V(eid, user, "view", hour),
            ),
            (
                f'{{"event_id":"{eid}-bad","event_time":"2025-03-09T{hour:02d}:00:00","user_id":"{user}","event_type":"nope"}}',
                Bad("invalid_event_type"),
            ),
        ],
    )


def names() -> list[Entry]:
    entries = []
    for n, name in enumerate(
        [
            "names/web events \u00fc.csv",
            "names/$(touch x).csv",
            "names/%s%n{0}.csv",
            "names/a;rm -rf.csv",
            "names/`id` && echo.csv",
            "names/a+b c.csv",
            "names/q?x=1#f.csv",
            "names/\u65e5\u672c/\u30c7\u30fc\u30bf \U0001f389.jsonl",
            'names/it\'s "quoted".jsonl',
            "a/b/c/d/e/f/deep.jsonl",
        ]
    ):
        eid = "x-quarantined" if n == 0 else f"nm{n}"  # x-quarantined first appears in the quarantined latin1.csv
        data, rows = (small_jsonl if name.endswith(".jsonl") else small_csv)(eid, f"un{n}", n)
        entries.append(processed(name, data, rows, note="a hostile or nested name"))
    return entries


def unsupported() -> list[Entry]:
    csv_bytes = (HEADER + "\nu1,2025-03-09T00:00:00Z,u1,view,,\n").encode()
    return [
        quarantined("other/notes.txt", b"remember the milk\n", "unsupported_format"),
        quarantined("other/upper.CSV", csv_bytes, "unsupported_format"),
        quarantined("other/events.json", b'{"event_id":"u1"}\n', "unsupported_format"),
        quarantined("other/events.gz", gz(csv_bytes), "unsupported_format"),
        quarantined("other/events.parquet.gz", gz(b"PAR1"), "unsupported_format"),
        quarantined("other/events.csv.bak", csv_bytes, "unsupported_format"),
        quarantined("other/README", b"", "unsupported_format"),
        quarantined("other/csv", csv_bytes, "unsupported_format"),
    ]


def markers() -> list[Entry]:
    row = (HEADER + "\nx-temp,2025-03-09T00:00:00Z,u99,view,,\n").encode()
    late, late_rows = text_file(
        "jsonl",
        [
            (
                '{"event_id":"x-temp","event_time":"2025-03-09T08:00:00Z","user_id":"u98","event_type":"view"}',
                V("x-temp", "u98", "view", 8),
            )
        ],
    )
    return [
        ignored("_SUCCESS", b""),
        ignored("_temporary/0/part-0.csv", row, note="x-temp here must not make the later x-temp a duplicate"),
        ignored(".hidden.csv", row),
        ignored("sub/.DS_Store", b"\x00\x00\x00\x01Bud1"),
        ignored("sub/_tmp/part.jsonl", b'{"event_id":"x-temp"}\n'),
        ignored("sub/.part-0.csv.crc", b"crc"),
        ignored("sub/../evil.csv", row, backends=S3_ONLY, note="'..' is a segment starting with '.'"),
        ignored("../2025-03-10/other day.csv", row, backends=S3_ONLY),
        ignored("./dot.csv", row, backends=S3_ONLY),
        ignored("sub/folder/", b"", backends=S3_ONLY, note="an S3 'folder' object"),
        processed("z/late.jsonl", late, late_rows),
    ]


def build_corpus() -> list[Entry]:
    entries = [
        csv_basic(),
        csv_bom_crlf(),
        csv_cr_only(),
        csv_quoted_newlines(),
        csv_malformed_quoting(),
        csv_bare_quotes(),
        csv_field_counts(),
        csv_order_and_extras(),
        csv_repeated_header(),
        csv_blank_before_header(),
        csv_timestamps(),
        csv_amounts(),
        csv_rules(),
        csv_duplicates(),
        *csv_empty_and_header_only(),
        *csv_missing_columns(),
        *csv_not_utf8(),
        *csv_gzip(),
        *size_limits(),
        jsonl_shapes(),
        jsonl_numbers(),
        *jsonl_others(),
        parquet_strings(),
        *parquet_natives(),
        *parquet_bad(),
        *names(),
        *unsupported(),
        *markers(),
    ]
    assert len({e.name for e in entries}) == len(entries), "entry names must be unique"
    return sorted(entries, key=lambda e: e.name)


CORPUS: list[Entry] = build_corpus()


# --------------------------------------------------------------------------- expected numbers


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


@dataclass
class Expected:
    numbers: dict  # reference.report_numbers' shape
    per_file: dict[str, tuple[int, int, int, int]]  # name -> (read, valid, rejected, duplicates)
    rejected_rows: list[tuple[str, int, str, str | dict]]  # (name, row_number, reason, content)
    outcomes: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # name -> [(row, outcome)]


def expected_numbers(entries: list[Entry]) -> Expected:
    """The day's report numbers for these entries, duplicates decided across the whole day."""
    by_reason = dict.fromkeys(ROW_REASONS, 0)
    by_type = dict.fromkeys(EVENT_TYPES, 0)
    hourly = [0] * 24
    users: set[str] = set()
    seen: set[str] = set()
    revenue: dict[str, list[int]] = {}
    inputs, per_file, rejected_rows, outcomes = [], {}, [], {}
    read = valid = rejected = duplicates = 0
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.status == "ignored":
            continue
        inputs.append(
            {
                "name": entry.name,
                "status": entry.status,
                "reason": entry.reason,
                "records_read": len(entry.rows),
                "records_rejected": sum(r.outcome in ROW_REASONS for r in entry.rows),
            }
        )
        counts = [len(entry.rows), 0, 0, 0]
        outcomes[entry.name] = []
        for row in entry.rows:
            read += 1
            if row.outcome in ROW_REASONS:
                outcome = row.outcome
                rejected += 1
                counts[2] += 1
                by_reason[outcome] += 1
                rejected_rows.append((entry.name, row.row_number, outcome, row.content))
            elif row.event.event_id in seen:
                outcome = "duplicate"
                duplicates += 1
                counts[3] += 1
            else:
                outcome = "valid"
                event = row.event
                seen.add(event.event_id)
                valid += 1
                counts[1] += 1
                by_type[event.event_type] += 1
                hourly[event.hour] += 1
                users.add(event.user_id)
                if event.currency is not None:
                    sums = revenue.setdefault(event.currency, [0, 0])
                    sums[0 if event.event_type == "purchase" else 1] += event.cents
            outcomes[entry.name].append((row.row_number, outcome))
        per_file[entry.name] = tuple(counts)
    numbers = {
        "records": {"read": read, "valid": valid, "rejected": rejected, "duplicates": duplicates},
        "rejected_by_reason": by_reason,
        "events_by_type": by_type,
        "unique_users": len(users),
        "hourly_events": hourly,
        "revenue": {
            cur: {"gross": money(g), "refunds": money(r), "net": money(g - r)}
            for cur, (g, r) in sorted(revenue.items())
        },
        "inputs": inputs,
    }
    return Expected(numbers, per_file, rejected_rows, outcomes)
