"""JSON lines at compiled speed: blocks of lines parsed and validated as columns, exactly.

One pass of the scanner (`_jsonl_scan.c`) finds the lines that are provably flat objects of
simple values and reads their six fields as Arrow string columns: a string's text (its escapes
decoded as json.loads decodes them), a number's literal text, true or false; null and a missing
key are a null. The last duplicate key wins as in a dict, and values are stripped as str.strip()
strips. The scanner leaves every line it is not sure of (nesting, a lone surrogate, an escaped
key, any control byte, anything that is not one JSON object, blank lines) to the exact row path
(json_values, json.loads) in the same block, and rows keep their line order.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from pipeline_project.core._jsonl_scan import scan
from pipeline_project.core.columnar import REASON_CODES, VALID, BlockRows, records_batch, validate_columns
from pipeline_project.core.contract import REQUIRED_COLUMNS, ROW_REASONS
from pipeline_project.core.validation import validate

_FIELD_NAMES = tuple(name.encode() for name in REQUIRED_COLUMNS)


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


def parse_block(block: JsonlBlock) -> BlockRows:
    data = block.data
    bounds, simple, read, columns = scan(data, _FIELD_NAMES)  # read: the simple lines, so far
    starts, stops = np.frombuffer(bounds, np.int64).reshape(2, len(simple))
    simple = np.frombuffer(simple, np.bool_)
    rows = np.flatnonzero(simple)
    checked = validate_columns(
        *(
            pa.StringArray.from_buffers(read, pa.py_buffer(offsets), pa.py_buffer(chars), pa.py_buffer(valid), nulls)
            for offsets, chars, valid, nulls in columns
        )
    )

    def text(at: int) -> str:
        return data[starts[at] : stops[at]].decode("utf-8")

    bad = np.flatnonzero(checked.reasons != VALID)
    rejected = [
        (at, code, text(at)) for at, code in zip(rows[bad].tolist(), checked.reasons[bad].tolist(), strict=True)
    ]
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
