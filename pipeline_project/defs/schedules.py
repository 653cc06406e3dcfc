"""Daily schedule: yesterday's report, every day, whatever the sensor did."""

import datetime as dt

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from pipeline_project.defs.jobs import daily_report_job
from pipeline_project.defs.partitions import daily_partitions
from pipeline_project.settings import value


@schedule(
    cron_schedule=value("PIPELINE_SCHEDULE_CRON"),
    job=daily_report_job,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Materializes yesterday's (UTC) daily_report partition.",
)
def daily_report_schedule(context: ScheduleEvaluationContext):
    tick = context.scheduled_execution_time.astimezone(dt.UTC)
    day = (tick.date() - dt.timedelta(days=1)).isoformat()
    if day < daily_partitions.start.date().isoformat():
        return SkipReason(f"{day} is before the first partition")
    return RunRequest(run_key=f"schedule:{day}", partition_key=day, tags={"pipeline/trigger": "schedule"})
