"""The daemon killed in the middle of a 10-day backfill and started again: the backfill completes,
every report is exact, and no day is computed twice.

The daemon is the real `dagster-daemon run` of test_sensor_daemon.py, over a lake in moto's S3.
Locally its run workers are children of its process group (deployed, each run is its own ECS task
and outlives a daemon redeploy, and run monitoring retries one that dies: test_run_monitoring.py),
so the daemon that is killed holds its runs in the queue: it is SIGKILLed once the backfill has
requested its runs and before any of them ran. A kill while runs execute is not emulated here.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterRunStatus, RunsFilter
from dagster._core.execution.backfill import BulkActionStatus

from pipeline_project.core.contract import report_key
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample
from pipeline_project_tests.core.reference import reference_day, report_numbers
from pipeline_project_tests.defs.test_sensor_daemon import (  # noqa: F401  (fixtures)
    REPO,
    START_DATE,
    Daemon,
    daemon_env,
    daemons,
)

pytestmark = pytest.mark.orchestration
FIRST = dt.date.fromisoformat(START_DATE) + dt.timedelta(days=10)
DAYS = [(FIRST + dt.timedelta(days=n)).isoformat() for n in range(10)]


def _wait(predicate, timeout: float, what: str, daemon: Daemon):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.check_running()
        found = predicate()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def test_a_daemon_killed_mid_backfill_completes_it_after_a_restart_with_each_day_once(
    s3_url,
    daemon_env,  # noqa: F811
    daemons,  # noqa: F811
    tmp_path,
):
    lake = open_storage(s3_url)
    files = {day: land_sample(lake, day, rows=120 + n, seed=n) for n, day in enumerate(DAYS)}
    # Listing mode, a window far from these days: only the backfill asks for them.
    env = {**daemon_env, "PIPELINE_ARRIVALS_QUEUE_URL": ""}
    daemon = daemons(env).start(launch_runs=False)
    submitted = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "job", "backfill", "-m", "pipeline_project.definitions"]
        + ["-j", "daily_report_job", "--partitions", ",".join(DAYS), "--noprompt"],
        cwd=REPO,
        env=daemon.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert submitted.returncode == 0, submitted.stdout[-2000:] + submitted.stderr[-2000:]
    (backfill,) = daemon.instance.get_backfills()

    def requested() -> list:
        return daemon.instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))

    _wait(lambda: len(requested()) >= 1, 120, "the backfill's first runs", daemon)
    daemon.kill()
    before_restart = len(requested())
    assert all(r.status == DagsterRunStatus.QUEUED for r in requested())

    daemon.start(launch_runs=True)

    def finished() -> bool:
        state = daemon.instance.get_backfill(backfill.backfill_id)
        runs = requested()
        return state.status != BulkActionStatus.REQUESTED and runs and all(r.is_finished for r in runs)

    _wait(finished, 600, "the backfill to complete", daemon)
    # A job backfill is COMPLETED once every partition has its run; the runs are checked below.
    assert daemon.instance.get_backfill(backfill.backfill_id).status == BulkActionStatus.COMPLETED
    runs = requested()
    assert {r.status for r in runs} == {DagsterRunStatus.SUCCESS}
    for day in DAYS:
        report = json.loads(lake.read_bytes(report_key(day)))
        expected = reference_day(files[day].items())
        expected.pop("rejected_rows")
        assert report_numbers(report) == expected, day
        records = daemon.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("daily_report"), asset_partitions=[day]), limit=10
        ).records
        assert len(records) == 1, (day, [r.run_id for r in records])  # computed once
        assert report["run_id"] == records[0].run_id
    print(f"runs requested before the kill: {before_restart}; in all: {len(runs)} for {len(DAYS)} days")
