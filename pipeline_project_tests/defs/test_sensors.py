"""raw_data_sensor through build_sensor_context on an ephemeral instance."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from dagster import DagsterInstance, build_sensor_context

from pipeline_project.core.arrivals import considered, fingerprint
from pipeline_project.defs.sensors import raw_data_sensor, window_days
from pipeline_project.storage import Storage, open_storage
from pipeline_project.storage.local import LocalStorage
from pipeline_project.storage.s3 import S3Storage
from pipeline_project_tests.conftest import land, make_resources

TODAY = dt.datetime.now(dt.UTC).date()
YESTERDAY = (TODAY - dt.timedelta(days=1)).isoformat()
TWO_AGO = (TODAY - dt.timedelta(days=2)).isoformat()
OUTSIDE = (TODAY - dt.timedelta(days=5)).isoformat()
ROW = "event_id,event_time,user_id,event_type,amount,currency\n{n},{day}T01:00:00Z,u,view,,\n"


def _csv(day: str, n: int) -> bytes:
    return ROW.format(n=n, day=day).encode()


def _tick(lake_url: str, instance, cursor=None, **resources):
    with build_sensor_context(instance=instance, cursor=cursor, resources=make_resources(lake_url, **resources)) as ctx:
        return raw_data_sensor(ctx), ctx


@pytest.fixture
def listed_prefixes(monkeypatch):
    """Every prefix the sensor lists, on either backend."""
    seen: list[str] = []
    for cls in (LocalStorage, S3Storage):
        original = cls.list_objects

        def spy(self, prefix, _original=original):
            seen.append(prefix)
            return _original(self, prefix)

        monkeypatch.setattr(cls, "list_objects", spy)
    return seen


def _fp(lake: Storage, day: str) -> str:
    return fingerprint(considered(day, lake.list_objects(f"raw-data/{day}/")))


def test_window_is_the_last_partitions_and_never_before_start():
    now = dt.datetime(2025, 1, 3, 12, tzinfo=dt.UTC)
    assert window_days(now, 3) == ["2025-01-02", "2025-01-01"]
    assert window_days(dt.datetime(2025, 3, 10, tzinfo=dt.UTC), 2) == ["2025-03-09", "2025-03-08"]


def test_sensor_reports_arrivals_launches_ready_days_once_and_reruns_changes(lake, lake_url, listed_prefixes):
    instance = DagsterInstance.ephemeral()
    land(lake, YESTERDAY, {"a.csv": _csv(YESTERDAY, 1), "_SUCCESS": b""})
    land(lake, TWO_AGO, {"a.csv": _csv(TWO_AGO, 2)})  # no marker, changed just now: not ready
    land(lake, OUTSIDE, {"a.csv": _csv(OUTSIDE, 3), "_SUCCESS": b""})  # outside the look-back window

    result, context = _tick(lake_url, instance)
    assert sorted(listed_prefixes) == sorted(f"raw-data/{d}/" for d in window_days(dt.datetime.now(dt.UTC), 3))
    fp = _fp(lake, YESTERDAY)
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [(YESTERDAY, f"{YESTERDAY}:{fp[:16]}")]
    assert result.run_requests[0].tags == {
        "pipeline/trigger": "sensor",
        "pipeline/steps": "in_process",
        "pipeline/raw_fingerprint": fp,
        "ecs/cpu": "1024",
        "ecs/memory": "4096",
        "pipeline/input_bytes": str(len(_csv(YESTERDAY, 1))),
    }
    events = {e.partition: e for e in result.asset_events}
    assert sorted(events) == sorted([YESTERDAY, TWO_AGO])
    meta = events[YESTERDAY].metadata
    assert meta["file_count"].value == 1  # the marker is not data
    assert meta["bytes"].value == len(_csv(YESTERDAY, 1))
    (obj,) = considered(YESTERDAY, lake.list_objects(f"raw-data/{YESTERDAY}/"))
    assert meta["objects"].value == {obj.key: obj.version_id or obj.etag}

    # Same content again: nothing to report, nothing to launch.
    again, _ = _tick(lake_url, instance, cursor=result.cursor)
    assert again.run_requests == [] and again.asset_events == []

    # The quiet period passes for the day without a marker: it launches now, once.
    quiet, _ = _tick(lake_url, instance, cursor=again.cursor, quiet_seconds=0)
    assert [(r.partition_key, r.run_key) for r in quiet.run_requests] == [
        (TWO_AGO, f"{TWO_AGO}:{_fp(lake, TWO_AGO)[:16]}")
    ]
    assert quiet.asset_events == []

    # A replaced file changes the content: a new materialization and a rerun with a new key.
    land(lake, YESTERDAY, {"a.csv": _csv(YESTERDAY, 99)})
    rerun, _ = _tick(lake_url, instance, cursor=quiet.cursor)
    new_fp = _fp(lake, YESTERDAY)
    assert new_fp != fp
    assert [(r.partition_key, r.run_key) for r in rerun.run_requests] == [(YESTERDAY, f"{YESTERDAY}:{new_fp[:16]}")]
    assert [e.partition for e in rerun.asset_events] == [YESTERDAY]

    # A late file (a new key) does the same.
    land(lake, YESTERDAY, {"late/b.jsonl": b"{}\n"})
    late, _ = _tick(lake_url, instance, cursor=rerun.cursor)
    assert [r.partition_key for r in late.run_requests] == [YESTERDAY]
    assert late.asset_events[0].metadata["file_count"].value == 2


def test_markers_and_temporary_files_do_not_change_the_content(local_url):
    from pipeline_project.storage import open_storage

    lake = open_storage(local_url)
    instance = DagsterInstance.ephemeral()
    land(lake, YESTERDAY, {"a.csv": _csv(YESTERDAY, 1), "_SUCCESS": b""})
    first, _ = _tick(local_url, instance)
    assert len(first.run_requests) == 1
    lake.write(f"raw-data/{YESTERDAY}/_temporary/part.csv", io.BytesIO(b"x"), "text/csv")
    lake.write(f"raw-data/{YESTERDAY}/.staging.csv", io.BytesIO(b"x"), "text/csv")
    second, _ = _tick(local_url, instance, cursor=first.cursor)
    assert second.run_requests == [] and second.asset_events == []


def test_day_with_only_a_marker_launches_nothing(local_url):
    from pipeline_project.storage import open_storage

    land(open_storage(local_url), YESTERDAY, {"_SUCCESS": b""})
    result, _ = _tick(local_url, DagsterInstance.ephemeral())
    assert result.run_requests == [] and result.asset_events == []


def test_runs_are_sized_from_the_same_listing(lake, lake_url, listed_prefixes, monkeypatch):
    """Each ready day's run gets ecs/cpu and ecs/memory from its input bytes; no extra listing."""
    land(lake, YESTERDAY, {"a.csv": b"x" * 60, "b/c.csv": b"x" * 40, "_SUCCESS": b"", "_tmp/d.csv": b"x" * 4096})
    land(lake, TWO_AGO, {"a.csv": b"x" * 99, "_SUCCESS": b""})
    land(lake, (TODAY - dt.timedelta(days=3)).isoformat(), {"a.csv": b"x" * 1024, "_SUCCESS": b""})
    result, _ = _tick(lake_url, DagsterInstance.ephemeral(), size_tiers="0:256/512,100:512/1024,1KiB:1024/2048")
    assert len(listed_prefixes) == 3  # the look-back window, once each
    sizes = {
        r.partition_key: (r.tags["ecs/cpu"], r.tags["ecs/memory"], r.tags["pipeline/input_bytes"])
        for r in result.run_requests
    }
    assert sizes == {
        (TODAY - dt.timedelta(days=3)).isoformat(): ("1024", "2048", "1024"),
        TWO_AGO: ("256", "512", "99"),
        YESTERDAY: ("512", "1024", "100"),
    }
    assert {e.partition: e.metadata["bytes"].value for e in result.asset_events} == {
        d: int(size[2]) for d, size in sizes.items()
    }


def test_days_above_the_shard_size_go_to_the_sharded_job(local_url):
    lake = open_storage(local_url)
    land(lake, YESTERDAY, {"a.csv": b"x" * 60, "b.csv": b"x" * 41, "_SUCCESS": b""})
    land(lake, TWO_AGO, {"a.csv": b"x" * 100, "_SUCCESS": b""})
    result, _ = _tick(local_url, DagsterInstance.ephemeral(), shard_bytes=100)
    assert {r.partition_key: r.job_name for r in result.run_requests} == {
        YESTERDAY: "daily_report_sharded_job",  # 101 bytes
        TWO_AGO: "daily_report_job",  # 100 bytes: not above
    }
