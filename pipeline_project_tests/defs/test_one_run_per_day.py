"""At most one run works on a day at a time, whatever launched it: the day lease (day_lease.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from dagster import DagsterInstance, build_reconstructable_job, execute_job

from pipeline_project import daily, day_lease
from pipeline_project.core.contract import report_key
from pipeline_project.daily import compute_day, publish_day
from pipeline_project.day_lease import DayBusy, check_held, claim, lease_key, release
from pipeline_project.defs import assets
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land

DAY = "2025-03-04"
HEADER = "event_id,event_time,user_id,event_type,amount,currency\n"
NEVER = lambda run_id: False  # noqa: E731  no run ever finishes


def _rows(start: int, count: int) -> bytes:
    rows = "".join(f"e{n},{DAY}T0{n % 10}:00:00Z,u{n},purchase,1.25,EUR\n" for n in range(start, start + count))
    return (HEADER + rows).encode()


def _without_run(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("run_id", "generated_at")}


@pytest.mark.parametrize("stage", ["plan", "scan", "publish"])
def test_two_runs_of_a_day_with_different_content_never_mix(lake_url, tmp_path, monkeypatch, stage):
    """Run A holds the day at each stage while the content changes and run B starts: B waits,
    then lists, scans and publishes the new content. The end state is B's report with B's
    quarantine. Both runs go through daily_report_job's executor, as every launched run does."""
    lake = open_storage(lake_url)
    land(lake, DAY, {"a.csv": _rows(0, 40), "bad-a.txt": b"not data", "_SUCCESS": b""})
    monkeypatch.setenv("PIPELINE_STORAGE_URL", lake_url)
    monkeypatch.setattr(day_lease, "POLL_SECONDS", 0.05)
    reached, go = threading.Event(), threading.Event()
    b_asked: list[str | None] = []

    # Planning: paused once A has listed; scanning: once A has scanned; publishing: before A writes.
    target = {"plan": "plan_day", "scan": "scan_shard", "publish": "publish_day"}[stage]
    original = getattr(assets, target)

    def pausing(*args, **kwargs):
        if threading.current_thread().name == "run-a" and stage == "publish":
            reached.set()
            go.wait(60)
        result = original(*args, **kwargs)
        if threading.current_thread().name == "run-a" and stage != "publish":
            reached.set()
            go.wait(60)
        return result

    monkeypatch.setattr(assets, target, pausing)
    original_claim = day_lease.claim

    def spying_claim(storage, day, run_id, finished):
        holder = original_claim(storage, day, run_id, finished)
        if threading.current_thread().name == "run-b":
            b_asked.append(holder)
        return holder

    monkeypatch.setattr(day_lease, "claim", spying_claim)

    job = build_reconstructable_job(
        "pipeline_project.definitions", "job_named", reconstructable_args=("daily_report_job",)
    )
    results = {}
    (tmp_path / "dagster").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:

        def run(name: str):
            with execute_job(job, instance, tags={"dagster/partition": DAY}) as result:
                results[name] = (result.success, result.run_id)

        a = threading.Thread(target=run, args=("a",), name="run-a")
        a.start()
        assert reached.wait(60)
        # The content changes while A works on the day: a new version of a.csv, the bad file replaced.
        land(lake, DAY, {"a.csv": _rows(100, 25), "bad-b.bin": b"other"})
        lake.delete([f"raw-data/{DAY}/bad-a.txt"])
        b = threading.Thread(target=run, args=("b",), name="run-b")
        b.start()
        while len(b_asked) < 3:  # B asked three times, and was told each time that A holds the day
            b.join(0.02)
        assert set(b_asked) == {json.loads(lake.read_bytes(lease_key(DAY)))["run_id"]}
        assert None not in b_asked
        go.set()
        a.join(120)
        b.join(120)

    a_ok, a_run = results["a"]
    b_ok, b_run = results["b"]
    assert set(b_asked) == {a_run, None} and b_asked[-1] is None and b_ok  # A held it until A ended
    # S3 reads the listed versions, so A completes with the old content. A local folder keeps no
    # versions: A may fail rather than read the new bytes as the old file. Nothing of A's mixes in.
    assert a_ok or not lake_url.startswith("s3://")
    report = json.loads(lake.read_bytes(report_key(DAY)))
    assert report["run_id"] == b_run
    assert _without_run(report) == _without_run(compute_day(lake, DAY, "reference", 1 << 30).report)
    assert report["records"]["valid"] == 25
    manifest = [json.loads(line) for line in lake.read_bytes(f"quarantine/{DAY}/quarantined_files.jsonl").splitlines()]
    assert [(m["key"], m["reason"]) for m in manifest] == [(f"raw-data/{DAY}/bad-b.bin", "unsupported_format")]
    assert [o.key for o in lake.list_objects(f"quarantine/{DAY}/files/")] == [f"quarantine/{DAY}/files/bad-b.bin"]
    assert lake.read_bytes(lease_key(DAY)) is None  # released: work/ holds nothing once runs end
    assert lake.list_objects("work/") == []


