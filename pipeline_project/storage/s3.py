"""An S3 bucket (or any S3-compatible API) under an optional prefix.

boto3 reads the standard AWS settings itself (credentials chain, AWS_REGION, AWS_ENDPOINT_URL),
so MinIO, LocalStack and moto's server mode work without code changes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipeline_project.storage.base import ObjectInfo, Storage, StorageError

# Standard mode retries throttling, 5xx and connection errors with exponential backoff and jitter.
_CLIENT_CONFIG = Config(retries={"max_attempts": 10, "mode": "standard"}, connect_timeout=10, read_timeout=60)
_VERSIONS_UNSUPPORTED = {"NotImplemented", "MethodNotAllowed", "XNotImplemented"}


class _BodyReader(io.RawIOBase):
    """botocore's StreamingBody as a standard readable stream."""

    def __init__(self, body):
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", client=None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = client or boto3.client("s3", config=_CLIENT_CONFIG)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            why = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
        else:
            why = str(exc)
        return StorageError(f"cannot {action} s3://{self.bucket}/{self._key(key)} ({why})")

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        try:
            objects = self._list_versions(prefix)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _VERSIONS_UNSUPPORTED:
                raise self._fail("list", prefix, exc) from None
            objects = self._list_current(prefix)
        except BotoCoreError as exc:
            raise self._fail("list", prefix, exc) from None
        return sorted(objects, key=lambda o: o.key)

    def _list_versions(self, prefix: str) -> list[ObjectInfo]:
        pages = self._client.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        objects = []
        for page in pages:
            for v in page.get("Versions", []):
                if v.get("IsLatest"):
                    version = v.get("VersionId")
                    objects.append(
                        ObjectInfo(
                            self._relative(v["Key"]),
                            v["Size"],
                            v.get("ETag"),
                            None if version in (None, "null") else version,
                            v["LastModified"].timestamp(),
                        )
                    )
        return objects

    def _list_current(self, prefix: str) -> list[ObjectInfo]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
        return [
            ObjectInfo(self._relative(o["Key"]), o["Size"], o.get("ETag"), None, o["LastModified"].timestamp())
            for page in pages
            for o in page.get("Contents", [])
        ]

    def _version_args(self, obj: ObjectInfo) -> dict:
        args = {"Bucket": self.bucket, "Key": self._key(obj.key)}
        if obj.version_id:
            args["VersionId"] = obj.version_id
        elif obj.etag:
            # Unversioned: refuse content that changed since listing rather than misreport it.
            args["IfMatch"] = obj.etag
        return args

    def open(self, obj: ObjectInfo) -> BinaryIO:
        try:
            body = self._client.get_object(**self._version_args(obj))["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("read", obj.key, exc) from None
        return io.BufferedReader(_BodyReader(body), buffer_size=1 << 20)

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._fail("read", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("read", key, exc) from None

    def write(self, key: str, data: BinaryIO, content_type: str) -> None:
        data.seek(0)
        try:
            # upload_fileobj switches to multipart for large bodies; S3 makes the object visible
            # only once the upload completes, so readers never see part of it.
            self._client.upload_fileobj(data, self.bucket, self._key(key), ExtraArgs={"ContentType": content_type})
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("write", key, exc) from None

    def copy(self, obj: ObjectInfo, dest_key: str) -> None:
        source = {"Bucket": self.bucket, "Key": self._key(obj.key)}
        if obj.version_id:
            source["VersionId"] = obj.version_id
        try:
            self._client.copy(source, self.bucket, self._key(dest_key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"copy {self.location(obj.key)} to", dest_key, exc) from None

    def delete(self, keys: Iterable[str]) -> None:
        keys = [self._key(k) for k in keys]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            try:
                response = self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except (ClientError, BotoCoreError) as exc:
                raise self._fail("delete under", "", exc) from None
            if response.get("Errors"):
                first = response["Errors"][0]
                raise StorageError(f"cannot delete s3://{self.bucket}/{first['Key']} ({first.get('Code')})")
