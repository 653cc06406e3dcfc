"""read_jsonl_items + parse_block against read_rows + validate: the fast JSONL path changes nothing.

Both sides are expanded into one entry per row in file order: (line number, "valid" or the
rejection reason, the line's text, the valid values or None), plus the rows read. A JsonlBlock's
entries are rebuilt from its lines: a rejected line is one of parse_block's rejections, a blank
line (whitespace only, by str.strip) is no row, and every other line takes the next valid row.
A file rejected whole must be rejected for the same reason by both.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_project.core import jsonl_blocks, readers
from pipeline_project.core.columnar import BlockRows
from pipeline_project.core.jsonl_blocks import JsonlBlock, parse_block
from pipeline_project.core.readers import FileRejected, RawRow, read_jsonl_items
from pipeline_project_tests.core.test_csv_blocks import Outcome, row_entry, via_rows

MAX = 1 << 20
BOM = b"\xef\xbb\xbf"
PROFILE = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "max_examples": 60,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


def block_entries(block: JsonlBlock, parsed: BlockRows) -> list[tuple]:
    lines = block.data.split(b"\n")
    assert lines[-1] == b"", "a block is whole lines"
    rejected = {line: (reason, content) for line, reason, content in parsed.rejected}
    assert [line for line, _reason, _content in parsed.rejected] == sorted(rejected), "rejections in line order"
    valid = iter(parsed.valid.to_pylist())
    entries = []
    for number, raw in enumerate(lines[:-1], start=block.first_line):
        text = raw.decode("utf-8").removesuffix("\r")
        if number in rejected:
            reason, content = rejected.pop(number)
            assert content == text
            entries.append((number, reason, content, None))
        elif not text.strip():
            continue
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


def via_items(fmt: str, data: bytes, chunk_bytes: int, max_bytes: int = MAX) -> Outcome:
    outcome = Outcome(rows=[])
    next_line = 1
    try:
        for item in read_jsonl_items(fmt, io.BytesIO(data), max_bytes, chunk_bytes):
            if isinstance(item, JsonlBlock):
                assert outcome.raw_rows == 0, "no JsonlBlock after the row path has taken over"
                assert item.data.endswith(b"\n")
                assert item.first_line == next_line, "blocks are consecutive"
                next_line += item.data.count(b"\n")
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


def assert_same(data: bytes, chunk_bytes: int = 1 << 20, fmt: str = "jsonl", max_bytes: int = MAX) -> Outcome:
    if fmt.endswith(".gz"):
        data = gzip.compress(data)
    want = via_rows(fmt, data, max_bytes, chunk_bytes)
    got = via_items(fmt, data, chunk_bytes, max_bytes)
    assert got.comparable() == want.comparable()
    return got


# --------------------------------------------------------------------------- generated lines

FIELDS = ("event_id", "event_time", "user_id", "event_type", "amount", "currency")
# Characters a string may hold on the fast path (no quote, backslash or control byte), Unicode
# whitespace among them, which str.strip removes; and the rest, which send a line to the exact path.
PLAIN = ["a", "Z", "7", " ", "\u3000", "\xa0", "\u2028", "\x85", "é", "💶", "/", ",", ":", "{", "}", "[", "\x7f"]
TEXT = st.text(st.sampled_from([*PLAIN, '"', "\\", "\t", "\x1f"]), max_size=6)
PLAIN_TEXT = st.text(st.sampled_from(PLAIN), max_size=6)
NUMBERS = ["0", "-0", "12", "12.3", "12.30", "12.300", "1e3", "1E+2", "2e-1", "-5", "0.5", "100000000000000000.01"]
# Not JSON: a line holding one is malformed.
NOT_NUMBERS = ["01", "1.", "-", "+1", ".5", "1e", "1e+", "-01", "0x1", "tru", "nul", "True", "NULL", "1 2", "- 1"]
VALUES = {
    "event_id": st.one_of(st.sampled_from(["e1", "e2", " e3 ", "e\u00e9", "", "   ", "\u3000e4\xa0"]), PLAIN_TEXT),
    "event_time": st.sampled_from(
        [
            "2025-01-01T10:00:00Z",
            "2025-01-01 23:59:59.5+01:30",
            "2025-02-29T10:00:00Z",
            "2025-01-01",
            " 2025-01-01 10:00:00 ",
        ]
    ),
    "user_id": st.one_of(st.sampled_from(["u1", "u1", "u2", "\u2028u\x85", "u\u3000"]), PLAIN_TEXT),
    "event_type": st.sampled_from(["view", "add_to_cart", "purchase", "purchase", "refund", "View", " refund "]),
    "amount": st.sampled_from(["12.30", "5", "12.300", "-0", "0.5", " 1.25 ", "1e3", "\u30001.5"]),
    "currency": st.sampled_from(["USD", "USD", "usd", "EURO", " GBP ", "\xa0EUR"]),
}
SPACE = st.sampled_from(["", "", " ", "  "])
ODD_SPACE = st.sampled_from(["\t", "\r", "\x0b", "\u3000", "\xa0"])  # JSON's whitespace, or not


@st.composite
def simple_value(draw, field: str) -> str:
    shape = draw(st.sampled_from(["string"] * 12 + ["number", "number", "null", "true", "false"]))
    if shape == "string":
        return json.dumps(draw(VALUES.get(field, PLAIN_TEXT)), ensure_ascii=False)
    if shape == "number":
        return draw(st.sampled_from(NUMBERS))
    return shape


@st.composite
def any_value(draw, field: str) -> str:
    shape = draw(st.sampled_from(["simple", "string", "escaped", "not number", "nested"]))
    if shape == "simple":
        return draw(simple_value(field))
    text = draw(st.one_of(VALUES.get(field, TEXT), TEXT))
    if shape == "string":
        return json.dumps(text, ensure_ascii=draw(st.booleans()))
    if shape == "escaped":
        return '"' + "".join(f"\\u{ord(c):04x}" if c.isascii() else c for c in text) + '"'
    if shape == "not number":
        return draw(st.sampled_from(NOT_NUMBERS))
    return draw(st.sampled_from(['[1, 2.50, "x"]', '{"a": {"b": null}}', "[]", '"\\ud800"', "[" * 600 + "]" * 600]))


@st.composite
def json_line(draw) -> str:
    """A line: mostly a flat object of simple values (the fast path's), with one disturbance at most
    in some (an escape, an odd space, a value that is not JSON, nesting, a broken object)."""
    kind = draw(st.sampled_from(["simple"] * 6 + ["disturbed"] * 3 + ["blank", "broken", "other"]))
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\t", "\u3000", "\r", " \x0c "]))
    if kind == "other":
        return draw(st.sampled_from(["[1]", '"x"', "12", "null", "NaN", '{"a": NaN}', '{"a": Infinity}', "[" * 3000]))
    keys = [k for k in FIELDS if draw(st.integers(0, 9)) > 0] if draw(st.integers(0, 3)) else []
    keys += draw(st.lists(st.sampled_from([*FIELDS, "country", "event id", "Event_id", "événement"]), max_size=3))
    keys = draw(st.permutations(keys)) if draw(st.booleans()) else keys
    odd = draw(st.integers(0, 4 * len(keys) + 1)) if kind != "simple" else -1  # where the disturbance goes
    pairs = []
    for n, key in enumerate(keys):
        value = draw(any_value(key) if odd == 4 * n else simple_value(key))
        space = [draw(ODD_SPACE if odd == 4 * n + k else SPACE) for k in (1, 2, 3)]
        pairs.append(f"{space[0]}{json.dumps(key, ensure_ascii=False)}{space[1]}:{space[2]}{value}{draw(SPACE)}")
    text = draw(SPACE) + "{" + ",".join(pairs) + "}" + draw(SPACE)
    if kind == "broken":
        cut = draw(st.integers(0, max(len(text) - 1, 0)))
        text = text[:cut] + draw(st.sampled_from(["", ",", "}", '"', ",}", "x", " 1", ":"])) + text[cut + 1 :]
    return text


@st.composite
def jsonl_file(draw) -> bytes:
    lines = draw(st.lists(json_line(), max_size=25))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    data = "".join(line + (ending if draw(st.integers(0, 5)) else "\n") for line in lines)
    if draw(st.booleans()) and data:
        data = data.removesuffix("\n")  # the last line without its newline
    raw = data.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        raw = BOM + raw
    if draw(st.integers(0, 19)) == 0 and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + b"\xff" + raw[at:]  # not UTF-8: the whole file is unreadable
    return raw


@settings(**PROFILE)
@given(jsonl_file(), st.sampled_from([1, 2, 3, 7, 64, 1 << 20]), st.sampled_from(["jsonl", "jsonl.gz"]))
def test_generated_files_read_alike_whatever_the_chunk_size(data, chunk_bytes, fmt):
    assert_same(data, chunk_bytes, fmt)


@settings(**PROFILE)
@given(jsonl_file(), st.integers(1, 4))
def test_generated_files_read_alike_whatever_the_block_size(data, block_lines):
    # Blocks cut every few lines: simple and exact lines meet at every boundary.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(readers, "BLOCK_LINES", block_lines)
        assert_same(data, 1 << 20)


@settings(**PROFILE)
@given(st.lists(json_line(), min_size=1, max_size=30))
def test_a_block_of_any_lines_parses_as_the_row_path_reads_it(lines):
    data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")
    if not readers._is_utf8(data):
        return  # a lone surrogate written raw is not UTF-8: such a file never makes a block
    got = via_items("jsonl", data, 1 << 20)
    assert got.comparable() == via_rows("jsonl", data).comparable()
    assert got.raw_rows == 0


# Bytes of JSON's grammar and around it, in any order: most such lines are not JSON, and the
# compiled scanner must leave every one it cannot read exactly to json.loads.
SOUP_TOKENS = [*'{}[]":, \t\r\\/ubfnrtel0123456789-+.eEaAdD', "event_id", "amount", "null", "true", "\u3000", "é"]
SOUP_TOKENS += ["\\ud83d", "\\ude00", "\\u00e9", '"\\"', '\\"']  # escapes: a surrogate half, é, an escaped quote
SOUP = st.lists(st.sampled_from(SOUP_TOKENS), max_size=40).map("".join)


@settings(**PROFILE | {"max_examples": 300})
@given(
    st.lists(
        st.one_of(SOUP, json_line(), st.builds("".join, st.lists(st.one_of(SOUP, json_line()), max_size=3))),
        min_size=1,
        max_size=20,
    )
)
def test_any_soup_of_json_bytes_parses_as_the_row_path_reads_it(lines):
    data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")
    if not readers._is_utf8(data):
        return
    got = via_items("jsonl", data, 1 << 20)
    assert got.comparable() == via_rows("jsonl", data).comparable()


# --------------------------------------------------------------------------- the contract's corners


def test_literal_numbers_keywords_and_nesting_are_kept_exactly():
    lines = [
        '{"event_id": "a", "event_time": "2025-01-01T00:00:00Z", "user_id": "u", "event_type": "purchase", '
        f'"amount": {amount}, "currency": "USD"}}'
        for amount in ("12.30", "12.300", "-0", "1e3", "100000000000000000.01", "7", "true", "null", "[1]", '"12.30"')
    ]
    got = assert_same("\n".join(lines).encode())
    assert [entry[1] for entry in got.rows] == ["valid"] + ["invalid_amount"] * 3 + ["valid", "valid"] + [
        "invalid_amount"
    ] * 3 + ["valid"]
    assert got.rows[4][3][5] == 10000000000000000001 and got.raw_rows == 0


def test_the_last_duplicate_key_wins_and_lone_surrogates_are_kept():
    base = '"event_time": "2025-01-01T00:00:00Z", "user_id": "u", "event_type": "view"'
    data = (
        f'{{"event_id": "first", {base}, "event_id": "last"}}\n'
        f'{{"event_id": "x", {base}, "event_id": null}}\n'
        f'{{"event_id": "\\ud800", {base}}}\n'
    ).encode()
    got = assert_same(data)
    assert [(e[1], e[3] and e[3][0]) for e in got.rows] == [
        ("valid", b"last"),
        ("missing_field", None),
        ("valid", "\ud800".encode("utf-8", "surrogatepass")),
    ]


def test_invalid_json_deep_nesting_blank_lines_and_line_numbers():
    row = '{"event_id": "a", "event_time": "2025-01-01T00:00:00Z", "user_id": "u", "event_type": "view"}'
    data = "\n".join([row, "", "  \t", "[" * 100_000, '{"a": 1,}', "\u3000", "[1]", row, "{}"]).encode()
    got = assert_same(data)
    assert [(e[0], e[1]) for e in got.rows] == [
        (1, "valid"),
        (4, "malformed_row"),
        (5, "malformed_row"),
        (7, "malformed_row"),
        (8, "valid"),
        (9, "missing_field"),
    ]


NEAR_MISSES = [
    '{"a":"b",',
    '{"a": 1,',
    '{"a":"b"',
    '{"a":"b"}}',
    '{{"a":"b"}',
    '{"a":"b"}"c"',
    '{"a" "b"}',
    '{"a":"b" "c":"d"}',
    '{"a"::"b"}',
    '{"a":,"b":"c"}',
    '{,"a":"b"}',
    '{"a":"b",,"c":"d"}',
    '{"a":"b"}x',
    'x{"a":"b"}',
    '{"a":1 2}',
    '{"a":"b":"c"}',
    '{"a"}',
    '{"a":}',
    '{:"a"}',
    '{"a":"b"]',
    '["a","b"]',
    '"a":"b"',
    '{"a":"b"}\u3000',
    '{"a":\xa0"b"}',
    '{"a": 1}}',
    '{"a": -}',
    '{"a": 1,}',
    '{"a": nul}',
    '{"a":"b",}',
    '{"a":"b"}{"c":"d"}',
]


def test_lines_that_are_almost_simple_objects_are_malformed():
    row = '{"event_id": "a", "event_time": "2025-01-01T00:00:00Z", "user_id": "u", "event_type": "view"}'
    near = NEAR_MISSES + [f'{{"amount": {text}, "event_id": "a"}}' for text in NOT_NUMBERS]
    got = assert_same("\n".join([row, *near, row]).encode())
    assert [e[1] for e in got.rows] == ["valid"] + ["malformed_row"] * len(near) + ["valid"]


def test_gaps_of_every_spacing_in_one_block():
    # Unusual gaps (spaces before a colon, a scalar before the end) in one line and the next: all
    # simple, so all on the fast path.
    rows = [
        '{"event_id":null}',
        '{"event_time" :"2025-01-01T10:00:00Z", "event_id" : "e1","user_id"  :  "u","event_type":"view"}',
        '{"event_id": "e2", "event_time": "2025-01-01T10:00:00Z", "user_id": "u", "event_type": "view", "n": 1}',
        '{ "event_id" :"e3" , "event_time":"2025-01-01T10:00:00Z","user_id":"u","event_type":"view","n": null }',
    ]
    reasons = ["missing_field", "valid", "valid", "valid"]
    for lines, want_reasons in ((rows[:2], reasons[:2]), (rows * 3, reasons * 3)):
        data = "\n".join(lines).encode()
        want = via_rows("jsonl", data)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(jsonl_blocks, "json_values", no_exact_path)
            got = via_items("jsonl", data, 1 << 20)
        assert got.comparable() == want.comparable()
        assert [e[1] for e in got.rows] == want_reasons and got.raw_rows == 0


def test_a_file_turns_to_the_row_path_at_bad_utf8_or_an_overlong_line(monkeypatch):
    row = b'{"event_id": "a", "event_time": "2025-01-01T00:00:00Z", "user_id": "u", "event_type": "view"}\n'
    assert assert_same(row * 50 + b'{"event_id": "\xe9"}\n', 256).rejected == "unreadable_file"
    monkeypatch.setattr(readers, "LINE_LIMIT", 200)
    assert assert_same(row * 5 + b'{"event_id": "' + b"x" * 300 + b'"}\n' + row, 64).rejected == "unreadable_file"
    assert assert_same(row * 5 + b'{"event_id": "' + b"x" * 90 + b'"}\n' + row, 64).rejected is None


def no_exact_path(line):
    raise AssertionError(f"a simple line went to the exact path: {line!r}")


def test_simple_lines_never_reach_json_loads(monkeypatch):
    data = (
        b'{"event_id": " e1 ", "event_time": "2025-06-15T10:46:54.233+05:30", "user_id": "u\xc3\xa9",'
        b' "event_type": "purchase", "amount": 12.5, "currency": "EUR", "n": -1.5e3, "ok": true}\r\n'
        b'{"event_id":"e2","event_time":"2025-06-15 00:00:00","user_id":"u2","event_type":"view","amount":null}\n'
    ) * 40
    want = via_rows("jsonl", data)
    monkeypatch.setattr(jsonl_blocks, "json_values", no_exact_path)
    got = via_items("jsonl", data, 1 << 20)
    assert got.comparable() == want.comparable() and got.read == 80 and got.rejected is None


def test_escapes_in_values_stay_on_the_fast_path(monkeypatch):
    base = '"event_time": "2025-06-15T10:00:00Z", "event_type": "view"'
    values = [r"\tu1\t", r"u\"q\"", "u\\\\", r"u\\\"", r"\u00e9t\u00E9", r"\ud83d\ude00", r"a\/b\b\f\n\r", r"\u3000u2"]
    data = "".join(f'{{"event_id": "e{i}", {base}, "user_id": "{v}"}}\n' for i, v in enumerate(values)).encode()
    want = via_rows("jsonl", data)
    monkeypatch.setattr(jsonl_blocks, "json_values", no_exact_path)
    got = via_items("jsonl", data, 1 << 20)
    assert got.comparable() == want.comparable() and got.raw_rows == 0
    assert [entry[3][1] for entry in got.rows] == [
        s.encode() for s in ("u1", 'u"q"', "u\\", 'u\\"', "\u00e9t\u00e9", "\U0001f600", "a/b\b", "u2")
    ]


def test_escapes_the_fast_path_cannot_hold_take_the_exact_path():
    base = '"event_time": "2025-06-15T10:00:00Z", "event_type": "view", "user_id": "u"'
    lines = [
        f'{{"event_id": "\\ud800", {base}}}',  # a lone surrogate: Arrow cannot hold it
        f'{{"event\\u005fid": "e2", {base}}}',  # an escaped key
        f'{{"event_id": "e\\x", {base}}}',  # not a JSON escape
        f'{{"event_id": "e\\u12", {base}}}',  # a short \\u
        f'{{"event_id": "e4", {base}, \\"n": 1}}',  # a backslash outside a string
        f'{{"event_id": "e5\\", {base}}}',  # the closing quote escaped: the line does not parse
        f'{{"event_id": "e6", {base}}}',
    ]
    got = assert_same("\n".join(lines).encode())
    assert [(entry[0], entry[1]) for entry in got.rows] == [
        (1, "valid"),
        (2, "valid"),
        (3, "malformed_row"),
        (4, "malformed_row"),
        (5, "malformed_row"),
        (6, "malformed_row"),
        (7, "valid"),
    ]
    assert got.rows[0][3][0] == "\ud800".encode("utf-8", "surrogatepass") and got.rows[1][3][0] == b"e2"


def test_values_are_stripped_as_str_strip_strips(monkeypatch):
    # Every character str.isspace() holds, and each one's neighbours (which share its first UTF-8
    # bytes), at both ends of a value, written raw and escaped.
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    near = sorted({chr(ord(c) + step) for c in spaces for step in (-1, 1)} - set(spaces))
    base = '"event_time": "2025-06-15T10:00:00Z", "event_type": "view"'
    values = [c + "u" + c for c in spaces + near]
    data = "".join(
        f'{{"event_id": "e{i}", {base}, "user_id": {json.dumps(value, ensure_ascii=ascii)}}}\n'
        for ascii in (False, True)
        for i, value in enumerate(values)
    ).encode()
    want = via_rows("jsonl", data)
    monkeypatch.setattr(jsonl_blocks, "json_values", no_exact_path)
    got = via_items("jsonl", data, 1 << 20)
    assert got.comparable() == want.comparable() and got.raw_rows == 0
    stripped = [b"u"] * len(spaces) + [value.encode() for value in values[len(spaces) :]]
    assert [entry[3][1] for entry in got.rows] == stripped * 2


def test_a_gzip_file_left_half_read_stops_its_inflating_thread():
    row = b'{"event_id": "a", "event_time": "2025-01-01T00:00:00Z", "user_id": "u", "event_type": "view"}\n'
    items = read_jsonl_items("jsonl.gz", io.BytesIO(gzip.compress(row * 20_000)), 1 << 30, 4096)
    assert isinstance(next(items), JsonlBlock)
    items.close()
    for thread in threading.enumerate():
        if thread.name == "inflate":
            thread.join(timeout=10)
            assert not thread.is_alive()
