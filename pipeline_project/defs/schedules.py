"""Daily schedule: yesterday's report, every day, whatever the sensor did."""

import datetime as dt

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from pipeline_project.core.arrivals import considered
from pipeline_project.core.contract import raw_day_prefix
from pipeline_project.defs import sizing
from pipeline_project.defs.jobs import daily_report_job
from pipeline_project.defs.partitions import daily_partitions
from pipeline_project.defs.resources import LakeResource
from pipeline_project.settings import value


@schedule(
    cron_schedule=value("PIPELINE_SCHEDULE_CRON"),
    job=daily_report_job,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Materializes yesterday's (UTC) daily_report partition, sized (ecs/cpu, ecs/memory) "
    "by the day's input bytes.",
)
def daily_report_schedule(context: ScheduleEvaluationContext, lake: LakeResource):
    tick = context.scheduled_execution_time.astimezone(dt.UTC)
    day = (tick.date() - dt.timedelta(days=1)).isoformat()
    if day < daily_partitions.start.date().isoformat():
        return SkipReason(f"{day} is before the first partition")
    try:
        # One listing of the one day prefix, the same objects the run will consider.
        input_bytes = sum(o.size for o in considered(day, lake.storage().list_objects(raw_day_prefix(day))))
        size = sizing.size_tags(input_bytes, sizing.SIZE_TIERS)
    except Exception as exc:  # the safety net still runs: sized for the biggest tier
        context.log.warning(f"could not size {day} ({type(exc).__name__}: {exc}); using the largest tier")
        size = sizing.largest_tags(sizing.SIZE_TIERS)
    return RunRequest(run_key=f"schedule:{day}", partition_key=day, tags={"pipeline/trigger": "schedule", **size})
