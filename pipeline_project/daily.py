"""One day, end to end: storage -> core -> storage.

A day is planned (its files, in key order, cut into shards of consecutive files), each shard is
scanned (rows validated, counted, valid rows spilled to partition files), and the shards are
merged (spilled rows resolved partition by partition: exact first occurrences and distinct
users). compute_day does all three in one process; the Dagster asset runs them as steps, shards
in parallel, with the shards' files passed through storage under work/. Nothing is written to
reports/ or quarantine/ until publish_day: the quarantine first and the report last, each write
atomic, so a reader (or a rerun after a crash) sees either the previous complete report or the
new one.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO

from pipeline_project.core.aggregation import FileTally, InputFile, ScanCounts, ShardScanner, summarize
from pipeline_project.core.columnar import text_columns_rows
from pipeline_project.core.contract import (
    QUARANTINE_PREFIX,
    REPORTS_PREFIX,
    WORK_PREFIX,
    data_format,
    is_ignored,
    quarantine_day_prefix,
    raw_day_prefix,
    report_key,
)
from pipeline_project.core.csv_blocks import CsvBlock, parse_block
from pipeline_project.core.dedupe import TARGET_PARTITION_BYTES, partitions_for, resolve
from pipeline_project.core.jsonl_blocks import JsonlBlock
from pipeline_project.core.jsonl_blocks import parse_block as parse_jsonl_block
from pipeline_project.core.readers import (
    BATCH_ROWS,
    CHUNK_BYTES,
    FileRejected,
    ParquetColumns,
    RawRow,
    read_csv_items,
    read_jsonl_items,
    read_parquet_items,
)
from pipeline_project.core.report import build_report, encode_report, reconciliation_problems
from pipeline_project.day_lease import check_held
from pipeline_project.storage import ObjectInfo, Storage

# How many times its size on disk a file's rows typically take once read (only sizes partitions):
# gzip text expands about 8x; Parquet is about 26 bytes a row on disk against 72 in CSV.
EXPANSION = {".gz": 8, ".parquet": 3}
PARSE_THREADS = max(1, min(4, os.cpu_count() or 1))


class NoDataError(Exception):
    """The day has no raw files: there is nothing to report on."""


class UnbalancedReport(Exception):
    """The report does not reconcile, so it is never written."""

    def __init__(self, day: str, problems: list[str]):
        super().__init__(f"report for {day} does not reconcile: {'; '.join(problems)}")
        self.problems = problems


@dataclass(frozen=True)
class DayPlan:
    day: str
    objects: list[ObjectInfo]  # the day's files, in key order
    partitions: int  # spill partitions, from the day's expected content size
    shards: list[tuple[int, int]]  # [start, end) ranges of objects, in order


@dataclass
class ShardScan:
    """One shard's scan: small and picklable; its spilled files are local or under work/."""

    day: str
    shard: int
    inputs: list[InputFile]
    indexes: list[int]  # each input's index among the day's files
    counts: ScanCounts
    partitions: list[int]  # spill partitions holding rows
    quarantined: list[tuple[ObjectInfo, InputFile]]
    directory: str | None  # local folder of the spilled files, or
    work_prefix: str | None  # the storage prefix they were moved to


@dataclass
class DayOutcome:
    day: str
    report: dict
    rejected_rows: IO[bytes]
    quarantined: list[tuple[ObjectInfo, InputFile]] = field(default_factory=list)


def rows_key(day: str) -> str:
    return f"{quarantine_day_prefix(day)}rejected_rows.jsonl"


def files_manifest_key(day: str) -> str:
    return f"{quarantine_day_prefix(day)}quarantined_files.jsonl"


def quarantined_file_key(day: str, relative: str) -> str:
    return f"{quarantine_day_prefix(day)}files/{relative}"


def work_prefix(day: str, run_id: str) -> str:
    return f"{WORK_PREFIX}/{day}/{run_id}/"


def day_inputs(storage: Storage, day: str) -> list[ObjectInfo]:
    """The objects the contract considers for a day: everything but markers and temporary files."""
    prefix = raw_day_prefix(day)
    return [o for o in storage.list_objects(prefix) if not is_ignored(o.key[len(prefix) :])]


def plan_day(
    storage: Storage, day: str, shard_bytes: int = 0, partition_bytes: int = TARGET_PARTITION_BYTES
) -> DayPlan:
    """The day's files, cut into shards of about shard_bytes each (0: a single shard), and the
    number of spill partitions: one per partition_bytes of expected content."""
    prefix = raw_day_prefix(day)
    objects = day_inputs(storage, day)
    if not objects:
        raise NoDataError(f"no raw data files for {day} under {storage.location(prefix)}")
    expected = sum(o.size * EXPANSION.get(os.path.splitext(o.key)[1], 1) for o in objects)
    shards: list[tuple[int, int]] = []
    start, size = 0, 0
    for n, obj in enumerate(objects):
        if shard_bytes > 0 and n > start and size + obj.size > shard_bytes:
            shards.append((start, n))
            start, size = n, 0
        size += obj.size
    shards.append((start, len(objects)))
    return DayPlan(day, objects, partitions_for(expected, partition_bytes), shards)


