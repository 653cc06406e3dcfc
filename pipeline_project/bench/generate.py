"""Benchmark data: N MB of realistic raw files for one day, generated fast and deterministically.

The rows follow the sample data's vocabulary (pipeline_project.core.sample_data: event types in
the same mix, currencies, countries) but are built column-wise with numpy and pyarrow, a chunk
at a time, so gigabytes take seconds and memory stays bounded by one chunk per file.

Besides plain rows, a day holds what the contract has to get right at scale:
- valid variants: UTC offsets (the UTC hour shifts), a space instead of `T`, no fraction or six
  digits, amounts without decimals, surrounding whitespace;
- a small share of value-level bad rows, one kind each rule of the contract, some breaking two
  rules at once so the rule order decides the reason;
- duplicates: exact resends of an earlier row of the same file, and reused event ids from other
  files (before or after in key order) with different content, so only first-occurrence in
  (key order, row order) gives the right totals.

`csv.gz` and `jsonl.gz` are the same text gzipped (level 6, as `gzip` does); their size is the
text's. `parquet-native` holds what a producer's schema would: `event_time` a UTC timestamp (us),
`user_id` an int64, `amount` a decimal(12, 2); its bad values are the ones those types can hold
(a timestamp written in the wrong unit, past year 9999; a negative amount).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import gzip
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline_project.bench.engines import FORMATS, kind
from pipeline_project.core.contract import SUCCESS_MARKER, raw_day_prefix
from pipeline_project.core.sample_data import _COUNTRIES, _CURRENCIES, _TYPES

GENERATOR_VERSION = 1
FILE_BYTES = 64 << 20  # one file holds about this much (gzip: before compression)
MIN_FILES = 4
CHUNK_ROWS = 200_000
FOLDERS = ("web", "app", "partner")  # file n goes to FOLDERS[n % 3]: key order != generation order
COLUMNS = ("event_id", "event_time", "user_id", "event_type", "amount", "currency", "country")
BAD_SHARE = 0.02
RESEND_SHARE = 0.008  # exact copy of an earlier row of the same file
REUSED_ID_SHARE = 0.004  # an event id from another (or the same) file, different content
# First guess of bytes per row on disk, refined after every chunk.
_ROW_BYTES_GUESS = {"csv": 100, "jsonl": 170, "parquet": 45, "parquet-native": 30}

_TYPE_NAMES = sorted(set(_TYPES))
_TYPE_WEIGHTS = np.array([_TYPES.count(t) for t in _TYPE_NAMES], dtype=float) / len(_TYPES)
_CURRENCY_NAMES = pa.array(_CURRENCIES)
_COUNTRY_NAMES = pa.array(_COUNTRIES)
_OFFSETS_MINUTES = np.array([60, 120, -300, 330, -480, 545, -600, 840, -720])
_NULL = pa.scalar(None, pa.string())


@dataclass(frozen=True)
class FileSpec:
    index: int
    path: str  # absolute
    key: str  # relative to the storage root
    fmt: str
    target_bytes: int
    seed: int
    day: str
    users: int  # size of the user-id pool
    rows_guess: int  # rough rows per file, for ids reused from other files


def plan_files(root: str | os.PathLike, day: str, fmt: str, total_bytes: int, seed: int) -> list[FileSpec]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    count = max(MIN_FILES, math.ceil(total_bytes / FILE_BYTES))
    per_file = max(1, total_bytes // count)
    rows_total = max(1, total_bytes // _ROW_BYTES_GUESS[_native_or_kind(fmt)])
    specs = []
    for n in range(count):
        key = f"{raw_day_prefix(day)}{FOLDERS[n % len(FOLDERS)]}/events-{n:04d}{FORMATS[fmt]}"
        specs.append(
            FileSpec(
                index=n,
                path=str(Path(root, key)),
                key=key,
                fmt=fmt,
                target_bytes=per_file,
                seed=seed,
                day=day,
                users=max(100, rows_total // 4),
                rows_guess=max(1, rows_total // count),
            )
        )
    return specs


def generate_day(
    root: str | os.PathLike, day: str, fmt: str, total_bytes: int, seed: int = 0, workers: int | None = None, log=print
) -> list[dict]:
    """Write the day's files under root/raw-data/day/ (and a _SUCCESS marker); returns
    [{key, bytes, data_bytes, rows}] in key order (data_bytes: after gunzip)."""
    specs = plan_files(root, day, fmt, total_bytes, seed)
    for spec in specs:
        Path(spec.path).parent.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(workers or os.cpu_count() or 1, len(specs)))
    results = []
    if workers == 1:
        for spec in specs:
            results.append(write_file(spec))
            log(f"    generated {spec.key} ({results[-1]['bytes']} bytes, {results[-1]['rows']} rows)")
    else:
        with ProcessPoolExecutor(workers) as pool:
            for spec, result in zip(specs, pool.map(write_file, specs), strict=True):
                results.append(result)
                log(f"    generated {spec.key} ({result['bytes']} bytes, {result['rows']} rows)")
    Path(root, raw_day_prefix(day), SUCCESS_MARKER).write_bytes(b"")
    return sorted(results, key=lambda r: r["key"])


def _native_or_kind(fmt: str) -> str:
    return fmt if fmt == "parquet-native" else kind(fmt)


def write_file(spec: FileSpec) -> dict:
    rng = np.random.default_rng([spec.seed, spec.index, GENERATOR_VERSION])
    row_bytes = float(_ROW_BYTES_GUESS[_native_or_kind(spec.fmt)])
    rows = 0
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(open(spec.path, "wb"))
        if spec.fmt.endswith(".gz"):
            # mtime 0: the same bytes on every run. tell() counts the text, before compression.
            sink = stack.enter_context(gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0, filename=""))
        writer = None
        while True:
            written = sink.tell()
            if rows and written >= spec.target_bytes:
                break
            if rows:
                row_bytes = written / rows
            n = int(min(CHUNK_ROWS, max(1, math.ceil((spec.target_bytes - written) / row_bytes))))
            table = make_chunk(rng, spec, rows, n)
            if kind(spec.fmt) == "csv":
                if writer is None:
                    options = pacsv.WriteOptions(quoting_style="none", quoting_header="none", batch_size=65_536)
                    writer = pacsv.CSVWriter(sink, table.schema, write_options=options)
                writer.write_table(table)
            elif kind(spec.fmt) == "parquet":
                if writer is None:
                    writer = pq.ParquetWriter(sink, table.schema)
                writer.write_table(table, row_group_size=n)
            else:
                sink.write(_jsonl_bytes(rng, table))
            rows += n
        if writer is not None:
            writer.close()
        data_bytes = sink.tell()
    return {"key": spec.key, "bytes": os.path.getsize(spec.path), "data_bytes": data_bytes, "rows": rows}


def _text(values: np.ndarray, width: int = 0) -> pa.Array:
    text = pc.cast(pa.array(values), pa.string())
    return pc.utf8_lpad(text, width, "0") if width else text


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


# Lookup tables: a take() per column is far faster than formatting timestamps row by row.
_HMS = pa.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)])
_MILLIS = pa.array([f"{n:03d}" for n in range(1000)])


def _timestamps(day: str, ms: np.ndarray, separator: str = "T", fraction: str = "ms") -> pa.Array:
    """Text of epoch milliseconds near `day` (within a day either side): date, separator, time, fraction."""
    midnight = dt.date.fromisoformat(day)
    dates = pa.array([(midnight + dt.timedelta(days=d)).isoformat() for d in (-1, 0, 1)])
    midnight_ms = _midnight_ms(day)
    day_index = np.floor_divide(ms - midnight_ms, 86_400_000)
    in_day = ms - midnight_ms - day_index * 86_400_000
    parts = [pc.take(dates, pa.array(day_index + 1)), separator, pc.take(_HMS, pa.array(in_day // 1000))]
    if fraction == "ms":
        parts += [".", pc.take(_MILLIS, pa.array(in_day % 1000))]
    elif fraction == "us":
        parts += [".", pc.take(_MILLIS, pa.array(in_day % 1000)), pc.take(_MILLIS, pa.array(ms % 997))]
    return _join(*parts)


def _midnight_ms(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp() * 1000)


def _event_ids(spec: FileSpec, file_index: np.ndarray | int, rows: np.ndarray) -> pa.Array:
    day = spec.day.replace("-", "")
    return _join(f"{day}-", _text(np.broadcast_to(file_index, rows.shape).copy(), 4), "-", _text(rows, 9))


def make_chunk(rng: np.random.Generator, spec: FileSpec, start: int, n: int) -> pa.Table:
    """n rows of the file, starting at row `start` (0-based), as a table of strings (null: missing),
    or of native types for parquet-native."""
    rows = np.arange(start, start + n, dtype=np.int64)
    moment_ms = _midnight_ms(spec.day) + rng.integers(0, 86_400_000, n)
    native = spec.fmt == "parquet-native"

    if native:
        event_time = pa.array(moment_ms * 1000 + rng.integers(0, 1000, n), _NATIVE_TIME)
    else:
        event_time = _text_event_time(rng, spec, moment_ms, n)

    kinds = rng.choice(len(_TYPE_NAMES), n, p=_TYPE_WEIGHTS)
    event_type = pc.take(pa.array(_TYPE_NAMES), pa.array(kinds))
    monetary = np.isin(kinds, [_TYPE_NAMES.index("purchase"), _TYPE_NAMES.index("refund")])
    cents = rng.integers(100, 50_000, n)
    if native:
        amount = _decimal_cents(cents)
    else:
        amount = _join(_text(cents // 100), ".", _text(cents % 100, 2))
        whole = rng.random(n) < 0.03
        amount = pc.if_else(pa.array(whole), _text(cents // 100), amount)
    amount = pc.if_else(pa.array(monetary), amount, pa.scalar(None, amount.type))
    currency = pc.take(_CURRENCY_NAMES, pa.array(rng.integers(0, len(_CURRENCY_NAMES), n)))
    currency = pc.if_else(pa.array(monetary), currency, _NULL)
    users = rng.integers(0, spec.users, n)
    columns = {
        "event_id": _event_ids(spec, spec.index, rows),
        "event_time": event_time,
        "user_id": pa.array(users) if native else _join("u", _text(users, 7)),
        "event_type": event_type,
        "amount": amount,
        "currency": currency,
        "country": pc.take(_COUNTRY_NAMES, pa.array(rng.integers(0, len(_COUNTRY_NAMES), n))),
    }

    # Surrounding whitespace, which the contract ignores.
    for name, pad in (("event_type", " "), ("user_id", "\t"), ("event_id", "  ")):
        mask = pa.array(rng.random(n) < 0.005)
        if pa.types.is_string(columns[name].type):
            columns[name] = pc.if_else(mask, _join(pad, columns[name], pad), columns[name])

    _break_rows(rng, columns, n, _native_breakages(spec.day) if native else _breakages(spec.day))
    table = pa.table(columns)

    # Exact resends of an earlier row of this chunk.
    take = np.arange(n)
    resend = np.flatnonzero(rng.random(n) < RESEND_SHARE)
    resend = resend[resend > 0]
    take[resend] = (rng.random(len(resend)) * resend).astype(np.int64)
    table = table.take(pa.array(take))

    # Event ids reused from another file (earlier or later in key order) or earlier in this one.
    reused = np.flatnonzero(rng.random(n) < REUSED_ID_SHARE)
    if len(reused):
        other = rng.integers(0, spec.index + 1, len(reused))
        limit = np.where(other == spec.index, start + reused, spec.rows_guess)
        other_rows = (rng.random(len(reused)) * np.maximum(limit, 1)).astype(np.int64)
        mask = np.zeros(n, dtype=bool)
        mask[reused] = True
        ids = pc.replace_with_mask(
            table["event_id"].combine_chunks(), pa.array(mask), _event_ids(spec, other, other_rows)
        )
        table = table.set_column(0, "event_id", ids)
    return table


_NATIVE_TIME = pa.timestamp("us", "UTC")
_NATIVE_AMOUNT = pa.decimal128(12, 2)


def _decimal_cents(cents: np.ndarray) -> pa.Array:
    """Integer cents as decimal(12, 2): a decimal128 is the unscaled integer in 16 little-endian bytes."""
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # the sign, extended
    return pa.Array.from_buffers(_NATIVE_AMOUNT, len(cents), [None, pa.py_buffer(words)])


def _text_event_time(rng: np.random.Generator, spec: FileSpec, moment_ms: np.ndarray, n: int) -> pa.Array:
    event_time = _join(_timestamps(spec.day, moment_ms), "Z")
    style = rng.choice(4, n, p=[0.85, 0.06, 0.05, 0.04])
    offset = _OFFSETS_MINUTES[rng.integers(0, len(_OFFSETS_MINUTES), n)]
    shifted = moment_ms + offset * 60_000
    sign = np.where(offset < 0, "-", "+")
    zone = _join(pa.array(sign), _text(np.abs(offset) // 60, 2), ":", _text(np.abs(offset) % 60, 2))
    variants = {
        1: lambda m: _join(_timestamps(spec.day, shifted[m]), zone.filter(pa.array(m))),  # local time, offset
        2: lambda m: _timestamps(spec.day, moment_ms[m], " ", fraction=""),  # space, no fraction, no zone: UTC
        3: lambda m: _join(_timestamps(spec.day, moment_ms[m], fraction="us"), "Z"),  # microseconds
    }
    for code, text in variants.items():
        mask = style == code
        event_time = pc.replace_with_mask(event_time, pa.array(mask), text(mask))
    return event_time


# Each breaks a row the contract's way: (share of bad rows, {column: new value or None}).
# Some break two rules so that the rule order decides the reason.
def _breakages(day: str) -> list[tuple[float, dict]]:
    return [
        (0.10, {"event_type": "checkout"}),  # invalid_event_type
        (0.05, {"event_type": "View"}),  # invalid_event_type (case-sensitive)
        (0.10, {"event_time": day}),  # invalid_timestamp: date only
        (0.05, {"event_time": "2025-02-29T12:00:00Z"}),  # invalid_timestamp: not a real day
        (0.05, {"event_time": f"{day}T24:00:00Z"}),  # invalid_timestamp: hour 24
        (0.05, {"event_time": f"{day}T10:00:00+24:00"}),  # invalid_timestamp: offset out of range
        (0.10, {"user_id": None}),  # missing_field
        (0.05, {"event_id": "   "}),  # missing_field: whitespace only
        (0.05, {"user_id": None, "event_type": "checkout"}),  # missing_field wins
        (0.05, {"event_type": "checkout", "event_time": "yesterday"}),  # invalid_event_type wins
        (0.10, {"event_type": "purchase", "amount": "12.345", "currency": "USD"}),  # invalid_amount
        (0.05, {"event_type": "refund", "amount": "-5.00", "currency": "EUR"}),  # invalid_amount: sign
        (0.05, {"event_type": "purchase", "amount": None, "currency": "USD"}),  # invalid_amount: missing
        (0.05, {"event_type": "refund", "amount": "9.99", "currency": "usd"}),  # invalid_currency
        (0.05, {"event_type": "purchase", "amount": "1.5", "currency": None}),  # invalid_currency: missing
        (0.05, {"event_type": "purchase", "amount": "1e3", "currency": "EURO"}),  # invalid_amount wins
    ]


def _native_breakages(day: str) -> list[tuple[float, dict]]:
    """What a typed schema still lets through: nulls, bad strings, a negative decimal, and a
    timestamp written in nanoseconds into a microsecond column (year 57,000: invalid_timestamp)."""
    wrong_unit = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp() * 1_000_000_000
    minus = decimal.Decimal("-5.00")
    return [
        (0.10, {"event_type": "checkout"}),  # invalid_event_type
        (0.05, {"event_type": "View"}),  # invalid_event_type (case-sensitive)
        (0.15, {"event_time": int(wrong_unit)}),  # invalid_timestamp: past year 9999
        (0.10, {"user_id": None}),  # missing_field
        (0.05, {"event_time": None}),  # missing_field
        (0.05, {"event_id": "   "}),  # missing_field: whitespace only
        (0.05, {"user_id": None, "event_type": "checkout"}),  # missing_field wins
        (0.05, {"event_type": "checkout", "event_time": int(wrong_unit)}),  # invalid_event_type wins
        (0.15, {"event_type": "refund", "amount": minus, "currency": "EUR"}),  # invalid_amount: sign
        (0.05, {"event_type": "purchase", "amount": None, "currency": "USD"}),  # invalid_amount: missing
        (0.05, {"event_type": "refund", "amount": decimal.Decimal("9.99"), "currency": "usd"}),  # invalid_currency
        (0.10, {"event_type": "purchase", "amount": decimal.Decimal("1.50"), "currency": None}),  # invalid_currency
        (0.05, {"event_type": "purchase", "amount": minus, "currency": "EURO"}),  # invalid_amount wins
    ]


def _break_rows(rng: np.random.Generator, columns: dict, n: int, breakages: list[tuple[float, dict]]) -> None:
    bad = rng.random(n) < BAD_SHARE
    shares = np.array([share for share, _ in breakages])
    which = rng.choice(len(breakages), n, p=shares / shares.sum())
    for k, (_share, changes) in enumerate(breakages):
        mask = pa.array(bad & (which == k))
        for name, value in changes.items():
            columns[name] = pc.if_else(mask, pa.scalar(value, columns[name].type), columns[name])


def _jsonl_bytes(rng: np.random.Generator, table: pa.Table) -> memoryview:
    """One JSON object per row; missing values are left out; some amounts are JSON numbers."""
    parts = []
    for name in COLUMNS:
        # Control characters (the tabs of padded values) are escaped, as JSON requires.
        values = pc.replace_substring(table[name].combine_chunks(), "\t", "\\t")
        fragment = _join(f'"{name}": "', values, '"')
        if name == "amount":
            # A number whose float repr is its literal: the same amount to every reader.
            literal = pc.match_substring_regex(values, r"^\d+\.\d?[1-9]$")
            number = pc.and_(pc.fill_null(literal, False), pa.array(rng.random(len(values)) < 0.5))
            fragment = pc.if_else(number, _join('"amount": ', values), fragment)
        parts.append(fragment)
    body = pc.binary_join_element_wise(*parts, ", ", null_handling="skip")
    lines = pc.cast(_join("{", body, "}\n"), pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64, count=len(lines) + 1, offset=lines.offset * 8)
    return memoryview(lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])))
