"""raw_data_sensor in events mode: S3 → EventBridge rule → SQS → the sensor, all over real HTTP to moto."""

from __future__ import annotations

import datetime as dt
import json
import time
from urllib.parse import urlparse

import boto3
import pytest
from dagster import DagsterInstance, build_sensor_context

from pipeline_project.core.arrivals import SensorState, considered, fingerprint
from pipeline_project.defs.sensors import raw_data_sensor
from pipeline_project.storage import open_storage
from pipeline_project.storage.s3 import S3Storage
from pipeline_project_tests.conftest import land, make_resources, queue_depth

TODAY = dt.datetime.now(dt.UTC).date()
OLD = (TODAY - dt.timedelta(days=40)).isoformat()  # far outside the 3-day look-back window
ROW = "event_id,event_time,user_id,event_type,amount,currency\n{n},{day}T01:00:00Z,u,view,,\n"


def _csv(day: str, n: int) -> bytes:
    return ROW.format(n=n, day=day).encode()


@pytest.fixture
def listed_prefixes(monkeypatch):
    seen: list[str] = []
    original = S3Storage.list_objects

    def spy(self, prefix):
        seen.append(prefix)
        return original(self, prefix)

    monkeypatch.setattr(S3Storage, "list_objects", spy)
    return seen


class Sensor:
    """Ticks the sensor like the daemon does: each tick starts from the last committed cursor; a
    committed tick records its raw_data events and launches the run requests whose run key this
    sensor has not used yet (result.launched)."""

    def __init__(self, s3_url: str, queue_url: str, **resources):
        self.instance = DagsterInstance.ephemeral()
        self.resources = make_resources(s3_url, queue_url=queue_url, **resources)
        self.cursor: str | None = None
        self.run_keys: set[str] = set()

    def tick(self, commit: bool = True):
        with build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources) as context:
            result = raw_data_sensor(context)
        result.launched = [r for r in result.run_requests if r.run_key not in self.run_keys]
        if commit:
            self.cursor = result.cursor
            self.run_keys |= {r.run_key for r in result.run_requests}
            for event in result.asset_events:
                self.instance.report_runless_asset_event(event)
        return result


def _fp(lake, day: str) -> str:
    return fingerprint(considered(day, lake.list_objects(f"raw-data/{day}/")))


def test_a_day_of_any_age_is_launched_from_its_events_alone(s3_url, queue_url, listed_prefixes):
    lake = open_storage(s3_url)
    sensor = Sensor(s3_url, queue_url)
    first = sensor.tick()  # nothing arrived yet; the reconciler lists the window once
    assert first.run_requests == [] and len(listed_prefixes) == 3
    listed_prefixes.clear()

    land(lake, OLD, {"a.csv": _csv(OLD, 1), "_SUCCESS": b""})
    result = sensor.tick()
    assert listed_prefixes == [f"raw-data/{OLD}/"]  # only the touched day: once, for its fingerprint
    fp = _fp(lake, OLD)
    assert [(r.partition_key, r.run_key, r.job_name) for r in result.run_requests] == [
        (OLD, f"{OLD}:{fp[:16]}", "daily_report_job")
    ]
    assert result.run_requests[0].tags["pipeline/trigger"] == "sensor"
    assert [e.partition for e in result.asset_events] == [OLD]
    state = SensorState.parse(result.cursor)
    assert len(state.acks) == 2  # a.csv and the marker: deleted by the next tick, not this one
    assert queue_depth(queue_url) == 2

    again = sensor.tick()  # acknowledges; nothing new
    assert again.run_requests == [] and again.asset_events == []
    assert queue_depth(queue_url) == 0

    # A late file for the old day: one event, a new fingerprint, a new run.
    listed_prefixes.clear()
    land(lake, OLD, {"late.csv": _csv(OLD, 2)})
    late = sensor.tick()
    assert listed_prefixes == [f"raw-data/{OLD}/"]
    new_fp = _fp(lake, OLD)
    assert new_fp != fp
    assert [(r.partition_key, r.run_key) for r in late.run_requests] == [(OLD, f"{OLD}:{new_fp[:16]}")]
    assert late.asset_events[0].metadata["file_count"].value == 2


def test_a_day_without_a_marker_stays_pending_until_quiet(s3_url, queue_url, listed_prefixes):
    lake = open_storage(s3_url)
    sensor = Sensor(s3_url, queue_url, quiet_seconds=3)
    sensor.tick()
    land(lake, OLD, {"a.csv": _csv(OLD, 1)})
    arrived = sensor.tick()
    assert arrived.run_requests == [] and [e.partition for e in arrived.asset_events] == [OLD]
    assert SensorState.parse(arrived.cursor).pending() == [OLD]
    time.sleep(3.1)  # the quiet period itself: no message arrives, the pending day is listed again
    listed_prefixes.clear()
    quiet = sensor.tick()
    assert listed_prefixes == [f"raw-data/{OLD}/"]
    assert [r.partition_key for r in quiet.run_requests] == [OLD] and quiet.asset_events == []
    assert SensorState.parse(quiet.cursor).pending() == []


