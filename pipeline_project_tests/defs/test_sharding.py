"""A big day cut into shards, scanned as parallel steps and merged: the report is the unsharded one.

The day's files are chosen so that a shard boundary matters: event ids reused across files that
end up in different shards (with different content, so only the day's first occurrence gives the
right totals), users shared across shards, a file found unreadable half-way whose ids reappear
later, and rows rejected in several shards.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter

import pytest
from dagster import AssetKey, DagsterInstance, execute_job, reconstructable
from dagster import definitions as dagster_definitions

from pipeline_project.core.contract import WORK_PREFIX, report_key
from pipeline_project.definitions import defs
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land, make_resources
from pipeline_project_tests.core.reference import reference_day, report_numbers

DAY = "2025-03-04"
HEADER = "event_id,event_time,user_id,event_type,amount,currency\n"
FILES = {
    # key order: a, b/..., c, d, e -- with a tiny PIPELINE_SHARD_BYTES each file is its own shard
    "a.csv": (
        HEADER + "e1,2025-03-04T10:00:00Z,u1,purchase,10.50,USD\n"
        "e2,2025-03-04T11:30:00+02:00,u2,refund,0.25,USD\n"
        "e3,2025-03-04T12:00:00Z,u3,view,,\n"
        "e4,not-a-time,u4,view,,\n"
    ).encode(),
    "b/bad.csv.gz": gzip.compress((HEADER + "e5,2025-03-04T01:00:00Z,u5,view,,\n").encode())[:-9],  # cut short
    "c.jsonl": (
        b'{"event_id":"e1","event_time":"2025-03-04T05:00:00Z","user_id":"u9","event_type":"purchase",'
        b'"amount":"999","currency":"EUR"}\n'  # e1 again, another shard: a duplicate, never counted
        b'{"event_id":"e5","event_time":"2025-03-04T06:00:00Z","user_id":"u1","event_type":"view"}\n'
        b'{"event_id":"e6","event_time":"2025-03-04T07:00:00Z","user_id":"u6","event_type":"purchase",'
        b'"amount":"3","currency":"EUR"}\n'
        b"[1,2]\n"
    ),
    "d.csv": (
        HEADER + "e6,2025-03-04T08:00:00Z,u6,refund,3.00,EUR\n"  # e6 again
        "e7,2025-03-04T23:59:59Z,u2,add_to_cart,,\n"
        "e8,2025-03-04T09:00:00Z,,view,,\n"
    ).encode(),
    "e.csv": (HEADER + "e7,2025-03-04T00:00:00Z,u7,view,,\ne9,2025-03-04T13:00:00Z,u3,view,,\n").encode(),
}


def sharded_job():
    return defs.resolve_job_def("daily_report_sharded_job")


def _report(storage) -> dict:
    report = json.loads(storage.read_bytes(report_key(DAY)))
    for entry in report["inputs"]:
        entry.pop("etag")  # a local change token, different per landing
    return {k: v for k, v in report.items() if k not in ("generated_at", "run_id", "source")}


def _unsharded(tmp_path) -> dict:
    storage = open_storage(str(tmp_path / "unsharded"))
    land(storage, DAY, FILES)
    result = defs.resolve_job_def("daily_report_job").execute_in_process(
        partition_key=DAY, resources=make_resources(storage.url), raise_on_error=False
    )
    assert result.success
    scans = [e for e in result.all_events if e.event_type_value == "STEP_START" and "scan_shard_files" in e.step_key]
    assert len(scans) == 1
    return _report(storage)


def test_a_sharded_day_in_parallel_processes_equals_the_unsharded_report(tmp_path, monkeypatch):
    expected = _unsharded(tmp_path)
    assert report_numbers(expected) == {k: v for k, v in reference_day(FILES).items() if k != "rejected_rows"}
    # Duplicates: e1 (c.jsonl), e6 (d.csv), e7 (e.csv). bad.csv.gz is unreadable, so e5 first counts in c.
    assert expected["records"] == {"read": 13, "valid": 7, "rejected": 3, "duplicates": 3}
    # First occurrences' users: u1 (e1, e5), u2 (e2, e7), u3 (e3, e9), u6 (e6); never u9, u7 or u5.
    assert expected["unique_users"] == 4

    storage = open_storage(str(tmp_path / "sharded"))
    land(storage, DAY, FILES)
    # The step processes load the definitions afresh and read these.
    monkeypatch.setenv("PIPELINE_STORAGE_URL", storage.url)
    monkeypatch.setenv("PIPELINE_SHARD_BYTES", "1")
    monkeypatch.setenv("PIPELINE_STEP_EXECUTOR", "multiprocess")
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        with execute_job(reconstructable(sharded_job), instance=instance, tags={"dagster/partition": DAY}) as result:
            assert result.success
            starts = [e for e in result.all_events if e.event_type_value == "STEP_START"]
            scans = sorted(e.step_key for e in starts if "scan_shard_files" in e.step_key)
            pids = {e.pid for e in starts}
    assert scans == [f"daily_report.scan_shard_files[d20250304_{n:04d}]" for n in range(5)]
    assert len(pids) == len(starts)  # every step in its own process
    assert _report(storage) == expected
    assert not os.path.exists(os.path.join(storage.url, WORK_PREFIX))


def test_shards_on_separate_machines_pass_their_files_through_storage(tmp_path, s3_url):
    expected = _unsharded(tmp_path)
    storage = open_storage(s3_url)
    land(storage, DAY, FILES)
    result = defs.resolve_job_def("daily_report_job").execute_in_process(
        partition_key=DAY, resources=make_resources(s3_url, shard_bytes=1, spill_via_storage=True)
    )
    assert result.success
    written = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT" and "scan_shard_files" in e.step_key]
    assert len(written) == 5
    report = _report(storage)
    assert {k: v for k, v in report.items() if k != "inputs"} == {k: v for k, v in expected.items() if k != "inputs"}
    strip = [{k: v for k, v in i.items() if k not in ("key", "version_id")} for i in report["inputs"]]
    assert strip == [{k: v for k, v in i.items() if k not in ("key", "version_id")} for i in expected["inputs"]]
    # The shards' files went through work/ and are gone once the report is written.
    assert storage.list_objects(f"{WORK_PREFIX}/") == []
    assert Counter(i["status"] for i in report["inputs"]) == {"processed": 4, "quarantined": 1}


@dagster_definitions
def fresh_definitions():
    """The code location as every process of the run loads it, from the environment it runs in."""
    from pipeline_project.definitions import build_definitions

    return build_definitions()


def _asset_job():
    """The job the asset page's Materialize and asset backfills run (Dagster's implicit asset job)."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repository = ReconstructableRepository.for_module(__name__, "fresh_definitions", os.getcwd())
    return repository.get_reconstructable_job("__ASSET_JOB")


