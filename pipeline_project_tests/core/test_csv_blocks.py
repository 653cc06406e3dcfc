"""read_csv_items + parse_block against read_rows + validate: the fast CSV path changes nothing.

Both sides are expanded into the same shape, one entry per row in file order:
(line number, "valid" or the rejection reason, the row's original text, the valid values or None),
plus the number of rows read. For a CsvBlock the entries are rebuilt from its lines: a rejected
line is one of parse_block's rejections, a blank line (no comma, only spaces and tabs) is no row,
and every other line takes the next of its valid rows. A RawRow is validated as the row path does.
A file the whole of which is rejected must be rejected for the same reason by both.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from itertools import accumulate

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_project.core.contract import EVENT_TYPES, REQUIRED_COLUMNS
from pipeline_project.core.csv_blocks import BlockRows, CsvBlock, is_plain, parse_block
from pipeline_project.core.readers import FileRejected, RawRow, read_csv_items, read_rows
from pipeline_project.core.validation import validate

MAX = 1 << 20
HEADER = ",".join(REQUIRED_COLUMNS)
BOM = b"\xef\xbb\xbf"
PROFILE = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

# --------------------------------------------------------------------------- both paths, same shape


@dataclass
class Outcome:
    rows: list[tuple] | None = None  # (line, "valid" or reason, content, values or None)
    read: int = 0
    rejected: str | None = None  # the FileRejected reason, when the whole file is rejected
    blocks: int = 0  # CsvBlocks yielded (items side only)
    raw_rows: int = 0  # RawRows yielded (items side only)

    def comparable(self) -> tuple:
        return ("rejected", self.rejected) if self.rejected else ("rows", self.rows, self.read)


def row_entry(row: RawRow) -> tuple:
    if row.values is None:
        return (row.row_number, "malformed_row", row.content, None)
    result = validate(*row.values)
    if isinstance(result, str):
        return (row.row_number, result, row.content, None)
    values = (
        result.event_id.encode("utf-8", "surrogatepass"),
        result.user_id.encode("utf-8", "surrogatepass"),
        EVENT_TYPES.index(result.event_type),
        result.utc_hour,
        result.currency,
        result.amount_cents,
    )
    return (row.row_number, "valid", row.content, values)


def block_entries(block: CsvBlock, parsed: BlockRows) -> list[tuple]:
    lines = block.data.split(b"\n")
    assert lines[-1] == b"", "a block is whole lines"
    rejected = {line: (reason, content) for line, reason, content in parsed.rejected}
    assert [line for line, _reason, _content in parsed.rejected] == sorted(rejected), "rejections in line order"
    valid = iter(parsed.valid.to_pylist())
    entries = []
    for number, raw in enumerate(lines[:-1], start=block.first_line):
        text = raw.decode("ascii")
        if number in rejected:
            reason, content = rejected.pop(number)
            assert content == text
            entries.append((number, reason, content, None))
        elif "," not in text and not text.strip(" \t"):
            continue  # blank: no row
        else:
            row = next(valid, None)
            assert row is not None, f"line {number} is neither rejected nor blank, but no valid row is left"
            big = row["cents_big"]
            cents = row["cents"] if big is None else int(big)
            values = (row["event_id"], row["user_id"], row["event_type"], row["hour"], row["currency"], cents)
            entries.append((number, "valid", text, values))
    assert not rejected, f"rejections for lines outside the block: {rejected}"
    assert next(valid, None) is None, "more valid rows than valid lines"
    assert parsed.read == len(entries)
    return entries


def via_rows(fmt: str, data: bytes, max_bytes: int = MAX, chunk_bytes: int = 1 << 20) -> Outcome:
    outcome = Outcome(rows=[])
    try:
        for row in read_rows(fmt, io.BytesIO(data), max_bytes, chunk_bytes):
            outcome.rows.append(row_entry(row))
            outcome.read += 1
    except FileRejected as problem:
        outcome.rejected = problem.reason
    return outcome


def via_items(fmt: str, data: bytes, max_bytes: int = MAX, chunk_bytes: int = 1 << 20) -> Outcome:
    outcome = Outcome(rows=[])
    next_line = None
    try:
        for item in read_csv_items(fmt, io.BytesIO(data), max_bytes, chunk_bytes):
            if isinstance(item, CsvBlock):
                assert outcome.raw_rows == 0, "no CsvBlock after the row path has taken over"
                assert is_plain(item.data)
                assert item.data.endswith(b"\n")
                if next_line is not None:
                    assert item.first_line == next_line, "blocks are consecutive"
                next_line = item.first_line + item.data.count(b"\n")
                parsed = parse_block(item)
                outcome.rows += block_entries(item, parsed)
                outcome.read += parsed.read
                outcome.blocks += 1
            else:
                assert isinstance(item, RawRow)
                outcome.rows.append(row_entry(item))
                outcome.read += 1
                outcome.raw_rows += 1
    except FileRejected as problem:
        outcome.rejected = problem.reason
    return outcome


def assert_same(fmt: str, data: bytes, max_bytes: int = MAX, chunk_bytes: int = 1 << 20) -> Outcome:
    want = via_rows(fmt, data, max_bytes, chunk_bytes)
    got = via_items(fmt, data, max_bytes, chunk_bytes)
    assert got.comparable() == want.comparable()
    return got


def encode(fmt: str, text: bytes) -> bytes:
    return gzip.compress(text, mtime=0) if fmt == "csv.gz" else text


# --------------------------------------------------------------------------- generated files

VALUES = {
    "event_id": ["e1", "e2", "e3", "E1", "10", " e1 ", "\te2", "", " "],
    "event_time": [
        "2025-03-09T10:15:00Z",
        "2025-03-09 23:30:00-01:00",
        "2024-02-29T00:00:00.123456789+05:30",
        "9999-12-31T23:59:59.999999999-23:59",
        " 2025-03-09T10:15:00Z\t",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2025-03-09T24:00:00Z",
        "2025-03-09T10:15:00+24:00",
        "garbage",
        "",
    ],
    "user_id": ["u1", "u2", " u3\t", "U1", ""],
    "event_type": ["view", "add_to_cart", "purchase", "purchase", "refund", " refund ", "VIEW", "", "checkout"],
    "amount": [
        "1.5",
        "10.50",
        "0",
        "00012.30",
        " 2.25 ",
        "1.555",
        ".5",
        "5.",
        "",
        "-1",
        "1e3",
        "9223372036854775.81",
        "9999999999999999.99",
        "92233720368547758.07",
        "92233720368547758.08",
        "99999999999999999",
        "999999999999999999",
        "99999999999999999999.99",
    ],
    "currency": ["USD", "USD", "EUR", " GBP ", "usd", "US", "USDX", ""],
}
EXTRA_VALUES = ["x", "", "a note", " "]
# Lines that take a block off the fast path: quotes, CR, control bytes, non-ASCII, invalid UTF-8.
SPECIALS = (
    "quoted",
    "quoted_newline",
    "bare_quote",
    "crlf",
    "cr_inside",
    "non_ascii",
    "nbsp",
    "nul",
    "vt",
    "fs",
    "del",
    "bad_utf8",
)


@st.composite
def headers(draw, missing: bool = False) -> list[str]:
    columns = list(REQUIRED_COLUMNS)
    if missing:
        columns.remove(draw(st.sampled_from(REQUIRED_COLUMNS)))
    columns += draw(st.lists(st.sampled_from(["note", "extra", "x", "event_id2"]), max_size=2, unique=True))
    return draw(st.permutations(columns))


@st.composite
def record_line(draw, header: list[str]) -> bytes:
    values = {name: draw(st.sampled_from(VALUES[name])) for name in REQUIRED_COLUMNS}
    fields = [values[name] if name in values else draw(st.sampled_from(EXTRA_VALUES)) for name in header]
    return ",".join(fields).encode()


@st.composite
def special_line(draw, header: list[str], bad_utf8: bool = True) -> bytes:
    kind = draw(st.sampled_from(SPECIALS if bad_utf8 else SPECIALS[:-1]))
    fields = draw(record_line(header)).decode().split(",")
    at = draw(st.integers(0, len(fields) - 1))
    if kind == "quoted":
        fields[at] = '"' + fields[at].replace('"', '""') + '"'
        if draw(st.booleans()):
            fields[at] = '"a,""b"""'
    elif kind == "quoted_newline":
        fields[at] = '"first\nsecond"'
    elif kind == "bare_quote":
        fields[at] = 'a"b'
    elif kind == "crlf":
        return ",".join(fields).encode() + b"\r"  # the file's \n follows: a CRLF line
    elif kind == "cr_inside":
        cut = draw(st.integers(1, len(fields) - 1))
        return (",".join(fields[:cut]) + "\r" + ",".join(fields[cut:])).encode()
    elif kind == "bad_utf8":
        return ",".join(fields).encode() + b"\xff"
    else:
        char = {"non_ascii": "\u00e9", "nbsp": "\u00a0", "nul": "\x00", "vt": "\x0b", "fs": "\x1c", "del": "\x7f"}[kind]
        fields[at] = draw(st.sampled_from([char + fields[at], fields[at] + char, char]))
    return ",".join(fields).encode()


