"""Shared fixtures: a local lake, an S3 API over real HTTP (moto's server mode), Dagster resources."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
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


@dataclasses.dataclass
class OwnPostgres:
    """A PostgreSQL server of the test's own: its own data folder, a free loopback port."""

    host: str
    port: int
    data: Path
    log: Path

    def connect(self, user: str = "postgres", dbname: str = "postgres", **kwargs):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=user, dbname=dbname, **kwargs)

    def execute(self, statement: str, dbname: str = "postgres", params=None) -> list[tuple]:
        connection = self.connect(dbname=dbname)
        connection.autocommit = True
        try:
            with connection.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        finally:
            connection.close()


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed (Debian: postgresql)")
    return str(found[-1])


@pytest.fixture
def own_postgres(request) -> Iterator[OwnPostgres]:
    """initdb into a temporary folder and start the server on a free port (never the machine's
    shared server, which other tests use in parallel). It runs as the postgres system user, since
    PostgreSQL refuses to run as root. A test module may set OWN_PG_HBA (pg_hba.conf lines); by
    default the superuser `postgres` is trusted."""
    hba = getattr(request.module, "OWN_PG_HBA", "host all postgres 127.0.0.1/32 trust\n")
    root = Path(tempfile.mkdtemp(prefix="own-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "server.log"
    subprocess.run(
        [*as_postgres, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    (data / "pg_hba.conf").write_text("local all postgres trust\n" + hba)
    port = free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c password_encryption=scram-sha-256"
    start = [*as_postgres, _pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
    subprocess.run(start, check=True, capture_output=True, timeout=60)
    try:
        yield OwnPostgres("127.0.0.1", port, data, log)
    finally:
        stop = [*as_postgres, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
        subprocess.run(stop, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
