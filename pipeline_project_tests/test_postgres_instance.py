"""Runs recorded in a real PostgreSQL instance, as the deployed Dagster stores them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, DagsterRunStatus, RunsFilter

from pipeline_project.core.contract import report_key
from pipeline_project.definitions import defs
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample, make_resources

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


@pytest.fixture
def postgres_home(tmp_path):
    """A DAGSTER_HOME whose run, event and schedule storage is a fresh PostgreSQL database."""
    name = f"dagster_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "storage:\n"
        "  postgres:\n"
        "    postgres_db:\n"
        f"      hostname: {PG['host']}\n"
        f"      port: {PG['port']}\n"
        f"      username: {PG['user']}\n"
        '      password: ""\n'
        f"      db_name: {name}\n"
        "telemetry:\n"
        "  enabled: false\n"
    )
    yield home
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


def test_cli_runs_land_in_postgres(postgres_home: Path, local_url):
    lake = open_storage(local_url)
    days = ["2025-02-01", "2025-02-02"]
    for day in days:
        land_sample(lake, day, rows=120)
    env = {**os.environ, "DAGSTER_HOME": str(postgres_home), "PIPELINE_STORAGE_URL": local_url}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline_project.cli", "run", "--from", days[0], "--to", days[1]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("2 of 2 days reported, 0 failed")

    with DagsterInstance.from_config(str(postgres_home)) as instance:
        assert "Postgres" in type(instance.run_storage).__name__
        runs = instance.get_runs(RunsFilter(job_name="daily_report_job"))
        assert sorted(r.tags["dagster/partition"] for r in runs) == days
        assert {r.status for r in runs} == {DagsterRunStatus.SUCCESS}
        for day in days:
            (record,) = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey("daily_report"), asset_partitions=[day]), limit=10
            ).records
            report = json.loads(lake.read_bytes(report_key(day)))
            assert record.run_id == report["run_id"]
            assert record.asset_materialization.metadata["records_read"].value == 120


def test_partition_range_run_on_postgres(postgres_home: Path, local_url):
    lake = open_storage(local_url)
    days = ["2025-02-03", "2025-02-04", "2025-02-05"]
    for n, day in enumerate(days):
        land_sample(lake, day, rows=40 + n, seed=n)
    with DagsterInstance.from_config(str(postgres_home)) as instance:
        result = defs.resolve_job_def("daily_report_job").execute_in_process(
            instance=instance,
            resources=make_resources(local_url),
            tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
        )
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.tags["dagster/asset_partition_range_start"] == days[0]
        records = instance.fetch_materializations(AssetKey("daily_report"), limit=10).records
        by_day = {r.partition_key: r.asset_materialization.metadata["records_read"].value for r in records}
        assert by_day == {"2025-02-03": 40, "2025-02-04": 41, "2025-02-05": 42}