@st.composite
def plain_odd_line(draw, header: list[str]) -> bytes:
    """Plain lines that are still no ordinary record: blank, whitespace, wrong field counts."""
    kind = draw(st.sampled_from(["blank", "spaces", "few", "many", "one", "commas"]))
    if kind == "blank":
        return b""
    if kind == "spaces":
        return draw(st.sampled_from([b" ", b"\t", b"  \t "]))
    line = draw(record_line(header))
    if kind == "few":
        return line.rsplit(b",", 1)[0]
    if kind == "many":
        return line + b"," + draw(st.sampled_from([b"", b"x", b" "]))
    if kind == "one":
        return draw(st.sampled_from([b"abc", b" x ", b"e1"]))
    return b"," * (len(header) - 1)


@st.composite
def csv_files(draw, specials: bool = True, missing: bool = False, bad_utf8: bool = True) -> bytes:
    """A CSV file's text: header in any order with extras, records, odd plain lines and (specials) others.

    Only one thing can be wrong with the file as a whole (a missing column, invalid UTF-8, or too
    many bytes for a test's max_bytes): which of several the two paths report first is not
    specified, so tests combine none (missing: no invalid UTF-8; too_large: plain text only).
    """
    header = draw(headers(missing))
    header_text = ",".join(draw(st.sampled_from([name, f" {name}", f"{name}\t"])) for name in header)
    kinds = ["record"] * 6 + ["odd"] * 2 + (["special"] if specials else [])
    lines = []
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=40)):
        if kind == "record":
            lines.append(draw(record_line(header)))
        elif kind == "odd":
            lines.append(draw(plain_odd_line(header)))
        else:
            lines.append(draw(special_line(header, bad_utf8)))
    text = b"\n".join([header_text.encode(), *lines])
    if draw(st.booleans()) or not lines:
        text += b"\n"
    if draw(st.booleans()):
        text = BOM + text
    return text


