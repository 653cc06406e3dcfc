"""The `dg` CLI on this project, through [tool.dg] in pyproject.toml: check, list and launch.

`dg dev` is what the browser tests (ui/) run the UI with; `dagster dev` keeps its own test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from pipeline_project.core.contract import report_key
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample

REPO = Path(__file__).resolve().parent.parent
DG = str(Path(sys.executable).with_name("dg"))


@pytest.fixture
def dg(tmp_path, local_url):
    """Runs `dg ARGS` in the project root over a local lake and an instance of the test's own."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "PIPELINE_STORAGE_URL": local_url}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([DG, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)

    run.home = home
    return run


def test_dg_check_defs(dg):
    done = dg("check", "defs")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "All definitions loaded successfully."
    assert done.stderr == ""  # no venv-mismatch warning: [tool.dg.cli] suppresses it


def test_dg_list_defs(dg):
    done = dg("list", "defs", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [a["asset_key"] for a in listed["assets"]] == ["daily_report", "raw_data"]
    assert sorted(c["key"] for c in listed["asset_checks"]) == [
        "daily_report:freshness_check",
        "daily_report:rejection_rate_below_threshold",
        "daily_report:report_reconciles",
    ]
    assert [j["name"] for j in listed["jobs"]] == ["daily_report_job", "daily_report_sharded_job"]
    assert sorted(r["name"] for r in listed["resources"]) == ["alerts", "arrival", "lake", "policy", "quality"]
    assert [s["name"] for s in listed["schedules"]] == ["daily_report_schedule"]
    assert sorted(s["name"] for s in listed["sensors"]) == [
        "daily_report_freshness_sensor",
        "raw_data_sensor",
        "run_failure_alert_sensor",
    ]


def test_dg_launch_materializes_one_partition_in_process(dg, local_url):
    lake = open_storage(local_url)
    land_sample(lake, "2025-05-02", rows=40)
    done = dg("launch", "--assets", "daily_report", "--partition", "2025-05-02")
    assert done.returncode == 0, done.stderr
    assert json.loads(lake.read_bytes(report_key("2025-05-02")))["records"]["read"] == 40
    with DagsterInstance.from_config(str(dg.home)) as instance:
        (run,) = instance.get_runs()
        assert (run.status, run.tags["dagster/partition"]) == (DagsterRunStatus.SUCCESS, "2025-05-02")
    # In-process: dg executes the run itself (its event log is dg's output), not through the run launcher.
    assert "RUN_SUCCESS - Finished execution of run" in done.stderr
