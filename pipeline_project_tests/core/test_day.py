"""One day end to end on a local lake: compute_day + publish_day, exact numbers, quarantine and reruns."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import io
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline_project.core.aggregation import InputFile, ShardScanner
from pipeline_project.core.columnar import VALID_SCHEMA, BlockRows
from pipeline_project.core.contract import ROW_REASONS, data_format, is_ignored
from pipeline_project.core.report import reconciliation_problems
from pipeline_project.core.sample_data import sample_day
from pipeline_project.daily import NoDataError, compute_day, publish_day
from pipeline_project.storage import open_storage
from pipeline_project_tests.core.reference import quarantined_rows, reference_day, report_numbers

DAY = "2025-03-09"
RAW = f"raw-data/{DAY}/"
Q = f"quarantine/{DAY}/"
MAX_FILE_BYTES = 1 << 20
HEADER = "event_id,event_time,user_id,event_type,amount,currency"

# ---------------------------------------------------------------------------- the hand-made day
# Every row below is annotated with what the contract makes of it; the expected numbers in
# test_exact_report_numbers are summed by hand from these notes.

WEB_CSV = "\r\n".join(
    [
        "currency,amount,event_type,user_id,event_time,event_id,country",  # any order, extra column
        "USD,10.50,purchase,u1,2025-03-09T10:15:00Z,e1,US",  # L2 valid purchase USD 10.50, h10
        ",,view,u2,2025-03-09 00:30:00+01:00,e2,DE",  # L3 valid view, h23 (previous day UTC)
        ",,view,u1,2025-03-09T10:16:00Z,e1,US",  # L4 duplicate of e1
        "",  # L5 blank
        "EUR,5,refund,u3,2025-03-09T12:00:00.123456789-02:00,e3,FR",  # L6 valid refund EUR 5.00, h14
        ",,checkout,u4,2025-03-09T01:00:00Z,e4,US",  # L7 invalid_event_type
        'USD,"1,000.00",purchase,u4,2025-03-09T01:00:00Z,e5,US',  # L8 invalid_amount
        'too,"few',  # L9-10 malformed_row (2 fields over two lines)
        'fields"',
        'USD,3.00,purchase,u5,2025-03-09T05:00:00Z,e6,"multi',  # L11-12 valid purchase USD 3.00, h5
        'line"',
        "usd,3.00,purchase,u5,2025-03-09T05:00:00Z,e7,US",  # L13 invalid_currency
    ]
)
WEB_CSV_BYTES = b"\xef\xbb\xbf" + (WEB_CSV + "\r\n").encode()

EVENTS_JSONL = [
    '{"event_id":"e8","event_time":"2025-03-09T10:59:59Z","user_id":"u2","event_type":"purchase",'
    '"amount":20.00,"currency":"USD"}',  # 1 valid purchase USD 20.00 (a JSON number), h10
    '{"event_id":"e9","event_time":"2025-03-09T25:00:00Z","user_id":"u6","event_type":"view"}',  # 2 invalid_timestamp
    "[1,2]",  # 3 malformed_row
    "",  # 4 blank
    '{"event_id":"e9","event_time":"2025-03-09T11:00:00Z","user_id":"u6","event_type":"view","amount":null}',
    # 5 valid view, h11: the first e9 was invalid, so this is no duplicate
    '{"event_id":" e2\\t","event_time":"2025-03-09T11:00:00Z","user_id":"u9","event_type":"add_to_cart"}',
    # 6 duplicate of e2 (in another file; ids are compared trimmed)
    '{"event_id":null,"event_time":"2025-03-09T11:00:00Z","user_id":"u9","event_type":"view"}',  # 7 missing_field
    '{"event_id":"e10","event_time":"2025-03-09T23:59:59.5Z","user_id":" u7 ","event_type":"add_to_cart"}',
    # 8 valid add_to_cart, h23, user "u7"
]
EVENTS_JSONL_GZ = gzip.compress(("\n".join(EVENTS_JSONL) + "\n").encode(), mtime=0)

PARQUET_ROWS = {
    "event_id": ["e11", "e12", "e13", "e11"],
    "event_time": ["2025-03-09T08:00:00+05:30", "2025-03-09T09:00:00Z", "2025-02-29T00:00:00Z", "2025-03-09T09:00:00Z"],
    "user_id": ["u1", "u8", "u8", "u1"],
    "event_type": ["refund", "purchase", "view", "view"],
    "amount": ["2.25", "0.01", None, None],
    "currency": ["USD", "GBP", None, None],
}
# 1 valid refund USD 2.25, h2 (02:30 UTC); 2 valid purchase GBP 0.01, h9;
# 3 invalid_timestamp (2025 is no leap year); 4 duplicate of e11 within the file


def parquet_bytes(columns: dict) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}), out)
    return out.getvalue()


# More than one text chunk of good rows before a Latin-1 byte: the reader yields rows, then the file fails.
LATIN1_CSV = (
    (HEADER + "\n" + "e20,2025-03-09T07:00:00Z,u1,view,,\n").encode()
    + "".join(f"lat{n},2025-03-09T07:00:00Z,u{n},view,,\n" for n in range(400)).encode()
    + b"lat-x,2025-03-09T07:00:00Z,M\xfcller,view,,\n"
)
MISSING_CSV = (HEADER.replace(",currency", "") + "\ne30,2025-03-09T00:00:00Z,u9,view,\n").encode()
FIXED_CSV = (HEADER + "\ne30,2025-03-09T00:00:00Z,u9,view,,\n").encode()
VALID_ROW = (HEADER + "\ne99,2025-03-09T12:00:00Z,u99,purchase,1000.00,USD\n").encode()


def day_files() -> dict[str, bytes]:
    return {
        "_SUCCESS": b"",
        "_temporary/x.csv": VALID_ROW,  # ignored: temporary folder
        ".hidden.csv": VALID_ROW,  # ignored: hidden file
        "b/_tmp/part.csv": VALID_ROW,  # ignored: any segment below the day folder
        "b/.part.jsonl.crc": b"\x00\x01",  # ignored
        "notes.txt": b"remember the milk\n",  # unsupported_format
        "a/web events \u00fc.csv": WEB_CSV_BYTES,  # a space and a non-ASCII letter in the name
        "b/events.jsonl.gz": EVENTS_JSONL_GZ,
        "b/parquet/part-0.parquet": parquet_bytes(PARQUET_ROWS),
        "c/broken.csv.gz": gzip.compress(VALID_ROW, mtime=0)[:-10],  # unreadable_file
        "c/latin1.csv": LATIN1_CSV,  # unreadable_file; its e20 must not count
        "c/missing.csv": MISSING_CSV,  # missing_columns
        "d/empty.jsonl": b"",  # processed, zero records
        "d/header_only.csv.gz": gzip.compress((HEADER + "\r\n").encode(), mtime=0),  # processed, zero records
        "d/late.jsonl": b'{"event_id":"e20","event_time":"2025-03-09T07:00:00Z","user_id":"u1","event_type":"view"}\n',
        # valid view, h7 (e20 first seen here: the quarantined latin1.csv contributes nothing)
    }


def land(root: Path, files: dict[str, bytes], day: str = DAY) -> None:
    for name, data in files.items():
        path = root / "raw-data" / day / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def run(storage, day: str = DAY, run_id: str = "run-1", max_file_bytes: int = MAX_FILE_BYTES):
    outcome = compute_day(storage, day, run_id, max_file_bytes)
    key = publish_day(storage, outcome)
    assert key == f"reports/{day}.json"
    return outcome.report


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def storage(root):
    root.mkdir()
    return open_storage(str(root))


@pytest.fixture
def report(root, storage) -> dict:
    land(root, day_files())
    return run(storage)


# ---------------------------------------------------------------------------- exact numbers


def test_exact_report_numbers(report):
    assert report["report_version"] == 1
    assert report["partition"] == DAY
    assert report["run_id"] == "run-1"
    assert report["records"] == {"read": 21, "valid": 10, "rejected": 8, "duplicates": 3}
    assert report["rejected_by_reason"] == {
        "malformed_row": 2,
        "missing_field": 1,
        "invalid_event_type": 1,
        "invalid_timestamp": 2,
        "invalid_amount": 1,
        "invalid_currency": 1,
    }
    assert report["events_by_type"] == {"view": 3, "add_to_cart": 1, "purchase": 4, "refund": 2}
    assert report["unique_users"] == 7  # u1 u2 u3 u5 u6 u7 u8
    hourly = [0] * 24
    for hour, count in {2: 1, 5: 1, 7: 1, 9: 1, 10: 2, 11: 1, 14: 1, 23: 2}.items():
        hourly[hour] = count
    assert report["hourly_events"] == hourly
    assert report["revenue"] == {
        "EUR": {"gross": "0.00", "refunds": "5.00", "net": "-5.00"},
        "GBP": {"gross": "0.01", "refunds": "0.00", "net": "0.01"},
        "USD": {"gross": "33.50", "refunds": "2.25", "net": "31.25"},
    }
    assert report["files"] == {"considered": 10, "processed": 6, "quarantined": 4}


def test_exact_inputs(report):
    files = day_files()
    expected = [
        # name, format, status, reason, read, valid, rejected, duplicates
        ("a/web events \u00fc.csv", "csv", "processed", None, 9, 4, 4, 1),
        ("b/events.jsonl.gz", "jsonl.gz", "processed", None, 7, 3, 3, 1),
        ("b/parquet/part-0.parquet", "parquet", "processed", None, 4, 2, 1, 1),
        ("c/broken.csv.gz", "csv.gz", "quarantined", "unreadable_file", 0, 0, 0, 0),
        ("c/latin1.csv", "csv", "quarantined", "unreadable_file", 0, 0, 0, 0),
        ("c/missing.csv", "csv", "quarantined", "missing_columns", 0, 0, 0, 0),
        ("d/empty.jsonl", "jsonl", "processed", None, 0, 0, 0, 0),
        ("d/header_only.csv.gz", "csv.gz", "processed", None, 0, 0, 0, 0),
        ("d/late.jsonl", "jsonl", "processed", None, 1, 1, 0, 0),
        ("notes.txt", None, "quarantined", "unsupported_format", 0, 0, 0, 0),
    ]
    got = [
        (
            e["key"].removeprefix(RAW),
            e["format"],
            e["status"],
            e["reason"],
            e["records_read"],
            e["records_valid"],
            e["records_rejected"],
            e["records_duplicates"],
        )
        for e in report["inputs"]
    ]
    assert got == expected
    for entry in report["inputs"]:
        name = entry["key"].removeprefix(RAW)
        assert entry["key"] == RAW + name
        assert entry["size_bytes"] == len(files[name])
        assert entry["version_id"] is None  # a local lake has no versions
        assert isinstance(entry["etag"], str) and entry["etag"]
        assert entry["quarantine_key"] == (Q + "files/" + name if entry["status"] == "quarantined" else None)
        assert (entry["detail"] is None) == (entry["status"] == "processed")


def test_published_report_is_the_computed_one(root, report):
    published = json.loads((root / "reports" / f"{DAY}.json").read_text("utf-8"))
    assert published == report
    assert published["quarantine"] == {
        "prefix": Q,
        "rows_key": Q + "rejected_rows.jsonl",
        "files_key": Q + "quarantined_files.jsonl",
    }


def test_report_matches_the_reference(report):
    expected = reference_day(day_files(), max_bytes=MAX_FILE_BYTES)
    assert report_numbers(report) == {k: v for k, v in expected.items() if k != "rejected_rows"}


def test_reconciles(report):
    assert reconciliation_problems(report) == []


def test_same_inputs_same_report(root, storage, report):
    again = run(storage, run_id="run-2")
    assert again["run_id"] == "run-2"
    strip = ("generated_at", "run_id")
    assert {k: v for k, v in again.items() if k not in strip} == {k: v for k, v in report.items() if k not in strip}


# ---------------------------------------------------------------------------- quarantine


def test_rejected_rows_file(root, report):
    web, events, part = RAW + "a/web events \u00fc.csv", RAW + "b/events.jsonl.gz", RAW + "b/parquet/part-0.parquet"
    lines = (root / Q / "rejected_rows.jsonl").read_text("utf-8").splitlines()
    got = [json.loads(line) for line in lines]
    web_lines = WEB_CSV.split("\r\n")

    def row(key, number, reason, content):
        return {"key": key, "version_id": None, "row_number": number, "reason": reason, "content": content}

    assert got[:7] == [
        row(web, 7, "invalid_event_type", web_lines[6]),
        row(web, 8, "invalid_amount", web_lines[7]),
        row(web, 9, "malformed_row", 'too,"few\r\nfields"'),
        row(web, 13, "invalid_currency", web_lines[12]),
        row(events, 2, "invalid_timestamp", EVENTS_JSONL[1]),
        row(events, 3, "malformed_row", "[1,2]"),
        row(events, 7, "missing_field", EVENTS_JSONL[6]),
    ]
    # Parquet has no original text: the content is the row's contract fields as JSON.
    assert len(got) == 8
    assert {k: v for k, v in got[7].items() if k != "content"} == {
        "key": part,
        "version_id": None,
        "row_number": 3,
        "reason": "invalid_timestamp",
    }
    assert json.loads(got[7]["content"]) == {name: values[2] for name, values in PARQUET_ROWS.items()}
    assert (
        quarantined_rows((root / Q / "rejected_rows.jsonl").read_bytes(), DAY)
        == reference_day(day_files())["rejected_rows"]
    )


def test_quarantined_files_manifest_and_copies(root, report):
    etags = {e["key"]: e["etag"] for e in report["inputs"]}
    manifest = [json.loads(line) for line in (root / Q / "quarantined_files.jsonl").read_text("utf-8").splitlines()]
    assert [(m["key"], m["version_id"], m["etag"], m["reason"], m["quarantine_key"]) for m in manifest] == [
        (RAW + "c/broken.csv.gz", None, etags[RAW + "c/broken.csv.gz"], "unreadable_file", Q + "files/c/broken.csv.gz"),
        (RAW + "c/latin1.csv", None, etags[RAW + "c/latin1.csv"], "unreadable_file", Q + "files/c/latin1.csv"),
        (RAW + "c/missing.csv", None, etags[RAW + "c/missing.csv"], "missing_columns", Q + "files/c/missing.csv"),
        (RAW + "notes.txt", None, etags[RAW + "notes.txt"], "unsupported_format", Q + "files/notes.txt"),
    ]
    assert manifest[2]["detail"] == "header lacks currency"
    files = day_files()
    copies = sorted(
        p.relative_to(root / Q / "files").as_posix() for p in (root / Q / "files").rglob("*") if p.is_file()
    )
    assert copies == ["c/broken.csv.gz", "c/latin1.csv", "c/missing.csv", "notes.txt"]
    for name in copies:
        assert (root / Q / "files" / name).read_bytes() == files[name]
    # The raw files stay where they are.
    assert (root / RAW / "c/missing.csv").read_bytes() == MISSING_CSV


def test_rerun_after_a_fix_removes_the_stale_quarantine_copy(root, storage, report):
    (root / RAW / "c/missing.csv").write_bytes(FIXED_CSV)
    again = run(storage, run_id="run-2")
    assert not (root / Q / "files/c/missing.csv").exists()
    assert (root / Q / "files/c/latin1.csv").exists()
    manifest = [json.loads(line)["key"] for line in (root / Q / "quarantined_files.jsonl").read_text().splitlines()]
    assert manifest == [RAW + "c/broken.csv.gz", RAW + "c/latin1.csv", RAW + "notes.txt"]
    assert again["records"] == {"read": 22, "valid": 11, "rejected": 8, "duplicates": 3}
    assert again["events_by_type"]["view"] == 4
    assert again["unique_users"] == 8
    assert again["hourly_events"][0] == 1
    assert again["files"] == {"considered": 10, "processed": 7, "quarantined": 3}
    entry = next(e for e in again["inputs"] if e["key"] == RAW + "c/missing.csv")
    assert (entry["status"], entry["reason"], entry["records_read"], entry["quarantine_key"]) == (
        "processed",
        None,
        1,
        None,
    )
    assert reconciliation_problems(again) == []


def test_rerun_with_everything_fixed_clears_the_quarantine(root, storage):
    land(root, {"bad.csv": MISSING_CSV, "rows.csv": (HEADER + "\ne1,nope,u1,view,,\n").encode()})
    first = run(storage)
    assert first["records"] == {"read": 1, "valid": 0, "rejected": 1, "duplicates": 0}
    assert (root / Q / "files/bad.csv").exists()
    assert (root / Q / "rejected_rows.jsonl").exists()
    assert (root / Q / "quarantined_files.jsonl").exists()

    (root / RAW / "bad.csv").write_bytes(FIXED_CSV)
    (root / RAW / "rows.csv").write_bytes((HEADER + "\ne1,2025-03-09T01:02:03Z,u1,view,,\n").encode())
    second = run(storage)
    assert second["records"] == {"read": 2, "valid": 2, "rejected": 0, "duplicates": 0}
    assert second["quarantine"] == {"prefix": Q, "rows_key": None, "files_key": None}
    leftovers = sorted(p.relative_to(root / Q).as_posix() for p in (root / Q).rglob("*") if p.is_file())
    assert leftovers == []


# ---------------------------------------------------------------------------- no data


def test_a_day_without_a_folder_raises_no_data_naming_the_day(storage):
    with pytest.raises(NoDataError, match="2025-03-10"):
        compute_day(storage, "2025-03-10", "run-1", MAX_FILE_BYTES)


def test_a_day_with_only_markers_and_temporary_files_raises_no_data(root, storage):
    land(root, {"_SUCCESS": b"", "_temporary/0/x.csv": VALID_ROW, ".x.csv.tmp": VALID_ROW}, day="2025-03-11")
    with pytest.raises(NoDataError, match="2025-03-11"):
        compute_day(storage, "2025-03-11", "run-1", MAX_FILE_BYTES)
    assert not (root / "reports").exists()


def test_a_day_whose_files_are_gone_keeps_its_earlier_report(root, storage):
    land(root, {"a.csv": VALID_ROW})
    first = run(storage)
    (root / RAW / "a.csv").unlink()
    with pytest.raises(NoDataError, match=DAY):
        compute_day(storage, DAY, "run-2", MAX_FILE_BYTES)
    assert json.loads((root / "reports" / f"{DAY}.json").read_text("utf-8")) == first


def test_a_file_over_max_file_bytes_is_quarantined_as_too_large(root, storage):
    big = (HEADER + "\n").encode() + b"e1,2025-03-09T01:00:00Z,u1,view,,\n" * 100
    land(root, {"big.csv": big, "small.csv": VALID_ROW})
    report = run(storage, max_file_bytes=len(big) - 1)
    assert [(e["key"], e["status"], e["reason"]) for e in report["inputs"]] == [
        (RAW + "big.csv", "quarantined", "too_large"),
        (RAW + "small.csv", "processed", None),
    ]
    assert report["records"] == {"read": 1, "valid": 1, "rejected": 0, "duplicates": 0}
    assert report["revenue"] == {"USD": {"gross": "1000.00", "refunds": "0.00", "net": "1000.00"}}
    assert (root / Q / "files/big.csv").read_bytes() == big


# ---------------------------------------------------------------------------- reconciliation catches tampering


def tampered(report: dict, change) -> list[str]:
    copied = copy.deepcopy(report)
    change(copied)
    return reconciliation_problems(copied)


def test_tampered_reports_do_not_reconcile(report):
    web = RAW + "a/web events \u00fc.csv"

    def bump(path):
        def change(r):
            target = r
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] += 1

        return change

    assert tampered(report, bump(("records", "read"))) == [
        "records: read 22 != valid + rejected + duplicates",
        "records.read is 22 but the files add up to 21",
    ]
    assert tampered(report, bump(("records", "duplicates"))) == [
        "records: read 21 != valid + rejected + duplicates",
        "records.duplicates is 4 but the files add up to 3",
    ]
    assert tampered(report, bump(("inputs", 0, "records_valid"))) == [
        "records.valid is 10 but the files add up to 11",
        f"{web}: read != valid + rejected + duplicates",
    ]
    assert tampered(report, bump(("rejected_by_reason", "invalid_amount"))) == [
        "rejected_by_reason does not add up to records.rejected"
    ]
    assert tampered(report, bump(("events_by_type", "view"))) == ["events_by_type does not add up to records.valid"]
    assert tampered(report, bump(("hourly_events", 3))) == ["hourly_events is not 24 counts adding up to records.valid"]
    assert tampered(report, lambda r: r["hourly_events"].pop()) == [
        "hourly_events is not 24 counts adding up to records.valid"
    ]
    assert tampered(report, lambda r: r["rejected_by_reason"].pop("invalid_currency")) == [
        "rejected_by_reason does not add up to records.rejected",
        "rejected_by_reason does not list exactly the row reasons",
    ]
    assert tampered(report, lambda r: r.update(unique_users=11)) == ["more unique users than valid records"]

    def quarantined_with_records(r):
        entry = r["inputs"][-2]  # d/late.jsonl: 1 read, 1 valid
        entry["status"] = "quarantined"

    assert tampered(report, quarantined_with_records) == [f"{RAW}d/late.jsonl: quarantined yet contributes records"]


# ---------------------------------------------------------------------------- file naming rules


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("_SUCCESS", True),
        ("_temporary/x.csv", True),
        ("a/_tmp/x.csv", True),
        (".hidden.csv", True),
        ("a/.b/x.csv", True),
        ("a/b/.x.csv.crc", True),
        ("a/", True),  # an S3 "folder" object
        ("a/b/", True),
        ("a/b_c/x_y.csv", False),
        ("a.b/x.csv", False),
        ("web events \u00fc.csv", False),
    ],
)
def test_is_ignored(name, ignored):
    assert is_ignored(name) is ignored


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("x.csv", "csv"),
        ("a/x.csv.gz", "csv.gz"),
        ("x.jsonl", "jsonl"),
        ("x.jsonl.gz", "jsonl.gz"),
        ("x.parquet", "parquet"),
        ("x.gz.csv", "csv"),
        ("notes.txt", None),
        ("x.json", None),
        ("x.gz", None),
        ("x.csv.bz2", None),
        ("x.parquet.gz", None),
        ("x.tsv", None),
        ("csv", None),
        ("x_csv", None),
    ],
)
def test_data_format(name, fmt):
    assert data_format(name) == fmt


# ---------------------------------------------------------------------------- generated days against the reference


@pytest.mark.parametrize(
    ("seed", "rows", "files", "bad_share", "duplicate_share"),
    [
        (0, 1000, 3, 0.02, 0.01),
        (1, 250, 5, 0.10, 0.05),
        (2, 37, 7, 0.30, 0.20),
        (3, 1, 1, 0.0, 0.0),
        (4, 0, 3, 0.02, 0.01),
        (5, 2000, 4, 0.05, 0.03),
        (6, 500, 2, 1.0, 0.5),
    ],
)
def test_sample_day_matches_the_reference(root, storage, seed, rows, files, bad_share, duplicate_share):
    day = dt.date(2025, 3, 9) + dt.timedelta(days=seed)
    generated = list(
        sample_day(day, rows=rows, files=files, seed=seed, bad_share=bad_share, duplicate_share=duplicate_share)
    )
    land(root, dict(generated), day=day.isoformat())
    report = run(storage, day=day.isoformat())
    expected = reference_day(generated, max_bytes=MAX_FILE_BYTES)
    assert report_numbers(report) == {k: v for k, v in expected.items() if k != "rejected_rows"}
    rows_file = root / "quarantine" / day.isoformat() / "rejected_rows.jsonl"
    assert (
        quarantined_rows(rows_file.read_bytes() if rows_file.exists() else None, day.isoformat())
        == (expected["rejected_rows"])
    )
    assert reconciliation_problems(report) == []
    assert report["records"]["read"] == rows
    # The sample is meant to exercise the rules: say so, so a silently bland generator is noticed.
    if rows >= 250 and 0 < bad_share < 0.5:
        assert report["records"]["rejected"] > 0
        assert report["records"]["duplicates"] > 0
        assert set(report["revenue"]) == {"EUR", "GBP", "USD"}


def test_one_pathological_json_line_does_not_sink_the_day(root, storage):
    """A line nested past Python's recursion limit is invalid JSON like any other: one malformed_row."""
    files = {
        "a.jsonl": b"[" * 100_000
        + b"\n"
        + b'{"event_id":"e1","event_time":"2025-03-09T01:00:00Z","user_id":"u1","event_type":"view"}\n',
        "b.csv": VALID_ROW,
    }
    land(root, files)
    report = run(storage)
    assert report["records"] == {"read": 3, "valid": 2, "rejected": 1, "duplicates": 0}
    assert report["rejected_by_reason"]["malformed_row"] == 1
    assert report_numbers(report) == {k: v for k, v in reference_day(files).items() if k != "rejected_rows"}


