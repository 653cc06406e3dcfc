"""Which executor each job runs its steps with."""

from __future__ import annotations

import pytest

from pipeline_project.definitions import defs
from pipeline_project.defs.jobs import step_executor


def test_daily_job_and_the_asset_page_route_by_size_and_the_sharded_job_runs_in_parallel_processes():
    assert defs.resolve_job_def("daily_report_job").executor_def.name == "by_size"
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "by_size"
    # The sharded job always hands its steps to the parallel executor (multiprocess here), under the day leases.
    assert defs.resolve_job_def("daily_report_sharded_job").executor_def.name == "parallel"


def test_deployed_steps_run_as_ecs_tasks_of_the_configured_size(monkeypatch):
    monkeypatch.setenv("PIPELINE_SHARD_TASK_SIZE", "4096/16384")
    executor, config = step_executor("ecs")
    assert executor.name == "ecs"
    assert config == {"cpu": 4096, "memory": 16384}


def test_an_unknown_executor_is_refused():
    with pytest.raises(ValueError, match="PIPELINE_STEP_EXECUTOR must be multiprocess or ecs, not 'k8s'"):
        step_executor("k8s")


def test_ecs_steps_share_their_outputs_through_the_lake_bucket():
    from pipeline_project.defs.resources import step_io_manager

    assert step_io_manager("multiprocess", "s3://lake/team") == {}
    io_manager = step_io_manager("ecs", "s3://lake/team/")["io_manager"]
    assert (io_manager.s3_bucket, io_manager.s3_prefix) == ("lake", "team/work/dagster-io")
    assert step_io_manager("ecs", "s3://lake")["io_manager"].s3_prefix == "work/dagster-io"
    with pytest.raises(ValueError, match="PIPELINE_STEP_EXECUTOR=ecs needs an s3:// PIPELINE_STORAGE_URL"):
        step_io_manager("ecs", "/data/lake")


def test_a_run_with_step_outputs_in_s3_leaves_only_work_files_behind(s3_url):
    import boto3
    from dagster import materialize

    from pipeline_project.defs.assets import daily_report, raw_data
    from pipeline_project.defs.resources import step_io_manager
    from pipeline_project.storage import open_storage
    from pipeline_project_tests.conftest import land_sample, make_resources

    lake = open_storage(s3_url)
    land_sample(lake, "2025-03-04", rows=50)
    resources = {**make_resources(s3_url, spill_via_storage=True), **step_io_manager("ecs", s3_url)}
    result = materialize(
        [raw_data, daily_report], selection=[daily_report], partition_key="2025-03-04", resources=resources
    )
    assert result.success
    bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/work/")["Contents"]]
    # The plan's and the scan's outputs, pickled by the IO manager; the shard's spill files are gone.
    run = f"{prefix}/work/dagster-io/storage/{result.run_id}"
    assert sorted(keys) == [
        f"{run}/daily_report.plan/plans",
        f"{run}/daily_report.plan/tasks/d20250304_0000",
        f"{run}/daily_report.scan_shard_files--d20250304_0000/result",
    ]
