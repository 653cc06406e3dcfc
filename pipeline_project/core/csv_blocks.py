"""CSV at the speed of numpy: whole blocks of lines parsed and validated as columns.

A block takes this path only when every byte is printable ASCII, a tab or a newline, and none
is a double quote. Then a record is exactly one line and a field exactly the text between
commas, so splitting on bytes gives what csv.reader gives, and str.strip() removes exactly
spaces and tabs. Any other block (quotes, CR, control bytes, non-ASCII) and everything after it
in the file goes through readers' exact row path instead; see readers.read_csv_items.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline_project.core.columnar import REASON_CODES, VALID, BlockRows, ValidatedColumns, validate_columns
from pipeline_project.core.contract import ROW_REASONS

_SAFE = bytes([9, 10, *range(0x20, 0x7F)]).replace(b'"', b"")
_TRIM = " \t,\n"  # a value is a field plus its separator; strip() of ASCII is spaces and tabs here
_MALFORMED = REASON_CODES["malformed_row"]


class CsvBlock(NamedTuple):
    data: bytes  # whole lines, the last one ending in a newline
    first_line: int  # 1-based line number of the block's first line
    positions: tuple[int, ...]  # column index of each contract field
    width: int  # fields per record, from the header


def is_plain(data: bytes) -> bool:
    """True when the block may take the fast path (see the module docstring)."""
    return not data.translate(None, _SAFE)


def parse_block(block: CsvBlock) -> BlockRows:
    data = block.data
    raw = np.frombuffer(data, np.uint8)
    seps = np.flatnonzero((raw == ord(",")) | (raw == ord("\n")))
    newline_at = np.flatnonzero(raw[seps] == ord("\n"))  # index into seps of each line's end
    line_first_sep = np.concatenate(([0], newline_at[:-1] + 1))
    fields = newline_at - line_first_sep + 1
    line_start = np.concatenate(([0], seps[newline_at[:-1]] + 1))
    line_end = seps[newline_at]
    good = np.flatnonzero(fields == block.width)
    offsets = np.empty(len(seps) + 1, np.int32)
    offsets[0] = 0
    offsets[1:] = seps + 1
    values = pa.StringArray.from_buffers(len(seps), pa.py_buffer(offsets), pa.py_buffer(data))
    first_value = line_first_sep[good]
    columns = [pc.utf8_trim(values.take(pa.array(first_value + p)), characters=_TRIM) for p in block.positions]
    checked: ValidatedColumns = validate_columns(*columns)

    def text(line: int) -> str:
        return data[line_start[line] : line_end[line]].decode("ascii")

    # A blank line (one field of only spaces and tabs) is no row at all; found without a Python
    # loop, since a block may hold nothing else.
    visible = (raw != ord(" ")) & (raw != ord("\t")) & (raw != ord("\n"))
    filled = np.concatenate(([0], np.cumsum(visible, dtype=np.int32)))  # visible bytes before each
    blank = (fields == 1) & (filled[line_end] == filled[line_start])
    rejected: list[tuple[int, int, str]] = []
    for line in np.flatnonzero((fields != block.width) & ~blank).tolist():
        rejected.append((line, _MALFORMED, text(line)))
    bad = np.flatnonzero(checked.reasons != VALID)
    for line, code in zip(good[bad].tolist(), checked.reasons[bad].tolist(), strict=True):
        rejected.append((line, code, text(line)))
    rejected.sort()
    read = len(good) + sum(1 for _line, code, _content in rejected if code == _MALFORMED)
    first = block.first_line
    named = [(first + line, ROW_REASONS[code - 1], content) for line, code, content in rejected]
    return BlockRows(read, named, checked.valid)
