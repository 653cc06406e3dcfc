"""`dagster dev` end to end: the daemon runs the sensor and the schedule, and a backfill
launched the way the UI launches it (GraphQL) runs in batches of days."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline_project.core.contract import report_key
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import free_port, land_sample

REPO = Path(__file__).resolve().parent.parent
YESTERDAY = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
BACKFILL_DAYS = ["2025-06-01", "2025-06-02", "2025-06-03"]

RUNS = """
query Runs { runsOrError(limit: 50) { ... on Runs { results { runId status tags { key value } } } } }
"""
LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}")


@contextlib.contextmanager
def _dagster_dev(tmp_path, local_url, cli: str = "dagster", **settings: str):
    """`dagster dev` (or `dg dev`: cli="dg") on a free loopback port over a local lake; yields the GraphQL URL."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PIPELINE_STORAGE_URL": local_url,
        "PIPELINE_SENSOR_INTERVAL_SECONDS": "5",
        "PIPELINE_SCHEDULE_CRON": "* * * * *",
        "PIPELINE_BACKFILL_BATCH_DAYS": "2",
        **settings,
    }
    log = (tmp_path / "dagster-dev.log").open("w")
    # No -m/-w: `dagster dev` and `dg dev` must find the code through pyproject.toml.
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name(cli)), "dev", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"

    def up():
        try:
            return _graphql(url, "{ version }")
        except OSError:
            return None

    try:
        _wait(up, 180, "the webserver")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_sensor_schedule_and_backfill_run_under_dagster_dev(tmp_path, local_url):
    lake = open_storage(local_url)
    land_sample(lake, YESTERDAY, rows=50)
    for day in BACKFILL_DAYS:
        land_sample(lake, day, rows=30)
    with _dagster_dev(tmp_path, local_url) as url:
        launched = _graphql(
            url,
            LAUNCH_BACKFILL,
            {"params": {"partitionNames": BACKFILL_DAYS, "assetSelection": [{"path": ["daily_report"]}]}},
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]

        def finished_runs():
            runs = _graphql(url, RUNS)["runsOrError"]["results"]
            for run in runs:
                run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
            done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
            by_trigger = {
                "sensor": [r for r in done if r["tags"].get("pipeline/trigger") == "sensor"],
                "schedule": [r for r in done if r["tags"].get("pipeline/trigger") == "schedule"],
                "backfill": [r for r in done if r["tags"].get("dagster/backfill") == backfill_id],
            }
            # The schedule is a safety net: once the sensor's run has reported yesterday it skips, so
            # its runs (if a tick came first) are not waited for; test_schedules.py covers its choice.
            ready = by_trigger["sensor"] and len(by_trigger["backfill"]) == 2
            return by_trigger if ready else None

        runs = _wait(finished_runs, 240, "sensor, schedule and backfill runs")

    (sensor_run,) = runs["sensor"]
    assert sensor_run["status"] == "SUCCESS"
    assert sensor_run["tags"]["dagster/partition"] == YESTERDAY
    assert all(r["status"] == "SUCCESS" and r["tags"]["dagster/partition"] == YESTERDAY for r in runs["schedule"])
    # Three days in batches of two: two runs, each over a range.
    assert sorted(
        (r["tags"]["dagster/asset_partition_range_start"], r["tags"]["dagster/asset_partition_range_end"])
        for r in runs["backfill"]
    ) == [("2025-06-01", "2025-06-02"), ("2025-06-03", "2025-06-03")]
    assert {r["status"] for r in runs["backfill"]} == {"SUCCESS"}
    for day, rows in [(YESTERDAY, 50)] + [(d, 30) for d in BACKFILL_DAYS]:
        assert json.loads(lake.read_bytes(report_key(day)))["records"]["read"] == rows
