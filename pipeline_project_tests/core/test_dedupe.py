"""dedupe: partition_of is a function of the bytes alone, and resolve equals a plain first-occurrence count.

The expected numbers come from walking the spilled rows in (file, row) order in Python: the first
row with an event id counts (valid, type, hour, revenue, its user), every later one is a duplicate
of its own file, and rows of excluded files are not there at all.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_project.core import dedupe
from pipeline_project.core.contract import EVENT_TYPES
from pipeline_project.core.dedupe import SPILL_SCHEMA, PartitionWriter, Resolved, partition_of, resolve

INT64_MAX = (1 << 63) - 1
PURCHASE, REFUND = EVENT_TYPES.index("purchase"), EVENT_TYPES.index("refund")
PROFILE = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
}

# --------------------------------------------------------------------------- partition_of

KEYS = st.one_of(
    st.sampled_from(
        [b"", b"e1", b"e2", b"E1", b"1e", b"\x00", b"\x00\x00", b"\xff", "\u00fc".encode(), b"\xed\xa0\x80"]
    ),
    st.binary(max_size=80),  # longer than the 64 position multipliers
)


@settings(max_examples=150, **PROFILE)
@given(keys=st.lists(KEYS, max_size=60), partitions=st.integers(1, 70), cut=st.integers(0, 60))
def test_partition_of_depends_on_the_bytes_only(keys, partitions, cut):
    target = partition_of(pa.array(keys, pa.binary()), partitions)
    assert target.dtype == np.int64 and len(target) == len(keys)
    assert ((target >= 0) & (target < partitions)).all()
    one_by_one = {key: int(partition_of(pa.array([key], pa.binary()), partitions)[0]) for key in keys}
    assert target.tolist() == [one_by_one[key] for key in keys]
    # Other batches, slices with an offset, strings and large_binary: the same number per key.
    padded = pa.array([b"before", b"x" * 100, *keys, b"after"], pa.binary())
    assert partition_of(padded.slice(2, len(keys)), partitions).tolist() == target.tolist()
    cut = min(cut, len(keys))
    halves = [partition_of(pa.array(part, pa.binary()), partitions) for part in (keys[:cut], keys[cut:])]
    assert np.concatenate(halves).tolist() == target.tolist()
    assert partition_of(pa.array(keys, pa.large_binary()), partitions).tolist() == target.tolist()
    texts = [k for k in keys if _is_utf8(k)]
    assert partition_of(pa.array([k.decode() for k in texts], pa.string()), partitions).tolist() == [
        one_by_one[k] for k in texts
    ]


def _is_utf8(key: bytes) -> bool:
    try:
        key.decode()
    except UnicodeDecodeError:
        return False
    return True


def test_partition_of_across_hash_slices_and_offsets():
    """Over 65536 rows the hash works a slice at a time; a key's number must not depend on where it lands."""
    n = 3 * 65536 + 123
    keys = [f"id-{i % 5000}-{'x' * (i % 70)}".encode() for i in range(n)]
    array = pa.array(keys, pa.binary())
    for partitions in (2, 7, 4096):
        target = partition_of(array, partitions)
        assert ((target >= 0) & (target < partitions)).all()
        first = {}
        for key, value in zip(keys, target.tolist(), strict=True):
            assert first.setdefault(key, value) == value, key
        # The same keys, offset by a slice so that slice boundaries fall elsewhere.
        shifted = pa.array([b"pad"] * 40_000 + keys, pa.binary()).slice(40_000 - 17)
        assert partition_of(shifted, partitions)[17:].tolist() == target.tolist()
        sliced = array.slice(70_000, 100_000)
        assert partition_of(sliced, partitions).tolist() == target[70_000:170_000].tolist()
        assert partition_of(pa.array(keys[-10:], pa.binary()), partitions).tolist() == target[-10:].tolist()
    # Enough keys to show all partitions are used, none outside.
    assert set(partition_of(array, 7).tolist()) == set(range(7))


