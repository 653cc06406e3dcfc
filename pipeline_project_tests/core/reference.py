"""An independent reference computation of a day's report numbers, written from the data contract.

This is the test oracle. It deliberately imports nothing from pipeline_project's readers,
validation or aggregation: it re-reads the contract text (issue 2, "The data contract"; where that
is silent, the choices recorded in docs/data-contract.md section 11) and implements it in the
plainest way, favouring clarity over speed (whole files in memory, csv with strict=True, json,
pyarrow, decimal.Decimal for money, datetime for timestamps).

    reference_day({relative_name: data, ...})   -> the numbers the report must hold
    report_numbers(report)                       -> the same shape, taken from a real report
    quarantined_rows(jsonl_bytes, day)           -> (name, row_number, reason) per rejected row

Names are paths relative to the day folder (raw-data/YYYY-MM-DD/), e.g. "web/events-0000.csv".
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

FIELDS = ("event_id", "event_time", "user_id", "event_type", "amount", "currency")
EVENT_TYPES = ("view", "add_to_cart", "purchase", "refund")
ROW_REASONS = (
    "malformed_row",
    "missing_field",
    "invalid_event_type",
    "invalid_timestamp",
    "invalid_amount",
    "invalid_currency",
)
SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")

# [0-9] rather than \d: \d would also accept other scripts' digits.
TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
CURRENCY = re.compile(r"[A-Z]{3}")
CENT = Decimal("0.01")
FIELD_LIMIT = 16 << 20  # characters in one CSV field; a longer one quarantines the file (docs/data-contract.md)


class Quarantined(Exception):
    """The whole file is set aside with this reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- validation


def clean(value: str | None) -> str | None:
    """Surrounding whitespace is ignored; a null and an empty value are both missing."""
    if value is None:
        return None
    value = value.strip()
    return value if value else None


def utc_hour(text: str) -> int | None:
    """The UTC hour of a contract timestamp, or None when it is not one."""
    match = TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        dt.date(year, month, day)  # a real date (month 1-12, day in month, leap years)
        dt.time(hour, minute, second)  # a real time (hour < 24, minute < 60, second < 60)
    except ValueError:
        return None
    offset = dt.timedelta(0)
    zone = match.group(8)
    if zone is not None and zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = dt.timedelta(hours=hours, minutes=minutes)
        if zone[0] == "-":
            offset = -offset
    # Local time minus the offset is UTC. Only the clock matters for the hour, so do the
    # arithmetic on a fixed mid-range date (no overflow at year 1 or 9999).
    local = dt.datetime(2000, 6, 15, hour, minute, second)
    return (local - offset).hour


def check(values: dict[str, str | None]) -> dict | str:
    """The contract's rules, first failing rule wins: a valid record (dict) or the reason (str)."""
    v = {name: clean(values.get(name)) for name in FIELDS}
    if any(v[name] is None for name in ("event_id", "event_time", "user_id", "event_type")):
        return "missing_field"
    if v["event_type"] not in EVENT_TYPES:
        return "invalid_event_type"
    hour = utc_hour(v["event_time"])
    if hour is None:
        return "invalid_timestamp"
    record = {"event_id": v["event_id"], "user_id": v["user_id"], "event_type": v["event_type"], "hour": hour}
    if v["event_type"] in ("purchase", "refund"):
        if v["amount"] is None or AMOUNT.fullmatch(v["amount"]) is None:
            return "invalid_amount"
        if v["currency"] is None or CURRENCY.fullmatch(v["currency"]) is None:
            return "invalid_currency"
        record["amount"] = Decimal(v["amount"])
        record["currency"] = v["currency"]
    return record


# --------------------------------------------------------------------------- reading
# Each reader returns [(row_number, values or None for malformed_row), ...] or raises Quarantined.


def decode_utf8(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Quarantined("unreadable_file") from None
    return text.removeprefix("\ufeff")


def read_csv(data: bytes) -> list[tuple[int, dict | None]]:
    lines = io.StringIO(decode_utf8(data), newline="").readlines()  # splits on CRLF, LF and CR
    # Parse with no size limit, then apply the contract's field limit (docs/data-contract.md: a field
    # over FIELD_LIMIT characters makes the file unreadable_file). The limit is process-wide: restore it.
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 40)
    try:
        return _csv_rows(lines)
    finally:
        csv.field_size_limit(limit)


