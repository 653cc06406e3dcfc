"""Streaming readers: one raw file's bytes in, its rows out, in file order.

A reader yields a RawRow per non-blank row. `values` holds the six contract fields in
REQUIRED_COLUMNS order (None where missing), or is None when the row is malformed. A problem
with the whole file raises FileRejected, possibly after some rows were yielded: callers treat
a file's rows as tentative until the reader is exhausted.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import io
import queue
import re
import threading
import zlib
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.types as pat

from pipeline_project.core.contract import REQUIRED_COLUMNS
from pipeline_project.core.csv_blocks import CsvBlock, is_plain
from pipeline_project.core.jsonl_blocks import JsonlBlock, json_text, json_values
from pipeline_project.core.parquet_columns import UNIT_DIGITS, text_column

CHUNK_BYTES = 2 << 20
BATCH_ROWS = 65_536
# Parsing a CSV block costs memory per line, and a file of empty lines has a line per byte: a
# block of more lines than this is cut into blocks of at most this many (real rows, of 40 bytes
# and more, fill a chunk with fewer).
BLOCK_LINES = 32_768
_CUT_WINDOW = 256 << 10  # bytes searched for newlines at a time while cutting
# Text is read this much at a time, and twice as much after each read of lines longer than
# SPARSE_LINE bytes on average (up to a chunk): a chunk of empty lines is never held whole, real
# rows soon go a chunk at a time.
READ_BYTES = 32 << 10
SPARSE_LINE = 16
# Far above any real field, yet a bound on what one unterminated quote can make us hold.
CSV_FIELD_LIMIT = 16 << 20
# Likewise for one physical line (a field at the limit plus the rest of its row fits).
LINE_LIMIT = 2 * CSV_FIELD_LIMIT
AHEAD_CHUNKS = 2  # chunks of a .jsonl.gz file inflated ahead of its reader
csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
_EPOCH = dt.datetime(1970, 1, 1)


class RawRow(NamedTuple):
    row_number: int  # 1-based line where the row starts (CSV, JSONL) or row index (Parquet)
    values: tuple[str | None, ...] | None  # None: malformed_row
    content: str | None  # the original text; None for Parquet (rebuilt from values)


class FileRejected(Exception):
    """The whole file is quarantined: reason is one of contract.FILE_REASONS."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _LimitedReader(io.RawIOBase):
    """Counts bytes as they stream and stops a file once it expands past the limit."""

    def __init__(self, inner: BinaryIO, limit: int):
        self._inner = inner
        self._limit = limit
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._inner.read(len(buffer))
        self.consumed += len(data)
        if self.consumed > self._limit:
            raise FileRejected("too_large", f"content exceeds {self._limit} bytes")
        buffer[: len(data)] = data
        return len(data)


def read_rows(
    fmt: str, stream: BinaryIO, max_bytes: int, chunk_bytes: int = CHUNK_BYTES, batch_rows: int = BATCH_ROWS
) -> Iterator[RawRow]:
    """Rows of one file in a supported format. Parquet needs a seekable stream.

    Text is read chunk_bytes at a time and Parquet batch_rows rows at a time; neither changes
    the rows, only how much is held at once.
    """
    with _file_errors():
        if fmt == "parquet":
            yield from _parquet_rows(stream, batch_rows)
            return
        limited = io.BufferedReader(_text_source(fmt, stream, max_bytes), buffer_size=chunk_bytes)
        if fmt.startswith("csv"):
            yield from _csv_rows(limited)
        else:
            yield from _jsonl_rows(limited)


