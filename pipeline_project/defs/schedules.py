"""Daily schedule: a safety net that runs yesterday only when its current content has no report."""

import datetime as dt

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from pipeline_project.defs.jobs import daily_report_job
from pipeline_project.defs.partitions import daily_partitions
from pipeline_project.defs.policy import RunPolicy
from pipeline_project.settings import value


@schedule(
    cron_schedule=value("PIPELINE_SCHEDULE_CRON"),
    job=daily_report_job,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Safety net: materializes yesterday's (UTC) daily_report partition unless a report for "
    "exactly its current content exists, routed and sized by the trigger policy.",
)
def daily_report_schedule(context: ScheduleEvaluationContext, policy: RunPolicy):
    tick = context.scheduled_execution_time.astimezone(dt.UTC)
    day = (tick.date() - dt.timedelta(days=1)).isoformat()
    if day < daily_partitions.start.date().isoformat():
        return SkipReason(f"{day} is before the first partition")
    try:
        content = policy.content(day)
        if policy.handled(context.instance, day, content.fingerprint):
            return SkipReason(f"{day} already has a report, or a run, for its current content")
        launch = policy.launch("schedule", [content.input_bytes], content.fingerprint)
        run_key = f"schedule:{day}:{content.fingerprint[:16]}"
    except Exception as exc:  # the safety net still runs: the policy's size for an unmeasured day
        context.log.warning(f"could not measure {day} ({type(exc).__name__}: {exc}); using the largest size")
        launch = policy.launch("schedule", [None])
        run_key = f"schedule:{day}"
    return RunRequest(run_key=run_key, partition_key=day, tags=launch.tags)
