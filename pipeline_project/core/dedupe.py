"""Exact de-duplication and distinct users in bounded memory, by spilling to local disk.

Valid rows are appended, in (file, row) order, to one of N Arrow files chosen by a hash of the
event id, so every occurrence of an id lands in the same file and in order. Resolving one file
at a time then finds each id's first occurrence exactly, holding only 1/N of the day. The users
of first occurrences are spilled again by a hash of the user id and counted per file, so the
distinct count is exact too. Shards of a day write their own files; resolving reads a
partition's files in shard order, which is the day's order again.
"""

from __future__ import annotations

import os
import resource
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline_project.core.columnar import VALID_SCHEMA
from pipeline_project.core.contract import EVENT_TYPES

SPILL_SCHEMA = VALID_SCHEMA.append(pa.field("file", pa.int32()))
_USERS = pa.schema([("user_id", pa.binary())])
TARGET_PARTITION_BYTES = 32 << 20  # of raw input per partition; resolving one holds a few times that
WRITE_BUFFER_BYTES = 32 << 20
_HASH_SLICE = 1 << 16
MAX_PARTITIONS = 4096
_OTHER_FILES = 256  # inputs, logs, sockets: headroom beside the partition files
_MONEY = [n for n, kind in enumerate(EVENT_TYPES) if kind in ("purchase", "refund")]
_PURCHASE = EVENT_TYPES.index("purchase")
_INT64_MAX = (1 << 63) - 1
# Per-position multipliers of the spill hash; fixed so every shard and task agrees.
_MULTIPLIERS = np.random.default_rng(20250615).integers(1, 1 << 62, 64, dtype=np.uint64) | np.uint64(1)


