"""Helpers for the storage tests: raw S3 access beside the storage under test, request recording."""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import urlparse

import boto3
import pytest

from pipeline_project.storage import Storage


@dataclass
class RawS3:
    """A plain boto3 client on the same bucket, to check what the storage really did."""

    client: object
    bucket: str
    prefix: str  # the storage's prefix, without slashes

    def full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, full_key: str, data: bytes) -> str:
        return self.client.put_object(Bucket=self.bucket, Key=full_key, Body=data)["VersionId"]

    def get(self, full_key: str, version_id: str | None = None) -> bytes:
        args = {"Bucket": self.bucket, "Key": full_key}
        if version_id:
            args["VersionId"] = version_id
        return self.client.get_object(**args)["Body"].read()

    def versions(self, prefix: str = "") -> tuple[list[dict], list[dict]]:
        """(versions, delete markers) of the whole bucket or a raw prefix."""
        versions, markers = [], []
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
            versions += page.get("Versions", [])
            markers += page.get("DeleteMarkers", [])
        return versions, markers


def split_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    return parsed.netloc, parsed.path.strip("/")


@pytest.fixture
def raw_s3(s3_url) -> RawS3:
    bucket, prefix = split_s3_url(s3_url)
    return RawS3(boto3.client("s3"), bucket, prefix)


class RequestLog:
    """Every S3 API call a client makes, with its parameters, through botocore's public event hooks."""

    def __init__(self, client):
        self.calls: list[tuple[str, dict]] = []
        client.meta.events.register("provide-client-params.s3.*", self._record)

    def _record(self, params, model, **kwargs):
        self.calls.append((model.name, dict(params)))

    def named(self, operation: str) -> list[dict]:
        return [params for name, params in self.calls if name == operation]


def put(storage: Storage, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    storage.write(key, io.BytesIO(data), content_type)