def test_partition_of_single_partition_and_empty_input():
    assert partition_of(pa.array([b"a", b""], pa.binary()), 1).tolist() == [0, 0]
    assert partition_of(pa.array([], pa.binary()), 5).tolist() == []
    assert partition_of(pa.array([b"", b""], pa.binary()), 5).tolist() == [int(partition_of(pa.array([b""]), 5)[0])] * 2


def reference_partition(key: bytes, partitions: int) -> int:
    """partition_of's hash in plain integers: the position-weighted byte sum, mixed."""
    if partitions == 1:
        return 0
    total = sum(int(dedupe._MULTIPLIERS[n % 64]) * (byte + 1) for n, byte in enumerate(key)) % (1 << 64)
    mixed = ((total ^ (total >> 29)) * 0xBF58476D1CE4E5B9) % (1 << 64)
    return (mixed >> 32) % partitions


@settings(max_examples=100, **PROFILE)
@given(
    keys=st.one_of(
        st.integers(0, 80).flatmap(lambda n: st.lists(st.binary(min_size=n, max_size=n), max_size=30)),  # one length
        st.lists(KEYS, max_size=30),
    ),
    partitions=st.integers(1, 70),
)
def test_partition_of_equals_the_plain_hash(keys, partitions):
    assert partition_of(pa.array(keys, pa.binary()), partitions).tolist() == [
        reference_partition(key, partitions) for key in keys
    ]


