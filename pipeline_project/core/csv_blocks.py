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

from pipeline_project.core.columnar import REASON_CODES, VALID, BlockRows, Texts, check_texts, valid_batch
from pipeline_project.core.contract import ROW_REASONS

_SAFE = bytes([9, 10, *range(0x20, 0x7F)]).replace(b'"', b"")
_SPACES = " \t"  # what str.strip() removes from a field of a plain block
_IS_SPACE = np.isin(np.arange(256), np.frombuffer(_SPACES.encode(), np.uint8))
_MALFORMED = REASON_CODES["malformed_row"]


class CsvBlock(NamedTuple):
    data: bytes  # whole lines, the last one ending in a newline
    first_line: int  # 1-based line number of the block's first line
    positions: tuple[int, ...]  # column index of each contract field
    width: int  # fields per record, from the header


def is_plain(data: bytes) -> bool:
    """True when the block may take the fast path (see the module docstring)."""
    return not data.translate(None, _SAFE)


class _Fields:
    """Every field of a block as a byte range [start, end) of its data, ends at the separators."""

    def __init__(self, data: bytes, raw: np.ndarray, seps: np.ndarray):
        self.data, self.raw = data, raw
        self.start = np.empty(len(seps), np.int64)
        self.start[:1] = 0
        self.start[1:] = seps[:-1] + 1
        self.end = seps.astype(np.int64)

    def array(self) -> pa.StringArray:
        """The fields as one Arrow array, without copying: field k is value 2k (2k+1 is what follows it)."""
        offsets = np.empty(2 * len(self.start) + 1, np.int32)
        offsets[0:-1:2] = self.start
        offsets[1::2] = self.end
        offsets[-1] = len(self.data)
        return pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(self.data))

    def strip(self, columns: list[np.ndarray]) -> None:
        """Narrows these fields (arrays of field indexes, each ascending) to their text without
        surrounding spaces and tabs; a field that starts or ends with one is rare, so only those
        are taken from the block and trimmed."""
        padded = np.concatenate([self._padded(fields) for fields in columns])
        if len(padded) == 0:
            return
        pieces = self.array().take(pa.array(2 * padded))
        left = pc.ascii_ltrim(pieces, characters=_SPACES)
        self.start[padded] += _lengths(pieces) - _lengths(left)
        self.end[padded] = self.start[padded] + _lengths(pc.ascii_rtrim(left, characters=_SPACES))

    def _padded(self, fields: np.ndarray) -> np.ndarray:
        start, end = self.start[fields], self.end[fields]
        return fields[(end > start) & (_IS_SPACE[self.raw[start]] | _IS_SPACE[self.raw[np.maximum(end - 1, 0)]])]

    def texts(self, fields: np.ndarray) -> Texts:
        return Texts(self.raw, self.start[fields], self.end[fields] - self.start[fields])


def _lengths(values: pa.Array) -> np.ndarray:
    return pc.binary_length(values).to_numpy(zero_copy_only=False)


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
    spans = _Fields(data, raw, seps)
    picked = [line_first_sep[good] + p for p in block.positions]  # the contract's fields of each record
    spans.strip(picked)
    checks = check_texts(*(spans.texts(column) for column in picked))
    values = spans.array()
    sources = [pa.array(2 * column) for column in picked]
    valid = valid_batch(checks, lambda field, rows: values.take(sources[field].take(rows)))

    def text(line: int) -> str:
        return data[line_start[line] : line_end[line]].decode("ascii")

    # A blank line (one field of only spaces and tabs) is no row at all.
    odd = np.flatnonzero(fields != block.width)
    single = line_first_sep[odd]
    spans.strip([single])
    blank = (fields[odd] == 1) & (spans.end[single] == spans.start[single])
    rejected: list[tuple[int, int, str]] = [(line, _MALFORMED, text(line)) for line in odd[~blank].tolist()]
    bad = np.flatnonzero(checks.reasons != VALID)
    for line, code in zip(good[bad].tolist(), checks.reasons[bad].tolist(), strict=True):
        rejected.append((line, code, text(line)))
    rejected.sort()
    read = len(good) + int((~blank).sum())
    first = block.first_line
    named = [(first + line, ROW_REASONS[code - 1], content) for line, code, content in rejected]
    return BlockRows(read, named, valid)
