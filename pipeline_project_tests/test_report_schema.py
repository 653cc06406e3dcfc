"""The published report against the committed JSON Schema (pipeline_project/core/report.schema.json)."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from pipeline_project.core.contract import EVENT_TYPES, FILE_REASONS, FORMAT_BY_SUFFIX, REPORT_VERSION, ROW_REASONS
from pipeline_project.core.report import reconciliation_problems
from pipeline_project.core.sample_data import sample_day
from pipeline_project.daily import compute_day, publish_day
from pipeline_project.storage import open_storage

DAY = dt.date(2025, 3, 14)
MAX_FILE_BYTES = 1 << 20
HEADER = b"event_id,event_time,user_id,event_type,amount,currency\n"


def load_schema() -> dict:
    return json.loads(resources.files("pipeline_project.core").joinpath("report.schema.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def publish(tmp_path, files: dict[str, bytes]) -> dict:
    """Write the day's raw files to a local lake, run the day service, and read back the report."""
    storage = open_storage(str(tmp_path / "lake"))
    for relative, data in files.items():
        storage.write(f"raw-data/{DAY}/{relative}", io.BytesIO(data), "application/octet-stream")
    outcome = compute_day(storage, DAY.isoformat(), "run-test", MAX_FILE_BYTES)
    key = publish_day(storage, outcome)
    assert key == f"reports/{DAY}.json"
    return json.loads(storage.read_bytes(key))


def errors(validator: Draft202012Validator, report: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(report)]


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory) -> dict:
    files = dict(sample_day(DAY, rows=300, files=4, seed=7, bad_share=0.15, duplicate_share=0.05))
    files["notes/readme.txt"] = b"not data"  # unsupported_format
    files["broken.csv.gz"] = b"\x1f\x8b\x08\x00 definitely not gzip"  # unreadable_file
    files["legacy/old.csv"] = b"id,time\n1,2\n"  # missing_columns
    files["big/huge.jsonl"] = b"\n" * (MAX_FILE_BYTES + 1)  # too_large
    files["empty/header-only.csv"] = HEADER
    return publish(tmp_path_factory.mktemp("sample"), files)


def test_schema_is_a_valid_draft_2020_12_schema():
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_schema_vocabulary_matches_the_contract_module():
    schema = load_schema()
    top, item = schema["properties"], schema["$defs"]["input"]["properties"]
    assert top["report_version"]["const"] == REPORT_VERSION
    assert tuple(top["rejected_by_reason"]["required"]) == ROW_REASONS
    assert tuple(top["events_by_type"]["required"]) == EVENT_TYPES
    assert item["reason"]["enum"] == [*FILE_REASONS, None]
    assert set(item["format"]["enum"]) == {fmt for _suffix, fmt in FORMAT_BY_SUFFIX} | {None}
    assert set(schema["required"]) == set(top)


def test_published_sample_report_matches_the_schema(sample_report, validator):
    assert errors(validator, sample_report) == []
    assert reconciliation_problems(sample_report) == []
    # The fixture covers both branches of an input entry and every file reason.
    reasons = {i["reason"] for i in sample_report["inputs"] if i["status"] == "quarantined"}
    assert reasons == set(FILE_REASONS)
    assert sample_report["records"]["rejected"] > 0 and sample_report["records"]["duplicates"] > 0
    assert sample_report["revenue"]
    assert sample_report["quarantine"]["rows_key"] and sample_report["quarantine"]["files_key"]
    # The local lake's documented change token and absent version ids.
    for entry in sample_report["inputs"]:
        assert re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", entry["etag"]) and entry["version_id"] is None
        assert int(entry["etag"].split("-")[1], 16) == entry["size_bytes"]


def test_quiet_day_report_matches_the_schema(tmp_path, validator):
    report = publish(tmp_path, {"only/header.csv": HEADER, "_SUCCESS": b""})
    assert errors(validator, report) == []
    assert report["records"] == {"read": 0, "valid": 0, "rejected": 0, "duplicates": 0}
    assert report["revenue"] == {}
    assert report["quarantine"]["rows_key"] is None and report["quarantine"]["files_key"] is None


def _first(report: dict, status: str) -> dict:
    return next(i for i in report["inputs"] if i["status"] == status)


BROKEN = {
    "hourly_events_missing_an_hour": lambda r: r["hourly_events"].pop(),
    "hourly_events_extra_hour": lambda r: r["hourly_events"].append(0),
    "hourly_events_negative": lambda r: r["hourly_events"].__setitem__(3, -1),
    "money_as_float": lambda r: next(iter(r["revenue"].values())).__setitem__("gross", 12.5),
    "money_one_decimal": lambda r: next(iter(r["revenue"].values())).__setitem__("gross", "12.5"),
    "money_three_decimals": lambda r: next(iter(r["revenue"].values())).__setitem__("net", "12.500"),
    "negative_gross": lambda r: next(iter(r["revenue"].values())).__setitem__("gross", "-1.00"),
    "negative_zero_net": lambda r: next(iter(r["revenue"].values())).__setitem__("net", "-0.00"),
    "lowercase_currency": lambda r: r["revenue"].__setitem__(
        "usd", {"gross": "1.00", "refunds": "0.00", "net": "1.00"}
    ),
    "unknown_reason_key": lambda r: r["rejected_by_reason"].__setitem__("bad_vibes", 0),
    "missing_reason_key": lambda r: r["rejected_by_reason"].pop("invalid_currency"),
    "unknown_event_type_key": lambda r: r["events_by_type"].__setitem__("checkout", 0),
    "missing_event_type_key": lambda r: r["events_by_type"].pop("refund"),
    "count_as_string": lambda r: r["records"].__setitem__("read", "300"),
    "missing_top_level_key": lambda r: r.pop("revenue"),
    "extra_top_level_key": lambda r: r.__setitem__("debug", True),
    "unknown_report_version": lambda r: r.__setitem__("report_version", REPORT_VERSION + 1),
    "bad_partition": lambda r: r.__setitem__("partition", "2025-13-01"),
    "unknown_input_status": lambda r: _first(r, "processed").__setitem__("status", "skipped"),
    "unknown_file_reason": lambda r: _first(r, "quarantined").__setitem__("reason", "cosmic_rays"),
    "quarantined_without_reason": lambda r: _first(r, "quarantined").__setitem__("reason", None),
    "quarantined_with_records": lambda r: _first(r, "quarantined").__setitem__("records_read", 1),
    "processed_with_reason": lambda r: _first(r, "processed").__setitem__("reason", "too_large"),
    "input_missing_etag": lambda r: _first(r, "processed").pop("etag"),
    "input_extra_key": lambda r: _first(r, "processed").__setitem__("checksum", "abc"),
}


@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_schema_rejects_broken_reports(sample_report, validator, breakage):
    report = copy.deepcopy(sample_report)
    BROKEN[breakage](report)
    assert errors(validator, report), f"{breakage} was accepted"
