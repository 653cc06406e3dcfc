"""Day aggregation: rows in, exact totals out.

Scanning (ShardScanner) counts what each file holds and spills its valid rows to partition files
(dedupe.py); a file's counts join the shard only once the whole file has been read, because a
file found unreadable half-way contributes no records at all (its spilled rows are excluded when
the day is resolved). summarize() turns one or more shards' scans plus the resolution of their
spilled rows into the report's numbers.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import IO

import numpy as np
import pyarrow as pa

from pipeline_project.core.columnar import BlockRows, records_batch
from pipeline_project.core.contract import EVENT_TYPES, REQUIRED_COLUMNS, ROW_REASONS
from pipeline_project.core.dedupe import SPILL_SCHEMA, PartitionWriter, Resolved
from pipeline_project.core.readers import RawRow
from pipeline_project.core.validation import validate

_SPOOL_BYTES = 8 << 20
_json_text = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) writes a str as
_BATCH_ROWS = 65_536


@dataclass
class InputFile:
    """What the report says about one file under the day's prefix."""

    key: str
    size_bytes: int
    etag: str | None
    version_id: str | None
    format: str | None
    status: str = "processed"
    reason: str | None = None
    detail: str | None = None
    records_read: int = 0
    records_valid: int = 0
    records_rejected: int = 0
    records_duplicates: int = 0
    quarantine_key: str | None = None


@dataclass
class ScanCounts:
    """A shard's row counts before de-duplication; picklable, so it can cross process boundaries."""

    read: int = 0
    rejected: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    valid_by_file: dict[int, int] = field(default_factory=dict)  # day file index -> valid rows spilled
    excluded_files: list[int] = field(default_factory=list)  # spilled, then quarantined