def _rfc4180_quotes_ok(record: str) -> bool:
    """RFC 4180 rule 5: a quote may only open a field, close it, or be doubled inside a quoted one."""
    quoted, at_start = False, True
    i = 0
    while i < len(record):
        char = record[i]
        if quoted:
            if char == '"':
                if record[i + 1 : i + 2] == '"':
                    i += 1
                else:
                    quoted = False
                    if record[i + 1 : i + 2] not in ("", ","):
                        return False
        elif char == '"':
            if not at_start:
                return False
            quoted = True
        at_start = char == "," and not quoted
        i += 1
    return not quoted


def _csv_rows(lines: list[str]) -> list[tuple[int, dict | None]]:
    reader = csv.reader(lines, strict=True)
    header = None
    rows = []
    while True:
        start = reader.line_num + 1  # the 1-based line on which this record starts
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error:  # breaks RFC 4180: text after a closing quote, an unterminated quote
            fields = None
        record = "".join(lines[start - 1 : reader.line_num]).removesuffix("\n").removesuffix("\r")
        if fields is not None and fields and not _rfc4180_quotes_ok(record):
            fields = None  # a bare quote inside an unquoted field, which csv.reader lets through
        if fields is not None and any(len(field) > FIELD_LIMIT for field in fields):
            raise Quarantined("unreadable_file")
        if fields is not None and (not fields or (len(fields) == 1 and not fields[0].strip())):
            continue  # a blank row: no fields, or one empty or whitespace-only field
        if header is None:
            if fields is None:
                raise Quarantined("missing_columns")  # a header that cannot be parsed
            header = [name.strip() for name in fields]
            if not set(FIELDS) <= set(header):
                raise Quarantined("missing_columns")
            continue
        if fields is None or len(fields) != len(header):
            rows.append((start, None))
            continue
        values = {}
        for name, value in zip(header, fields, strict=True):
            values.setdefault(name, value)  # a repeated name: the first column counts
        rows.append((start, values))
    return rows


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def json_text(value) -> str | None:
    """A JSON value as the text the rules look at. Numbers arrive as their literal text."""
    if value is None or isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def read_jsonl(data: bytes) -> list[tuple[int, dict | None]]:
    rows = []
    for number, line in enumerate(decode_utf8(data).split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            # Numbers by their literal decimal text: "10.50" stays "10.50", never a float.
            obj = json.loads(line, parse_float=str, parse_int=str, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            rows.append((number, None))
            continue
        if not isinstance(obj, dict):
            rows.append((number, None))
            continue
        rows.append((number, {name: json_text(obj.get(name)) for name in FIELDS}))
    return rows


def parquet_text(value) -> str | None:
    """A native Parquet value as contract text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"  # a native timestamp without a time zone is UTC
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def read_parquet(data: bytes) -> list[tuple[int, dict | None]]:
    if not data:
        return []  # an empty file is processed with zero records
    try:
        # ParquetFile.read, not pq.read_table: the latter's thread pool sometimes aborts the interpreter
        # at exit with pyarrow 26 ("terminate called without an active exception").
        table = pq.ParquetFile(io.BytesIO(data)).read()
    except (pa.ArrowException, OSError, ValueError):
        raise Quarantined("unreadable_file") from None
    if not set(FIELDS) <= set(table.column_names):
        raise Quarantined("missing_columns")
    records = table.select(list(FIELDS)).to_pylist()
    try:
        return [(n, {k: parquet_text(v) for k, v in r.items()}) for n, r in enumerate(records, start=1)]
    except UnicodeDecodeError:  # a binary value that is not UTF-8 text
        raise Quarantined("unreadable_file") from None


def gunzip(data: bytes, max_bytes: int | None) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            content = stream.read() if max_bytes is None else stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error):
        raise Quarantined("unreadable_file") from None
    if max_bytes is not None and len(content) > max_bytes:
        raise Quarantined("too_large")
    return content


def is_ignored(name: str) -> bool:
    """Markers and temporary files (a segment starting with _ or .), and S3 "folder" objects."""
    return name.endswith("/") or any(part.startswith(("_", ".")) for part in name.split("/"))


def read_file(name: str, data: bytes, max_bytes: int | None) -> list[tuple[int, dict | None]]:
    base = name.rsplit("/", 1)[-1]
    suffix = next((s for s in sorted(SUFFIXES, key=len, reverse=True) if base.endswith(s)), None)
    if suffix is None:
        raise Quarantined("unsupported_format")
    if max_bytes is not None and len(data) > max_bytes:
        raise Quarantined("too_large")
    if suffix.endswith(".gz"):
        data = gunzip(data, max_bytes)
    if suffix.startswith(".csv"):
        return read_csv(data)
    if suffix.startswith(".jsonl"):
        return read_jsonl(data)
    return read_parquet(data)


# --------------------------------------------------------------------------- the day


def money(amount: Decimal) -> str:
    return f"{amount.quantize(CENT):f}"


def reference_day(files: Mapping[str, bytes] | Iterable[tuple[str, bytes]], max_bytes: int | None = None) -> dict:
    """The report numbers for one day's files: {name: bytes} or (name, bytes) pairs, names relative to the day.

    max_bytes: the pipeline's max_file_bytes, when a test sets one (too_large); None for no limit.
    """
    if isinstance(files, Mapping):
        files = files.items()
    read = valid = rejected = duplicates = 0
    by_reason = dict.fromkeys(ROW_REASONS, 0)
    by_type = dict.fromkeys(EVENT_TYPES, 0)
    hourly = [0] * 24
    users: set[str] = set()
    seen_ids: set[str] = set()
    revenue: dict[str, dict[str, Decimal]] = {}
    inputs = []
    rejected_rows = []

    for name, data in sorted(files):  # key order
        if is_ignored(name):
            continue
        entry = {"name": name, "status": "processed", "reason": None, "records_read": 0, "records_rejected": 0}
        inputs.append(entry)
        try:
            rows = read_file(name, data, max_bytes)
        except Quarantined as problem:
            entry["status"], entry["reason"] = "quarantined", problem.reason
            continue
        for row_number, values in rows:
            read += 1
            entry["records_read"] += 1
            result = "malformed_row" if values is None else check(values)
            if isinstance(result, str):
                rejected += 1
                entry["records_rejected"] += 1
                by_reason[result] += 1
                rejected_rows.append((name, row_number, result))
                continue
            if result["event_id"] in seen_ids:
                duplicates += 1
                continue
            seen_ids.add(result["event_id"])
            valid += 1
            by_type[result["event_type"]] += 1
            hourly[result["hour"]] += 1
            users.add(result["user_id"])
            if "currency" in result:
                sums = revenue.setdefault(result["currency"], {"gross": Decimal(0), "refunds": Decimal(0)})
                sums["gross" if result["event_type"] == "purchase" else "refunds"] += result["amount"]

    return {
        "records": {"read": read, "valid": valid, "rejected": rejected, "duplicates": duplicates},
        "rejected_by_reason": by_reason,
        "events_by_type": by_type,
        "unique_users": len(users),
        "hourly_events": hourly,
        "revenue": {
            currency: {
                "gross": money(s["gross"]),
                "refunds": money(s["refunds"]),
                "net": money(s["gross"] - s["refunds"]),
            }
            for currency, s in sorted(revenue.items())
        },
        "inputs": inputs,
        "rejected_rows": rejected_rows,
    }


def report_numbers(report: dict) -> dict:
    """A published report in reference_day's shape (rejected_rows aside: see quarantined_rows)."""
    prefix = f"raw-data/{report['partition']}/"
    return {
        "records": {name: report["records"][name] for name in ("read", "valid", "rejected", "duplicates")},
        "rejected_by_reason": {**dict.fromkeys(ROW_REASONS, 0), **report["rejected_by_reason"]},
        "events_by_type": dict(report["events_by_type"]),
        "unique_users": report["unique_users"],
        "hourly_events": list(report["hourly_events"]),
        "revenue": report["revenue"],
        "inputs": [
            {
                "name": entry["key"].removeprefix(prefix),
                "status": entry["status"],
                "reason": entry["reason"],
                "records_read": entry["records_read"],
                "records_rejected": entry["records_rejected"],
            }
            for entry in report["inputs"]
        ],
    }


def quarantined_rows(jsonl: bytes | None, day: str) -> list[tuple[str, int, str]]:
    """(name, row_number, reason) for each line of quarantine/D/rejected_rows.jsonl, in order."""
    if not jsonl:
        return []
    prefix = f"raw-data/{day}/"
    # Split on LF only: U+2028 and friends may stand unescaped inside a line's content.
    lines = [json.loads(line) for line in jsonl.decode("utf-8").split("\n") if line.strip()]
    return [(line["key"].removeprefix(prefix), line["row_number"], line["reason"]) for line in lines]
