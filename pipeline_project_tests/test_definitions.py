"""The code location loads the way users load it: Definitions, `dagster` CLI, workspace.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline_project.core.contract import report_key
from pipeline_project.definitions import defs
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample

REPO = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def test_definitions_hold_the_pipeline():
    assert {str(k.to_user_string()) for k in defs.resolve_all_asset_keys()} == {"raw_data", "daily_report"}
    report = defs.resolve_assets_def("daily_report")
    assert report.backfill_policy.max_partitions_per_run == 7
    assert report.partitions_def.get_first_partition_key() == "2025-01-01"
    assert {c.name for c in report.check_specs} == {"report_reconciles", "rejection_rate_below_threshold"}
    assert {s.name for s in defs.sensors} == {
        "raw_data_sensor",
        "daily_report_freshness_sensor",
        "run_failure_alert_sensor",
    }
    assert [s.name for s in defs.schedules] == ["daily_report_schedule"]
    assert {key.name for checks in defs.asset_checks for key in checks.check_keys} == {"freshness_check"}


def _run(args, tmp_path, **extra_env):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), **extra_env}
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_dagster_cli_validates_pyproject_and_workspace(tmp_path):
    for args in (
        [DAGSTER, "definitions", "validate"],
        [DAGSTER, "definitions", "validate", "-m", "pipeline_project.definitions"],
        [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
    ):
        done = _run(args, tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]


def test_dagster_asset_materialize_one_partition(tmp_path, local_url):
    lake = open_storage(local_url)
    land_sample(lake, "2025-05-01", rows=60)
    done = _run(
        [
            DAGSTER,
            "asset",
            "materialize",
            "-m",
            "pipeline_project.definitions",
            "--select",
            "daily_report",
            "--partition",
            "2025-05-01",
        ],
        tmp_path,
        PIPELINE_STORAGE_URL=local_url,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(lake.read_bytes(report_key("2025-05-01")))["records"]["read"] == 60
