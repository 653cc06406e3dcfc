"""Property-based tests: any records, split across any files in any formats, read with any chunk size.

Hypothesis draws records from the contract's value space (every valid timestamp form, offsets and
fractions, amounts and currencies, padding, ids that repeat across files) plus a share of invalid
ones whose reason is known by construction; renders them into csv, csv.gz, jsonl, jsonl.gz and
parquet (string or native columns) files with random layouts; and runs compute_day/publish_day with
a random chunk_bytes (1..65536) and batch_rows (1..1000).

The expected numbers come from the generated records themselves (the generator knows what every row
is; nothing here parses the files), and must also equal reference.reference_day over the bytes.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import gzip
import io
import json
import os
import re
import string
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_project.core.report import reconciliation_problems
from pipeline_project.daily import compute_day, publish_day
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land
from pipeline_project_tests.core.reference import reference_day, report_numbers

DAY = "2025-03-09"
FIELDS = ("event_id", "event_time", "user_id", "event_type", "amount", "currency")
IDENTITY = FIELDS[:4]
EVENT_TYPES = ("view", "add_to_cart", "purchase", "refund")
MONETARY = ("purchase", "refund")
ROW_REASONS = (
    "malformed_row",
    "missing_field",
    "invalid_event_type",
    "invalid_timestamp",
    "invalid_amount",
    "invalid_currency",
)
FORMATS = ("csv", "csv.gz", "jsonl", "jsonl.gz", "parquet")
EPOCH_DAY = dt.date(1970, 1, 1).toordinal()
MIN_SECONDS = (dt.date(1, 1, 1).toordinal() - EPOCH_DAY) * 86400  # what a native timestamp can render
MAX_SECONDS = (dt.date(9999, 12, 31).toordinal() - EPOCH_DAY) * 86400 + 86399
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
VALID_AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")

# A lake per example; in memory where possible (the local lake fsyncs every write, and the disk is not under test).
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
PROFILE = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

# --------------------------------------------------------------------------- values

PAD = st.sampled_from(["", "", "", " ", "  ", "\t", "\u00a0", "\u3000", " \t "])
TEXT_CHARS = st.one_of(
    st.sampled_from(list("abcxyzXYZ0129-_.:;,\"'\\/{}[]# ") + ["\n", "\r", "\u00e9", "\u65e5", "\U0001f389"]),
    st.sampled_from(["\u2028", "\u0085", "\ufeff", "\u200b"]),
    st.characters(exclude_categories=("Cs", "Cc")),
)
ID_POOL = ["e1", "e2", "e3", "E1", "10", "42", "007", "true", "a,b", 'q"q', "x\ny", "\u00fc\u00df", "1.0"]


def padded(core: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(PAD, core, PAD).map("".join)


IDS = padded(
    st.one_of(
        st.sampled_from(ID_POOL),
        st.integers(0, 10**6).map(str),
        st.text(TEXT_CHARS, min_size=1, max_size=8),
    )
).filter(lambda s: s.strip())
JUNK = st.one_of(st.none(), st.text(TEXT_CHARS, max_size=6))


@st.composite
def valid_times(draw) -> tuple[str, int, tuple[int, str]]:
    """(text, UTC hour, (epoch seconds of the instant, fraction digits)) for any allowed form."""
    year = draw(st.one_of(st.integers(1, 9999), st.integers(1960, 2040)))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, calendar.monthrange(year, month)[1]))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    fraction = draw(st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9)))
    zone = draw(st.sampled_from(["", "Z", "offset"]))
    offset = 0
    if zone == "offset":
        sign, oh, om = draw(st.sampled_from("+-")), draw(st.integers(0, 23)), draw(st.integers(0, 59))
        offset = (oh * 60 + om) * (1 if sign == "+" else -1)
        zone = f"{sign}{oh:02d}:{om:02d}"
    sep = draw(st.sampled_from("T "))
    text = f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}"
    text += (f".{fraction}" if fraction else "") + zone
    utc_hour = ((hour * 60 + minute - offset) // 60) % 24
    seconds = (dt.date(year, month, day).toordinal() - EPOCH_DAY) * 86400 + hour * 3600 + minute * 60 + second
    return text, utc_hour, (seconds - offset * 60, fraction)


BAD_TIMES = st.one_of(
    st.sampled_from(
        [
            "2025-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-04-31 10:00:00",
            "2025-03-09T25:00:00Z",
            "2025-03-09T24:00:00Z",
            "2025-03-09T10:60:00Z",
            "2025-03-09T10:00:60Z",
            "2025-03-09",
            "1741515300",
            "2025-03-09T10:15:00+24:00",
            "2025-03-09T10:15:00+01:60",
            "2025-03-09T10:15:00+0100",
            "2025-03-09t10:15:00Z",
            "2025-03-09T10:15:00z",
            "0000-01-01T00:00:00Z",
            "2025-03-09T10:15:00.1234567890Z",
            "2025-03-09T10:15:00.Z",
            "\uff12025-03-09T10:15:00Z",
        ]
    ),
    valid_times().map(lambda t: t[0] + draw_suffix(t[0])),
)


def draw_suffix(text: str) -> str:
    """Something after a valid timestamp that no form allows (deterministic in the text)."""
    return ["x", ":00", " UTC", ".", "Z+00:00"][len(text) % 5]


@st.composite
def valid_amounts(draw) -> tuple[str, int]:
    cents = draw(st.one_of(st.integers(0, 10**6), st.integers(0, 10**15)))
    whole, part = divmod(cents, 100)
    forms = [f"{whole}.{part:02d}"]
    if part % 10 == 0:
        forms.append(f"{whole}.{part // 10}")
    if part == 0:
        forms += [str(whole)]
    text = draw(st.sampled_from(["", "0", "00"])) + draw(st.sampled_from(forms))
    return text, cents


BAD_AMOUNTS = st.one_of(
    st.sampled_from(
        ["-1", "+1", "1,000.00", "NaN", "Infinity", "1e3", "12.345", ".5", "5.", "", " ", "0x10", "\u0661", "$1", "-0"]
    ),
    st.none(),
    valid_amounts().map(lambda a: "-" + a[0]),
    valid_amounts().map(lambda a: a[0] + "e1"),
    st.integers(0, 10**6).map(lambda n: f"{n}.{n % 1000:03d}"),
)
CURRENCIES = padded(
    st.one_of(st.sampled_from(["USD", "EUR", "GBP", "JPY"]), st.text(string.ascii_uppercase, min_size=3, max_size=3))
)
BAD_CURRENCIES = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "usd", "Eur", "US", "USDD", "U$D", "12A", "\uff35\uff33\uff24", "US D"]),
    st.text(string.ascii_lowercase, min_size=3, max_size=3),
)
BAD_TYPES = st.one_of(
    st.sampled_from(["View", "PURCHASE", "click", "add-to-cart", "purchase\u200b", "refunds", "1", "true"]),
    st.text(TEXT_CHARS, min_size=1, max_size=6),
).filter(lambda s: s.strip() and s.strip() not in EVENT_TYPES)
MISSING = st.sampled_from([None, "", " ", "\t\u3000"])


@dataclass
class Rec:
    """A generated record: its raw values, and what the contract makes of it."""

    values: dict[str, str | None]
    reason: str | None = None  # None: valid (or a duplicate, decided per day)
    malformed: str | None = None  # how to break the row's syntax, for malformed_row
    instant: tuple[int, str] | None = None  # set while event_time holds the generated valid text
    hour: int = 0
    cents: int = 0

    @property
    def event_id(self) -> str:
        return self.values["event_id"].strip()


@st.composite
def valid_records(draw) -> Rec:
    kind = draw(st.sampled_from(EVENT_TYPES))
    text, hour, instant = draw(valid_times())
    if kind in MONETARY:
        amount, cents = draw(valid_amounts())
        amount = draw(PAD) + amount + draw(PAD)
        currency = draw(CURRENCIES)
    else:
        amount, cents, currency = draw(st.one_of(JUNK, valid_amounts().map(lambda a: a[0]))), 0, draw(JUNK)
    values = {
        "event_id": draw(IDS),
        "event_time": draw(PAD) + text + draw(PAD),
        "user_id": draw(IDS),
        "event_type": draw(PAD) + kind + draw(PAD),
        "amount": amount,
        "currency": currency,
    }
    return Rec(values, instant=instant, hour=hour, cents=cents)


@st.composite
def invalid_records(draw, malformed_ok: bool) -> Rec:
    rec = draw(valid_records())
    v = rec.values
    reasons = ROW_REASONS if malformed_ok else ROW_REASONS[1:]
    rec.reason = reason = draw(st.sampled_from(reasons))
    also = draw(st.booleans())  # also break a rule that comes later: the first failing rule must win
    if reason == "malformed_row":
        rec.malformed = draw(st.sampled_from(["too_many", "too_few", "after_quote", "json"]))
    elif reason == "missing_field":
        name = draw(st.sampled_from(IDENTITY))
        v[name] = draw(MISSING)
        if name == "event_time":
            rec.instant = None
        if also and name != "event_type":
            v["event_type"] = draw(BAD_TYPES)
    elif reason == "invalid_event_type":
        v["event_type"] = draw(BAD_TYPES)
        if also:
            v["event_time"], rec.instant = draw(BAD_TIMES), None
    elif reason == "invalid_timestamp":
        v["event_time"], rec.instant = draw(BAD_TIMES), None
        if also:
            v["event_type"], v["amount"] = draw(st.sampled_from(MONETARY)), draw(BAD_AMOUNTS)
    elif reason == "invalid_amount":
        v["event_type"] = draw(PAD) + draw(st.sampled_from(MONETARY))
        v["amount"] = draw(BAD_AMOUNTS)
        if also:
            v["currency"] = draw(BAD_CURRENCIES)
    else:
        v["event_type"] = draw(st.sampled_from(MONETARY)) + draw(PAD)
        v["amount"] = draw(valid_amounts())[0]
        v["currency"] = draw(BAD_CURRENCIES)
    return rec


def records(invalid_share: float, malformed_ok: bool) -> st.SearchStrategy[Rec]:
    if not invalid_share:
        return valid_records()
    weight = max(1, round(10 * invalid_share))
    return st.one_of(*[valid_records()] * (10 - weight), *[invalid_records(malformed_ok)] * weight)


# --------------------------------------------------------------------------- rendering
# Each renderer returns (bytes, [row_number of each record in file order]).


def csv_text(fields: list[str], quote_all: bool) -> str:
    out = io.StringIO()
    # "\r\n" as the writer's terminator makes it quote any field holding a CR or an LF.
    csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL).writerow(fields)
    return out.getvalue()[:-2]


def line_breaks(text: str) -> int:
    return len(re.findall(r"\r\n|\r|\n", text))


def render_csv(draw, recs: list[Rec]) -> tuple[bytes, list[int]]:
    columns = list(draw(st.permutations(FIELDS)))
    for extra in draw(
        st.lists(st.sampled_from(["country", "note", "Event_ID", "amount_usd"]), max_size=2, unique=True)
    ):
        columns.insert(draw(st.integers(0, len(columns))), extra)
    header = [draw(st.sampled_from(["", " "])) + c + draw(st.sampled_from(["", " "])) for c in columns]
    quote_all = draw(st.booleans())
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    blank = st.sampled_from(["", "   ", '""', "\t"])
    lines = [draw(blank) for _ in range(draw(st.integers(0, 1)))] + [csv_text(header, quote_all)]
    numbers = []
    for rec in recs:
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(blank))
        fields = [(rec.values[c] or "") if c in FIELDS else (draw(JUNK) or "") for c in columns]
        if rec.malformed in ("too_many", "json"):
            fields.append(draw(JUNK) or "x")
        elif rec.malformed == "too_few":
            del fields[draw(st.integers(0, len(fields) - 1))]
        text = csv_text(fields, quote_all)
        if rec.malformed == "after_quote":  # text after a closing quote (and no line break in the row)
            text = '"a"b' + ",x" * (len(columns) - 1)
        numbers.append(sum(line_breaks(t) + 1 for t in lines) + 1)
        lines.append(text)
    body = newline.join(lines) + (newline if draw(st.booleans()) else "")
    return (("\ufeff" if draw(st.booleans()) else "") + body).encode(), numbers


def json_value(draw, value: str | None) -> str:
    if value is None:
        return "null"
    if JSON_NUMBER.fullmatch(value) and draw(st.booleans()):
        return value  # a JSON number keeps its literal text
    if value in ("true", "false") and draw(st.booleans()):
        return value
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


def render_jsonl(draw, recs: list[Rec]) -> tuple[bytes, list[int]]:
    lines: list[str] = []
    numbers = []
    colon = draw(st.sampled_from([":", ": "]))
    comma = draw(st.sampled_from([",", ", "]))
    for rec in recs:
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["", "  ", "\r"])))
        members = []
        for name in draw(st.permutations(FIELDS)):
            value = rec.values[name]
            if value is None and draw(st.booleans()):
                continue  # a missing key is missing too
            if draw(st.integers(0, 9)) == 0:  # an earlier repeat of the key: the last one wins
                members.append(f"{json.dumps(name)}{colon}{json_value(draw, draw(JUNK))}")
            members.append(f"{json.dumps(name)}{colon}{json_value(draw, value)}")
        if draw(st.booleans()):
            members.insert(draw(st.integers(0, len(members))), f'"extra"{colon}{{"k"{colon}[1,null,"v"]}}')
        text = "{" + comma.join(members) + "}"
        if rec.malformed:
            text = draw(
                st.sampled_from(
                    ["[1,2]", '"text"', "42", "null", "true", "{", '{"event_id":NaN}', "{'a':1}", text[:-1]]
                )
            )
        numbers.append(len(lines) + 1)
        lines.append(text + ("\r" if draw(st.integers(0, 4)) == 0 else ""))
    body = "\n".join(lines) + ("\n" if lines and draw(st.booleans()) else "")
    return (("\ufeff" if draw(st.booleans()) else "") + body).encode(), numbers


def native_ids(values: list[str | None]) -> pa.Array | None:
    if all(v is None or re.fullmatch(r"0|[1-9][0-9]{0,17}", v) for v in values):
        return pa.array([None if v is None else int(v) for v in values], pa.int64())
    return None


def native_times(draw, recs: list[Rec]) -> pa.Array | None:
    if not all(r.values["event_time"] is None or r.instant is not None for r in recs):
        return None
    instants = [r.instant for r in recs if r.values["event_time"] is not None]
    if not all(MIN_SECONDS <= s <= MAX_SECONDS for s, _ in instants):
        return None
    units = ["s", "ms", "us"] + (["ns"] if all(abs(s) < 9 * 10**9 for s, _ in instants) else [])
    unit = draw(st.sampled_from(units))
    digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
    ints = [
        None
        if r.values["event_time"] is None
        else r.instant[0] * 10**digits + int((r.instant[1] + "0" * 9)[:digits] or 0)
        for r in recs
    ]
    return pa.array(ints, pa.timestamp(unit, tz=draw(st.sampled_from([None, "UTC", "+05:30"]))))


def native_amounts(draw, values: list[str | None]) -> pa.Array | None:
    stripped = [None if v is None else v.strip() for v in values]
    if not all(v is None or VALID_AMOUNT.fullmatch(v) for v in stripped):
        return None
    present = [v for v in stripped if v is not None]
    options = ["decimal"]
    if all("." not in v for v in present):
        options.append("int")
    if all(Decimal(v) < 10**13 for v in present):
        options.append("float")
    kind = draw(st.sampled_from(options))
    if kind == "int":
        return pa.array([None if v is None else int(v) for v in stripped], pa.int64())
    if kind == "float":
        return pa.array([None if v is None else float(v) for v in stripped], pa.float64())
    scale = draw(st.integers(max((len(v.partition(".")[2]) for v in present), default=0), 2))
    return pa.array([None if v is None else Decimal(v) for v in stripped], pa.decimal128(20, scale))


def render_parquet(draw, recs: list[Rec]) -> tuple[bytes, list[int]]:
    columns = {}
    for name in FIELDS:
        values = [r.values[name] for r in recs]
        array = None
        if draw(st.booleans()):  # native where the values allow it
            if name in ("event_id", "user_id"):
                array = native_ids(values)
            elif name == "event_time":
                array = native_times(draw, recs)
            elif name == "amount":
                array = native_amounts(draw, values)
            elif name == "event_type":
                array = pa.array(values, pa.string()).dictionary_encode()
            else:
                array = pa.array(values, pa.large_string())
        columns[name] = array if array is not None else pa.array(values, pa.string())
    if draw(st.booleans()):
        columns["country"] = pa.array(["XX"] * len(recs), pa.string())
    order = draw(st.permutations(list(columns)))
    out = io.BytesIO()
    table = pa.table({name: columns[name] for name in order})
    pq.write_table(table, out, row_group_size=draw(st.integers(1, 50)))
    return out.getvalue(), list(range(1, len(recs) + 1))


def gzip_members(draw, data: bytes) -> bytes:
    cut = draw(st.integers(0, len(data)))
    if cut in (0, len(data)) or draw(st.booleans()):
        return gzip.compress(data, mtime=0)
    return gzip.compress(data[:cut], mtime=0) + gzip.compress(data[cut:], mtime=0)  # multi-member


@dataclass
class File:
    name: str
    data: bytes
    recs: list[Rec]
    numbers: list[int] = field(default_factory=list)


@st.composite
def days(draw, invalid_share: float) -> list[File]:
    files = []
    for index in range(draw(st.integers(1, 6))):
        fmt = draw(st.sampled_from(FORMATS))
        recs = draw(st.lists(records(invalid_share, malformed_ok=fmt != "parquet"), max_size=25))
        folder = draw(st.sampled_from(["", "a/", "b/c/", "Z/", "\u00e9/", "a b/", "x/"]))
        name = f"{folder}{draw(st.sampled_from(['f', 'F', 'g-']))}{index}.{fmt}"
        if fmt == "parquet":
            data, numbers = render_parquet(draw, recs)
        else:
            data, numbers = (render_csv if fmt.startswith("csv") else render_jsonl)(draw, recs)
            if fmt.endswith(".gz"):
                data = gzip_members(draw, data)
        files.append(File(name, data, recs, numbers))
    return files


# --------------------------------------------------------------------------- the simple reference


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def truth(files: list[File]) -> tuple[dict, dict, list]:
    """Report numbers from the generated records: (numbers, per-file counts, rejected rows)."""
    read = valid = rejected = duplicates = 0
    by_reason = dict.fromkeys(ROW_REASONS, 0)
    by_type = dict.fromkeys(EVENT_TYPES, 0)
    hourly = [0] * 24
    users, seen, revenue = set(), set(), {}
    inputs, per_file, rows = [], {}, []
    for f in sorted(files, key=lambda f: f.name):
        counts = [0, 0, 0, 0]
        for rec, number in zip(f.recs, f.numbers, strict=True):
            read += 1
            counts[0] += 1
            if rec.reason:
                rejected += 1
                counts[2] += 1
                by_reason[rec.reason] += 1
                rows.append((f.name, number, rec.reason))
            elif rec.event_id in seen:
                duplicates += 1
                counts[3] += 1
            else:
                seen.add(rec.event_id)
                valid += 1
                counts[1] += 1
                kind = rec.values["event_type"].strip()
                by_type[kind] += 1
                hourly[rec.hour] += 1
                users.add(rec.values["user_id"].strip())
                if kind in MONETARY:
                    sums = revenue.setdefault(rec.values["currency"].strip(), [0, 0])
                    sums[0 if kind == "purchase" else 1] += rec.cents
        per_file[f.name] = tuple(counts)
        inputs.append(
            {
                "name": f.name,
                "status": "processed",
                "reason": None,
                "records_read": counts[0],
                "records_rejected": counts[2],
            }
        )
    numbers = {
        "records": {"read": read, "valid": valid, "rejected": rejected, "duplicates": duplicates},
        "rejected_by_reason": by_reason,
        "events_by_type": by_type,
        "unique_users": len(users),
        "hourly_events": hourly,
        "revenue": {
            c: {"gross": money(g), "refunds": money(r), "net": money(g - r)} for c, (g, r) in sorted(revenue.items())
        },
        "inputs": inputs,
    }
    return numbers, per_file, rows


def rejected_rows(jsonl: bytes | None) -> list[tuple[str, int, str]]:
    """(name, row_number, reason) per line of rejected_rows.jsonl. Lines end with LF only: content may
    hold U+0085 or U+2028 unescaped, so str.splitlines (as reference.quarantined_rows uses) would cut them."""
    lines = [json.loads(line) for line in (jsonl or b"").decode("utf-8").split("\n")[:-1]]
    return [(line["key"].removeprefix(f"raw-data/{DAY}/"), line["row_number"], line["reason"]) for line in lines]


def check(files: list[File], chunk_bytes: int, batch_rows: int, split: tuple[int, int] = (0, 1 << 30)) -> None:
    shard_bytes, partition_bytes = split
    with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
        storage = open_storage(root)
        land(storage, DAY, {f.name: f.data for f in files})
        outcome = compute_day(
            storage,
            DAY,
            "run-prop",
            1 << 30,
            chunk_bytes=chunk_bytes,
            batch_rows=batch_rows,
            shard_bytes=shard_bytes,
            partition_bytes=partition_bytes,
        )
        publish_day(storage, outcome)
        report = json.loads(storage.read_bytes(f"reports/{DAY}.json"))
        rejected_jsonl = storage.read_bytes(f"quarantine/{DAY}/rejected_rows.jsonl")
    numbers, per_file, rows = truth(files)
    assert report_numbers(report) == numbers
    prefix = f"raw-data/{DAY}/"
    assert {
        i["key"].removeprefix(prefix): (
            i["records_read"],
            i["records_valid"],
            i["records_rejected"],
            i["records_duplicates"],
        )
        for i in report["inputs"]
    } == per_file
    assert rejected_rows(rejected_jsonl) == rows
    assert reconciliation_problems(report) == []
    reference = reference_day({f.name: f.data for f in files})
    assert reference.pop("rejected_rows") == rows
    assert reference == numbers


CHUNKS = st.one_of(st.integers(1, 64), st.integers(1, 65536))
BATCHES = st.one_of(st.integers(1, 8), st.integers(1, 1000))
# (shard_bytes, partition_bytes): one shard and one spill partition, or files cut into shards
# (0..a few per shard) and rows spread over many spill partitions, merged exactly.
SPLITS = st.one_of(st.just((0, 1 << 30)), st.tuples(st.integers(1, 4096), st.integers(1, 4096)))


@settings(max_examples=60, **PROFILE)
@given(files=days(invalid_share=0), chunk_bytes=CHUNKS, batch_rows=BATCHES, split=SPLITS)
def test_valid_records_in_any_files_and_chunks_give_the_reference_report(files, chunk_bytes, batch_rows, split):
    check(files, chunk_bytes, batch_rows, split)


@settings(max_examples=180, **PROFILE)
@given(files=days(invalid_share=0.3), chunk_bytes=CHUNKS, batch_rows=BATCHES, split=SPLITS)
def test_valid_and_invalid_records_in_any_files_and_chunks_give_the_reference_report(
    files, chunk_bytes, batch_rows, split
):
    check(files, chunk_bytes, batch_rows, split)


@settings(max_examples=40, **PROFILE)
@given(files=days(invalid_share=0.3), data=st.data())
def test_the_same_files_give_the_same_report_whatever_the_chunk_size(files, data):
    """Reading 1 byte / 1 row at a time, or 64 KiB / 1000 rows, changes nothing in the report."""
    reports = []
    for chunk_bytes, batch_rows in [(1, 1), (65536, 1000), (data.draw(CHUNKS), data.draw(BATCHES))]:
        with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
            storage = open_storage(root)
            land(storage, DAY, {f.name: f.data for f in files})
            outcome = compute_day(storage, DAY, "run", 1 << 30, chunk_bytes=chunk_bytes, batch_rows=batch_rows)
            publish_day(storage, outcome)
            report = outcome.report
            rows = storage.read_bytes(f"quarantine/{DAY}/rejected_rows.jsonl")
        for entry in report["inputs"]:
            entry.pop("etag")  # a local change token (mtime), different per landing
        reports.append(({k: v for k, v in report.items() if k not in ("generated_at", "source")}, rows))
    assert reports[0] == reports[1] == reports[2]