def compute_day(
    storage: Storage,
    day: str,
    run_id: str,
    max_file_bytes: int,
    on_file: Callable[[InputFile], None] = lambda entry: None,
    chunk_bytes: int = CHUNK_BYTES,
    batch_rows: int = BATCH_ROWS,
    shard_bytes: int = 0,
    partition_bytes: int = TARGET_PARTITION_BYTES,
) -> DayOutcome:
    """Plan, scan every shard and merge, in this process, spilling to a local temporary folder."""
    plan = plan_day(storage, day, shard_bytes, partition_bytes)
    with tempfile.TemporaryDirectory(prefix="pipeline-spill-") as spill:
        scans = [
            scan_shard(
                storage, plan, n, max_file_bytes, spill, on_file=on_file, chunk_bytes=chunk_bytes, batch_rows=batch_rows
            )
            for n in range(len(plan.shards))
        ]
        return merge_day(storage, plan, scans, run_id, spill)


def scan_shard(
    storage: Storage,
    plan: DayPlan,
    shard: int,
    max_file_bytes: int,
    spill_directory: str,
    on_file: Callable[[InputFile], None] = lambda entry: None,
    chunk_bytes: int = CHUNK_BYTES,
    batch_rows: int = BATCH_ROWS,
    move_to: str | None = None,
) -> ShardScan:
    """Read one shard's files; its spilled rows stay in spill_directory, or move to storage at move_to."""
    prefix = raw_day_prefix(plan.day)
    directory = os.path.join(spill_directory, f"shard-{shard:04d}")
    shutil.rmtree(directory, ignore_errors=True)  # a retried step starts afresh
    scanner = ShardScanner(directory, plan.partitions)
    start, end = plan.shards[shard]
    scan = ShardScan(plan.day, shard, scanner.inputs, list(range(start, end)), scanner.counts, [], [], directory, None)
    for index in range(start, end):
        obj = plan.objects[index]
        relative = obj.key[len(prefix) :]
        entry = InputFile(obj.key, obj.size, obj.etag, obj.version_id, data_format(relative))
        problem = _process_file(storage, obj, entry, index, scanner, max_file_bytes, chunk_bytes, batch_rows)
        if problem is not None:
            entry.quarantine_key = quarantined_file_key(plan.day, relative)
            scan.quarantined.append((obj, entry))
        on_file(entry)
    scan.partitions = scanner.finish()
    with open(os.path.join(directory, "rejected_rows.jsonl"), "wb") as out:
        scanner.rejected_rows.seek(0)
        shutil.copyfileobj(scanner.rejected_rows, out, 1 << 20)
    scanner.rejected_rows.close()
    if move_to is not None:
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name), "rb") as data:
                _Outputs(storage).write(f"{move_to}shard-{shard:04d}/{name}", data, "application/octet-stream")
        shutil.rmtree(directory)
        scan.directory, scan.work_prefix = None, move_to
    return scan