@pytest.mark.parametrize(
    ("tags", "shard_bytes", "parallel"),
    [
        ({"dagster/partition": DAY}, "1", True),  # Materialize one big day
        # A backfill run over a range, one of whose days is big (the other has no data and fails).
        (
            {"dagster/asset_partition_range_start": DAY, "dagster/asset_partition_range_end": DAY},
            "1",
            True,
        ),
        ({"dagster/partition": DAY}, str(1 << 30), False),  # a small day stays in the run's process
    ],
)
def test_the_asset_page_runs_big_days_shards_in_parallel(tmp_path, monkeypatch, tags, shard_bytes, parallel):
    """No job to choose: the asset job's by_size executor asks the trigger policy, from the run's
    partition tags, whether its days are big."""
    expected = _unsharded(tmp_path)
    storage = open_storage(str(tmp_path / "asset-page"))
    land(storage, DAY, FILES)
    monkeypatch.setenv("PIPELINE_STORAGE_URL", storage.url)
    monkeypatch.setenv("PIPELINE_SHARD_BYTES", shard_bytes)
    monkeypatch.setenv("PIPELINE_STEP_EXECUTOR", "multiprocess")
    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        with execute_job(
            _asset_job(), instance=instance, tags=tags, asset_selection=[AssetKey("daily_report")]
        ) as result:
            assert result.success
            starts = [e for e in result.all_events if e.event_type_value == "STEP_START"]
            scans = [e.step_key for e in starts if "scan_shard_files" in e.step_key]
            pids = {e.pid for e in starts}
    assert len(scans) == (5 if parallel else 1)
    assert len(pids) == (len(starts) if parallel else 1)
    assert _report(storage) == expected
