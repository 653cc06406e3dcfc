"""Run monitoring and run retries of deploy/dagster.yaml, end to end on the deployed launch path.

The stack is test_run_launcher's: the instance from deploy/dagster.yaml on PostgreSQL, a real code
server, ECS and S3 from moto over HTTP. The daemon's own iterations run here, in the order the
daemon runs them: the run queue launches a run's ECS task, run monitoring checks it, the event
log consumer retries a failed run, the queue launches the retry. The test plays Fargate: it runs
a task's command with the task's environment, and makes the task die as a Spot interruption or an
out-of-memory kill does (the container killed, exit code 137, the task STOPPED).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, ROOT_RUN_ID_TAG
from dagster._daemon.auto_run_reexecution.event_log_consumer import EventLogConsumerDaemon
from dagster._daemon.monitoring import run_monitoring
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from pipeline_project.core.contract import report_key
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample
from pipeline_project_tests.core.reference import reference_day, report_numbers
from pipeline_project_tests.deploy.test_run_launcher import (  # noqa: F401  (fixtures)
    REPO,
    Stack,
    _create_run,
    _describe_task,
    _die,
    _fargate_environment,
    code_server,
    db_name,
    postgres_home,
    stack,
    tasks_stay_running,
)

pytestmark = pytest.mark.orchestration
LOG = logging.getLogger("test-run-monitoring")
DAY = "2025-03-20"


def _daemon_started(deployed: Stack) -> None:
    """The event log consumer's first pass starts from the newest event: the daemon is up."""
    list(EventLogConsumerDaemon().run_iteration(deployed.workspace))


def _daemon_pass(deployed: Stack) -> None:
    """One pass of the daemons that act on runs: monitoring, retries, the queue."""
    list(run_monitoring.execute_run_monitoring_iteration(deployed.workspace, LOG))
    list(EventLogConsumerDaemon().run_iteration(deployed.workspace))
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(deployed.workspace))


def _start_task(deployed: Stack, run_id: str) -> subprocess.Popen:
    """Fargate starts the run's task: its container's command, with the task's environment."""
    run = deployed.instance.get_run_by_id(run_id)
    task = _describe_task(deployed.cloud, run.tags["ecs/task_arn"])
    (override,) = task["overrides"]["containerOverrides"]
    return subprocess.Popen(
        override["command"],
        env=_fargate_environment(deployed, task),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _runs(deployed: Stack) -> list:
    return list(reversed(deployed.instance.get_runs(RunsFilter(tags={"dagster/partition": DAY}))))


def test_a_killed_run_task_is_failed_by_run_monitoring_and_its_retry_reports_exactly(stack: Stack):  # noqa: F811
    instance, lake = stack.instance, open_storage(f"s3://{stack.cloud.bucket}")
    files = land_sample(lake, DAY, rows=2000)
    _daemon_started(stack)
    first = _create_run(stack, DAY)
    instance.submit_run(first.run_id, stack.workspace.create_request_context())
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(stack.workspace))
    first = instance.get_run_by_id(first.run_id)
    assert first.status == DagsterRunStatus.STARTING

    # The task starts, then its container is killed mid-run (SIGKILL, as the OOM killer or a
    # Spot reclaim does): the ECS task stops with exit code 137.
    worker = _start_task(stack, first.run_id)
    _wait(lambda: instance.get_run_by_id(first.run_id).status == DagsterRunStatus.STARTED, 120, "the run to start")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_at = time.monotonic()
    _die(stack, first.tags["ecs/task_arn"], 137)
    assert lake.read_bytes(report_key(DAY)) is None  # killed before it wrote anything

    # Run monitoring sees the dead worker and fails the run; run retries queues a new run; the
    # queue launches it on a new task.
    _daemon_pass(stack)
    first = instance.get_run_by_id(first.run_id)
    assert first.status == DagsterRunStatus.FAILURE
    failure = instance.get_records_for_run(first.run_id, of_type={DagsterEventType.RUN_FAILURE}).records
    (message,) = [r.event_log_entry.dagster_event.message for r in failure]
    assert message.startswith("Detected run worker status FAILED: 'Task arn:aws:ecs:"), message
    assert "Stop reason: OutOfMemoryError: container killed.\nContainer 'run' failed - exit code 137." in message
    first_runs = _runs(stack)
    assert [r.run_id for r in first_runs][0] == first.run_id and len(first_runs) == 2
    retry = first_runs[1]
    assert (retry.tags[PARENT_RUN_ID_TAG], retry.tags[ROOT_RUN_ID_TAG]) == (first.run_id, first.run_id)
    assert retry.tags["dagster/retry_number"] == "1"
    assert retry.status == DagsterRunStatus.STARTING
    assert retry.tags["ecs/task_arn"] != first.tags["ecs/task_arn"]

    # The retry's task runs to the end.
    done = _start_task(stack, retry.run_id)
    output = done.communicate(timeout=300)[0].decode(errors="replace")
    assert done.returncode == 0, output[-3000:]
    recovered = time.monotonic() - killed_at
    retry = instance.get_run_by_id(retry.run_id)
    assert retry.status == DagsterRunStatus.SUCCESS
    report = json.loads(lake.read_bytes(report_key(DAY)))
    assert report["run_id"] == retry.run_id
    expected = reference_day(files.items())
    expected.pop("rejected_rows")
    assert report_numbers(report) == expected
    (record,) = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("daily_report"), asset_partitions=[DAY]), limit=10
    ).records
    assert record.run_id == retry.run_id  # the day was reported once, by the retry
    # Another pass changes nothing: one retry, no second one.
    _daemon_pass(stack)
    assert [r.run_id for r in _runs(stack)] == [first.run_id, retry.run_id]
    print(f"kill to the retry's report: {recovered:.1f} s here (daemon intervals not included)")


