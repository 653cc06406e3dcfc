"""The raw_data sensor lists only the look-back window, however many days the bucket holds.

Objects are spread over 365 days in moto's server mode; every object the S3 API returns to the
sensor is counted at the boto3 level (after-call hooks on the list operations), so a listing of
the whole bucket, or of any prefix outside the window, would show.
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

from pipeline_project.defs.sensors import raw_data_sensor, window_days
from pipeline_project.storage import s3 as s3_module
from pipeline_project_tests.conftest import make_resources

YEAR = 365
LOOKBACK = 3
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


@pytest.fixture
def s3_listing(monkeypatch):
    """Every list request the storage's boto3 clients make (its Prefix), every object returned,
    and the seconds spent waiting for those responses (the S3 server's share of a tick)."""
    seen = {"prefixes": [], "objects": 0, "server_seconds": 0.0}
    started: dict[int, float] = {}

    def request(params, **_):
        seen["prefixes"].append(params.get("Prefix"))

    def before(context, **_):
        started[id(context)] = time.perf_counter()

    def response(parsed, context, **_):
        seen["objects"] += sum(len(parsed.get(k, [])) for k in ("Versions", "DeleteMarkers", "Contents"))
        seen["server_seconds"] += time.perf_counter() - started.pop(id(context), time.perf_counter())

    original = s3_module.make_client

    def make_client(*args, **kwargs):
        client = original(*args, **kwargs)
        for operation in ("ListObjectVersions", "ListObjectsV2", "ListObjects"):
            client.meta.events.register(f"provide-client-params.s3.{operation}", request)
            client.meta.events.register(f"before-call.s3.{operation}", before)
            client.meta.events.register(f"after-call.s3.{operation}", response)
        return client

    monkeypatch.setattr(s3_module, "make_client", make_client)
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
