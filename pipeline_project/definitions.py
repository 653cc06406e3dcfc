"""The code location: `dagster dev` finds `defs` here (see [tool.dagster] in pyproject.toml)."""

from dagster import Definitions, JobDefinition

from pipeline_project.defs.alerts import run_failure_alert_sensor
from pipeline_project.defs.assets import daily_report, raw_data
from pipeline_project.defs.checks import freshness_checks, freshness_sensor
from pipeline_project.defs.jobs import by_size_executor, daily_report_job, daily_report_sharded_job
from pipeline_project.defs.resources import resources_from_env
from pipeline_project.defs.schedules import daily_report_schedule
from pipeline_project.defs.sensors import raw_data_sensor
from pipeline_project.observability.logging import log_format, run_loggers


def build_definitions() -> Definitions:
    """The definitions, with resources bound to the environment as it is now."""
    return Definitions(
        assets=[raw_data, daily_report],
        asset_checks=freshness_checks,
        jobs=[daily_report_job, daily_report_sharded_job],
        # The asset page's runs (Materialize, backfills) route like daily_report_job: big days' shards
        # in parallel, every other day in the run's own process.
        executor=by_size_executor,
        schedules=[daily_report_schedule],
        sensors=[raw_data_sensor, freshness_sensor, run_failure_alert_sensor],
        resources=resources_from_env(),
        # PIPELINE_LOG_FORMAT=json: every job logs one JSON object per line (observability/logging.py).
        loggers=run_loggers(log_format()),
    )


defs = build_definitions()


def job_named(name: str) -> JobDefinition:
    """A job by name, for build_reconstructable_job (runs whose steps run in other processes);
    each process binds it to the environment it runs in."""
    return build_definitions().resolve_job_def(name)
