"""Shared fixtures: a local lake, an S3 API over real HTTP (moto's server mode), Dagster resources."""

from __future__ import annotations

import datetime as dt
import io
import socket
import uuid

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
