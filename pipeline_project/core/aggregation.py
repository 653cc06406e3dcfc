"""Day aggregation: rows in, exact totals out.

A file's rows are tallied on their own and merged into the day only once the whole file has
been read, because a file found unreadable half-way contributes no records at all.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import IO

from pipeline_project.core.contract import EVENT_TYPES, REQUIRED_COLUMNS, ROW_REASONS
from pipeline_project.core.readers import RawRow
from pipeline_project.core.validation import validate

_SPOOL_BYTES = 8 << 20


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
class Totals:
    read: int = 0
    valid: int = 0
    rejected: int = 0
    duplicates: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    events_by_type: Counter = field(default_factory=Counter)
    hourly: list[int] = field(default_factory=lambda: [0] * 24)
    # currency -> [gross cents, refund cents]
    revenue_cents: dict[str, list[int]] = field(default_factory=dict)

    def merge(self, other: Totals) -> None:
        self.read += other.read
        self.valid += other.valid
        self.rejected += other.rejected
        self.duplicates += other.duplicates
        self.rejected_by_reason.update(other.rejected_by_reason)
        self.events_by_type.update(other.events_by_type)
        self.hourly = [a + b for a, b in zip(self.hourly, other.hourly, strict=True)]
        for currency, (gross, refunds) in other.revenue_cents.items():
            sums = self.revenue_cents.setdefault(currency, [0, 0])
            sums[0] += gross
            sums[1] += refunds


class FileTally:
    """One file's rows, kept apart from the day until the file has been read to the end."""

    def __init__(self, day: DayAggregator, entry: InputFile):
        self._day = day
        self.entry = entry
        self.totals = Totals()
        self.event_ids: set[str] = set()
        self.users: set[str] = set()
        self.rejected_rows: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)

    def add(self, row: RawRow) -> None:
        totals = self.totals
        totals.read += 1
        result = "malformed_row" if row.values is None else validate(*row.values)
        if isinstance(result, str):
            totals.rejected += 1
            totals.rejected_by_reason[result] += 1
            self._quarantine_row(row, result)
            return
        if result.event_id in self.event_ids or result.event_id in self._day.event_ids:
            totals.duplicates += 1
            return
        self.event_ids.add(result.event_id)
        totals.valid += 1
        totals.events_by_type[result.event_type] += 1
        totals.hourly[result.utc_hour] += 1
        self.users.add(result.user_id)
        if result.currency is not None:
            sums = totals.revenue_cents.setdefault(result.currency, [0, 0])
            sums[0 if result.event_type == "purchase" else 1] += result.amount_cents

    def _quarantine_row(self, row: RawRow, reason: str) -> None:
        content = row.content
        if content is None:
            content = json.dumps(dict(zip(REQUIRED_COLUMNS, row.values or (), strict=False)), ensure_ascii=False)
        line = {
            "key": self.entry.key,
            "version_id": self.entry.version_id,
            "row_number": row.row_number,
            "reason": reason,
            "content": content,
        }
        self.rejected_rows.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")


class DayAggregator:
    """The day's inputs and totals; rejected rows accumulate in a local spool for the quarantine."""

    def __init__(self):
        self.inputs: list[InputFile] = []
        self.totals = Totals()
        self.event_ids: set[str] = set()
        self.users: set[str] = set()
        self.rejected_rows: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)

    def start_file(self, entry: InputFile) -> FileTally:
        return FileTally(self, entry)

    def commit(self, tally: FileTally) -> None:
        entry = tally.entry
        t = tally.totals
        entry.records_read, entry.records_valid = t.read, t.valid
        entry.records_rejected, entry.records_duplicates = t.rejected, t.duplicates
        self.totals.merge(t)
        self.event_ids |= tally.event_ids
        self.users |= tally.users
        tally.rejected_rows.seek(0)
        while chunk := tally.rejected_rows.read(1 << 20):
            self.rejected_rows.write(chunk)
        tally.rejected_rows.close()
        self.inputs.append(entry)

    def quarantine(self, entry: InputFile, reason: str, detail: str, tally: FileTally | None = None) -> None:
        """The whole file is set aside: none of its rows count."""
        if tally is not None:
            tally.rejected_rows.close()
        entry.status, entry.reason, entry.detail = "quarantined", reason, detail
        self.inputs.append(entry)

    def summary(self) -> dict:
        t = self.totals
        return {
            "records": {"read": t.read, "valid": t.valid, "rejected": t.rejected, "duplicates": t.duplicates},
            "rejected_by_reason": {reason: t.rejected_by_reason[reason] for reason in ROW_REASONS},
            "events_by_type": {kind: t.events_by_type[kind] for kind in EVENT_TYPES},
            "unique_users": len(self.users),
            "hourly_events": list(t.hourly),
            "revenue": {
                currency: {
                    "gross": format_cents(gross),
                    "refunds": format_cents(refunds),
                    "net": format_cents(gross - refunds),
                }
                for currency, (gross, refunds) in sorted(t.revenue_cents.items())
            },
        }


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
