"""Which executor each job runs its steps with."""

from __future__ import annotations

import pytest

from pipeline_project.definitions import defs
from pipeline_project.defs.jobs import step_executor


def test_daily_job_runs_in_process_and_the_sharded_job_in_parallel_processes():
    assert defs.resolve_job_def("daily_report_job").executor_def.name == "in_process"
    assert defs.resolve_job_def("daily_report_sharded_job").executor_def.name == "multiprocess"


def test_deployed_steps_run_as_ecs_tasks_of_the_configured_size(monkeypatch):
    monkeypatch.setenv("PIPELINE_SHARD_TASK_SIZE", "4096/16384")
    executor, config = step_executor("ecs")
    assert executor.name == "ecs"
    assert config == {"cpu": 4096, "memory": 16384}


def test_an_unknown_executor_is_refused():
    with pytest.raises(ValueError, match="PIPELINE_STEP_EXECUTOR must be multiprocess or ecs, not 'k8s'"):
        step_executor("k8s")