class FileTally:
    """One file's rows, kept apart from the shard until the file has been read to the end."""

    def __init__(self, scanner: ShardScanner, entry: InputFile, index: int):
        self._scanner = scanner
        self.entry = entry
        self.index = index
        self.read = 0
        self.rejected_by_reason: Counter = Counter()
        self.valid = 0
        self.rejected_rows: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
        self._pending: list[tuple] = []
        # What every quarantine line of this file starts with, as json.dumps writes the line's object.
        version = "null" if entry.version_id is None else _json_text(entry.version_id)
        self._line_start = f'{{"key": {_json_text(entry.key)}, "version_id": {version}, "row_number": '

    def add(self, row: RawRow) -> None:
        """One row from the row path (JSONL, Parquet, CSV that is not plain)."""
        self.read += 1
        result = "malformed_row" if row.values is None else validate(*row.values)
        if isinstance(result, str):
            self.rejected_by_reason[result] += 1
            self._quarantine_row(row.row_number, result, _content(row))
            return
        self._pending.append(result)
        if len(self._pending) >= _BATCH_ROWS:
            self.flush()

    def add_block(self, rows: BlockRows, parts: list[tuple[int, pa.RecordBatch]]) -> None:
        """A validated block (plain CSV lines, ASCII Parquet batch); parts: its valid rows by partition."""
        self.flush()
        self.read += rows.read
        self.rejected_by_reason.update(reason for _line, reason, _content in rows.rejected)
        self.rejected_rows.write(self._quarantine_lines(rows.rejected))
        self.valid += rows.valid.num_rows
        self._scanner.spill.write_parts(parts)

    def flush(self) -> None:
        if not self._pending:
            return
        records, self._pending = self._pending, []
        batch = records_batch(records)
        self.valid += batch.num_rows
        self._scanner.spill.write(self.spill_batch(batch))

    def spill_batch(self, valid: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays(
            [*valid.columns, pa.array(np.full(valid.num_rows, self.index, np.int32))], schema=SPILL_SCHEMA
        )

    def _quarantine_row(self, row_number: int, reason: str, content: str) -> None:
        self.rejected_rows.write(self._quarantine_lines([(row_number, reason, content)]))

    def _quarantine_lines(self, rows: list[tuple[int, str, str]]) -> bytes:
        """Each row's line {"key", "version_id", "row_number", "reason", "content"} exactly as
        json.dumps(line, ensure_ascii=False) writes it (the same string encoder), a block's at once."""
        start = self._line_start
        return "".join(
            f'{start}{number}, "reason": {_json_text(reason)}, "content": {_json_text(content)}}}\n'
            for number, reason, content in rows
        ).encode()


def _content(row: RawRow) -> str:
    if row.content is not None:
        return row.content
    return json.dumps(dict(zip(REQUIRED_COLUMNS, row.values or (), strict=False)), ensure_ascii=False)


class ShardScanner:
    """The files of one shard (or of a whole day), in order: counts, rejected rows, spilled valid rows."""

    def __init__(self, spill_directory: str, partitions: int):
        self.inputs: list[InputFile] = []
        self.counts = ScanCounts()
        self.spill = PartitionWriter(spill_directory, partitions, SPILL_SCHEMA, "event_id")
        self.rejected_rows: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)

    def start_file(self, entry: InputFile, index: int) -> FileTally:
        return FileTally(self, entry, index)

    def commit(self, tally: FileTally) -> None:
        tally.flush()
        entry, counts = tally.entry, self.counts
        rejected = sum(tally.rejected_by_reason.values())
        entry.records_read, entry.records_rejected = tally.read, rejected
        counts.read += tally.read
        counts.rejected += rejected
        counts.rejected_by_reason.update(tally.rejected_by_reason)
        counts.valid_by_file[tally.index] = tally.valid
        tally.rejected_rows.seek(0)
        while chunk := tally.rejected_rows.read(1 << 20):
            self.rejected_rows.write(chunk)
        tally.rejected_rows.close()
        self.inputs.append(entry)

    def quarantine(self, entry: InputFile, reason: str, detail: str, tally: FileTally | None = None) -> None:
        """The whole file is set aside: none of its rows count, including any already spilled."""
        if tally is not None:
            tally.rejected_rows.close()
            if tally.valid:  # rows not yet flushed are simply dropped
                self.counts.excluded_files.append(tally.index)
        entry.status, entry.reason, entry.detail = "quarantined", reason, detail
        self.inputs.append(entry)

    def finish(self) -> list[int]:
        """Closes the spill; returns the partitions that hold rows."""
        return self.spill.close()


def summarize(inputs: list[InputFile], counts: list[ScanCounts], resolved: Resolved, day_indexes: list[int]) -> dict:
    """The report's numbers from every shard's scan (in day order) and the spilled rows' resolution.

    day_indexes[n] is inputs[n]'s index among the day's files; each processed file's valid and
    duplicate counts are filled in here, now that first occurrences are known.
    """
    read = sum(c.read for c in counts)
    rejected = sum(c.rejected for c in counts)
    by_reason: Counter = Counter()
    valid_by_file: dict[int, int] = {}
    for c in counts:
        by_reason.update(c.rejected_by_reason)
        valid_by_file.update(c.valid_by_file)
    for entry, index in zip(inputs, day_indexes, strict=True):
        if entry.status == "processed":
            entry.records_duplicates = resolved.duplicates_by_file.get(index, 0)
            entry.records_valid = valid_by_file.get(index, 0) - entry.records_duplicates
    return {
        "records": {
            "read": read,
            "valid": resolved.valid,
            "rejected": rejected,
            "duplicates": sum(resolved.duplicates_by_file.values()),
        },
        "rejected_by_reason": {reason: by_reason[reason] for reason in ROW_REASONS},
        "events_by_type": dict(zip(EVENT_TYPES, resolved.events_by_type, strict=True)),
        "unique_users": resolved.unique_users,
        "hourly_events": list(resolved.hourly),
        "revenue": {
            currency: {
                "gross": format_cents(gross),
                "refunds": format_cents(refunds),
                "net": format_cents(gross - refunds),
            }
            for currency, (gross, refunds) in sorted(resolved.revenue_cents.items())
        },
    }


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