CHUNKS = st.one_of(st.integers(1, 64), st.integers(1, 4096))
FORMATS = st.sampled_from(["csv", "csv", "csv.gz"])


@settings(max_examples=200, **PROFILE)
@given(text=csv_files(specials=False), fmt=FORMATS, chunk_bytes=CHUNKS)
def test_plain_files_take_the_fast_path_and_agree(text, fmt, chunk_bytes):
    got = assert_same(fmt, encode(fmt, text), chunk_bytes=chunk_bytes)
    assert got.raw_rows == 0
    has_body = bool(text.removeprefix(BOM).partition(b"\n")[2])
    assert (got.blocks > 0) == has_body


@settings(max_examples=300, **PROFILE)
@given(text=csv_files(specials=True), fmt=FORMATS, chunk_bytes=CHUNKS)
def test_any_file_agrees(text, fmt, chunk_bytes):
    assert_same(fmt, encode(fmt, text), chunk_bytes=chunk_bytes)


@settings(max_examples=60, **PROFILE)
@given(text=csv_files(specials=True, missing=True, bad_utf8=False), fmt=FORMATS, chunk_bytes=CHUNKS)
def test_header_missing_a_column(text, fmt, chunk_bytes):
    got = assert_same(fmt, encode(fmt, text), chunk_bytes=chunk_bytes)
    assert got.rejected == "missing_columns"


@settings(max_examples=80, **PROFILE)
@given(data=st.data(), fmt=FORMATS, chunk_bytes=CHUNKS)
def test_too_large_either_way(data, fmt, chunk_bytes):
    text = data.draw(csv_files(specials=False).filter(lambda t: len(t) > 1))
    max_bytes = data.draw(st.integers(0, len(text) - 1))
    got = assert_same(fmt, encode(fmt, text), max_bytes=max_bytes, chunk_bytes=chunk_bytes)
    assert got.rejected == "too_large"