def ensure_open_files(needed: int) -> None:
    """A big day keeps one file open per partition: lift the soft limit on open files if needed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise OSError(f"{needed} files must be open at once but the limit is {hard} (ulimit -n)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def partitions_for(input_bytes: int, partition_bytes: int = TARGET_PARTITION_BYTES) -> int:
    return int(min(MAX_PARTITIONS, max(1, -(-input_bytes // partition_bytes))))


def partition_of(values: pa.Array, partitions: int) -> np.ndarray:
    """A stable partition number per string: a position-weighted sum of its bytes, mixed."""
    if partitions == 1:
        return np.zeros(len(values), np.int64)
    if not (pa.types.is_binary(values.type) or pa.types.is_string(values.type)):
        values = values.cast(pa.binary())
    # A slice at a time: the per-byte temporaries are 8 bytes per input byte.
    return np.concatenate(
        [_hash_slice(values.slice(start, _HASH_SLICE), partitions) for start in range(0, len(values), _HASH_SLICE)]
        or [np.zeros(0, np.int64)]
    )


def _hash_slice(values: pa.Array, partitions: int) -> np.ndarray:
    _validity, offsets, data = values.buffers()
    offs = np.frombuffer(offsets, np.int32, len(values) + 1, values.offset * 4).astype(np.int64)
    raw = np.frombuffer(data, np.uint8)[offs[0] : offs[-1]] if data is not None else np.zeros(0, np.uint8)
    starts, lengths = offs[:-1] - offs[0], np.diff(offs)
    if len(values) and (lengths == lengths[0]).all():
        sums = _equal_length_sums(raw.reshape(len(values), int(lengths[0])))
    else:
        sums = _byte_sums(raw, starts, lengths)
    mixed = (sums ^ (sums >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    return ((mixed >> np.uint64(32)) % np.uint64(partitions)).astype(np.int64)


def _equal_length_sums(keys: np.ndarray) -> np.ndarray:
    """The position-weighted sums of keys of one length (a row each): a column of bytes at a time,
    a fifth of the per-byte work when ids have a fixed width, as they mostly do."""
    sums = np.zeros(len(keys), np.uint64)
    for position in range(keys.shape[1]):
        sums += (keys[:, position] + np.uint64(1)) * _MULTIPLIERS[position % len(_MULTIPLIERS)]
    return sums


def _byte_sums(raw: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    position = np.arange(len(raw), dtype=np.int64)
    position -= np.repeat(starts, lengths)
    position %= len(_MULTIPLIERS)
    weighted = _MULTIPLIERS[position]
    weighted *= raw.astype(np.uint64) + np.uint64(1)
    sums = np.zeros(len(lengths), np.uint64)
    nonempty = lengths > 0
    if len(raw):
        sums[nonempty] = np.add.reduceat(weighted, starts[nonempty])
    return sums


class PartitionWriter:
    """Appends record batches to N Arrow stream files, routing each row by a key column."""

    def __init__(self, directory: str, partitions: int, schema: pa.Schema, key: str):
        self.directory = directory
        self.partitions = partitions
        self._schema = schema
        self._key = key
        self._sinks: dict[int, tuple[pa.OSFile, pa.ipc.RecordBatchStreamWriter]] = {}
        # Small pieces are gathered per partition and written together: fewer, larger batches.
        self._buffered: dict[int, list[pa.RecordBatch]] = {}
        self._buffered_bytes = 0
        ensure_open_files(partitions + _OTHER_FILES)
        os.makedirs(directory, exist_ok=True)

    def path(self, partition: int) -> str:
        return os.path.join(self.directory, f"part-{partition:04d}.arrow")

    def split(self, batch: pa.RecordBatch) -> list[tuple[int, pa.RecordBatch]]:
        """(partition, rows) pieces of a batch, rows in their original order; safe in any thread."""
        if batch.num_rows == 0:
            return []
        target = partition_of(batch.column(self._key), self.partitions)
        order = np.argsort(target.astype(np.uint16), kind="stable")  # radix sort: partitions < 2**16
        counts = np.bincount(target, minlength=self.partitions)
        take = pa.array(order)
        # Column by column: RecordBatch.take costs several times its columns' takes.
        ordered = pa.record_batch([column.take(take) for column in batch.columns], schema=batch.schema)
        parts, start = [], 0
        for partition in np.flatnonzero(counts).tolist():
            parts.append((partition, ordered.slice(start, int(counts[partition]))))
            start += int(counts[partition])
        return parts

    def write_parts(self, parts: list[tuple[int, pa.RecordBatch]]) -> None:
        for partition, rows in parts:
            self._buffered.setdefault(partition, []).append(rows)
            self._buffered_bytes += rows.nbytes
        if self._buffered_bytes >= WRITE_BUFFER_BYTES:
            self._flush()

    def _flush(self) -> None:
        for partition, pieces in sorted(self._buffered.items()):
            self._sink(partition).write_batch(pa.concat_batches(pieces))
        self._buffered.clear()
        self._buffered_bytes = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self.write_parts(self.split(batch))

    def _sink(self, partition: int) -> pa.ipc.RecordBatchStreamWriter:
        if partition not in self._sinks:
            file = pa.OSFile(self.path(partition), "wb")
            self._sinks[partition] = (file, pa.ipc.new_stream(file, self._schema))
        return self._sinks[partition][1]

    def close(self) -> list[int]:
        """Closes every file; returns the partitions that hold rows."""
        self._flush()
        for file, writer in self._sinks.values():
            writer.close()
            file.close()
        written = sorted(self._sinks)
        self._sinks.clear()
        return written


def read_partition(paths: Iterable[str], schema: pa.Schema) -> pa.Table:
    tables = []
    for path in paths:
        with pa.OSFile(path, "rb") as file:
            tables.append(pa.ipc.open_stream(file).read_all())
    return pa.concat_tables(tables) if tables else schema.empty_table()


@dataclass
class Resolved:
    """What a day's first occurrences add up to, and each file's duplicates."""

    valid: int = 0
    duplicates_by_file: Counter = field(default_factory=Counter)
    events_by_type: list[int] = field(default_factory=lambda: [0] * len(EVENT_TYPES))
    hourly: list[int] = field(default_factory=lambda: [0] * 24)
    revenue_cents: dict[str, list[int]] = field(default_factory=dict)  # currency -> [gross, refunds]
    unique_users: int = 0

    def add(self, other: Resolved) -> None:
        self.valid += other.valid
        self.duplicates_by_file.update(other.duplicates_by_file)
        self.events_by_type = [a + b for a, b in zip(self.events_by_type, other.events_by_type, strict=True)]
        self.hourly = [a + b for a, b in zip(self.hourly, other.hourly, strict=True)]
        for currency, (gross, refunds) in other.revenue_cents.items():
            sums = self.revenue_cents.setdefault(currency, [0, 0])
            sums[0] += gross
            sums[1] += refunds
        self.unique_users += other.unique_users


def _exact_sum(values: np.ndarray) -> int:
    if len(values) == 0:
        return 0
    if int(np.abs(values).max()) <= _INT64_MAX // len(values):
        return int(values.sum())
    return sum(values.tolist())


def _fixed_width(values: pa.Array) -> pa.Array:
    """Binary values as fixed_size_binary when all have one (non-zero) length: hashed faster, same equality."""
    lengths = pc.binary_length(values)
    shortest, longest = pc.min_max(lengths).values()
    if len(values) == 0 or shortest.as_py() != longest.as_py() or shortest.as_py() == 0:
        return values
    return values.cast(pa.binary(shortest.as_py()))


def _first_occurrences(ids: pa.ChunkedArray) -> np.ndarray:
    """True at each id's first position: the least row of each id's group."""
    keys = _fixed_width(ids.combine_chunks())
    rows = pa.array(np.arange(len(keys), dtype=np.int64))
    groups = pa.table({"id": keys, "row": rows}).group_by("id", use_threads=False).aggregate([("row", "min")])
    first = np.zeros(len(keys), bool)
    first[groups["row_min"].to_numpy()] = True
    return first


def resolve(
    partitions: int,
    fetch: Callable[[int], list[str]],
    release: Callable[[list[str]], None],
    excluded_files: Iterable[int],
    user_directory: str,
    threads: int = 2,
) -> Resolved:
    """The day's totals from its spilled rows; fetch(p) gives partition p's files in day order.

    Partitions are resolved on a few threads (Arrow and numpy release the GIL), each holding one
    partition; release(paths) is called once a partition's files are no longer needed.
    """
    excluded = pa.array(sorted(set(excluded_files)), pa.int32())
    users = PartitionWriter(user_directory, partitions, _USERS, "user_id")

    def one(partition: int) -> tuple[Resolved, list[tuple[int, pa.RecordBatch]]]:
        paths = fetch(partition)
        try:
            table = read_partition(paths, SPILL_SCHEMA)
        finally:
            release(paths)
        if len(excluded):
            table = table.filter(pc.invert(pc.is_in(table["file"], value_set=excluded)))
        part = Resolved()
        if table.num_rows == 0:
            return part, []
        first = _first_occurrences(table["event_id"])
        files, repeats = np.unique(table["file"].to_numpy()[~first], return_counts=True)
        part.duplicates_by_file = Counter(dict(zip(files.tolist(), repeats.tolist(), strict=True)))
        kept = table.drop_columns(["event_id", "file"]).filter(pa.array(first))
        part.valid = kept.num_rows
        part.events_by_type = np.bincount(kept["event_type"].to_numpy(), minlength=len(EVENT_TYPES)).tolist()
        part.hourly = np.bincount(kept["hour"].to_numpy(), minlength=24).tolist()
        money = kept.filter(pc.is_in(kept["event_type"], value_set=pa.array(_MONEY, pa.int8())))
        _add_revenue(part.revenue_cents, money)
        return part, users.split(pa.record_batch([kept["user_id"].combine_chunks()], names=["user_id"]))

    def distinct_users(partition: int) -> int:
        path = users.path(partition)
        table = read_partition([path], _USERS)
        os.remove(path)
        return len(pc.unique(_fixed_width(table["user_id"].combine_chunks())))  # never null

    result = Resolved()
    with ThreadPoolExecutor(threads, thread_name_prefix="resolve") as pool:
        pending: deque = deque()
        for partition in range(partitions):
            pending.append(pool.submit(one, partition))
            while len(pending) > threads or (pending and partition == partitions - 1):
                part, user_parts = pending.popleft().result()
                result.add(part)
                users.write_parts(user_parts)
        result.unique_users = sum(pool.map(distinct_users, users.close()))
    return result


def _add_revenue(revenue: dict[str, list[int]], money: pa.Table) -> None:
    if money.num_rows == 0:
        return
    currencies = pc.dictionary_encode(money["currency"].combine_chunks())
    codes = currencies.indices.to_numpy()
    is_purchase = money["event_type"].to_numpy() == _PURCHASE
    cents = money["cents"].to_numpy()
    big = money["cents_big"]
    has_big = pc.is_valid(big).to_numpy()
    for code, currency in enumerate(currencies.dictionary.to_pylist()):
        mine = codes == code
        sums = revenue.setdefault(currency, [0, 0])
        for slot, chosen in ((0, mine & is_purchase), (1, mine & ~is_purchase)):
            sums[slot] += _exact_sum(cents[chosen])
            if has_big.any():
                sums[slot] += sum(int(v) for v in big.filter(pa.array(chosen & has_big)).to_pylist())