@pytest.mark.parametrize("version_id", [None, "v1", 'v\u00fc"\\'])
def test_quarantine_lines_are_json_dumps_of_each_line(tmp_path, version_id):
    """A block's rejected rows are written at once, byte for byte what json.dumps gives each line."""
    key = 'raw-data/2025-06-15/d\u00e9j\u00e0 "vu"\\x.csv'
    contents = ["a,b", "tab\there", 'quote " and \\', "\u00fc\U0001f389", "ctrl \x01\x1f\x7f", "", "line\u2028sep"]
    rows = [(n * 7 + 2, ROW_REASONS[n % len(ROW_REASONS)], content) for n, content in enumerate(contents)]
    scanner = ShardScanner(str(tmp_path / "spill"), 1)
    tally = scanner.start_file(InputFile(key, 10, None, version_id, "csv"), 0)
    tally.add_block(BlockRows(len(rows), rows, pa.RecordBatch.from_pylist([], schema=VALID_SCHEMA)), [])
    tally.rejected_rows.seek(0)
    expected = b"".join(
        json.dumps(
            {"key": key, "version_id": version_id, "row_number": n, "reason": reason, "content": content},
            ensure_ascii=False,
        ).encode()
        + b"\n"
        for n, reason, content in rows
    )
    assert tally.rejected_rows.read() == expected
    assert tally.rejected_by_reason == Counter(reason for _n, reason, _content in rows)