def test_a_lease_is_refused_to_others_and_free_once_its_run_finished_or_expired(local_url, monkeypatch):
    lake = open_storage(local_url)
    alive = {"run-1"}

    def finished(run_id):
        return run_id not in alive

    assert claim(lake, DAY, "run-1", finished) is None
    assert claim(lake, DAY, "run-1", finished) is None  # renewing is fine
    assert claim(lake, DAY, "run-2", finished) == "run-1"
    alive.clear()  # run-1 failed (run monitoring marks a run whose task died as failed)
    assert claim(lake, DAY, "run-2", finished) is None
    release(lake, DAY, "run-1")  # not the holder: changes nothing
    assert json.loads(lake.read_bytes(lease_key(DAY)))["run_id"] == "run-2"
    assert claim(lake, DAY, "run-3", NEVER) == "run-2"
    monkeypatch.setattr(day_lease, "LEASE_SECONDS", -1)
    assert claim(lake, DAY, "run-2", NEVER) is None  # renewed with a lease already expired:
    assert claim(lake, DAY, "run-3", NEVER) is None  # a holder that stopped renewing is gone
    release(lake, DAY, "run-3")
    assert lake.read_bytes(lease_key(DAY)) is None


def test_a_lease_of_a_killed_process_on_this_machine_is_free_at_once(local_url):
    """`pipeline-project run` killed with SIGKILL: its run stays STARTED in the instance, but the
    process that held the lease is gone, so the next run of the day does not wait for it."""
    lake = open_storage(local_url)
    code = (
        "import sys; from pipeline_project.storage import open_storage; from pipeline_project.day_lease import claim;"
        f"claim(open_storage(sys.argv[1]), {DAY!r}, 'killed-run', lambda r: False)"
    )
    subprocess.run([sys.executable, "-c", code, local_url], check=True, env=os.environ)
    assert json.loads(lake.read_bytes(lease_key(DAY)))["run_id"] == "killed-run"
    assert claim(lake, DAY, "next-run", NEVER) is None


def test_holding_waits_for_the_holder_then_holds_renews_and_releases(local_url, monkeypatch):
    lake = open_storage(local_url)
    monkeypatch.setattr(day_lease, "RENEW_SECONDS", 0.01)
    assert claim(lake, "2025-03-05", "other", NEVER) is None
    waits: list[tuple[str, str]] = []

    def sleep(seconds):  # the other run finishes while this one waits
        release(lake, "2025-03-05", "other")

    with day_lease.holding(lake, ["2025-03-05", DAY], "me", NEVER, lambda d, h: waits.append((d, h)), sleep):
        assert waits == [("2025-03-05", "other")]
        held = {d: json.loads(lake.read_bytes(lease_key(d))) for d in (DAY, "2025-03-05")}
        assert {d: h["run_id"] for d, h in held.items()} == {DAY: "me", "2025-03-05": "me"}
        threading.Event().wait(0.1)
        assert json.loads(lake.read_bytes(lease_key(DAY)))["expires_at"] > held[DAY]["expires_at"]  # renewed
    assert lake.list_objects("work/") == []


def test_publish_day_writes_nothing_for_a_run_while_another_holds_the_day(lake_url):
    lake = open_storage(lake_url)
    land(lake, DAY, {"a.csv": _rows(0, 5)})
    outcome = compute_day(lake, DAY, "late-run", 1 << 30)
    assert claim(lake, DAY, "holder", NEVER) is None
    with pytest.raises(DayBusy, match=f"{DAY} is held by run holder; run late-run writes nothing"):
        publish_day(lake, outcome, "late-run")
    assert lake.read_bytes(report_key(DAY)) is None
    check_held(lake, DAY, "holder")  # the holder itself may write


@pytest.mark.orchestration
def test_publish_day_never_writes_a_report_that_does_not_reconcile(lake_url):
    lake = open_storage(lake_url)
    land(lake, DAY, {"a.csv": _rows(0, 5)})
    outcome = compute_day(lake, DAY, "run", 1 << 30)
    outcome.report["records"]["valid"] += 1
    with pytest.raises(daily.UnbalancedReport, match=f"report for {DAY} does not reconcile: records: read 5"):
        publish_day(lake, outcome)
    assert lake.read_bytes(report_key(DAY)) is None
    assert lake.list_objects(f"quarantine/{DAY}/") == []


def test_swap_is_a_compare_and_write(lake_url):
    lake = open_storage(lake_url)
    key = "work/leases/x.json"
    assert lake.swap(key, None, b"1") is True
    assert lake.swap(key, None, b"2") is False  # exists
    assert lake.swap(key, b"0", b"2") is False  # not what it holds
    assert lake.swap(key, b"1", b"2") is True
    assert lake.read_bytes(key) == b"2"
    assert lake.swap("work/leases/missing.json", b"1", b"2") is False
