"""The jobs every trigger launches: daily_report for one partition (or a range, in backfills).

Both run the same asset graph (plan, one scan per shard, publish). daily_report_sharded_job
always runs the shards in parallel: separate processes locally, separate Fargate tasks when
deployed (PIPELINE_STEP_EXECUTOR=ecs, through dagster_aws's ecs_executor). daily_report_job, and
the asset page's runs, use the by-size executor: every step in the run's own process, unless the
trigger policy (defs/policy.py) says the run's days are big, and then the parallel executor. The
sensor and the CLI pick the job by the same policy; the schedule and asset-page backfills, whose
job is fixed, get the same decision from the executor.
"""

from __future__ import annotations

from collections.abc import Iterator

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

from pipeline_project.defs.checks import freshness_checks
from pipeline_project.defs.policy import policy_from_env
from pipeline_project.observability.logging import job_run_config, log_format
from pipeline_project.settings import value

# The freshness check has its own sensor; judging it inside a backfill of old days is noise.
_SELECTION = AssetSelection.assets("daily_report") - AssetSelection.checks(*freshness_checks)


def step_executor(name: str) -> tuple[ExecutorDefinition, dict]:
    """The executor that runs shards in parallel, and its config, by PIPELINE_STEP_EXECUTOR."""
    if name == "ecs":
        from dagster_aws.ecs import ecs_executor

        cpu, memory = (int(v) for v in value("PIPELINE_SHARD_TASK_SIZE").split("/"))
        return ecs_executor, {"cpu": cpu, "memory": memory}
    if name == "multiprocess":
        return multiprocess_executor, {}
    raise ValueError(f"PIPELINE_STEP_EXECUTOR must be multiprocess or ecs, not {name!r}")


class BySizeExecutor(Executor):
    """Every step in the run's process, or the parallel executor when the policy routes the run there."""

    def __init__(self, init_context: InitExecutorContext, parallel: ExecutorDefinition):
        self._init = init_context
        self._parallel = parallel
        self._retries = RetryMode.from_config(init_context.executor_config["retries"])

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def execute(self, plan_context, execution_plan) -> Iterator:
        with policy_from_env() as policy:
            parallel = policy.parallel(plan_context.dagster_run.tags)
        if parallel:
            plan_context.log.info(f"big day(s): steps run on the {self._parallel.name} executor")
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
        yield from chosen.execute(plan_context, execution_plan)


def _by_size(parallel: ExecutorDefinition) -> ExecutorDefinition:
    @executor(name="by_size", config_schema=parallel.config_schema)
    def by_size_executor(init_context: InitExecutorContext) -> Executor:
        return BySizeExecutor(init_context, parallel)

    return by_size_executor


def _config(execution: dict | None = None) -> dict | None:
    # PIPELINE_LOG_FORMAT=json: runs log through the JSON console logger (observability/logging.py).
    config = {**(job_run_config(log_format()) or {})}
    if execution:
        config["execution"] = {"config": execution}
    return config or None


_parallel, _execution = step_executor(value("PIPELINE_STEP_EXECUTOR"))
# The asset page's runs (Materialize, asset backfills) use it too: see definitions.py.
by_size_executor = _by_size(_parallel).configured(_execution) if _execution else _by_size(_parallel)

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
    executor_def=_parallel,
    config=_config(_execution),
)
