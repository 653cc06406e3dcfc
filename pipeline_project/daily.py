"""One day, end to end: storage -> core -> storage.

compute_day reads the day's raw objects and builds the report without writing anything;
publish_day writes the quarantine first and the report last, each write atomic, so a reader
(or a rerun after a crash) sees either the previous complete report or the new one.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline_project.core.aggregation import DayAggregator, InputFile
from pipeline_project.core.contract import (
    QUARANTINE_PREFIX,
    REPORTS_PREFIX,
    data_format,
    is_ignored,
    quarantine_day_prefix,
    raw_day_prefix,
    report_key,
)
from pipeline_project.core.readers import BATCH_ROWS, CHUNK_BYTES, FileRejected, read_rows
from pipeline_project.core.report import build_report, encode_report
from pipeline_project.storage import ObjectInfo, Storage


class NoDataError(Exception):
    """The day has no raw files: there is nothing to report on."""


@dataclass
class DayOutcome:
    day: str
    report: dict
    aggregator: DayAggregator
    quarantined: list[tuple[ObjectInfo, InputFile]] = field(default_factory=list)


def rows_key(day: str) -> str:
    return f"{quarantine_day_prefix(day)}rejected_rows.jsonl"


def files_manifest_key(day: str) -> str:
    return f"{quarantine_day_prefix(day)}quarantined_files.jsonl"


def quarantined_file_key(day: str, relative: str) -> str:
    return f"{quarantine_day_prefix(day)}files/{relative}"


def day_inputs(storage: Storage, day: str) -> list[ObjectInfo]:
    """The objects the contract considers for a day: everything but markers and temporary files."""
    prefix = raw_day_prefix(day)
    return [o for o in storage.list_objects(prefix) if not is_ignored(o.key[len(prefix) :])]


def compute_day(
    storage: Storage,
    day: str,
    run_id: str,
    max_file_bytes: int,
    on_file: Callable[[InputFile], None] = lambda entry: None,
    chunk_bytes: int = CHUNK_BYTES,
    batch_rows: int = BATCH_ROWS,
) -> DayOutcome:
    prefix = raw_day_prefix(day)
    objects = day_inputs(storage, day)
    if not objects:
        raise NoDataError(f"no raw data files for {day} under {storage.location(prefix)}")
    aggregator = DayAggregator()
    outcome = DayOutcome(day, {}, aggregator)
    for obj in objects:
        relative = obj.key[len(prefix) :]
        fmt = data_format(relative)
        entry = InputFile(obj.key, obj.size, obj.etag, obj.version_id, fmt)
        problem = _process_file(storage, obj, entry, aggregator, max_file_bytes, chunk_bytes, batch_rows)
        if problem is not None:
            entry.quarantine_key = quarantined_file_key(day, relative)
            outcome.quarantined.append((obj, entry))
        on_file(entry)
    quarantine = {
        "prefix": quarantine_day_prefix(day),
        "rows_key": rows_key(day) if aggregator.totals.rejected else None,
        "files_key": files_manifest_key(day) if outcome.quarantined else None,
    }
    generated_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    outcome.report = build_report(day, run_id, generated_at, storage.location(prefix), aggregator, quarantine)
    return outcome


def _process_file(
    storage: Storage,
    obj: ObjectInfo,
    entry: InputFile,
    aggregator: DayAggregator,
    max_file_bytes: int,
    chunk_bytes: int,
    batch_rows: int,
) -> FileRejected | None:
    if entry.format is None:
        problem = FileRejected(
            "unsupported_format", "the extension is not .csv, .csv.gz, .jsonl, .jsonl.gz or .parquet"
        )
        aggregator.quarantine(entry, problem.reason, problem.detail)
        return problem
    if obj.size > max_file_bytes:
        problem = FileRejected("too_large", f"{obj.size} bytes exceeds {max_file_bytes}")
        aggregator.quarantine(entry, problem.reason, problem.detail)
        return problem
    tally = aggregator.start_file(entry)
    try:
        with storage.open(obj) as stream:
            source = stream
            if entry.format == "parquet":
                # Parquet keeps its footer at the end, so it needs a seekable local copy.
                source = tempfile.TemporaryFile()
                shutil.copyfileobj(stream, source, 1 << 20)
            try:
                for row in read_rows(entry.format, source, max_file_bytes, chunk_bytes, batch_rows):
                    tally.add(row)
            finally:
                if source is not stream:
                    source.close()
    except FileRejected as problem:
        aggregator.quarantine(entry, problem.reason, problem.detail, tally)
        return problem
    aggregator.commit(tally)
    return None


class _Outputs:
    """Storage as publish_day may use it: writes only under reports/ and quarantine/.

    Raw data belongs to the producers; this is the one place the pipeline writes, and it
    cannot touch raw-data/ whatever a key looks like.
    """

    WRITABLE = (f"{REPORTS_PREFIX}/", f"{QUARANTINE_PREFIX}/")

    def __init__(self, storage: Storage):
        self._storage = storage

    def _check(self, key: str) -> str:
        if not key.startswith(self.WRITABLE) or "/../" in f"/{key}/":
            raise PermissionError(f"refusing to write {key!r}: the pipeline writes only reports/ and quarantine/")
        return key

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        return self._storage.list_objects(prefix)

    def write(self, key: str, data, content_type: str) -> None:
        self._storage.write(self._check(key), data, content_type)

    def copy(self, obj: ObjectInfo, dest_key: str) -> None:
        self._storage.copy(obj, self._check(dest_key))

    def delete(self, keys) -> None:
        self._storage.delete([self._check(k) for k in keys])


def publish_day(storage: Storage, outcome: DayOutcome) -> str:
    """Write the quarantine, then the report; returns the report's key."""
    storage = _Outputs(storage)
    day = outcome.day
    aggregator = outcome.aggregator
    wanted = set()
    for obj, entry in outcome.quarantined:
        storage.copy(obj, entry.quarantine_key)
        wanted.add(entry.quarantine_key)
    stale = [o.key for o in storage.list_objects(f"{quarantine_day_prefix(day)}files/") if o.key not in wanted]
    storage.delete(stale)
    if outcome.quarantined:
        manifest = b"".join(
            json.dumps(
                {
                    "key": e.key,
                    "version_id": e.version_id,
                    "etag": e.etag,
                    "reason": e.reason,
                    "detail": e.detail,
                    "quarantine_key": e.quarantine_key,
                },
                ensure_ascii=False,
            ).encode()
            + b"\n"
            for _obj, e in outcome.quarantined
        )
        storage.write(files_manifest_key(day), io.BytesIO(manifest), "application/x-ndjson")
    else:
        storage.delete([files_manifest_key(day)])
    if aggregator.totals.rejected:
        storage.write(rows_key(day), aggregator.rejected_rows, "application/x-ndjson")
    else:
        storage.delete([rows_key(day)])
    key = report_key(day)
    storage.write(key, io.BytesIO(encode_report(outcome.report)), "application/json")
    return key
