"""One day through the day service on each backend: what the report says about its inputs matches storage.

The report numbers are checked against the independent oracle in pipeline_project_tests/core/reference.py,
computed from the very bytes that were landed.
"""

from __future__ import annotations

import io
import json

import boto3
import pytest

from pipeline_project.daily import compute_day, publish_day
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land, land_sample
from pipeline_project_tests.core.reference import quarantined_rows, reference_day, report_numbers
from pipeline_project_tests.storage.conftest import RawS3, split_s3_url

DAY = "2025-02-03"
RAW = f"raw-data/{DAY}/"
QUARANTINE = f"quarantine/{DAY}/"
EXTRA = {
    "misc/notes.txt": b"these are not events\n",  # unsupported_format
    "app/broken.jsonl.gz": b"definitely not gzip",  # unreadable_file
    "web/partial-header.csv": b"event_id,event_time\ne1,2025-02-03T00:00:00Z\n",  # missing_columns
    "_tmp/ignored.csv": b"garbage that must be ignored",
    "web/.upload-in-progress.csv": b"garbage that must be ignored",
}


def is_data(name: str) -> bool:
    """Not a marker or temporary file: no path segment below the day folder starts with _ or ."""
    return not any(segment.startswith(("_", ".")) for segment in name.split("/"))


def land_day(storage) -> dict[str, bytes]:
    files = land_sample(storage, DAY, rows=300, seed=7)
    land(storage, DAY, EXTRA)
    return {**files, **EXTRA}


def run_day(storage, run_id="run-1"):
    outcome = compute_day(storage, DAY, run_id, max_file_bytes=1 << 30)
    key = publish_day(storage, outcome)
    return outcome, key


