"""The jobs every trigger launches: daily_report for one partition (or a range, in backfills).

Both run the same asset graph (plan, one scan per shard, publish). daily_report_sharded_job
always runs the shards in parallel: separate processes locally, separate Fargate tasks when
deployed (PIPELINE_STEP_EXECUTOR=ecs, through dagster_aws's ecs_executor, guarded by
pipeline_project/ecs/executor.py). daily_report_job, and the asset page's runs, use the by-size
executor: every step in the run's own process, unless the trigger policy (defs/policy.py) says
the run's days are big, and then the parallel executor. The sensor and the CLI pick the job by
the same policy; the schedule and asset-page backfills, whose job is fixed, get the same decision
from the executor. Both executors hold the run's day leases while its steps execute, so at most
one run works on a day at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from dagster import (
    AssetSelection,
    Executor,
    ExecutorDefinition,
    InitExecutorContext,
    define_asset_job,
    executor,
    multiprocess_executor,
)
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.in_process import InProcessExecutor

from pipeline_project import day_lease
from pipeline_project.defs.checks import freshness_checks
from pipeline_project.defs.policy import policy_from_env, run_days
from pipeline_project.observability.logging import job_run_config, log_format
from pipeline_project.settings import value

# The freshness check has its own sensor; judging it inside a backfill of old days is noise.
_SELECTION = AssetSelection.assets("daily_report") - AssetSelection.checks(*freshness_checks)


def step_executor(name: str) -> tuple[ExecutorDefinition, dict]:
    """The executor that runs shards in parallel, and its config, by PIPELINE_STEP_EXECUTOR."""
    if name == "ecs":
        from pipeline_project.ecs.executor import guarded_ecs_executor

        cpu, memory = (int(v) for v in value("PIPELINE_SHARD_TASK_SIZE").split("/"))
        return guarded_ecs_executor, {"cpu": cpu, "memory": memory}
    if name == "multiprocess":
        return multiprocess_executor, {}
    raise ValueError(f"PIPELINE_STEP_EXECUTOR must be multiprocess or ecs, not {name!r}")


def run_finished(instance) -> Callable[[str], bool]:
    """Whether a run (a day lease's holder) is over, or unknown to this instance."""

    def finished(run_id: str) -> bool:
        run = instance.get_run_by_id(run_id)
        return run is None or run.is_finished

    return finished


class LeasingExecutor(Executor):
    """Holds the run's day leases (pipeline_project/day_lease.py) while its steps execute: in
    the run's process, or on the parallel executor when the policy routes the run there (or
    always, for daily_report_sharded_job)."""

    def __init__(self, init_context: InitExecutorContext, parallel: ExecutorDefinition, always_parallel: bool):
        self._init = init_context
        self._parallel = parallel
        self._always_parallel = always_parallel
        self._retries = RetryMode.from_config(init_context.executor_config["retries"])

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def execute(self, plan_context, execution_plan) -> Iterator:
        run = plan_context.dagster_run
        with policy_from_env() as policy:
            parallel = self._always_parallel or policy.parallel(run.tags)
            storage = policy.lake.storage()
        if parallel:
            plan_context.log.info(f"steps run on the {self._parallel.name} executor")
            context = InitExecutorContext(
                job=self._init.job,
                executor_def=self._parallel,
                executor_config=self._init.executor_config,
                instance=self._init.instance,
            )
            chosen = self._parallel.executor_creation_fn(context)
        else:
            chosen = InProcessExecutor(
                retries=self._retries, marker_to_close=None, step_dependency_config=StepDependencyConfig.default()
            )

        def on_wait(day: str, holder: str) -> None:
            plan_context.log.info(f"waiting for run {holder}, which is working on {day}")

        with day_lease.holding(storage, run_days(run.tags), run.run_id, run_finished(plan_context.instance), on_wait):
            yield from chosen.execute(plan_context, execution_plan)


def _leasing(name: str, parallel: ExecutorDefinition, always_parallel: bool, config: dict) -> ExecutorDefinition:
    @executor(name=name, config_schema=parallel.config_schema)
    def leasing_executor(init_context: InitExecutorContext) -> Executor:
        return LeasingExecutor(init_context, parallel, always_parallel)

    return leasing_executor.configured(config) if config else leasing_executor


def _config() -> dict | None:
    # PIPELINE_LOG_FORMAT=json: runs log through the JSON console logger (observability/logging.py).
    return job_run_config(log_format())


_parallel, _execution = step_executor(value("PIPELINE_STEP_EXECUTOR"))
# The asset page's runs (Materialize, asset backfills) use by_size too: see definitions.py.
by_size_executor = _leasing("by_size", _parallel, always_parallel=False, config=_execution)
parallel_executor = _leasing("parallel", _parallel, always_parallel=True, config=_execution)

daily_report_job = define_asset_job(
    "daily_report_job",
    selection=_SELECTION,
    description="Build reports/YYYY-MM-DD.json and the quarantine for the selected day(s): every step in "
    "the run's own process, or shards in parallel when a day is above PIPELINE_SHARD_BYTES.",
    executor_def=by_size_executor,
    config=_config(),
)

daily_report_sharded_job = define_asset_job(
    "daily_report_sharded_job",
    selection=_SELECTION,
    description="The same, with each shard of a big day (PIPELINE_SHARD_BYTES) scanned in parallel: "
    "separate processes, or one Fargate task per step when PIPELINE_STEP_EXECUTOR=ecs.",
    executor_def=parallel_executor,
    config=_config(),
)
