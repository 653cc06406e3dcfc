"""Faults between the pipeline and S3: transient ones are retried, permanent ones fail fast."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from dagster import DagsterInstance, build_sensor_context, materialize

from pipeline_project.core.contract import report_key
from pipeline_project.daily import compute_day, publish_day
from pipeline_project.defs.assets import daily_report, raw_data
from pipeline_project.defs.sensors import raw_data_sensor
from pipeline_project.storage import StorageError, open_storage
from pipeline_project.storage.s3 import S3Storage, make_client
from pipeline_project_tests.conftest import land, land_sample, make_resources
from pipeline_project_tests.core.reference import quarantined_rows, reference_day, report_numbers
from pipeline_project_tests.defs.test_sensors import YESTERDAY
from pipeline_project_tests.reliability.fault_proxy import FaultProxy

DAYS = ["2025-07-01", "2025-07-02", "2025-07-03"]
MAX = 1 << 30


def _through(proxy: FaultProxy, s3_url: str) -> S3Storage:
    direct = open_storage(s3_url)
    client = make_client(connect_timeout=1, read_timeout=1, endpoint_url=proxy.url)
    return S3Storage(direct.bucket, direct.prefix, client=client)


def _land_days(s3_url: str) -> dict[str, dict[str, bytes]]:
    lake = open_storage(s3_url)
    files = {}
    for n, day in enumerate(DAYS):
        files[day] = land_sample(lake, day, rows=600, seed=n)
        files[day]["notes.txt"] = b"not data"  # quarantined: exercises server-side copy
        land(lake, day, {"notes.txt": b"not data"})
    return files


@pytest.mark.parametrize(
    ("faults", "rate"),
    [(("slowdown_503", "internal_500", "reset", "timeout"), 0.3), (("truncated_body",), 0.5)],
    ids=["errors-resets-timeouts", "truncated-bodies"],
)
def test_transient_faults_are_retried_and_reports_stay_exact(s3_endpoint, s3_url, faults, rate):
    files = _land_days(s3_url)
    with FaultProxy(s3_endpoint, rate=rate, seed=7, faults=faults) as proxy:
        storage = _through(proxy, s3_url)
        for day in DAYS:
            publish_day(storage, compute_day(storage, day, "faulty-run", MAX, chunk_bytes=4096))
    assert set(proxy.injected) == set(faults)  # every kind of fault happened at least once
    assert sum(proxy.injected.values()) >= 10
    lake = open_storage(s3_url)
    for day in DAYS:
        report = json.loads(lake.read_bytes(report_key(day)))
        expected = reference_day(files[day])
        expected_rows = expected.pop("rejected_rows")
        assert report_numbers(report) == expected
        assert quarantined_rows(lake.read_bytes(f"quarantine/{day}/rejected_rows.jsonl"), day) == expected_rows
        assert report["files"] == {"considered": 4, "processed": 3, "quarantined": 1}
        assert lake.read_bytes(f"quarantine/{day}/files/notes.txt") == b"not data"


def test_access_denied_fails_at_once_naming_bucket_and_key(s3_endpoint, s3_url):
    _land_days(s3_url)
    with FaultProxy(s3_endpoint) as proxy:
        proxy.deny = True
        storage = _through(proxy, s3_url)
        with pytest.raises(StorageError) as raised:
            compute_day(storage, DAYS[0], "r", MAX)
    assert str(raised.value) == (
        f"cannot list {storage.url}/raw-data/{DAYS[0]}/ (AccessDenied: Access Denied)".replace(
            f"{storage.url}/", f"s3://{storage.bucket}/{storage.prefix}/"
        )
    )
    assert proxy.requests == 1  # no retry storm


def test_access_denied_on_write_names_the_key(s3_endpoint, s3_url):
    _land_days(s3_url)
    with FaultProxy(s3_endpoint) as proxy:
        storage = _through(proxy, s3_url)
        outcome = compute_day(storage, DAYS[0], "r", MAX)
        before = proxy.requests
        proxy.deny = True
        with pytest.raises(StorageError, match=rf"cannot copy .* to s3://{storage.bucket}/team/lake/quarantine/"):
            publish_day(storage, outcome)
        assert proxy.requests - before == 1
    assert open_storage(s3_url).read_bytes(report_key(DAYS[0])) is None


def test_missing_bucket_fails_at_once(s3_endpoint):
    with FaultProxy(s3_endpoint) as proxy:
        client = make_client(endpoint_url=proxy.url)
        storage = S3Storage("no-such-bucket-here", "lake", client=client)
        with pytest.raises(StorageError) as raised:
            compute_day(storage, DAYS[0], "r", MAX)
    assert "s3://no-such-bucket-here/lake/raw-data/2025-07-01/" in str(raised.value)
    assert "NoSuchBucket" in str(raised.value)
    assert proxy.requests == 1


def test_replaced_raw_file_reruns_the_day_and_the_report_names_versions(s3_url):
    lake = open_storage(s3_url)
    client = boto3.client("s3")
    land(
        lake,
        YESTERDAY,
        {"a.csv": b"event_id,event_time,user_id,event_type,amount,currency\n1,2025-01-01T00:00:00Z,u,view,,\n"},
    )
    land(lake, YESTERDAY, {"_SUCCESS": b""})
    instance = DagsterInstance.ephemeral()
    resources = make_resources(s3_url)

    def tick(cursor):
        with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
            return raw_data_sensor(context)

    def materialize_day():
        result = materialize(
            [raw_data, daily_report],
            selection=[daily_report],
            partition_key=YESTERDAY,
            resources=resources,
            instance=instance,
        )
        assert result.success
        return json.loads(lake.read_bytes(report_key(YESTERDAY)))

    def current_version(key):
        versions = client.list_object_versions(Bucket=lake.bucket, Prefix=f"{lake.prefix}/{key}")["Versions"]
        return next(v["VersionId"] for v in versions if v["IsLatest"])

    key = f"raw-data/{YESTERDAY}/a.csv"
    first = tick(None)
    assert [r.partition_key for r in first.run_requests] == [YESTERDAY]
    v1 = current_version(key)
    assert materialize_day()["inputs"][0]["version_id"] == v1

    lake.write(
        key,
        io.BytesIO(
            b"event_id,event_time,user_id,event_type,amount,currency\n2,2025-01-01T00:00:00Z,u,view,,\n3,x,u,view,,\n"
        ),
        "text/csv",
    )
    second = tick(first.cursor)
    assert [r.partition_key for r in second.run_requests] == [YESTERDAY]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key
    v2 = current_version(key)
    assert v2 != v1
    report = materialize_day()
    assert (report["inputs"][0]["version_id"], report["records"]["read"]) == (v2, 2)
    rows = lake.read_bytes(f"quarantine/{YESTERDAY}/rejected_rows.jsonl").decode().splitlines()
    assert [json.loads(line)["version_id"] for line in rows] == [v2]
