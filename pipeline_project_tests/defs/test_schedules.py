"""daily_report_schedule through build_schedule_context."""

import datetime as dt

import pytest
from dagster import DagsterRunStatus, SkipReason, build_schedule_context, instance_for_test
from dagster._core.test_utils import create_run_for_test

from pipeline_project.core.arrivals import fingerprint
from pipeline_project.daily import day_inputs
from pipeline_project.defs.schedules import daily_report_schedule
from pipeline_project.storage import StorageError
from pipeline_project.storage.local import LocalStorage
from pipeline_project.storage.s3 import S3Storage
from pipeline_project_tests.conftest import land, make_resources

SMALL_TIERS = "0:256/512,100:512/1024,1KiB:1024/2048"


def _tick(tick: dt.datetime, lake_url: str, instance=None, **settings):
    if instance is None:
        with instance_for_test() as fresh:
            return _tick(tick, lake_url, fresh, **settings)
    resources = make_resources(lake_url, **settings)
    with build_schedule_context(scheduled_execution_time=tick, resources=resources, instance=instance) as context:
        return daily_report_schedule(context)


EMPTY = fingerprint([])


@pytest.fixture
def listed_prefixes(monkeypatch):
    seen: list[str] = []
    for cls in (LocalStorage, S3Storage):
        original = cls.list_objects

        def spy(self, prefix, _original=original):
            seen.append(prefix)
            return _original(self, prefix)

        monkeypatch.setattr(cls, "list_objects", spy)
    return seen


def test_schedule_requests_yesterday_utc(local_url):
    tick = dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC)
    request = _tick(tick, local_url)
    assert request.partition_key == "2025-02-28"
    assert request.run_key == f"schedule:2025-02-28:{EMPTY[:16]}"
    # An empty day still runs (and fails, saying so); it is sized by the first tier.
    assert request.tags == {
        "pipeline/trigger": "schedule",
        "pipeline/steps": "in_process",
        "pipeline/raw_fingerprint": EMPTY,
        "ecs/cpu": "1024",
        "ecs/memory": "4096",
        "pipeline/input_bytes": "0",
    }


def test_schedule_converts_other_timezones_to_utc(local_url):
    tick = dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # 2025-03-02 04:30 UTC
    request = _tick(tick, local_url)
    assert request.partition_key == "2025-03-01"


def test_schedule_skips_before_first_partition(local_url):
    tick = dt.datetime(2025, 1, 1, 1, 0, tzinfo=dt.UTC)
    result = _tick(tick, local_url)
    assert isinstance(result, SkipReason)


def test_schedule_runs_at_the_configured_cron():
    assert daily_report_schedule.cron_schedule == "0 1 * * *"
    assert daily_report_schedule.execution_timezone == "UTC"


@pytest.mark.parametrize(
    ("sizes", "cpu", "memory"),
    [
        ([99], "256", "512"),
        ([60, 40], "512", "1024"),  # exactly 100 bytes: the second tier
        ([1023], "512", "1024"),
        ([1000, 24], "1024", "2048"),  # exactly 1 KiB
    ],
)
def test_schedule_sizes_the_run_from_one_listing_of_the_day(
    lake, lake_url, monkeypatch, listed_prefixes, sizes, cpu, memory
):
    files = {f"part-{n}.csv": b"x" * size for n, size in enumerate(sizes)}
    # Markers and temporary files are not input: they never change the size.
    land(lake, "2025-02-28", {**files, "_SUCCESS": b"", "_temporary/big.csv": b"y" * 5000, ".hidden.csv": b"z" * 5000})
    land(lake, "2025-02-27", {"other-day.csv": b"w" * 5000})
    listed_prefixes.clear()
    request = _tick(dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC), lake_url, size_tiers=SMALL_TIERS)
    assert listed_prefixes == ["raw-data/2025-02-28/"]
    assert request.tags == {
        "pipeline/trigger": "schedule",
        "pipeline/steps": "in_process",
        "pipeline/raw_fingerprint": fingerprint(day_inputs(lake, "2025-02-28")),
        "ecs/cpu": cpu,
        "ecs/memory": memory,
        "pipeline/input_bytes": str(sum(sizes)),
    }


def test_schedule_still_runs_at_the_largest_size_when_the_listing_fails(local_url, monkeypatch):
    def broken(self, prefix):
        raise StorageError(f"cannot list {prefix}")

    monkeypatch.setattr(LocalStorage, "list_objects", broken)
    request = _tick(dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC), local_url)
    assert request.partition_key == "2025-02-28"
    assert request.run_key == "schedule:2025-02-28"
    assert request.tags == {
        "pipeline/trigger": "schedule",
        "pipeline/steps": "parallel",
        "ecs/cpu": "4096",
        "ecs/memory": "16384",
        "pipeline/input_bytes": "unknown",
    }


def test_schedule_is_a_safety_net_skipping_content_that_has_a_report(lake, lake_url):
    """make demo at night, then the 01:00 tick: the report is current, nothing runs twice."""
    from pipeline_project.daily import compute_day, publish_day
    from pipeline_project_tests.conftest import land_sample

    day, tick = "2025-02-28", dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC)
    land_sample(lake, day, rows=50)
    publish_day(lake, compute_day(lake, day, "run-1", 1 << 30))
    skipped = _tick(tick, lake_url)
    assert isinstance(skipped, SkipReason)
    assert skipped.skip_message == "2025-02-28 already has a report, or a run, for its current content"

    # A late file: the report no longer describes the content, so the safety net runs.
    land(lake, day, {"late.csv": b"event_id,event_time,user_id,event_type,amount,currency\n"})
    request = _tick(tick, lake_url)
    assert request.partition_key == day
    assert request.tags["pipeline/raw_fingerprint"] == fingerprint(day_inputs(lake, day))


def test_schedule_routes_a_big_day_to_parallel_steps(local_url):
    from pipeline_project.storage import open_storage

    land(open_storage(local_url), "2025-02-28", {"a.csv": b"x" * 60, "b.csv": b"x" * 41})
    request = _tick(dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC), local_url, shard_bytes=100)
    # The schedule's job is daily_report_job; its by-size executor obeys this tag.
    assert daily_report_schedule.job_name == "daily_report_job"
    assert request.tags["pipeline/steps"] == "parallel"


@pytest.mark.parametrize(
    ("status", "skips"),
    [(DagsterRunStatus.NOT_STARTED, True), (DagsterRunStatus.STARTED, True), (DagsterRunStatus.FAILURE, False)],
)
def test_schedule_skips_content_a_run_is_already_computing(local_url, status, skips):
    """The 01:00 tick while the sensor's run of yesterday is still queued or running: no second run."""
    from pipeline_project.storage import open_storage

    lake = open_storage(local_url)
    day = "2025-02-28"
    land(lake, day, {"a.csv": b"event_id,event_time,user_id,event_type,amount,currency\n"})
    fp = fingerprint(day_inputs(lake, day))
    tags = {"dagster/partition": day, "pipeline/raw_fingerprint": fp, "pipeline/trigger": "sensor"}
    with instance_for_test() as instance:
        create_run_for_test(instance, job_name="daily_report_job", tags=tags, status=status)
        other = {**tags, "pipeline/raw_fingerprint": "other"}  # another content of the day: not this one
        create_run_for_test(instance, job_name="daily_report_job", tags=other, status=DagsterRunStatus.STARTED)
        result = _tick(dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC), local_url, instance)
    assert isinstance(result, SkipReason) == skips
