"""The data contract's fixed vocabulary: fields, event types, reasons and key layout."""

from __future__ import annotations

REPORT_VERSION = 1

REQUIRED_COLUMNS = ("event_id", "event_time", "user_id", "event_type", "amount", "currency")
IDENTITY_FIELDS = ("event_id", "event_time", "user_id", "event_type")
EVENT_TYPES = ("view", "add_to_cart", "purchase", "refund")
MONETARY_TYPES = frozenset({"purchase", "refund"})

# Row reasons, in the order the validation rules apply (malformed first: it precedes validation).
ROW_REASONS = (
    "malformed_row",
    "missing_field",
    "invalid_event_type",
    "invalid_timestamp",
    "invalid_amount",
    "invalid_currency",
)
FILE_REASONS = ("unsupported_format", "unreadable_file", "missing_columns", "too_large")

RAW_PREFIX = "raw-data"
REPORTS_PREFIX = "reports"
QUARANTINE_PREFIX = "quarantine"
WORK_PREFIX = "work"  # a sharded run's intermediate files, removed when its report is written
SUCCESS_MARKER = "_SUCCESS"

# Longest suffix first so ".csv.gz" wins over a plain ".gz" lookup.
FORMAT_BY_SUFFIX = (
    (".csv.gz", "csv.gz"),
    (".jsonl.gz", "jsonl.gz"),
    (".parquet", "parquet"),
    (".jsonl", "jsonl"),
    (".csv", "csv"),
)


def raw_day_prefix(day: str) -> str:
    return f"{RAW_PREFIX}/{day}/"


def report_key(day: str) -> str:
    return f"{REPORTS_PREFIX}/{day}.json"


def quarantine_day_prefix(day: str) -> str:
    return f"{QUARANTINE_PREFIX}/{day}/"


def is_ignored(relative_path: str) -> bool:
    """Markers and temporary files: any path segment below the day folder starting with _ or .

    Keys ending in '/' are the empty "folder" objects some S3 tools create: not files at all.
    """
    return relative_path.endswith("/") or any(segment.startswith(("_", ".")) for segment in relative_path.split("/"))


def data_format(relative_path: str) -> str | None:
    """The data format named by a file's extension, or None when it is not a supported one."""
    name = relative_path.rsplit("/", 1)[-1]
    for suffix, fmt in FORMAT_BY_SUFFIX:
        if name.endswith(suffix) and len(name) > len(suffix):
            return fmt
    return None