def test_day_report_inputs_and_quarantine_match_storage(lake, lake_url):
    files = land_day(lake)
    listing = [o for o in lake.list_objects(RAW) if is_data(o.key[len(RAW) :])]
    assert len(listing) == len(files) - 3  # _SUCCESS, _tmp/ignored.csv, web/.upload-in-progress.csv

    outcome, key = run_day(lake)

    assert key == f"reports/{DAY}.json"
    report = json.loads(lake.read_bytes(key))
    assert report == outcome.report
    assert (report["partition"], report["run_id"]) == (DAY, "run-1")
    assert report["source"] == lake.location(RAW)

    # inputs: exactly the listed data files, in key order, described as storage described them
    assert [(e["key"], e["size_bytes"], e["etag"], e["version_id"]) for e in report["inputs"]] == [
        (o.key, o.size, o.etag, o.version_id) for o in listing
    ]
    assert [e["key"] for e in report["inputs"]] == sorted(f"{RAW}{name}" for name in files if is_data(name))
    assert {e["key"]: e["size_bytes"] for e in report["inputs"]} == {
        f"{RAW}{name}": len(data) for name, data in files.items() if is_data(name)
    }
    assert all(e["etag"] for e in report["inputs"])
    if lake_url.startswith("s3://"):
        bucket, prefix = split_s3_url(lake_url)
        raw = RawS3(boto3.client("s3"), bucket, prefix)
        versions, _ = raw.versions(raw.full(RAW))
        latest = {v["Key"]: (v["VersionId"], v["ETag"], v["Size"]) for v in versions if v["IsLatest"]}
        for entry in report["inputs"]:
            assert (entry["version_id"], entry["etag"], entry["size_bytes"]) == latest[raw.full(entry["key"])]
            assert entry["version_id"] not in (None, "null")
    else:
        assert all(e["version_id"] is None for e in report["inputs"])

    # the quarantine sits at the expected keys
    statuses = {e["key"][len(RAW) :]: (e["status"], e["reason"], e["quarantine_key"]) for e in report["inputs"]}
    assert {n: s for n, s in statuses.items() if s[0] == "quarantined"} == {
        "app/broken.jsonl.gz": ("quarantined", "unreadable_file", f"{QUARANTINE}files/app/broken.jsonl.gz"),
        "misc/notes.txt": ("quarantined", "unsupported_format", f"{QUARANTINE}files/misc/notes.txt"),
        "web/partial-header.csv": ("quarantined", "missing_columns", f"{QUARANTINE}files/web/partial-header.csv"),
    }
    assert [o.key for o in lake.list_objects(QUARANTINE)] == [
        f"{QUARANTINE}files/app/broken.jsonl.gz",
        f"{QUARANTINE}files/misc/notes.txt",
        f"{QUARANTINE}files/web/partial-header.csv",
        f"{QUARANTINE}quarantined_files.jsonl",
        f"{QUARANTINE}rejected_rows.jsonl",
    ]
    for name in ("app/broken.jsonl.gz", "misc/notes.txt", "web/partial-header.csv"):
        assert lake.read_bytes(f"{QUARANTINE}files/{name}") == EXTRA[name]
    manifest = [json.loads(line) for line in lake.read_bytes(f"{QUARANTINE}quarantined_files.jsonl").splitlines()]
    by_key = {o.key: o for o in listing}
    assert [(m["key"], m["version_id"], m["etag"], m["reason"], m["quarantine_key"]) for m in manifest] == [
        (
            f"{RAW}{name}",
            by_key[f"{RAW}{name}"].version_id,
            by_key[f"{RAW}{name}"].etag,
            statuses[name][1],
            statuses[name][2],
        )
        for name in ("app/broken.jsonl.gz", "misc/notes.txt", "web/partial-header.csv")
    ]
    assert report["quarantine"] == {
        "prefix": QUARANTINE,
        "rows_key": f"{QUARANTINE}rejected_rows.jsonl",
        "files_key": f"{QUARANTINE}quarantined_files.jsonl",
    }
    assert [o.key for o in lake.list_objects("reports/")] == [f"reports/{DAY}.json"]

    # the numbers equal the independent reference computed from the same bytes
    expected = reference_day(files.items())
    expected_rows = expected.pop("rejected_rows")
    assert expected["records"]["rejected"] > 0 and expected["records"]["duplicates"] > 0
    assert report_numbers(report) == expected
    assert quarantined_rows(lake.read_bytes(f"{QUARANTINE}rejected_rows.jsonl"), DAY) == expected_rows

    # a rerun after the bad files are removed clears the stale quarantine, keeping the rows file
    lake.delete(f"{RAW}{name}" for name in ("app/broken.jsonl.gz", "misc/notes.txt", "web/partial-header.csv"))
    outcome, _ = run_day(lake, "run-2")
    assert [o.key for o in lake.list_objects(QUARANTINE)] == [f"{QUARANTINE}rejected_rows.jsonl"]
    assert json.loads(lake.read_bytes(f"reports/{DAY}.json")) == outcome.report
    assert outcome.report["run_id"] == "run-2"
    assert outcome.report["quarantine"]["files_key"] is None
    assert outcome.report["records"] == expected["records"]


@pytest.fixture
def s3_lake(s3_url):
    return open_storage(s3_url)


def test_s3_quarantine_copies_the_version_that_was_read(s3_lake):
    land_day(s3_lake)
    outcome = compute_day(s3_lake, DAY, "run-1", max_file_bytes=1 << 30)
    # a producer replaces a bad file between reading and publishing
    s3_lake.write(f"{RAW}misc/notes.txt", io.BytesIO(b"a newer, different upload"), "text/plain")
    publish_day(s3_lake, outcome)
    assert s3_lake.read_bytes(f"{QUARANTINE}files/misc/notes.txt") == EXTRA["misc/notes.txt"]
    entry = next(e for e in outcome.report["inputs"] if e["key"] == f"{RAW}misc/notes.txt")
    assert entry["size_bytes"] == len(EXTRA["misc/notes.txt"])
