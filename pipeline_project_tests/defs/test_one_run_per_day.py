"""At most one run works on a day at a time, whatever launched it: the day lease (daily.py)."""

from __future__ import annotations

import json
import threading

import pytest
from dagster import DagsterInstance

from pipeline_project import daily
from pipeline_project.core.contract import report_key
from pipeline_project.daily import DayBusy, claim_day, compute_day, lease_key, publish_day, release_day
from pipeline_project.definitions import defs
from pipeline_project.defs import assets
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land, make_resources

DAY = "2025-03-04"
HEADER = "event_id,event_time,user_id,event_type,amount,currency\n"


def _rows(start: int, count: int) -> bytes:
    return (
        HEADER + "".join(f"e{n},{DAY}T0{n % 10}:00:00Z,u{n},purchase,1.25,EUR\n" for n in range(start, start + count))
    ).encode()


def _report_without_run(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("run_id", "generated_at")}


@pytest.mark.parametrize("stage", ["plan", "scan", "publish"])
def test_two_runs_of_a_day_with_different_content_never_mix(lake_url, monkeypatch, stage):
    """Run A holds the day at each stage while the content changes and run B starts: B waits, then
    lists, scans and publishes the new content. The end state is B's report with B's quarantine."""
    lake = open_storage(lake_url)
    land(lake, DAY, {"a.csv": _rows(0, 40), "bad-a.txt": b"not data", "_SUCCESS": b""})
    monkeypatch.setattr(daily, "LEASE_POLL_SECONDS", 0.05)
    reached, go = threading.Event(), threading.Event()
    b_claims: list[str | None] = []

    def pausing(name: str, original, after: bool):
        def wrapper(*args, **kwargs):
            if threading.current_thread().name == "run-a" and not after:
                reached.set()
                go.wait(30)
            result = original(*args, **kwargs)
            if threading.current_thread().name == "run-a" and after:
                reached.set()
                go.wait(30)
            return result

        monkeypatch.setattr(assets, name, wrapper)

    # Planning: paused once A has listed; scanning: once A has scanned; publishing: before A writes.
    target = {"plan": "plan_day", "scan": "scan_shard", "publish": "publish_day"}[stage]
    pausing(target, getattr(assets, target), after=stage != "publish")
    original_claim = daily.claim_day

    def spying_claim(storage, day, run_id, finished):
        holder = original_claim(storage, day, run_id, finished)
        if threading.current_thread().name == "run-b":
            b_claims.append(holder)
        return holder

    monkeypatch.setattr(daily, "claim_day", spying_claim)

    instance = DagsterInstance.ephemeral()
    job = defs.resolve_job_def("daily_report_job")
    results = {}

    def run(name: str):
        results[name] = job.execute_in_process(
            partition_key=DAY, instance=instance, resources=make_resources(lake_url), raise_on_error=False
        )

    a = threading.Thread(target=run, args=("a",), name="run-a")
    a.start()
    assert reached.wait(30)
    # The content changes while A works on the day: a new file version, the bad file replaced.
    land(lake, DAY, {"a.csv": _rows(100, 25), "bad-b.bin": b"other"})
    lake.delete([f"raw-data/{DAY}/bad-a.txt"])
    b = threading.Thread(target=run, args=("b",), name="run-b")
    b.start()
    while len(b_claims) < 3:  # B asked three times and was told A holds the day
        b.join(0.02)
    assert set(b_claims) == {json.loads(lake.read_bytes(lease_key(DAY)))["run_id"]} != {None}
    go.set()
    a.join(60)
    b.join(60)
    assert results["b"].success
    # S3 reads the listed versions, so A completes with the old content. A local folder keeps no
    # versions: A may fail instead of reading new bytes as the old file. Either way nothing of A's mixes in.
    assert results["a"].success or not lake_url.startswith("s3://")

    report = json.loads(lake.read_bytes(report_key(DAY)))
    assert report["run_id"] == results["b"].run_id
    reference = compute_day(lake, DAY, "reference", 1 << 30).report
    assert _report_without_run(report) == _report_without_run(reference)
    assert report["records"]["valid"] == 25
    manifest = [json.loads(line) for line in lake.read_bytes(f"quarantine/{DAY}/quarantined_files.jsonl").splitlines()]
    assert [(m["key"], m["reason"]) for m in manifest] == [(f"raw-data/{DAY}/bad-b.bin", "unsupported_format")]
    assert [o.key for o in lake.list_objects(f"quarantine/{DAY}/files/")] == [f"quarantine/{DAY}/files/bad-b.bin"]
    assert json.loads(lake.read_bytes(lease_key(DAY)))["released"] is True


def test_the_lease_is_taken_over_from_a_finished_or_expired_run_and_refused_to_others(local_url, monkeypatch):
    lake = open_storage(local_url)
    alive = {"run-1"}
    finished = lambda run_id: run_id not in alive  # noqa: E731
    assert claim_day(lake, DAY, "run-1", finished) is None
    assert claim_day(lake, DAY, "run-1", finished) is None  # renewing is fine
    assert claim_day(lake, DAY, "run-2", finished) == "run-1"
    alive.clear()  # run-1 crashed and run monitoring failed it
    assert claim_day(lake, DAY, "run-2", finished) is None
    release_day(lake, DAY, "run-1")  # not the holder: changes nothing
    assert json.loads(lake.read_bytes(lease_key(DAY)))["run_id"] == "run-2"
    assert claim_day(lake, DAY, "run-3", lambda run_id: False) == "run-2"
    monkeypatch.setattr(daily, "LEASE_SECONDS", -1)
    assert claim_day(lake, DAY, "run-2", finished) is None  # its lease now expired: older than any run lives
    assert claim_day(lake, DAY, "run-3", lambda run_id: False) is None


def test_publish_day_writes_nothing_while_another_live_run_holds_the_day(lake_url):
    lake = open_storage(lake_url)
    land(lake, DAY, {"a.csv": _rows(0, 5)})
    outcome = compute_day(lake, DAY, "late-run", 1 << 30)
    assert claim_day(lake, DAY, "holder", lambda run_id: False) is None
    with pytest.raises(DayBusy, match=f"{DAY} is held by run holder; run late-run writes nothing"):
        publish_day(lake, outcome, lambda run_id: False)
    assert lake.read_bytes(report_key(DAY)) is None


def test_publish_day_never_writes_a_report_that_does_not_reconcile(lake_url):
    lake = open_storage(lake_url)
    land(lake, DAY, {"a.csv": _rows(0, 5)})
    outcome = compute_day(lake, DAY, "run", 1 << 30)
    outcome.report["records"]["valid"] += 1
    with pytest.raises(daily.UnbalancedReport, match=f"report for {DAY} does not reconcile: records: read 5"):
        publish_day(lake, outcome)
    assert lake.read_bytes(report_key(DAY)) is None
    assert lake.list_objects(f"quarantine/{DAY}/") == []


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_swap_is_a_compare_and_write(request, backend):
    lake = open_storage(request.getfixturevalue(f"{backend}_url"))
    key = "work/leases/x.json"
    assert lake.swap(key, None, b"1") is True
    assert lake.swap(key, None, b"2") is False  # exists
    assert lake.swap(key, b"0", b"2") is False  # not what it holds
    assert lake.swap(key, b"1", b"2") is True
    assert lake.read_bytes(key) == b"2"
    assert lake.swap("work/leases/missing.json", b"1", b"2") is False
