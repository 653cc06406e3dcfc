"""scripts/e2e-test.sh against a local stack: moto's server mode as S3 (a versioned bucket, over
HTTP) and `dagster dev` (the harness of test_dagster_dev) with its daemon running the sensor.

The script lands a sample day, waits for the sensor's run and the report, and checks the numbers
against the same sample processed locally; it must pass, then pass again on the same day (an
earlier sample is replaced and a new run is required), and fail clearly when the day holds data
it did not write.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

from pipeline_project_tests.conftest import free_port
from pipeline_project_tests.test_dagster_dev import _dagster_dev

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "e2e-test.sh"


def _e2e(url: str, bucket: str, timeout: int = 480, **extra: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "BUCKET": bucket,
        "DAGSTER_URL": url.removesuffix("/graphql"),
        "E2E_ROWS": "150",
        "E2E_RUN_TIMEOUT": "300",
        "E2E_REPORT_TIMEOUT": "60",
        "E2E_POLL_SECONDS": "2",
        **extra,
    }
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def bucket(s3_endpoint) -> str:
    name = f"pipeline-e2e-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3")
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_e2e_script_against_moto_and_dagster_dev(tmp_path, bucket):
    day = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)).isoformat()
    with _dagster_dev(tmp_path, f"s3://{bucket}") as url:
        first = _e2e(url, bucket)
        assert first.returncode == 0, first.stdout + first.stderr
        last = first.stdout.strip().splitlines()[-1]
        assert last.startswith(f"e2e: OK {day}: s3://{bucket}/reports/{day}.json from run "), last
        assert "matches the sample: read=150 " in last

        # Again on the same day: the earlier sample is replaced, and it takes a new sensor run.
        again = _e2e(url, bucket, E2E_SEED="7")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "removed an earlier sample (4 objects)" in again.stdout
        assert again.stdout.strip().splitlines()[-1].split(" from run ")[1] != last.split(" from run ")[1]

        # A day holding someone else's data is refused before anything is written.
        other = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)).isoformat()
        boto3.client("s3").upload_fileobj(io.BytesIO(b"x"), bucket, f"raw-data/{other}/producer/file.csv")
        refused = _e2e(url, bucket, E2E_DAY=other)
        assert refused.returncode == 1
        assert f"raw-data/{other}/ already holds producer/file.csv" in refused.stderr


def test_e2e_script_fails_fast_and_clearly(tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"
    down = _e2e(nowhere, "some-bucket", timeout=120)
    assert down.returncode == 1
    assert down.stderr.strip().splitlines()[-1].startswith(f"e2e: FAIL: Dagster is not answering at {nowhere}")

    unset = subprocess.run(
        ["bash", str(SCRIPT)], env={**os.environ, "BUCKET": "", "DAGSTER_URL": ""}, capture_output=True, text=True
    )
    assert unset.returncode == 1 and "give an environment (dev, prod) or BUCKET and DAGSTER_URL" in unset.stderr

    prod = subprocess.run(
        ["bash", str(SCRIPT), "prod"],
        env={**os.environ, "BUCKET": "b", "DAGSTER_URL": nowhere},
        capture_output=True,
        text=True,
    )
    assert prod.returncode == 1 and "E2E_ALLOW_PROD=1" in prod.stderr
