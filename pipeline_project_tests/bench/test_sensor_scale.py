"""The raw_data sensor lists only the look-back window (listing mode), or only the days its S3
events touched (events mode), however many days the bucket holds.

Objects are spread over 365 days in moto's server mode; every object the S3 API returns to the
sensor is counted at the boto3 level (after-call hooks on the list operations), so a listing of
the whole bucket, or of any prefix outside the window, would show. Time inside S3 requests (and,
in events mode, SQS requests) is measured apart from the tick's own work: moto's
ListObjectVersions scans the whole bucket whatever the prefix (about 13 s a request at 100,000
objects), which says nothing about the sensor.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from botocore.config import Config
from dagster import DagsterInstance, build_sensor_context

from pipeline_project.core.arrivals import SensorState
from pipeline_project.core.contract import raw_day_prefix
from pipeline_project.defs.sensors import raw_data_sensor, window_days
from pipeline_project.storage import arrivals_queue as arrivals_module
from pipeline_project.storage import open_storage
from pipeline_project.storage import s3 as s3_module
from pipeline_project_tests.conftest import arrivals_chain, land, make_resources, queue_depth

YEAR = 365
LOOKBACK = 3
# Events mode: a late file for a day 40 days old, far outside the window but inside the 365 filled.
LATE_DAY = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=40)).isoformat()
ROW = b"event_id,event_time,user_id,event_type,amount,currency\ne1,2025-06-01T01:00:00Z,u1,view,,\n"


def _days() -> list[str]:
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    return [(yesterday - dt.timedelta(days=n)).isoformat() for n in range(YEAR)]


def fill_bucket(s3_url: str, objects: int, threads: int) -> Counter:
    """`objects` small CSV objects spread evenly over the last 365 days; returns objects per day."""
    parsed = urlparse(s3_url)
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    client = boto3.client("s3", config=Config(max_pool_connections=threads, retries={"max_attempts": 10}))
    days = _days()
    keys = [f"{prefix}/raw-data/{days[n % YEAR]}/part-{n:06d}.csv" for n in range(objects)]
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=ROW), keys, chunksize=64):
            pass
    return Counter(days[n % YEAR] for n in range(objects))


def mark_days(s3_url: str, threads: int) -> None:
    """A _SUCCESS marker in each of the 365 days: every day is complete, as producers leave them."""
    parsed = urlparse(s3_url)
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    client = boto3.client("s3", config=Config(max_pool_connections=threads, retries={"max_attempts": 10}))
    keys = [f"{prefix}/raw-data/{day}/_SUCCESS" for day in _days()]
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=b""), keys):
            pass


LIST_OPERATIONS = ("ListObjectVersions", "ListObjectsV2", "ListObjects")


@pytest.fixture
def s3_listing(monkeypatch):
    """Every list request the storage's boto3 clients make (its Prefix), every object returned,
    and the seconds spent waiting for those responses (the S3 server's share of a tick); the other
    S3 requests (a report's GET) and their seconds apart, in other_requests and other_seconds."""
    seen = {"prefixes": [], "objects": 0, "server_seconds": 0.0, "other_requests": [], "other_seconds": 0.0}
    started: dict[int, float] = {}

    def request(params, **_):
        seen["prefixes"].append(params.get("Prefix"))

    def before(context, **_):
        started[id(context)] = time.perf_counter()

    def response(parsed, context, model, **_):
        seconds = time.perf_counter() - started.pop(id(context), time.perf_counter())
        if model.name in LIST_OPERATIONS:
            seen["objects"] += sum(len(parsed.get(k, [])) for k in ("Versions", "DeleteMarkers", "Contents"))
            seen["server_seconds"] += seconds
        else:
            seen["other_requests"].append(model.name)
            seen["other_seconds"] += seconds

    original = s3_module.make_client

    def make_client(*args, **kwargs):
        client = original(*args, **kwargs)
        for operation in LIST_OPERATIONS:
            client.meta.events.register(f"provide-client-params.s3.{operation}", request)
        client.meta.events.register("before-call.s3", before)
        client.meta.events.register("after-call.s3", response)
        return client

    monkeypatch.setattr(s3_module, "make_client", make_client)
    return seen


def _reset(seen: dict) -> None:
    for name, value in seen.items():
        seen[name] = [] if isinstance(value, list) else type(value)()


@pytest.fixture
def sqs_calls(monkeypatch):
    """Every SQS request the arrivals queue makes (operation names) and the seconds inside them."""
    seen = {"requests": [], "seconds": 0.0}
    started: dict[int, float] = {}

    def before(context, **_):
        started[id(context)] = time.perf_counter()

    def response(context, model, **_):
        seen["requests"].append(model.name)
        seen["seconds"] += time.perf_counter() - started.pop(id(context), time.perf_counter())

    original = arrivals_module.ArrivalsQueue.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._client.meta.events.register("before-call.sqs", before)
        self._client.meta.events.register("after-call.sqs", response)

    monkeypatch.setattr(arrivals_module.ArrivalsQueue, "__init__", init)
    return seen


def tick(s3_url: str):
    resources = make_resources(s3_url, lookback_days=LOOKBACK)
    with build_sensor_context(instance=DagsterInstance.ephemeral(), resources=resources) as context:
        started = time.perf_counter()
        result = raw_data_sensor(context)
        return result, time.perf_counter() - started


def _check_bounded(s3_url: str, per_day: Counter, seen: dict, result) -> tuple[int, int]:
    window = window_days(dt.datetime.now(dt.UTC), LOOKBACK)
    in_window = sum(per_day[d] for d in window)
    assert seen["objects"] == in_window, "the tick listed objects outside the look-back window"
    assert seen["objects"] < sum(per_day.values())
    # One list request per window day (each holds far fewer than a 1,000-key page), each for its day.
    prefix = urlparse(s3_url).path.strip("/")
    assert sorted(seen["prefixes"]) == sorted(f"{prefix}/raw-data/{d}/" for d in window)
    assert sorted(e.partition for e in result.asset_events) == sorted(window)
    return in_window, sum(per_day.values())


def test_one_tick_lists_the_window_not_the_bucket(s3_url, s3_listing):
    per_day = fill_bucket(s3_url, 3_000, threads=16)
    result, _seconds = tick(s3_url)
    in_window, total = _check_bounded(s3_url, per_day, s3_listing, result)
    assert (in_window, total) == (sum(per_day[d] for d in _days()[:LOOKBACK]), 3_000)


@pytest.mark.benchmark
def test_benchmark_sensor_tick_over_100k_objects(s3_url, s3_listing, local_url, capsys):
    started = time.perf_counter()
    per_day = fill_bucket(s3_url, 100_000, threads=64)
    loaded = time.perf_counter() - started
    result, seconds = tick(s3_url)
    in_window, total = _check_bounded(s3_url, per_day, s3_listing, result)
    server = s3_listing["server_seconds"]

    # The same 100,000 objects as files of a local lake: the tick without an S3 server's cost.
    days = _days()
    for n in range(100_000):
        path = Path(local_url, "raw-data", days[n % YEAR], f"part-{n:06d}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ROW)
    _local_result, local_seconds = tick(local_url)
    assert len(_local_result.asset_events) == len(window_days(dt.datetime.now(dt.UTC), LOOKBACK))

    with capsys.disabled():
        verdict = "met" if seconds <= 2 else "MISSED"
        print(
            f"\nsensor: {total:,} objects over {YEAR} days in moto's server mode (loaded in {loaded:.0f}s); one tick "
            f"listed {s3_listing['objects']:,} objects in {len(s3_listing['prefixes'])} requests (window "
            f"{LOOKBACK} days, {in_window:,} objects in it) in {seconds:.3f}s (target <= 2 s: {verdict}), of which "
            f"{server:.3f}s waiting for moto's ListObjectVersions responses and {seconds - server:.3f}s in the "
            f"sensor; the same objects on a local lake: {local_seconds:.3f}s; load average {os.getloadavg()[0]:.1f}"
        )


# ---------------------------------------------------------------------------------------------
# Events mode: the same bucket, watched through the EventBridge → SQS chain after it was filled.
# ---------------------------------------------------------------------------------------------


def events_tick(resources: dict, instance: DagsterInstance, cursor: str | None):
    """One tick from `cursor`, committed the way the daemon commits one (its raw_data events are
    recorded in the instance); returns the result and the tick's seconds."""
    with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        started = time.perf_counter()
        result = raw_data_sensor(context)
        seconds = time.perf_counter() - started
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return result, seconds


def _late_file_tick(s3_url: str, queue_url: str, per_day: Counter, s3_seen: dict, sqs_seen: dict) -> dict:
    """The initial reconciliation tick, one late file for LATE_DAY, then the measured tick: it lists
    LATE_DAY's prefix and nothing else (one request) and requests its rerun."""
    prefix = urlparse(s3_url).path.strip("/")
    resources = make_resources(s3_url, lookback_days=LOOKBACK, queue_url=queue_url)
    instance = DagsterInstance.ephemeral()
    window = window_days(dt.datetime.now(dt.UTC), LOOKBACK)

    first, first_seconds = events_tick(resources, instance, None)  # reconciles the window
    assert sorted(s3_seen["prefixes"]) == sorted(f"{prefix}/{raw_day_prefix(d)}" for d in window)
    assert sorted(r.partition_key for r in first.run_requests) == sorted(window)  # complete: not pending
    assert SensorState.parse(first.cursor).pending() == []

    land(open_storage(s3_url), LATE_DAY, {"late/part-late.csv": ROW})
    assert queue_depth(queue_url) == 1
    _reset(s3_seen)
    _reset(sqs_seen)
    result, seconds = events_tick(resources, instance, first.cursor)

    assert s3_seen["prefixes"] == [f"{prefix}/{raw_day_prefix(LATE_DAY)}"]  # one request, the touched day
    assert s3_seen["objects"] == per_day[LATE_DAY] + 2  # its files, its marker and the late file
    assert [e.partition for e in result.asset_events] == [LATE_DAY]
    assert [r.partition_key for r in result.run_requests] == [LATE_DAY]
    assert len(SensorState.parse(result.cursor).acks) == 1
    return {
        "first_seconds": first_seconds,
        "seconds": seconds,
        "list_seconds": s3_seen["server_seconds"],
        "other_s3": list(s3_seen["other_requests"]),
        "other_s3_seconds": s3_seen["other_seconds"],
        "sqs": list(sqs_seen["requests"]),
        "sqs_seconds": sqs_seen["seconds"],
        "objects": s3_seen["objects"],
    }


def test_an_events_tick_lists_only_the_touched_day(s3_url, s3_listing, sqs_calls):
    per_day = fill_bucket(s3_url, 3_000, threads=16)
    mark_days(s3_url, threads=16)
    with arrivals_chain(s3_url) as queue_url:
        _late_file_tick(s3_url, queue_url, per_day, s3_listing, sqs_calls)


@pytest.mark.benchmark
def test_benchmark_events_tick_over_100k_objects(s3_url, s3_listing, sqs_calls, capsys):
    started = time.perf_counter()
    per_day = fill_bucket(s3_url, 100_000, threads=64)
    mark_days(s3_url, threads=64)
    loaded = time.perf_counter() - started
    with arrivals_chain(s3_url) as queue_url:
        m = _late_file_tick(s3_url, queue_url, per_day, s3_listing, sqs_calls)
    s3_seconds = m["list_seconds"] + m["other_s3_seconds"]
    own = m["seconds"] - s3_seconds
    verdict = "met" if own < 1 else "MISSED"
    with capsys.disabled():
        print(
            f"\nsensor, events mode: {sum(per_day.values()):,} objects (+{YEAR} markers) over {YEAR} days in moto's "
            f"server mode (loaded in {loaded:.0f}s); the reconciliation tick took {m['first_seconds']:.1f}s; then one "
            f"late file for {LATE_DAY}: the tick listed 1 prefix ({m['objects']:,} objects) in {m['seconds']:.3f}s, of "
            f"which {m['list_seconds']:.3f}s inside moto's ListObjectVersions and {m['other_s3_seconds']:.3f}s in "
            f"other S3 requests ({', '.join(m['other_s3']) or 'none'}); its own work outside S3 requests: {own:.3f}s "
            f"(target < 1 s: {verdict}), of which {m['sqs_seconds']:.3f}s inside SQS requests "
            f"({', '.join(m['sqs'])}) and {own - m['sqs_seconds']:.3f}s in the sensor; load average "
            f"{os.getloadavg()[0]:.1f}"
        )
    assert own < 1, f"the tick's own work (outside S3 requests) took {own:.3f}s, the target is under 1 s"
