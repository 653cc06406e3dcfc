"""A year backfilled the way the UI does it: `dagster dev`, GraphQL launchPartitionBackfill over
365 daily partitions of 10,000 rows each, run in batches of PIPELINE_BACKFILL_BATCH_DAYS days."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from pipeline_project.core.contract import report_key
from pipeline_project.settings import value
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample
from pipeline_project_tests.test_dagster_dev import LAUNCH_BACKFILL, _dagster_dev, _graphql, _wait

DAYS = [(dt.date(2025, 1, 1) + dt.timedelta(days=n)).isoformat() for n in range(365)]
ROWS = 10_000
BACKFILL_RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter, limit: 1000) {
    ... on Runs { results { runId status startTime endTime tags { key value } } }
  }
}
"""


def _land(args) -> None:
    url, day = args
    land_sample(open_storage(url), day, rows=ROWS)


@pytest.mark.benchmark
def test_benchmark_backfill_a_year_from_the_ui(tmp_path, local_url, capsys):
    batch = int(value("PIPELINE_BACKFILL_BATCH_DAYS"))
    started = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_land, [(local_url, day) for day in DAYS], chunksize=8))
    landed = time.perf_counter() - started
    expected_runs = math.ceil(len(DAYS) / batch)

    # The shared harness speeds the schedule and sensor up for its own test; keep the defaults here.
    quiet = {"PIPELINE_SCHEDULE_CRON": "0 1 * * *", "PIPELINE_SENSOR_INTERVAL_SECONDS": "60"}
    with _dagster_dev(tmp_path, local_url, PIPELINE_BACKFILL_BATCH_DAYS=str(batch), **quiet) as url:
        launched_at = time.time()
        launched = _graphql(
            url,
            LAUNCH_BACKFILL,
            {"params": {"partitionNames": DAYS, "assetSelection": [{"path": ["daily_report"]}]}},
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill = {"filter": {"tags": [{"key": "dagster/backfill", "value": launched["backfillId"]}]}}

        def finished():
            runs = _graphql(url, BACKFILL_RUNS, backfill)["runsOrError"]["results"]
            done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
            return runs if len(done) >= expected_runs and len(done) == len(runs) else None

        runs = _wait(finished, 3 * 3600, f"{expected_runs} backfill runs")
        wall = max(r["endTime"] for r in runs) - launched_at
        time.sleep(10)  # no run beyond the expected batches shows up late
        runs = _graphql(url, BACKFILL_RUNS, backfill)["runsOrError"]["results"]

    assert len(runs) == expected_runs
    assert {r["status"] for r in runs} == {"SUCCESS"}
    ranges = sorted(
        (t["dagster/asset_partition_range_start"], t["dagster/asset_partition_range_end"])
        for t in ({x["key"]: x["value"] for x in r["tags"]} for r in runs)
    )
    assert ranges == [(DAYS[i], DAYS[min(i + batch, len(DAYS)) - 1]) for i in range(0, len(DAYS), batch)]
    lake = open_storage(local_url)
    assert all(json.loads(lake.read_bytes(report_key(day)))["records"]["read"] == ROWS for day in DAYS)
    durations = sorted(r["endTime"] - r["startTime"] for r in runs)
    with capsys.disabled():
        print(
            f"\nbackfill: {len(DAYS)} days x {ROWS:,} rows ({landed:.0f}s to land), batch {batch} days -> "
            f"{len(runs)} runs (ceil(365/{batch}) = {expected_runs}), all SUCCESS; wall {wall:.0f}s from launch "
            f"to the last run's end; run duration median {durations[len(durations) // 2]:.1f}s, "
            f"max {durations[-1]:.1f}s; load average {os.getloadavg()[0]:.1f}"
        )