def read_csv_items(
    fmt: str, stream: BinaryIO, max_bytes: int, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[CsvBlock | RawRow]:
    """A CSV file's rows as plain blocks of lines (csv_blocks) while they last, then as RawRows.

    Together they are exactly read_rows' rows: same line numbers, same values, same rejections.
    """
    with _file_errors():
        yield from _csv_items(_text_source(fmt, stream, max_bytes), chunk_bytes)


@contextlib.contextmanager
def _file_errors():
    try:
        yield
    except UnicodeDecodeError as exc:
        raise FileRejected("unreadable_file", f"not valid UTF-8 at byte {exc.start} of a chunk") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise FileRejected("unreadable_file", f"corrupt gzip: {exc}") from None


def _text_source(fmt: str, stream: BinaryIO, max_bytes: int) -> _LimitedReader:
    if fmt.endswith(".gz"):
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    return _LimitedReader(stream, max_bytes)


@contextlib.contextmanager
def _text_ahead(fmt: str, stream: BinaryIO, max_bytes: int, chunk_bytes: int) -> Iterator[_LimitedReader]:
    """_text_source, with gzip inflated a few chunks ahead on a thread of its own. JSONL only: CSV reads
    a file of empty lines in small pieces, which reading ahead would undo."""
    if not fmt.endswith(".gz"):
        yield _LimitedReader(stream, max_bytes)
        return
    ahead = _Ahead(gzip.GzipFile(fileobj=stream, mode="rb"), chunk_bytes)
    try:
        yield _LimitedReader(ahead, max_bytes)
    finally:
        ahead.close()


class _Ahead(io.RawIOBase):
    """A stream read by a thread of its own, up to AHEAD_CHUNKS chunks ahead: zlib inflates without
    the GIL, so the blocks' parsing goes on meanwhile. Its errors are raised to the reader, in order."""

    def __init__(self, inner: BinaryIO, chunk_bytes: int):
        self._chunks: queue.Queue = queue.Queue(maxsize=AHEAD_CHUNKS)
        self._stop = threading.Event()
        self._head = memoryview(b"")
        self._done = False
        threading.Thread(target=self._fill, args=(inner, chunk_bytes), name="inflate", daemon=True).start()

    def _fill(self, inner: BinaryIO, size: int) -> None:
        while not self._stop.is_set():
            try:
                item = inner.read(size)
            except BaseException as exc:  # handed to the reader, which raises it
                item = exc
            while not self._stop.is_set():
                try:
                    self._chunks.put(item, timeout=0.1)  # wakes now and then to see whether to stop
                    break
                except queue.Full:
                    continue
            if not isinstance(item, bytes) or not item:
                return

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._head:
            if self._done:
                return 0
            item = self._chunks.get()
            if isinstance(item, BaseException) or not item:
                self._done = True
                if isinstance(item, BaseException):
                    raise item
                return 0
            self._head = memoryview(item)
        n = min(len(buffer), len(self._head))
        buffer[:n] = self._head[:n]
        self._head = self._head[n:]
        return n

    def close(self) -> None:
        self._stop.set()
        super().close()


class _Chain(io.RawIOBase):
    """Bytes already read, then the rest of the stream: hands a file over to the row path."""

    def __init__(self, head: bytes, rest: io.RawIOBase):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._rest.readinto(buffer)


def _csv_items(raw: _LimitedReader, chunk_bytes: int) -> Iterator[CsvBlock | RawRow]:
    def row_path(head: bytes, header: tuple[tuple[int, ...], int] | None, first_line: int) -> Iterator[RawRow]:
        text = io.BufferedReader(_Chain(head, raw), buffer_size=max(chunk_bytes, io.DEFAULT_BUFFER_SIZE))
        return _csv_rows(text, header, first_line)

    buf, eof = b"", False
    while b"\n" not in buf and not eof and len(buf) <= CSV_FIELD_LIMIT:
        chunk = raw.read(min(READ_BYTES, chunk_bytes))
        eof = not chunk
        buf += chunk
    body = buf.removeprefix(b"\xef\xbb\xbf")
    line, _, rest = body.partition(b"\n")
    names = line.decode("ascii", "replace").split(",")
    if b"\n" not in body or not is_plain(line) or not line.strip():
        yield from row_path(buf, None, 1)  # anything unusual about the header: the row path decides
        return
    header = [name.strip() for name in names]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FileRejected("missing_columns", "header lacks " + ", ".join(missing))
    positions, width = tuple(header.index(c) for c in REQUIRED_COLUMNS), len(header)
    small = min(READ_BYTES, chunk_bytes)
    line_number, step = 2, small
    parts, size, lines = [rest], len(rest), _newlines(rest)  # read, not yet in a block
    while True:
        if not eof and (lines == 0 or (size < chunk_bytes and lines < BLOCK_LINES)):
            if lines == 0 and size > CSV_FIELD_LIMIT:
                yield from row_path(b"".join(parts), (positions, width), line_number)
                return
            # A read stops at a chunk's end unless little is held (the rest of a line): a block is
            # about a chunk, and a steady stream reads whole chunks.
            want = step if size < small or size + step <= chunk_bytes else max(small, chunk_bytes - size)
            chunk = raw.read(want)
            eof = not chunk
            found = _newlines(chunk)
            step = min(2 * step, chunk_bytes) if found * SPARSE_LINE < len(chunk) else small
            parts.append(chunk)
            size, lines = size + len(chunk), lines + found
            continue
        buf = b"".join(parts)
        cut = buf.rfind(b"\n")
        if eof and cut != len(buf) - 1 and buf:
            block, buf, in_block = buf + b"\n", b"", lines + 1  # the last line may lack its newline
        elif cut < 0:
            return
        else:
            block, buf, in_block = buf[: cut + 1], buf[cut + 1 :], lines
        parts, size, lines = [buf], len(buf), 0  # after the cut, no newline is left
        if not is_plain(block) or _longest_line(block) > CSV_FIELD_LIMIT:
            yield from row_path(block + buf, (positions, width), line_number)
            return
        if in_block <= BLOCK_LINES:
            yield CsvBlock(block, line_number, positions, width)
            line_number += in_block
            continue
        start = 0
        for end in _line_cuts(block, BLOCK_LINES):
            yield CsvBlock(block[start:end], line_number, positions, width)
            line_number += min(BLOCK_LINES, in_block)
            in_block -= BLOCK_LINES
            start = end


def _line_cuts(block: bytes, most: int) -> list[int]:
    """Where to cut a block of whole lines into pieces of `most` lines (the last may hold fewer):
    the offset after every most-th newline, and the block's end. Searched a window at a time, so
    the positions held never outnumber a window's bytes."""
    view, cuts, seen = np.frombuffer(block, np.uint8), [], 0
    for start in range(0, len(block), _CUT_WINDOW):
        ends = np.flatnonzero(view[start : start + _CUT_WINDOW] == ord("\n"))
        first = (most - seen % most) - 1  # index in ends of the next most-th newline
        cuts += (ends[first::most] + start + 1).tolist()
        seen += len(ends)
    if not cuts or cuts[-1] != len(block):
        cuts.append(len(block))
    return cuts


def _newlines(data: bytes) -> int:
    """bytes.count(b"\n"), in a third of its time on a block."""
    return int(np.count_nonzero(np.frombuffer(data, np.uint8) == ord("\n")))


def _longest_line(block: bytes) -> int:
    if len(block) <= CSV_FIELD_LIMIT:
        return len(block)
    ends = np.flatnonzero(np.frombuffer(block, np.uint8) == ord("\n"))
    return int(np.diff(ends, prepend=-1).max())


class _LineCapture:
    """Feeds csv.reader line by line and remembers the lines of the current record."""

    def __init__(self, text: io.TextIOBase, first_line: int = 1):
        self._text = text
        self.record: list[str] = []
        self.line_number = first_line - 1

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self._text.readline(LINE_LIMIT + 1)
        if not line:
            raise StopIteration
        if len(line) > LINE_LIMIT:
            raise FileRejected("unreadable_file", f"a line is longer than {LINE_LIMIT} characters")
        self.line_number += 1
        self.record.append(line)
        return line

    def take_record(self) -> str:
        text = "".join(self.record)
        self.record = []
        return text.rstrip("\r\n")


# RFC 4180: a field is free of quotes, or wholly quoted with its inner quotes doubled. Python's
# csv module (even strict) accepts a bare quote inside an unquoted field, so records holding a
# quote are checked against the grammar too.
_FIELD = r'(?:"(?:[^"]++|"")*+"|[^",\r\n]*+)'
_RFC4180_RECORD = re.compile(rf"{_FIELD}(?:,{_FIELD})*")


def _breaks_rfc4180(content: str) -> bool:
    return '"' in content and _RFC4180_RECORD.fullmatch(content) is None


def _is_blank(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _csv_rows(
    binary: BinaryIO, header: tuple[tuple[int, ...], int] | None = None, first_line: int = 1
) -> Iterator[RawRow]:
    """Rows from the start of a file, or (header given) from first_line on, past the header."""
    encoding = "utf-8-sig" if header is None else "utf-8"  # a BOM counts only at the very start
    lines = _LineCapture(io.TextIOWrapper(binary, encoding=encoding, newline=""), first_line)
    reader = csv.reader(lines, strict=True)
    positions, width = header or (None, 0)
    while True:
        start = lines.line_number + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                # The parser stopped inside a field: where the next record starts is unknowable.
                raise FileRejected(
                    "unreadable_file", f"a CSV field is longer than {CSV_FIELD_LIMIT} characters"
                ) from None
            content = lines.take_record()
            if positions is None:
                raise FileRejected("missing_columns", "the header row cannot be parsed") from None
            yield RawRow(start, None, content)
            continue
        content = lines.take_record()
        if _is_blank(fields):
            continue
        if _breaks_rfc4180(content):
            if positions is None:
                raise FileRejected("missing_columns", "the header row cannot be parsed")
            yield RawRow(start, None, content)
            continue
        if positions is None:
            header = [name.strip() for name in fields]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise FileRejected("missing_columns", "header lacks " + ", ".join(missing))
            positions = [header.index(c) for c in REQUIRED_COLUMNS]
            width = len(header)
            continue
        if len(fields) != width:
            yield RawRow(start, None, content)
            continue
        yield RawRow(start, tuple(fields[i] for i in positions), content)


def _jsonl_lines(binary: BinaryIO) -> Iterator[bytes]:
    while raw := binary.readline(LINE_LIMIT + 1):
        if len(raw) > LINE_LIMIT:
            raise FileRejected("unreadable_file", f"a line is longer than {LINE_LIMIT} bytes")
        yield raw


def _jsonl_rows(binary: BinaryIO, first_line: int = 1) -> Iterator[RawRow]:
    for number, raw in enumerate(_jsonl_lines(binary), start=first_line):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        line = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
        if not line.strip():
            continue
        yield RawRow(number, json_values(line), line)


def read_jsonl_items(
    fmt: str, stream: BinaryIO, max_bytes: int, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[JsonlBlock | RawRow]:
    """A JSONL file's lines as blocks (jsonl_blocks) while they are UTF-8 and not too long, then as RawRows.

    Together they are exactly read_rows' rows: same line numbers, same values, same rejections.
    """
    with _file_errors(), _text_ahead(fmt, stream, max_bytes, chunk_bytes) as raw:
        yield from _jsonl_items(raw, chunk_bytes)


def _jsonl_items(raw: _LimitedReader, chunk_bytes: int) -> Iterator[JsonlBlock | RawRow]:
    def row_path(head: bytes, first_line: int) -> Iterator[RawRow]:
        text = io.BufferedReader(_Chain(head, raw), buffer_size=max(chunk_bytes, io.DEFAULT_BUFFER_SIZE))
        return _jsonl_rows(text, first_line)

    buf, eof = b"", False
    while len(buf) < 3 and not eof:  # a BOM counts only at the very start
        chunk = raw.read(chunk_bytes)
        eof = not chunk
        buf += chunk
    parts, size, has_line = [buf.removeprefix(b"\xef\xbb\xbf")], len(buf), b"\n" in buf
    line_number = 1
    while True:
        # About a chunk at a time, and at least one whole line unless the file ends.
        while not eof and (size < chunk_bytes or not has_line) and size <= LINE_LIMIT:
            chunk = raw.read(chunk_bytes)
            eof = not chunk
            parts.append(chunk)
            size, has_line = size + len(chunk), has_line or b"\n" in chunk
        buf = b"".join(parts)
        if not buf:
            return
        if not has_line and not eof:  # a line longer than the limit: the row path rejects the file
            yield from row_path(buf, line_number)
            return
        cut = len(buf) if eof else buf.rfind(b"\n") + 1  # the last line may lack its newline
        block, buf = buf[:cut], buf[cut:]
        parts, size, has_line = [buf], len(buf), False
        if not _is_utf8(block) or _longest_line(block) >= LINE_LIMIT:
            yield from row_path(block + buf, line_number)
            return
        whole = block if block.endswith(b"\n") else block + b"\n"
        start, lines = 0, _newlines(whole)
        for end in _line_cuts(whole, BLOCK_LINES) if lines > BLOCK_LINES else [len(whole)]:
            yield JsonlBlock(whole[start:end], line_number)
            line_number += min(BLOCK_LINES, lines)
            lines -= BLOCK_LINES
            start = end
        if eof:
            return


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class ParquetColumns(NamedTuple):
    """A batch of Parquet rows whose six fields all have a fast text (parquet_columns): validated as columns."""

    first_row: int  # 1-based row number of the batch's first row
    columns: list[pa.Array]  # ASCII string arrays, REQUIRED_COLUMNS order, each value _column_text's text


def read_parquet_items(stream: BinaryIO, batch_rows: int = BATCH_ROWS) -> Iterator[ParquetColumns | RawRow]:
    """read_rows' Parquet rows, with the batches whose columns all convert whole handed over as columns."""
    with _file_errors():
        for first_row, batch in _parquet_batches(stream, batch_rows):
            with _undecodable():
                columns = _text_columns(batch)
            if columns is None:
                yield from _batch_rows(first_row, batch)
            else:
                yield ParquetColumns(first_row, columns)


def _text_columns(batch: pa.RecordBatch) -> list[pa.Array] | None:
    """The six columns' fast texts, or None at the first that has none: the batch keeps the row path."""
    columns = []
    for i in range(len(REQUIRED_COLUMNS)):
        texts = text_column(batch.column(i), _column_text)
        if texts is None:
            return None
        columns.append(texts)
    return columns


@contextlib.contextmanager
def _undecodable():
    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        raise FileRejected("unreadable_file", f"Parquet data cannot be decoded: {exc}") from None


def _parquet_rows(stream: BinaryIO, batch_rows: int) -> Iterator[RawRow]:
    for first_row, batch in _parquet_batches(stream, batch_rows):
        yield from _batch_rows(first_row, batch)


def _batch_rows(first_row: int, batch: pa.RecordBatch) -> Iterator[RawRow]:
    with _undecodable():
        columns = [_column_text(batch.column(i)) for i in range(len(REQUIRED_COLUMNS))]
    for number, values in enumerate(zip(*columns, strict=True), start=first_row):
        yield RawRow(number, values, None)


def _parquet_batches(stream: BinaryIO, batch_rows: int) -> Iterator[tuple[int, pa.RecordBatch]]:
    stream.seek(0, io.SEEK_END)
    if stream.tell() == 0:
        return
    stream.seek(0)
    try:
        parquet = pq.ParquetFile(stream)
        names = parquet.schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise FileRejected("unreadable_file", f"not a readable Parquet file: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise FileRejected("missing_columns", "schema lacks " + ", ".join(missing))
    first_row = 1
    batches = parquet.iter_batches(batch_size=batch_rows, columns=list(REQUIRED_COLUMNS))
    while True:
        with _undecodable():
            batch = next(batches, None)
        if batch is None:
            return
        yield first_row, batch
        first_row += batch.num_rows


def _timestamp_text(value: int, unit: str) -> str:
    digits = UNIT_DIGITS[unit]
    seconds, fraction = divmod(value, 10**digits)
    try:
        moment = _EPOCH + dt.timedelta(seconds=seconds)
    except OverflowError:
        return "out of range"
    text = moment.isoformat(timespec="seconds")
    return f"{text}.{fraction:0{digits}d}Z" if digits else f"{text}Z"


def _date_text(days: int) -> str:
    try:
        return (_EPOCH + dt.timedelta(days=days)).date().isoformat()
    except OverflowError:  # beyond Python's years 1..9999, as _timestamp_text
        return "out of range"


def _column_text(array: pa.Array) -> list[str | None]:
    """A column's values as the text the contract validates; native types in canonical form."""
    kind = array.type
    if pat.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if pat.is_string(kind) or pat.is_large_string(kind) or pat.is_string_view(kind):
        return array.to_pylist()
    if pat.is_timestamp(kind):
        unit = kind.unit
        return [None if v is None else _timestamp_text(v, unit) for v in array.cast(pa.int64()).to_pylist()]
    if pat.is_date(kind):
        if pat.is_date64(kind):  # milliseconds
            days = [None if v is None else v // 86_400_000 for v in array.cast(pa.int64()).to_pylist()]
        else:
            days = array.cast(pa.int32()).to_pylist()
        return [None if v is None else _date_text(v) for v in days]
    values = array.to_pylist()
    if pat.is_decimal(kind):
        return [None if v is None else format(v, "f") for v in values]
    if pat.is_floating(kind):
        return [None if v is None else repr(v) for v in values]
    if pat.is_binary(kind) or pat.is_large_binary(kind):
        return [None if v is None else v.decode("utf-8") for v in values]
    return [json_text(v) for v in values]