# --------------------------------------------------------------------------- examples


def lines(*rows: str, end: str = "\n") -> bytes:
    return ("\n".join(rows) + end).encode()


def items(data: bytes, chunk_bytes: int = 1 << 20, fmt: str = "csv") -> list:
    return list(read_csv_items(fmt, io.BytesIO(data), MAX, chunk_bytes))


def test_plain_file_is_one_block_with_exact_rows():
    data = lines(
        HEADER,
        "e1,2025-03-09T10:15:00Z,u1,purchase,10.50,USD",
        "",
        "e2, 2025-03-09 23:30:00-01:00 ,u2,view,,",
        "e3,2025-03-09T10:15:00Z,u3,refund,1.555,USD",
        "e4,2025-03-09T10:15:00Z,u4,view",
        "   \t",
        "e5,2025-03-09T10:15:00Z,u5,purchase,99999999999999999999.99,EUR,extra",
        "e6,2025-03-09T10:15:00Z,u6,purchase,99999999999999999999.99,EUR",
    )
    (block,) = items(data)
    assert block == CsvBlock(data.partition(b"\n")[2], 2, (0, 1, 2, 3, 4, 5), 6)
    parsed = parse_block(block)
    assert parsed.read == 6
    assert parsed.rejected == [
        (5, "invalid_amount", "e3,2025-03-09T10:15:00Z,u3,refund,1.555,USD"),
        (6, "malformed_row", "e4,2025-03-09T10:15:00Z,u4,view"),
        (8, "malformed_row", "e5,2025-03-09T10:15:00Z,u5,purchase,99999999999999999999.99,EUR,extra"),
    ]
    assert parsed.valid.to_pylist() == [
        {
            "event_id": b"e1",
            "user_id": b"u1",
            "event_type": 2,
            "hour": 10,
            "currency": "USD",
            "cents": 1050,
            "cents_big": None,
        },
        {
            "event_id": b"e2",
            "user_id": b"u2",
            "event_type": 0,
            "hour": 0,
            "currency": None,
            "cents": 0,
            "cents_big": None,
        },
        {
            "event_id": b"e6",
            "user_id": b"u6",
            "event_type": 2,
            "hour": 10,
            "currency": "EUR",
            "cents": 0,
            "cents_big": "9999999999999999999999",
        },
    ]
    assert_same("csv", data)


@pytest.mark.parametrize(
    "special",
    [
        'e5,2025-03-09T10:15:00Z,"u,5",view,,',
        "e5,2025-03-09T10:15:00Z,u5,view,,\r",
        "e5,2025-03-09T10:15:00Z,\u00fc5,view,,",
        "e5,2025-03-09T10:15:00Z,u5\x00,view,,",
        "e5,2025-03-09T10:15:00Z,u5\x0b,view,,",
        'e5,2025-03-09T10:15:00Z,u"5,view,,',
    ],
    ids=["quote", "cr", "non-ascii", "nul", "vt", "bare-quote"],
)
def test_a_special_line_hands_over_to_the_row_path_with_line_numbers_intact(special):
    before = [f"e{n},2025-03-09T10:15:00Z,u{n},view,," for n in range(1, 5)]
    after = ["e6,2025-03-09T10:15:00Z,u6,purchase,1.5,USD", "", "e7,bad,u7,view,,", "e8,2025-03-09T10:15:00Z,u8,view,,"]
    data = lines(HEADER, *before, special, *after)
    # A chunk of one line: the four plain lines before the special one are blocks.
    got = items(data, chunk_bytes=len(before[0]) + 1)
    blocks = [item for item in got if isinstance(item, CsvBlock)]
    raw = [item for item in got if isinstance(item, RawRow)]
    assert got == blocks + raw
    assert [(b.first_line, b.data.count(b"\n")) for b in blocks] == [(2, 1), (3, 1), (4, 1), (5, 1)]
    assert [r.row_number for r in raw] == [6, 7, 9, 10]
    assert [r.content for r in raw[1:]] == [after[0], after[2], after[3]]
    assert_same("csv", data, chunk_bytes=len(before[0]) + 1)
    assert_same("csv", data, chunk_bytes=7)


