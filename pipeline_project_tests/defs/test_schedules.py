"""daily_report_schedule through build_schedule_context."""

import datetime as dt

from dagster import SkipReason, build_schedule_context

from pipeline_project.defs.schedules import daily_report_schedule


def test_schedule_requests_yesterday_utc():
    tick = dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC)
    request = daily_report_schedule(build_schedule_context(scheduled_execution_time=tick))
    assert request.partition_key == "2025-02-28"
    assert request.run_key == "schedule:2025-02-28"
    assert request.tags["pipeline/trigger"] == "schedule"


def test_schedule_converts_other_timezones_to_utc():
    tick = dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # 2025-03-02 04:30 UTC
    request = daily_report_schedule(build_schedule_context(scheduled_execution_time=tick))
    assert request.partition_key == "2025-03-01"


def test_schedule_skips_before_first_partition():
    tick = dt.datetime(2025, 1, 1, 1, 0, tzinfo=dt.UTC)
    result = daily_report_schedule(build_schedule_context(scheduled_execution_time=tick))
    assert isinstance(result, SkipReason)


def test_schedule_runs_at_the_configured_cron():
    assert daily_report_schedule.cron_schedule == "0 1 * * *"
    assert daily_report_schedule.execution_timezone == "UTC"