def test_a_task_that_never_starts_times_out_with_a_reason_and_is_retried(stack: Stack, monkeypatch):  # noqa: F811
    instance = stack.instance
    land_sample(open_storage(f"s3://{stack.cloud.bucket}"), DAY, rows=200)
    _daemon_started(stack)
    stuck = _create_run(stack, DAY)
    instance.submit_run(stuck.run_id, stack.workspace.create_request_context())
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(stack.workspace))
    stuck = instance.get_run_by_id(stuck.run_id)
    assert stuck.status == DagsterRunStatus.STARTING  # its task never leaves PENDING: no worker

    # Within start_timeout_seconds nothing happens; past it, the run fails and is retried.
    _daemon_pass(stack)
    assert instance.get_run_by_id(stuck.run_id).status == DagsterRunStatus.STARTING
    later = time.time() + instance.run_monitoring_start_timeout_seconds + 1
    monkeypatch.setattr(run_monitoring, "get_current_timestamp", lambda: later)
    _daemon_pass(stack)
    stuck = instance.get_run_by_id(stuck.run_id)
    assert stuck.status == DagsterRunStatus.FAILURE
    failure = instance.get_records_for_run(stuck.run_id, of_type={DagsterEventType.RUN_FAILURE}).records
    (message,) = [r.event_log_entry.dagster_event.message for r in failure]
    assert message.startswith("Run timed out due to taking longer than 300 seconds to start."), message
    runs = _runs(stack)
    assert [r.run_id for r in runs][0] == stuck.run_id and len(runs) == 2
    assert runs[1].tags[PARENT_RUN_ID_TAG] == stuck.run_id
    assert runs[1].status == DagsterRunStatus.STARTING

    # Should the stuck task start after all, its worker does nothing for a run that has failed.
    late = _start_task(stack, stuck.run_id)
    output = late.communicate(timeout=300)[0].decode(errors="replace")
    assert instance.get_run_by_id(stuck.run_id).status == DagsterRunStatus.FAILURE, output[-2000:]
    assert open_storage(f"s3://{stack.cloud.bucket}").read_bytes(report_key(DAY)) is None, output[-2000:]
