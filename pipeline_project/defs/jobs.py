"""The jobs every trigger launches: daily_report for one partition (or a range, in backfills).

Both run the same asset graph (plan, one scan per shard, publish). daily_report_job runs every
step inside the run worker, which suits all but the biggest days; daily_report_sharded_job runs
the shards in parallel: separate processes locally, separate Fargate tasks when deployed
(PIPELINE_STEP_EXECUTOR=ecs, through dagster_aws's ecs_executor). The sensor picks the job by
the day's input size.
"""

from dagster import AssetSelection, ExecutorDefinition, define_asset_job, in_process_executor, multiprocess_executor

from pipeline_project.defs.checks import freshness_checks
from pipeline_project.observability.logging import job_run_config, log_format
from pipeline_project.settings import value

# The freshness check has its own sensor; judging it inside a backfill of old days is noise.
_SELECTION = AssetSelection.assets("daily_report") - AssetSelection.checks(*freshness_checks)


def step_executor(name: str) -> tuple[ExecutorDefinition, dict]:
    """The sharded job's executor and its config, by PIPELINE_STEP_EXECUTOR."""
    if name == "ecs":
        from dagster_aws.ecs import ecs_executor

        cpu, memory = (int(v) for v in value("PIPELINE_SHARD_TASK_SIZE").split("/"))
        return ecs_executor, {"cpu": cpu, "memory": memory}
    if name == "multiprocess":
        return multiprocess_executor, {}
    raise ValueError(f"PIPELINE_STEP_EXECUTOR must be multiprocess or ecs, not {name!r}")


def _config(execution: dict | None = None) -> dict | None:
    # PIPELINE_LOG_FORMAT=json: runs log through the JSON console logger (observability/logging.py).
    config = {**(job_run_config(log_format()) or {})}
    if execution:
        config["execution"] = {"config": execution}
    return config or None


daily_report_job = define_asset_job(
    "daily_report_job",
    selection=_SELECTION,
    description="Build reports/YYYY-MM-DD.json and the quarantine for the selected day(s), every step "
    "in the run's own process.",
    executor_def=in_process_executor,
    config=_config(),
)

_executor, _execution = step_executor(value("PIPELINE_STEP_EXECUTOR"))
daily_report_sharded_job = define_asset_job(
    "daily_report_sharded_job",
    selection=_SELECTION,
    description="The same, with each shard of a big day (PIPELINE_SHARD_BYTES) scanned in parallel: "
    "separate processes, or one Fargate task per step when PIPELINE_STEP_EXECUTOR=ecs.",
    executor_def=_executor,
    config=_config(_execution),
)