def test_quoted_field_spanning_lines_keeps_counting_lines():
    data = lines(
        HEADER + ",note",
        "e1,2025-03-09T10:15:00Z,u1,view,,,a",
        'e2,2025-03-09T10:15:00Z,u2,view,,,"one',
        'two"',
        "e3,2025-03-09T10:15:00Z,u3,view,,,c",
    )
    for chunk_bytes in (1, 8, 40, 4096):
        got = assert_same("csv", data, chunk_bytes=chunk_bytes)
        assert [(line, result) for line, result, _content, _values in got.rows] == [
            (2, "valid"),
            (3, "valid"),
            (5, "valid"),
        ]


def test_bom_at_the_start():
    data = BOM + lines(HEADER, "e1,2025-03-09T10:15:00Z,u1,view,,", "e2,2025-03-09T10:15:00Z,u2,view,,")
    got = assert_same("csv", data)
    assert got.blocks == 1 and got.raw_rows == 0
    assert [(line, result) for line, result, _c, _v in got.rows] == [(2, "valid"), (3, "valid")]
    for chunk_bytes in (1, 2, 3, 4, 5):
        assert_same("csv", data, chunk_bytes=chunk_bytes)


def test_bom_later_in_the_file_is_text():
    data = lines(HEADER, "e1,2025-03-09T10:15:00Z,u1,view,,", "\ufeffe2,2025-03-09T10:15:00Z,u2,view,,")
    got = assert_same("csv", data, chunk_bytes=8)
    assert [values[0] for _l, _r, _c, values in got.rows] == [b"e1", "\ufeffe2".encode()]


def test_blank_and_whitespace_lines_are_skipped_but_counted():
    data = lines(
        HEADER, "", "e1,2025-03-09T10:15:00Z,u1,view,,", " ", "\t \t", "", "e2,2025-03-09T10:15:00Z,u2,view,,", ""
    )
    got = assert_same("csv", data)
    assert got.blocks == 1
    assert got.read == 2
    assert [(line, result) for line, result, _c, _v in got.rows] == [(3, "valid"), (7, "valid")]


def test_wrong_field_counts_are_malformed_with_the_exact_line():
    few, many = "e1, 2025-03-09T10:15:00Z ,u1,view,", "e2,2025-03-09T10:15:00Z,u2,view,,,\t"
    got = assert_same("csv", lines(HEADER, few, many, ",,,,,", "x"))
    assert got.rows == [
        (2, "malformed_row", few, None),
        (3, "malformed_row", many, None),
        (4, "missing_field", ",,,,,", None),
        (5, "malformed_row", "x", None),
    ]
    assert got.read == 4


@pytest.mark.parametrize("chunk_bytes", [1, 5, 60, 4096])
def test_last_line_without_newline(chunk_bytes):
    data = lines(HEADER, "e1,2025-03-09T10:15:00Z,u1,view,,", "e2,2025-03-09T10:15:00Z,u2,purchase,1,USD", end="")
    got = assert_same("csv", data, chunk_bytes=chunk_bytes)
    assert got.raw_rows == 0
    assert [(line, result, content) for line, result, content, _v in got.rows] == [
        (2, "valid", "e1,2025-03-09T10:15:00Z,u1,view,,"),
        (3, "valid", "e2,2025-03-09T10:15:00Z,u2,purchase,1,USD"),
    ]


def test_last_line_without_newline_after_a_special_line():
    data = lines(HEADER, "e1,2025-03-09T10:15:00Z,u1,view,,", 'e2,"2025-03-09T10:15:00Z",u2,view,,', "e3,t,u3", end="")
    for chunk_bytes in (1, 10, 4096):
        got = assert_same("csv", data, chunk_bytes=chunk_bytes)
        assert got.rows[-1] == (4, "malformed_row", "e3,t,u3", None)


def test_header_with_extra_columns_in_any_order():
    header = "note,currency, amount ,event_type,user_id\t,x,event_time,event_id"
    data = lines(header, "n,USD,1.5,purchase,u1,,2025-03-09T10:15:00Z,e1", "n,,,view,u2,y,2025-03-09T10:15:00Z,e2")
    (block,) = items(data)
    assert (block.positions, block.width) == ((7, 6, 4, 3, 2, 1), 8)
    got = assert_same("csv", data)
    assert [values for _l, _r, _c, values in got.rows] == [
        (b"e1", b"u1", 2, 10, "USD", 150),
        (b"e2", b"u2", 0, 10, None, 0),
    ]


