"""The daemon SIGKILLed in the middle of a 10-day backfill, while a run executes, and started again.

This is the deployed launch path of test_run_launcher.py: the real `dagster-daemon run` with
deploy/dagster.yaml (PostgreSQL, the QueuedRunCoordinator, the guarded EcsRunLauncher, run
monitoring, run retries), the code from a real code server through deploy/workspace.yaml, ECS and
S3 from moto over HTTP. The test plays Fargate (test_step_tasks.Fargate): it starts each run task
the daemon asks ECS for, through the image's entrypoint, and stops the task with its command's
exit code. So, as deployed, a run is its own task and outlives the daemon that launched it.

The backfill is the one the asset page's Materialize dialog submits: daily_report over 10 days,
in runs of PIPELINE_BACKFILL_BATCH_DAYS (7) days. The queue admits one run at a time here (10
deployed), so that when the daemon dies one run executes and the other waits in the queue: the run
under way finishes without a daemon, the restarted daemon launches the other, the backfill
completes, every report is exact, and each day is materialized once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, AssetRecordsFilter, DagsterRunStatus, RunsFilter
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.utils import make_new_backfill_id

from pipeline_project.core.contract import report_key
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample
from pipeline_project_tests.core.reference import reference_day, report_numbers
from pipeline_project_tests.defs.test_sensor_daemon import Daemon
from pipeline_project_tests.deploy.test_run_launcher import (  # noqa: F401  (fixtures)
    Stack,
    code_server,
    db_name,
    postgres_home,
    stack,
    tasks_stay_running,
)
from pipeline_project_tests.deploy.test_step_tasks import Fargate, _Metadata

pytestmark = pytest.mark.orchestration
DAYS = [f"2025-02-{n:02d}" for n in range(1, 11)]
QUEUE_SLOTS = 1
BATCHES = [("2025-02-01", "2025-02-07"), ("2025-02-08", "2025-02-10")]  # 7-day runs


class DeployedDaemon(Daemon):
    """`dagster-daemon run` on the deployed instance file, loading the code through the workspace
    file (the code server), with the queue's slots and interval set for the test."""

    def __init__(self, deployed: Stack, workspace: Path, env: dict[str, str], logs: Path):
        self.target = ("-w", str(workspace))
        super().__init__(deployed.home, env, logs)

    def _configure(self, launch_runs: bool) -> None:
        path = self.home / "dagster.yaml"
        config = yaml.safe_load(path.read_text())
        coordinator = config["run_coordinator"]["config"]
        coordinator.update(max_concurrent_runs=QUEUE_SLOTS if launch_runs else 0, dequeue_interval_seconds=1)
        path.write_text(yaml.safe_dump(config, sort_keys=False))


def _wait(predicate, timeout: float, what: str, daemon: Daemon | None, fargate: Fargate):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon is not None:
            daemon.check_running()
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    logs = "\n".join(f"--- {t.arn}\n{t.output[-2000:]}" for t in fargate.tasks.values())
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def _submit_backfill(deployed: Stack) -> str:
    """What the UI's Materialize dialog submits for a range of daily_report's partitions."""
    request = deployed.workspace.create_request_context()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=request.asset_graph,
        partition_names=DAYS,
        asset_selection=[AssetKey("daily_report")],
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=deployed.instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    deployed.instance.add_backfill(backfill)
    return backfill.backfill_id


def test_a_daemon_killed_while_a_backfill_run_executes_completes_the_backfill_with_each_day_once(
    stack: Stack,  # noqa: F811
    code_server: int,  # noqa: F811
    tmp_path,
):
    instance, lake = stack.instance, open_storage(f"s3://{stack.cloud.bucket}")
    files = {day: land_sample(lake, day, rows=120 + n, seed=n) for n, day in enumerate(DAYS)}
    workspace = tmp_path / "workspace.yaml"  # the stack's: deploy/workspace.yaml, loopback code server
    assert yaml.safe_load(workspace.read_text())["load_from"][0]["grpc_server"]["port"] == code_server
    daemon = DeployedDaemon(stack, workspace, dict(os.environ), tmp_path)  # the stack set the daemon's env

    # Fargate, on its own thread for the whole test: tasks do not depend on the daemon.
    metadata = _Metadata()
    threading.Thread(target=metadata.serve_forever, daemon=True).start()
    fargate = Fargate(stack, tmp_path / "fargate", metadata)
    playing = threading.Event()
    playing.set()

    def play() -> None:
        while playing.is_set():
            fargate.poll()
            time.sleep(0.2)

    player = threading.Thread(target=play, daemon=True)
    player.start()
    try:
        # Submitted before the daemon starts: the backfill daemon's first pass takes it at once (it
        # passes every 30 s).
        backfill_id = _submit_backfill(stack)
        started_at = time.monotonic()
        daemon.start(launch_runs=True)

        def runs() -> list:
            return instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))

        def statuses() -> list:
            return sorted(r.status.value for r in runs())

        # SIGKILL the daemon while one run's task executes and the other run waits in the queue.
        executing = [DagsterRunStatus.QUEUED.value, DagsterRunStatus.STARTED.value]
        _wait(lambda: statuses() == executing, 240, "one run executing, one queued", daemon, fargate)
        daemon.kill()
        killed_at = time.monotonic()
        (started,) = [r.run_id for r in runs() if r.status == DagsterRunStatus.STARTED]

        # With no daemon, the run under way finishes in its task; the other stays queued.
        _wait(
            lambda: instance.get_run_by_id(started).status == DagsterRunStatus.SUCCESS,
            240,
            "the executing run to finish without a daemon",
            None,
            fargate,
        )
        assert statuses() == [DagsterRunStatus.QUEUED.value, DagsterRunStatus.SUCCESS.value]

        daemon.start(launch_runs=True)
        restarted_at = time.monotonic()

        def completed() -> bool:
            found = runs()
            return (
                instance.get_backfill(backfill_id).status != BulkActionStatus.REQUESTED
                and len(found) == len(BATCHES)
                and all(r.is_finished for r in found)
                and all(t.exit_code is not None for t in list(fargate.tasks.values()))
            )

        _wait(completed, 420, "the backfill to complete", daemon, fargate)
        completed_at = time.monotonic()
    finally:
        playing.clear()
        player.join(timeout=30)
        daemon.stop()
        daemon.instance.dispose()
        fargate.kill_all()
        metadata.shutdown()
        metadata.server_close()

    logs = "\n".join(f"--- {t.arn}\n{t.output[-2000:]}" for t in fargate.tasks.values())
    assert instance.get_backfill(backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS, logs
    done = runs()
    assert {r.status for r in done} == {DagsterRunStatus.SUCCESS}, logs
    ranges = sorted(
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"]) for r in done
    )
    assert ranges == BATCHES  # two runs in all: no retry, no second run of a range
    # Each run was its own task, and each task stopped with its container's exit code 0.
    assert [t.exit_code for t in fargate.tasks.values()] == [0] * len(BATCHES), logs
    for day in DAYS:
        report = json.loads(lake.read_bytes(report_key(day)))
        expected = reference_day(files[day].items())
        expected.pop("rejected_rows")
        assert report_numbers(report) == expected, day
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("daily_report"), asset_partitions=[day]), limit=10
        ).records
        assert len(records) == 1, (day, [r.run_id for r in records])  # computed once
        assert report["run_id"] == records[0].run_id
    print(
        f"daemon start to kill {killed_at - started_at:.1f} s, kill to restart {restarted_at - killed_at:.1f} s, "
        f"restart to the backfill completed {completed_at - restarted_at:.1f} s"
    )
