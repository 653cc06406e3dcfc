"""Realistic raw files for one day: mixed formats, a small share of bad rows and duplicates."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import random
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline_project.core.contract import REQUIRED_COLUMNS, SUCCESS_MARKER

_TYPES = ("view",) * 12 + ("add_to_cart",) * 4 + ("purchase",) * 3 + ("refund",)
_CURRENCIES = ("USD", "USD", "EUR", "GBP")
_COUNTRIES = ("US", "DE", "GB", "FR", "NL")
# Each turns a good row into one the contract rejects, and says which way.
_BREAKAGES = (
    lambda r: r.update(event_type="checkout"),
    lambda r: r.update(event_time=r["event_time"][:10]),
    lambda r: r.update(user_id=""),
    lambda r: r.update(event_type="purchase", amount="12.345"),
    lambda r: r.update(event_type="refund", amount="9.99", currency="usd"),
)
# (name template, format) cycled over a day's files.
_FILES = (
    ("web/events-{n:04d}.csv", "csv"),
    ("app/events-{n:04d}.jsonl.gz", "jsonl.gz"),
    ("partner/events-{n:04d}.parquet", "parquet"),
)


def sample_rows(day: dt.date, rows: int, rng: random.Random, bad_share: float, duplicate_share: float) -> list[dict]:
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    records: list[dict] = []
    for n in range(rows):
        if records and rng.random() < duplicate_share:
            records.append(dict(rng.choice(records)))
            continue
        moment = start + dt.timedelta(seconds=rng.randrange(86_400), microseconds=rng.randrange(1_000_000))
        kind = rng.choice(_TYPES)
        record = {
            "event_id": f"{day:%Y%m%d}-{n:07d}-{rng.getrandbits(32):08x}",
            "event_time": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "user_id": f"u{rng.randrange(max(rows // 4, 1)):06d}",
            "event_type": kind,
            "amount": "",
            "currency": "",
            "country": rng.choice(_COUNTRIES),
        }
        if kind in ("purchase", "refund"):
            record["amount"] = f"{rng.randrange(100, 50_000) / 100:.2f}"
            record["currency"] = rng.choice(_CURRENCIES)
        if rng.random() < bad_share:
            rng.choice(_BREAKAGES)(record)
        records.append(record)
    return records


def _csv_bytes(records: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*REQUIRED_COLUMNS, "country"], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def _jsonl_bytes(records: list[dict]) -> bytes:
    lines = []
    for r in records:
        obj = {k: v for k, v in r.items() if v != ""}
        if obj.get("amount"):
            obj["amount"] = float(obj["amount"]) if obj["amount"].endswith("5") else obj["amount"]
        lines.append(json.dumps(obj))
    return ("\n".join(lines) + "\n").encode()


def _parquet_bytes(records: list[dict]) -> bytes:
    columns = {c: [r.get(c) or None for r in records] for c in (*REQUIRED_COLUMNS, "country")}
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return out.getvalue()


def sample_day(
    day: dt.date,
    rows: int = 1000,
    files: int = 3,
    seed: int = 0,
    bad_share: float = 0.02,
    duplicate_share: float = 0.01,
) -> Iterator[tuple[str, bytes]]:
    """(path relative to the day folder, content) for each file, the _SUCCESS marker last."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    records = sample_rows(day, rows, rng, bad_share, duplicate_share)
    files = max(1, min(files, rows or 1))
    for n in range(files):
        template, fmt = _FILES[n % len(_FILES)]
        chunk = records[n::files]
        if fmt == "csv":
            data = _csv_bytes(chunk)
        elif fmt == "jsonl.gz":
            data = gzip.compress(_jsonl_bytes(chunk), mtime=0)
        else:
            data = _parquet_bytes(chunk)
        yield template.format(n=n), data
    yield SUCCESS_MARKER, b""
