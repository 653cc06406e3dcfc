"""JSON lines at the speed of numpy: blocks of lines parsed and validated as columns, exactly.

A line takes the fast path only when it is provably a flat object of simple values: no control
byte (one final CR aside), no byte outside printable ASCII and no backslash except inside strings,
at least one key, and the text between its strings (spaces aside) reading `{`, `:`, `,`, `}` or a
key's scalar value, in the order `{"key": value, ...}`. A value is then a string, a JSON number
literal, true, false or null, so its text is exactly what json.loads (numbers as their literal
text) gives: a string's own bytes, or json.loads of the literal for the few with escapes (a key
with one, or a string json.loads refuses or reads to a lone surrogate, sends its line to the exact
path). The last duplicate key wins as in a dict, and str.strip() is utf8_trim of Python's
whitespace. Every other line (nesting, arrays, blank, not JSON) goes through the exact row path
(json_values, json.loads) in the same block, and rows keep their line order.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline_project.core.columnar import REASON_CODES, VALID, BlockRows, records_batch, validate_columns
from pipeline_project.core.contract import REQUIRED_COLUMNS, ROW_REASONS
from pipeline_project.core.validation import validate

# Every character str.isspace() holds (pinned by a test against the running Python).
PYTHON_WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
PYTHON_WHITESPACE += "\u2028\u2029\u202f\u205f\u3000"
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
# A gap (the text between two strings, or before the first or after the last) other than the
# usual one- and two-byte ones: punctuation alone, or after a key a scalar value and `,` or `}`.
_GAP = (
    r"^ *(?:(?P<open>\{)|(?P<colon>:)|(?P<comma>,)|(?P<close>\})"
    rf"|: *(?P<scalar>{_NUMBER}|true|false|null) *(?P<trail>[,}}])) *$"
)
# Gap kinds. OPEN: `{`; COLON: `:` (a string value follows); COMMA: `,` (a key follows); CLOSE: `}`;
# SCALAR_COMMA / SCALAR_CLOSE: `:` and a scalar value, then `,` or `}`; BAD: anything else.
OPEN, COLON, COMMA, CLOSE, SCALAR_COMMA, SCALAR_CLOSE, BAD = range(7)
# The kind of a gap of one byte, or of two bytes the second a space (": ", ", "), by
# [length (3: longer), first byte, second byte]; BAD for the rest, which the regex decides.
_SHORT_GAPS = np.full((4, 256, 256), BAD, np.int8)
for _byte, _kind in zip(b"{:,}", (OPEN, COLON, COMMA, CLOSE), strict=True):
    _SHORT_GAPS[1, _byte, :] = _kind
    _SHORT_GAPS[2, _byte, ord(" ")] = _kind
_KEY_BEFORE = np.array([True, False, True, False, True, False, False])  # the gap's next string is a key
_AFTER_KEY = np.array([False, True, False, False, True, True, False])
_AFTER_VALUE = np.array([False, False, True, True, False, False, False])
_LAST = np.array([False, False, False, True, False, True, False])  # a gap that ends the object
_INSIDE = np.array([False, True, True, False, True, False, False])  # may come between two strings
_FIELDS = pa.array(REQUIRED_COLUMNS)
_MALFORMED = REASON_CODES["malformed_row"]


class JsonlBlock(NamedTuple):
    data: bytes  # whole lines of valid UTF-8, the last one ending in a newline
    first_line: int  # 1-based line number of the block's first line


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_text(value) -> str | None:
    """JSON scalars by their literal text (numbers arrive as text already); nested as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def json_values(line: str) -> tuple[str | None, ...] | None:
    """The six fields of one non-blank line (the exact path), or None when it is malformed."""
    try:
        obj = json.loads(line, parse_float=str, parse_int=str, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None
    if not isinstance(obj, dict):
        return None
    return tuple(json_text(obj.get(c)) for c in REQUIRED_COLUMNS)


def _first_in_run(groups: np.ndarray) -> np.ndarray:
    """True where a sorted array's value differs from the one before."""
    first = np.ones(len(groups), bool)
    first[1:] = groups[1:] != groups[:-1]
    return first


def _last_in_run(groups: np.ndarray) -> np.ndarray:
    """True where a sorted array's value differs from the one after."""
    last = np.ones(len(groups), bool)
    last[:-1] = groups[1:] != groups[:-1]
    return last


def _spans(data: bytes, start: np.ndarray, stop: np.ndarray) -> pa.Array:
    """A string array whose element 2i is data[start[i]:stop[i]] (the odd ones lie between): the spans
    are in order and do not overlap."""
    if len(start) == 0:
        return pa.array([], pa.string())
    points = np.empty(2 * len(start), np.int32)
    points[0::2], points[1::2] = start, stop
    return pa.StringArray.from_buffers(2 * len(start) - 1, pa.py_buffer(points), pa.py_buffer(data))


def _escapers(raw: np.ndarray) -> np.ndarray:
    """Where the backslashes that start an escape are: in a run of them, the first, third, ..."""
    at = np.flatnonzero(raw == ord("\\"))
    run_start = _first_in_run(at - np.arange(len(at)))  # consecutive backslashes share at - index
    first_of_run = np.maximum.accumulate(np.where(run_start, np.arange(len(at)), 0))
    return at[(np.arange(len(at)) - first_of_run) % 2 == 0]


def _string_of(opens: np.ndarray, closes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The index of the string each point lies in (between its quotes), or -1 outside every string."""
    if len(opens) == 0:
        return np.full(len(points), -1, np.int64)
    at = np.searchsorted(opens, points, side="right") - 1
    return np.where((at >= 0) & (closes[np.maximum(at, 0)] > points), at, -1)


def _unescape(literal: bytes) -> str | None:
    """A string literal's text as json.loads reads it, or None when it is not valid JSON or holds a
    lone surrogate (which Arrow cannot hold: the exact path keeps it)."""
    try:
        text = json.loads(literal)
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return None
    return text


def _gap_kinds(
    data: bytes, raw: np.ndarray, start: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """(kind per gap, the scalar values found, each gap's index into them: -1 unless it holds one)."""
    # A gap starts inside the block; one byte on may be past its end only for an empty gap.
    length = np.minimum(stop - start, 3)
    kinds = _SHORT_GAPS[length, raw[start], raw.take(start + 1, mode="clip")]
    rest = np.flatnonzero((kinds == BAD) & (length > 0))
    rest = rest[np.argsort(start[rest], kind="stable")]  # the end gaps come last in the arrays, not in the data
    scalar_at = np.full(len(start), -1, np.int64)
    gaps = _spans(data, start[rest], stop[rest])
    parts = pc.extract_regex(gaps.take(pa.array(np.arange(0, len(gaps), 2))), _GAP)

    def has(group: str) -> np.ndarray:
        return pc.fill_null(pc.greater(pc.binary_length(parts.field(group)), 0), False).to_numpy(zero_copy_only=False)

    found = np.full(len(rest), BAD, np.int8)
    for kind, group in ((OPEN, "open"), (COLON, "colon"), (COMMA, "comma"), (CLOSE, "close")):
        found[has(group)] = kind
    trail = pc.fill_null(parts.field("trail"), "").to_numpy(zero_copy_only=False)
    valued = has("scalar")
    found[valued & (trail == ",")] = SCALAR_COMMA
    found[valued & (trail == "}")] = SCALAR_CLOSE
    kinds[rest] = found
    scalar_at[rest] = np.arange(len(rest))
    return kinds, pc.fill_null(parts.field("scalar"), ""), scalar_at


def parse_block(block: JsonlBlock) -> BlockRows:
    data = block.data
    raw = np.frombuffer(data, np.uint8)
    low = np.flatnonzero(raw < 0x20)  # newlines and the other control bytes, in one pass
    newline = raw[low] == ord("\n")
    ends = low[newline]
    n = len(ends)
    starts = np.zeros(n, np.int64)
    starts[1:] = ends[:-1] + 1
    final_cr = (ends > starts) & (raw[np.maximum(ends - 1, 0)] == ord("\r"))
    stops = ends - final_cr  # a line's text: without its newline and one CR, as the row path reads it

    # Lines with a control byte (other than the newline and a final CR) are not simple.
    simple = np.ones(n, bool)
    control = low[~newline]
    control = control[(raw[control] != ord("\r")) | (raw.take(control + 1, mode="clip") != ord("\n"))]
    simple[np.searchsorted(ends, control)] = False
    escapers = _escapers(raw) if b"\\" in data else np.zeros(0, np.int64)

    # Strings: quotes pair up within a line that holds an even number of them (the others are dropped).
    quotes = np.flatnonzero(raw == ord('"'))
    if len(escapers):
        escaped_quotes = escapers[raw[escapers + 1] == ord('"')] + 1
        quotes = np.delete(quotes, np.searchsorted(quotes, escaped_quotes))
    per_line = np.diff(np.searchsorted(quotes, ends), prepend=0)
    odd = per_line % 2 == 1
    simple &= (per_line > 0) & ~odd
    if odd.any():
        quotes = quotes[np.repeat(~odd, per_line)]
        per_line[odd] = 0
    opens, closes = quotes[0::2], quotes[1::2]
    line = np.repeat(np.arange(n), per_line // 2)  # of each string
    # Bytes outside printable ASCII, and escapes, must sit inside a string.
    high = np.flatnonzero(raw > 0x7E) if not data.isascii() or b"\x7f" in data else ()
    if len(high):
        simple[np.searchsorted(ends, high[_string_of(opens, closes, high) < 0])] = False
    escaped = np.zeros(0, np.int64)  # the strings that hold an escape
    if len(escapers):
        owner_string = _string_of(opens, closes, escapers)
        simple[np.searchsorted(ends, escapers[owner_string < 0])] = False
        escaped = np.unique(owner_string[owner_string >= 0])

    # Gaps: before each string (from the line's start or the previous string), and after each line's last.
    first = _first_in_run(line)
    last = _last_in_run(line)
    count = len(line)
    gap_start = np.empty(count + int(last.sum()), np.int64)
    gap_stop = np.empty_like(gap_start)
    gap_start[1:count] = closes[:-1] + 1
    gap_start[:count][first] = starts[line[first]]
    gap_stop[:count] = opens
    gap_start[count:] = closes[last] + 1
    gap_stop[count:] = stops[line[last]]
    kinds, scalars, scalar_at = _gap_kinds(data, raw, gap_start, gap_stop)
    before = kinds[:count]
    after = np.empty(count, np.int8)
    after[:-1] = before[1:]
    after[last] = kinds[count:]
    is_key = _KEY_BEFORE[before]
    ok = np.where(first, before == OPEN, _INSIDE[before])
    ok &= np.where(is_key, _AFTER_KEY[after], _AFTER_VALUE[after])
    ok &= _LAST[after] == last
    simple[line[~ok]] = False
    simple[line[escaped[is_key[escaped]]]] = False  # a key with an escape: the exact path matches it
    escaped = escaped[~is_key[escaped]]
    texts = [_unescape(data[opens[at] : closes[at] + 1]) for at in escaped.tolist()]
    undecoded = np.array([text is None for text in texts], bool)
    simple[line[escaped[undecoded]]] = False
    escaped = escaped[~undecoded]

    # Values: string k's text is element 2k of spans (the odd ones lie between strings); a
    # scalar's follows them, at its gap's index; then the texts of the strings with escapes.
    spans = _spans(data, opens + 1, closes)
    values = pa.concat_arrays([spans, scalars, pa.array([text for text in texts if text is not None], pa.string())])
    string_at = np.arange(0, 2 * count, 2)
    string_at[escaped] = len(spans) + len(scalars) + np.arange(len(escaped))
    key = np.flatnonzero(is_key & simple[line])
    code = pc.fill_null(pc.index_in(values.take(pa.array(2 * key)), value_set=_FIELDS), -1).to_numpy()
    string_value = after[key] == COLON
    gap_after = np.where(last[key], count + np.cumsum(last)[key] - 1, key + 1)
    # key + 1 is past the last string only for a key with a scalar value, whose string_at np.where drops.
    value_index = np.where(string_value, string_at[np.minimum(key + 1, count - 1)], len(spans) + scalar_at[gap_after])
    scalar_keys = np.flatnonzero(~string_value)
    if len(scalar_keys):
        literal = values.take(pa.array(value_index[scalar_keys]))
        value_index[scalar_keys[pc.equal(literal, "null").to_numpy(zero_copy_only=False)]] = -1
    rows = np.flatnonzero(simple)
    row_of_line = np.cumsum(simple) - 1
    owner = row_of_line[line[key]]
    # The six columns are taken and trimmed as one array, field after field, then sliced.
    index = np.full((len(REQUIRED_COLUMNS), len(rows)), -1, np.int64)
    for field in range(len(REQUIRED_COLUMNS)):
        chosen = np.flatnonzero(code == field)
        chosen = chosen[_last_in_run(owner[chosen])]  # the last of the name in its line wins
        index[field, owner[chosen]] = value_index[chosen]
    index = index.ravel()
    fields = pc.utf8_trim(values.take(pa.array(index, mask=index < 0)), characters=PYTHON_WHITESPACE)
    checked = validate_columns(*(fields.slice(f * len(rows), len(rows)) for f in range(len(REQUIRED_COLUMNS))))

    def text(at: int) -> str:
        return data[starts[at] : stops[at]].decode("utf-8")

    bad = np.flatnonzero(checked.reasons != VALID)
    rejected = [
        (at, code, text(at)) for at, code in zip(rows[bad].tolist(), checked.reasons[bad].tolist(), strict=True)
    ]
    read = len(rows)
    exact_lines, records = [], []
    for at in np.flatnonzero(~simple & (stops > starts)).tolist():
        content = text(at)
        if not content.strip():
            continue
        read += 1
        fields = json_values(content)
        result = "malformed_row" if fields is None else validate(*fields)
        if isinstance(result, str):
            rejected.append((at, REASON_CODES[result], content))
        else:
            exact_lines.append(at)
            records.append(result)
    valid = checked.valid
    if records:
        order = np.argsort(np.concatenate((rows[checked.reasons == VALID], exact_lines)), kind="stable")
        valid = pa.concat_batches([valid, records_batch(records)]).take(pa.array(order))
    rejected.sort()
    first_line = block.first_line
    named_rows = [(first_line + at, ROW_REASONS[code - 1], content) for at, code, content in rejected]
    return BlockRows(read, named_rows, valid)