def test_malformed_foreign_and_impossible_messages_are_dropped_and_acknowledged(s3_url, queue_url, capfd):
    lake = open_storage(s3_url)
    parsed = urlparse(s3_url)
    bucket, root = parsed.netloc, parsed.path.strip("/")
    sensor = Sensor(s3_url, queue_url)
    sensor.tick()

    def event(key: str, name: str = bucket, kind: str = "Object Created") -> str:
        return json.dumps(
            {"detail-type": kind, "source": "aws.s3", "detail": {"bucket": {"name": name}, "object": {"key": key}}}
        )

    sqs = boto3.client("sqs")
    bodies = [
        "not json",
        json.dumps({"detail-type": "Object Created"}),
        event(f"{root}/raw-data/2025-02-30/a.csv"),  # no such date
        event(f"{root}/raw-data/latest/a.csv"),
        event(f"{root}/reports/2025-01-01.json"),
        event(f"{root}/raw-data/2025-01-02/a.csv", name="someone-elses-bucket"),
        event(f"{root}/raw-data/2025-01-02/a.csv", kind="Object Restore Completed"),
        event(f"{root}/raw-data/1999-01-01/a.csv"),  # before the first partition
        event(f"{root}/raw-data/2999-01-01/a.csv"),  # in the future
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    # And one real arrival, delivered twice and once more out of order after a later file.
    land(lake, OLD, {"a.csv": _csv(OLD, 1), "_SUCCESS": b""})
    sqs.send_message(QueueUrl=queue_url, MessageBody=event(f"{root}/raw-data/{OLD}/a.csv"))

    capfd.readouterr()
    result = sensor.tick()
    assert [r.partition_key for r in result.run_requests] == [OLD]
    dropped = [line for line in capfd.readouterr().err.splitlines() if "dropped arrival message" in line]
    assert len(dropped) == len(bodies)
    assert any("impossible date 2025-02-30" in line for line in dropped)
    assert any("someone-elses-bucket" in line for line in dropped)
    assert any("before the first partition" in line for line in dropped)
    assert any("in the future" in line for line in dropped)
    sensor.tick()
    assert queue_depth(queue_url) == 0  # dropped messages are acknowledged too

    # A replay of the same events: the same content, nothing reported or launched again.
    for _ in range(2):
        sqs.send_message(QueueUrl=queue_url, MessageBody=event(f"{root}/raw-data/{OLD}/a.csv"))
    replay = sensor.tick()
    assert replay.launched == [] and replay.asset_events == []


def test_an_uncommitted_tick_loses_nothing_and_a_committed_one_is_acknowledged_once(s3_url, queue_url):
    """The daemon dies between receiving and committing: the messages come back after the visibility
    timeout and the next tick launches the same run (same run key). It dies right after committing:
    the next tick deletes what the committed one consumed."""
    lake = open_storage(s3_url)
    sensor = Sensor(s3_url, queue_url, visibility_seconds=2)
    sensor.tick()
    land(lake, OLD, {"a.csv": _csv(OLD, 1), "_SUCCESS": b""})
    lost = sensor.tick(commit=False)  # killed before the cursor was committed
    assert [r.partition_key for r in lost.run_requests] == [OLD]
    assert queue_depth(queue_url) == 2  # received, hidden, not deleted

    hidden = sensor.tick()  # still hidden: nothing to do, nothing lost
    assert hidden.run_requests == []
    time.sleep(2.1)
    redelivered = sensor.tick()
    assert [r.run_key for r in redelivered.launched] == [r.run_key for r in lost.run_requests]

    # Committed; a fresh process (new daemon) picks the cursor up and acknowledges.
    sensor.resources = make_resources(s3_url, queue_url=queue_url, visibility_seconds=2)
    after_restart = sensor.tick()
    assert after_restart.run_requests == []
    assert queue_depth(queue_url) == 0


def test_reported_content_is_not_launched_again(s3_url, queue_url):
    """make demo, then make dev: a day whose report matches its content is reported as raw_data only."""
    from pipeline_project.daily import compute_day, publish_day

    lake = open_storage(s3_url)
    sensor = Sensor(s3_url, queue_url)
    sensor.tick()
    land(lake, OLD, {"a.csv": _csv(OLD, 1), "_SUCCESS": b""})
    publish_day(lake, compute_day(lake, OLD, "demo-run", 1 << 30))
    result = sensor.tick()
    assert result.run_requests == []
    assert [e.partition for e in result.asset_events] == [OLD]


def test_the_reconciler_lists_the_window_every_reconcile_seconds(s3_url, queue_url, listed_prefixes):
    lake = open_storage(s3_url)
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    sensor = Sensor(s3_url, queue_url, reconcile_seconds=2)
    sensor.tick()
    # An arrival the queue never saw (say, purged): found by the next reconciliation.
    land(lake, yesterday, {"a.csv": _csv(yesterday, 1), "_SUCCESS": b""})
    boto3.client("sqs").purge_queue(QueueUrl=queue_url)
    listed_prefixes.clear()
    missed = sensor.tick()
    assert missed.run_requests == [] and listed_prefixes == []
    time.sleep(2.1)
    reconciled = sensor.tick()
    assert len(listed_prefixes) == 3
    assert [r.partition_key for r in reconciled.run_requests] == [yesterday]