def merge_day(storage: Storage, plan: DayPlan, scans: list[ShardScan], run_id: str, spill_directory: str) -> DayOutcome:
    """The day's report from its shards' scans, given in shard order."""
    scans = sorted(scans, key=lambda s: s.shard)
    if [s.shard for s in scans] != list(range(len(plan.shards))):
        raise ValueError(f"merge needs every shard of {plan.day} once, got {[s.shard for s in scans]}")
    fetched = os.path.join(spill_directory, "merge")
    os.makedirs(fetched, exist_ok=True)

    # Shards whose files went to storage: one listing each, then every file streamed to local disk.
    stored = {
        s.shard: {o.key: o for o in storage.list_objects(f"{s.work_prefix}shard-{s.shard:04d}/")}
        for s in scans
        if s.work_prefix is not None
    }

    def local(scan: ShardScan, name: str) -> str:
        if scan.work_prefix is None:
            return os.path.join(scan.directory, name)
        obj = stored[scan.shard].get(f"{scan.work_prefix}shard-{scan.shard:04d}/{name}")
        if obj is None:
            raise FileNotFoundError(f"shard {scan.shard} of {plan.day} lost its {name} under {scan.work_prefix}")
        path = os.path.join(fetched, f"{scan.shard:04d}-{name}")
        with storage.open(obj) as stream, open(path, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        return path

    def fetch(partition: int) -> list[str]:
        return [local(s, f"part-{partition:04d}.arrow") for s in scans if partition in s.partitions]

    def release(paths: list[str]) -> None:
        for path in paths:
            if path.startswith(fetched):
                os.remove(path)

    excluded = [index for s in scans for index in s.counts.excluded_files]
    resolved = resolve(plan.partitions, fetch, release, excluded, os.path.join(spill_directory, "users"), PARSE_THREADS)
    rejected_rows = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    for scan in scans:
        with open(local(scan, "rejected_rows.jsonl"), "rb") as part:
            shutil.copyfileobj(part, rejected_rows, 1 << 20)
    inputs = [entry for s in scans for entry in s.inputs]
    summary = summarize(inputs, [s.counts for s in scans], resolved, [i for s in scans for i in s.indexes])
    quarantined = [q for s in scans for q in s.quarantined]
    day = plan.day
    quarantine = {
        "prefix": quarantine_day_prefix(day),
        "rows_key": rows_key(day) if summary["records"]["rejected"] else None,
        "files_key": files_manifest_key(day) if quarantined else None,
    }
    generated_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    source = storage.location(raw_day_prefix(day))
    report = build_report(day, run_id, generated_at, source, inputs, summary, quarantine)
    return DayOutcome(day, report, rejected_rows, quarantined)


def clear_work(storage: Storage, prefix: str) -> None:
    """Removes a sharded run's intermediate files once its report is written."""
    outputs = _Outputs(storage)
    outputs.delete([o.key for o in outputs.list_objects(prefix)])


def _process_file(
    storage: Storage,
    obj: ObjectInfo,
    entry: InputFile,
    index: int,
    scanner: ShardScanner,
    max_file_bytes: int,
    chunk_bytes: int,
    batch_rows: int,
) -> FileRejected | None:
    if entry.format is None:
        problem = FileRejected(
            "unsupported_format", "the extension is not .csv, .csv.gz, .jsonl, .jsonl.gz or .parquet"
        )
        scanner.quarantine(entry, problem.reason, problem.detail)
        return problem
    if obj.size > max_file_bytes:
        problem = FileRejected("too_large", f"{obj.size} bytes exceeds {max_file_bytes}")
        scanner.quarantine(entry, problem.reason, problem.detail)
        return problem
    tally = scanner.start_file(entry, index)
    try:
        with storage.open(obj) as stream:
            if entry.format.startswith("csv"):
                _scan_items(read_csv_items(entry.format, stream, max_file_bytes, chunk_bytes), tally, scanner)
            elif entry.format == "parquet":
                # Parquet keeps its footer at the end, so it needs a seekable local copy.
                with tempfile.TemporaryFile() as source:
                    shutil.copyfileobj(stream, source, 1 << 20)
                    _scan_items(read_parquet_items(source, batch_rows), tally, scanner)
            else:
                _scan_items(read_jsonl_items(entry.format, stream, max_file_bytes, chunk_bytes), tally, scanner)
    except FileRejected as problem:
        scanner.quarantine(entry, problem.reason, problem.detail, tally)
        return problem
    scanner.commit(tally)
    return None


def _scan_items(items, tally: FileTally, scanner: ShardScanner) -> None:
    """Blocks are validated on PARSE_THREADS threads (numpy and Arrow release the GIL) and applied
    in order; single rows (the exact row path) are applied as they come, after the blocks before them."""

    def parse(item: CsvBlock | JsonlBlock | ParquetColumns):
        if isinstance(item, CsvBlock):
            rows = parse_block(item)
        elif isinstance(item, JsonlBlock):
            rows = parse_jsonl_block(item)
        else:
            rows = text_columns_rows(*item)
        return rows, scanner.spill.split(tally.spill_batch(rows.valid))

    pending: deque = deque()
    with ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="blocks") as pool:
        try:
            for item in items:
                if isinstance(item, RawRow):
                    while pending:
                        tally.add_block(*pending.popleft().result())
                    tally.add(item)
                    continue
                pending.append(pool.submit(parse, item))
                while len(pending) > 2 * PARSE_THREADS:
                    tally.add_block(*pending.popleft().result())
            while pending:
                tally.add_block(*pending.popleft().result())
        finally:
            for future in pending:
                future.cancel()


class _Outputs:
    """Storage as publish_day may use it: writes only under reports/ and quarantine/.

    Raw data belongs to the producers; this is the one place the pipeline writes (work/ holds
    a sharded run's intermediate files), and it cannot touch raw-data/ whatever a key looks like.
    """

    WRITABLE = (f"{REPORTS_PREFIX}/", f"{QUARANTINE_PREFIX}/", f"{WORK_PREFIX}/")

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


def publish_day(storage: Storage, outcome: DayOutcome, run_id: str | None = None) -> str:
    """Write the quarantine, then the report; returns the report's key.

    Nothing is written for a report that does not reconcile, nor, for a run (run_id), while
    another run holds the day's lease (day_lease.DayBusy).
    """
    day = outcome.day
    problems = reconciliation_problems(outcome.report)
    if problems:
        raise UnbalancedReport(day, problems)
    if run_id is not None:
        check_held(storage, day, run_id)
    storage = _Outputs(storage)
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
    if outcome.report["records"]["rejected"]:
        storage.write(rows_key(day), outcome.rejected_rows, "application/x-ndjson")
    else:
        storage.delete([rows_key(day)])
    key = report_key(day)
    storage.write(key, io.BytesIO(encode_report(outcome.report)), "application/json")
    return key