@pytest.mark.parametrize(
    "header",
    [
        "event_id,event_time,user_id,event_type,amount",
        "event_id,event_time,user_id,amount,currency,note",
        "event_id,event_time,user_id,event_type,amount,currencies",
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "csv.gz"])
def test_header_missing_a_column_rejects_the_file(header, fmt):
    data = encode(fmt, lines(header, "e1,2025-03-09T10:15:00Z,u1,view,,"))
    got = assert_same(fmt, data)
    assert got.rejected == "missing_columns"


def test_gzip():
    text = lines(HEADER, *(f"e{n},2025-03-09T{n % 24:02d}:15:00Z,u{n % 7},purchase,{n}.5,USD" for n in range(300)))
    for chunk_bytes in (1, 100, 4096):
        got = assert_same("csv.gz", gzip.compress(text, mtime=0), chunk_bytes=chunk_bytes)
        assert got.raw_rows == 0 and got.blocks >= 1 and got.read == 300
    assert via_items("csv.gz", gzip.compress(text, mtime=0)).comparable() == via_items("csv", text).comparable()


@pytest.mark.parametrize("fmt", ["csv", "csv.gz"])
@pytest.mark.parametrize("chunk_bytes", [1, 64, 4096])
def test_too_large(fmt, chunk_bytes):
    text = lines(HEADER, *(f"e{n},2025-03-09T10:15:00Z,u1,view,," for n in range(100)))
    for max_bytes in (0, 10, len(HEADER) + 1, len(text) // 2, len(text) - 1):
        got = assert_same(fmt, encode(fmt, text), max_bytes=max_bytes, chunk_bytes=chunk_bytes)
        assert got.rejected == "too_large"
    got = assert_same(fmt, encode(fmt, text), max_bytes=len(text), chunk_bytes=chunk_bytes)
    assert got.rejected is None and got.read == 100


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", BOM, HEADER.encode(), BOM + HEADER.encode(), lines(HEADER), lines("", HEADER, "e1,t,u1,view,,")],
)
def test_header_only_empty_and_late_header_files(data):
    assert_same("csv", data)
    assert_same("csv", data, chunk_bytes=1)


@pytest.mark.parametrize(
    ("data", "plain"),
    [
        (b"", True),
        (b"e1,2025-03-09T10:15:00Z,u1,view,,\n", True),
        (b" \t,~!#$%&'()*+-./0123456789:;<=>?@[\\]^_`{|}\n", True),
        (b'e1,"x",u1\n', False),
        (b"e1,x\r\n", False),
        (b"e1\x00\n", False),
        (b"e1\x0b\n", False),
        (b"e1\x0c\n", False),
        (b"e1\x1c\n", False),
        (b"e1\x7f\n", False),
        ("\u00e9\n".encode(), False),
        (BOM, False),
        (b"\xff", False),
    ],
)
def test_is_plain(data, plain):
    assert is_plain(data) is plain


def test_a_block_of_more_lines_than_block_lines_is_cut_with_line_numbers_intact():
    """Empty lines cost a parse nothing per byte: a chunk holding more than BLOCK_LINES lines is
    cut into blocks of at most that many, and the rows, line numbers and rejections stay the same."""
    from pipeline_project.core.readers import BLOCK_LINES

    rows = ["e1,2025-03-09T10:15:00Z,u1,view,,", "e2,bad,u2,view,,", "e3,2025-03-09T10:15:00Z,u3"]
    data = lines(HEADER, rows[0], *([""] * (2 * BLOCK_LINES + 5)), rows[1], *([" \t"] * BLOCK_LINES), rows[2])
    got = items(data, chunk_bytes=len(data))
    blocks = [item for item in got if isinstance(item, CsvBlock)]
    assert len(blocks) > 3 and all(b.data.count(b"\n") <= BLOCK_LINES for b in blocks)
    assert [b.first_line for b in blocks] == list(accumulate([2] + [b.data.count(b"\n") for b in blocks[:-1]]))
    outcome = assert_same("csv", data, chunk_bytes=len(data))
    assert outcome.comparable() == assert_same("csv", data, chunk_bytes=4096).comparable()
    parsed = [parse_block(b) for b in blocks]
    assert sum(p.read for p in parsed) == 3
    assert [r[:2] for p in parsed for r in p.rejected] == [
        (2 * BLOCK_LINES + 8, "invalid_timestamp"),
        (3 * BLOCK_LINES + 9, "malformed_row"),
    ]