@settings(max_examples=100, **PROFILE)
@given(
    keys=st.one_of(
        st.integers(0, 9)  # a few ids of one length, repeated
        .flatmap(lambda n: st.lists(st.binary(min_size=n, max_size=n), min_size=1, max_size=4))
        .flatmap(lambda pool: st.lists(st.sampled_from(pool), max_size=40)),
        st.lists(st.sampled_from([b"a", b"b", b"ab", b"", b"ba"]), max_size=40),
    ),
    chunks=st.integers(1, 3),
)
def test_first_occurrences_of_fixed_and_mixed_width_ids(keys, chunks):
    size = -(-len(keys) // chunks) or 1
    ids = pa.chunked_array([pa.array(keys[n : n + size], pa.binary()) for n in range(0, len(keys), size)], pa.binary())
    seen: set[bytes] = set()
    expected = []
    for key in keys:
        expected.append(key not in seen)
        seen.add(key)
    assert dedupe._first_occurrences(ids).tolist() == expected


# --------------------------------------------------------------------------- resolve


def spill_batch(rows: list[tuple]) -> pa.RecordBatch:
    """rows: (event_id, user_id, type, hour, currency, cents, cents_big, file)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(SPILL_SCHEMA)
    return pa.RecordBatch.from_arrays(
        [pa.array(list(values), f.type) for values, f in zip(columns, SPILL_SCHEMA, strict=True)], schema=SPILL_SCHEMA
    )


def python_resolve(files: list[tuple[int, list[tuple]]], excluded: set[int]) -> Resolved:
    expected = Resolved()
    seen, users = set(), set()
    for index, rows in files:
        if index in excluded:
            continue
        for event_id, user_id, kind, hour, currency, cents, cents_big, file in rows:
            assert file == index
            if event_id in seen:
                expected.duplicates_by_file[file] += 1
                continue
            seen.add(event_id)
            users.add(user_id)
            expected.valid += 1
            expected.events_by_type[kind] += 1
            expected.hourly[hour] += 1
            if kind in (PURCHASE, REFUND):
                amount = cents if cents_big is None else int(cents_big)
                expected.revenue_cents.setdefault(currency, [0, 0])[0 if kind == PURCHASE else 1] += amount
    expected.unique_users = len(users)
    return expected


def run_resolve(tmp, files, excluded, partitions, threads, shards=1, batch_rows=None) -> Resolved:
    """Spills the files' rows through PartitionWriters (shards, each a run of whole files), then resolves."""
    run = os.path.join(tmp, f"run-{len(os.listdir(tmp))}")
    bounds = np.linspace(0, len(files), shards + 1).astype(int).tolist()
    writers = []
    for shard, (start, stop) in enumerate(itertools.pairwise(bounds)):
        writer = PartitionWriter(os.path.join(run, f"shard-{shard}"), partitions, SPILL_SCHEMA, "event_id")
        for _index, rows in files[start:stop]:
            step = batch_rows or max(1, len(rows))
            for begin in range(0, len(rows), step):
                writer.write(spill_batch(rows[begin : begin + step]))
        writers.append((writer, set(writer.close())))
    released = []

    def fetch(partition: int) -> list[str]:
        return [writer.path(partition) for writer, written in writers if partition in written]

    result = resolve(partitions, fetch, released.extend, excluded, os.path.join(run, "users"), threads)
    assert sorted(released) == sorted(p for partition in range(partitions) for p in fetch(partition))
    assert os.listdir(os.path.join(run, "users")) == [], "the users' spill files are removed"
    return result


def as_dict(result: Resolved) -> dict:
    return {
        "valid": result.valid,
        "duplicates_by_file": {k: v for k, v in result.duplicates_by_file.items() if v},
        "events_by_type": list(result.events_by_type),
        "hourly": list(result.hourly),
        "revenue_cents": {c: list(v) for c, v in result.revenue_cents.items()},
        "unique_users": result.unique_users,
    }


IDS = st.sampled_from([b"e1", b"e2", b"e3", b"e4", b"E1", b"1", b"\xff", b"\xed\xa0\x80", "\u00fc".encode(), b"e1 "])
USERS = st.sampled_from([b"u1", b"u2", b"u3", b"U1", "\u00e9".encode(), b"\xed\xb0\x80"])
CURRENCIES = st.sampled_from(["USD", "EUR", "JPY"])
SMALL_CENTS = st.one_of(st.integers(0, 10**6), st.sampled_from([0, 1, 99, INT64_MAX, INT64_MAX - 1, 1 << 62]))
BIG_CENTS = st.one_of(
    st.sampled_from(["9223372036854775808", "9999999999999999999999", "99999999999999999900"]),
    st.integers(INT64_MAX + 1, 10**30).map(str),
)


@st.composite
def spill_rows(draw, file: int) -> tuple:
    kind = draw(st.integers(0, len(EVENT_TYPES) - 1))
    currency, cents, big = None, 0, None
    if kind in (PURCHASE, REFUND):
        currency = draw(CURRENCIES)
        if draw(st.integers(0, 4)) == 0:
            big = draw(BIG_CENTS)
        else:
            cents = draw(SMALL_CENTS)
    return (draw(IDS), draw(USERS), kind, draw(st.integers(0, 23)), currency, cents, big, file)


@st.composite
def day_files(draw) -> list[tuple[int, list[tuple]]]:
    indexes = sorted(draw(st.sets(st.integers(0, 30), max_size=6)))
    return [(index, draw(st.lists(spill_rows(index), max_size=25))) for index in indexes]


@settings(max_examples=120, **PROFILE)
@given(
    files=day_files(),
    partitions=st.integers(1, 7),
    threads=st.sampled_from([1, 2]),
    shards=st.integers(1, 3),
    batch_rows=st.sampled_from([None, 1, 3]),
    write_buffer=st.sampled_from([dedupe.WRITE_BUFFER_BYTES, 0]),
    data=st.data(),
)
def test_resolve_equals_first_occurrences(
    tmp_path_factory, files, partitions, threads, shards, batch_rows, write_buffer, data
):
    """write_buffer 0: every piece is written at once, so a partition file holds many small batches."""
    indexes = [index for index, _rows in files]
    excluded = data.draw(st.sets(st.sampled_from(indexes + [99]) if indexes else st.just(99)))
    with mock.patch.object(dedupe, "WRITE_BUFFER_BYTES", write_buffer):
        got = run_resolve(
            str(tmp_path_factory.mktemp("resolve")), files, excluded, partitions, threads, shards, batch_rows
        )
    assert as_dict(got) == as_dict(python_resolve(files, excluded))


def row(event_id, file, kind="view", hour=0, user=b"u1", currency=None, cents=0, big=None) -> tuple:
    return (event_id, user, EVENT_TYPES.index(kind), hour, currency, cents, big, file)


@pytest.mark.parametrize("partitions", [1, 2, 3, 7])
@pytest.mark.parametrize("threads", [1, 2])
def test_resolve_pinned(tmp_path, partitions, threads):
    files = [
        (
            0,
            [
                row(b"e1", 0, "purchase", 10, b"u1", "USD", 1050),
                row(b"e2", 0, "view", 10, b"u2"),
                row(b"e1", 0, "refund", 11, b"u9", "USD", 999),  # duplicate in its own file: not counted
            ],
        ),
        (
            1,
            [
                row(b"e3", 1, "purchase", 23, b"u3", "EUR", 0, "9999999999999999999999"),
                row(b"e2", 1, "view", 5, b"u7"),  # duplicate of file 0's e2
                row(b"e4", 1, "refund", 0, b"u1", "USD", INT64_MAX),
            ],
        ),
        (
            2,
            [
                row(b"e5", 2, "refund", 0, b"u1", "USD", INT64_MAX),
                row(b"e6", 2, "add_to_cart", 3, b"u8"),
            ],
        ),
    ]
    got = run_resolve(str(tmp_path), files, set(), partitions, threads)
    assert as_dict(got) == {
        "valid": 6,
        "duplicates_by_file": {0: 1, 1: 1},
        "events_by_type": [1, 1, 2, 2],
        "hourly": [2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        "revenue_cents": {"USD": [1050, 2 * INT64_MAX], "EUR": [9999999999999999999999, 0]},
        "unique_users": 4,
    }
    assert as_dict(got) == as_dict(python_resolve(files, set()))


@pytest.mark.parametrize("partitions", [1, 4])
def test_excluded_file_rows_are_ignored_and_a_later_row_counts_first(tmp_path, partitions):
    files = [
        (3, [row(b"e1", 3, "purchase", 1, b"u1", "USD", 100), row(b"e1", 3, "view", 1, b"u1")]),
        (5, [row(b"e1", 5, "refund", 7, b"u2", "EUR", 250), row(b"e2", 5, "view", 8, b"u2")]),
        (6, [row(b"e1", 6, "view", 9, b"u3")]),
    ]
    got = run_resolve(str(tmp_path), files, {3}, partitions, 2)
    assert as_dict(got) == {
        "valid": 2,
        "duplicates_by_file": {6: 1},
        "events_by_type": [1, 0, 0, 1],
        "hourly": [0] * 7 + [1, 1] + [0] * 15,
        "revenue_cents": {"EUR": [0, 250]},
        "unique_users": 1,
    }
    everything_excluded = run_resolve(str(tmp_path), files, {3, 5, 6}, partitions, 1)
    assert as_dict(everything_excluded) == as_dict(Resolved())


def test_resolve_with_nothing_spilled(tmp_path):
    assert as_dict(run_resolve(str(tmp_path), [], set(), 3, 2)) == as_dict(Resolved())
    assert Counter() == run_resolve(str(tmp_path), [(0, [])], {0}, 1, 1).duplicates_by_file


def test_the_open_file_limit_is_raised_for_many_partitions(monkeypatch):
    import resource

    from pipeline_project.core import dedupe

    limits = {"now": (1024, 65536)}
    monkeypatch.setattr(resource, "getrlimit", lambda kind: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda kind, value: limits.update(now=value))
    dedupe.ensure_open_files(900)
    assert limits["now"] == (1024, 65536)
    dedupe.ensure_open_files(4352)
    assert limits["now"] == (4352, 65536)
    limits["now"] = (1024, 2048)
    with pytest.raises(OSError, match="4352 files must be open at once but the limit is 2048"):
        dedupe.ensure_open_files(4352)
