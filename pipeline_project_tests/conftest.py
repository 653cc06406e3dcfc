"""Shared fixtures: a local lake, an S3 API over real HTTP (moto's server mode), Dagster resources."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import boto3
import pytest
from moto.server import ThreadedMotoServer

from pipeline_project.core.sample_data import sample_day
from pipeline_project.defs.policy import RunPolicy
from pipeline_project.defs.resources import ArrivalResource, LakeResource, QualityResource
from pipeline_project.settings import SETTINGS
from pipeline_project.storage import Storage, open_storage


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 (and friends) on a free loopback port for the whole session; stopped at the end."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.delenv("AWS_PROFILE", raising=False)
        yield endpoint
    server.stop()


@pytest.fixture
def s3_url(s3_endpoint) -> str:
    """A fresh versioned bucket; the lake lives under a prefix to prove prefixes work."""
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return f"s3://{bucket}/team/lake"


@pytest.fixture
def local_url(tmp_path) -> str:
    return str(tmp_path / "lake")


@pytest.fixture(params=["local", "s3"])
def lake_url(request) -> str:
    """The same test over a local folder and over the S3 API."""
    return request.getfixturevalue(f"{request.param}_url")


def make_resources(
    url: str,
    max_file_bytes: int = 1 << 30,
    lookback_days: int = 3,
    quiet_seconds: int = 600,
    shard_bytes: int = 2 << 30,
    spill_via_storage: bool = False,
    size_tiers: str = SETTINGS["PIPELINE_ECS_SIZE_TIERS"].default,
    queue_url: str = "",
    visibility_seconds: int = 600,
    reconcile_seconds: int = 3600,
):
    lake = LakeResource(
        storage_url=url, max_file_bytes=max_file_bytes, shard_bytes=shard_bytes, spill_via_storage=spill_via_storage
    )
    return {
        "lake": lake,
        "policy": RunPolicy(lake=lake, size_tiers=size_tiers),
        "quality": QualityResource(rejection_rate_warn=0.05),
        "arrival": ArrivalResource(
            lookback_days=lookback_days,
            quiet_seconds=quiet_seconds,
            queue_url=queue_url,
            visibility_seconds=visibility_seconds,
            reconcile_seconds=reconcile_seconds,
        ),
    }


def land(storage: Storage, day: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        storage.write(f"raw-data/{day}/{name}", io.BytesIO(data), "application/octet-stream")


def land_sample(storage: Storage, day: str, rows: int = 300, seed: int = 0) -> dict[str, bytes]:
    files = dict(sample_day(dt.date.fromisoformat(day), rows=rows, seed=seed))
    land(storage, day, files)
    return files


@pytest.fixture
def lake(lake_url) -> Storage:
    return open_storage(lake_url)


# ---------------------------------------------------------------------------------------------
# The deployed arrival chain in moto: S3 EventBridge notifications, a rule, an SQS queue.
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def arrivals_chain(s3_url: str) -> Iterator[str]:
    """The bucket's EventBridge notifications, a rule for the lake's raw-data/ keys (Object Created /
    Object Deleted) and its SQS target; yields the queue URL. Objects written before this starts
    send no event (a bucket filled first, then watched)."""
    parsed = urlparse(s3_url)
    bucket, root = parsed.netloc, parsed.path.strip("/")
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"arrivals-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    rule = f"arrivals-{uuid.uuid4().hex[:8]}"
    key_prefix = f"{root}/raw-data/" if root else "raw-data/"
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": key_prefix}]}},
    }
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    try:
        yield url
    finally:
        events.remove_targets(Rule=rule, Ids=["queue"])
        events.delete_rule(Name=rule)
        sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def queue_url(s3_url) -> Iterator[str]:
    with arrivals_chain(s3_url) as url:
        yield url


def queue_depth(url: str) -> int:
    """Messages in the queue, visible or received and not yet deleted."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
