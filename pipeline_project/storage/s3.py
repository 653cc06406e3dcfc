"""An S3 bucket (or any S3-compatible API) under an optional prefix.

boto3 reads the standard AWS settings itself (credentials chain, AWS_REGION, AWS_ENDPOINT_URL),
so MinIO, LocalStack and moto's server mode work without code changes.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Iterable
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

from pipeline_project.storage.base import ObjectInfo, Storage, StorageError

MAX_ATTEMPTS = 10
_VERSIONS_UNSUPPORTED = {"NotImplemented", "MethodNotAllowed", "XNotImplemented"}
# Failures while a response body streams: botocore has already returned, so it cannot retry them.
_STREAM_ERRORS = (
    ReadTimeoutError,
    ResponseStreamingError,
    IncompleteReadError,
    ConnectionClosedError,
    EndpointConnectionError,
    ProtocolError,
    ConnectionError,
)


def make_client(connect_timeout: float = 10, read_timeout: float = 60, max_attempts: int = MAX_ATTEMPTS, **kwargs):
    """An S3 client whose calls retry throttling (503 SlowDown), 5xx, resets and timeouts with
    exponential backoff and jitter (botocore's standard mode); 4xx such as AccessDenied or
    NoSuchBucket are not retried, so a permanent error fails at once."""
    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.client("s3", config=config, **kwargs)


def backoff(attempt: int) -> float:
    """Full jitter: a random wait up to an exponentially growing cap (0.1 s, 0.2 s, ... 20 s)."""
    return random.uniform(0, min(20.0, 0.1 * 2**attempt))


class _ResumableBody(io.RawIOBase):
    """An object's body that resumes with a Range request when the stream breaks mid-way.

    Each resume asks for the same version (VersionId, or IfMatch on the ETag), so the bytes
    stitched together always come from one object version.
    """

    def __init__(self, storage: S3Storage, args: dict):
        self._storage = storage
        self._args = args
        self._position = 0
        self._body = None

    def readable(self) -> bool:
        return True

    def _open(self):
        args = dict(self._args)
        if self._position:
            args["Range"] = f"bytes={self._position}-"
        return self._storage._client.get_object(**args)["Body"]

    def readinto(self, buffer) -> int:
        for attempt in range(MAX_ATTEMPTS):
            try:
                if self._body is None:
                    self._body = self._open()
                data = self._body.read(len(buffer))
                break
            except _STREAM_ERRORS as exc:
                self._body = None
                if attempt == MAX_ATTEMPTS - 1:
                    raise self._storage._fail("read", self._storage._relative(self._args["Key"]), exc) from None
                time.sleep(backoff(attempt))
            except (ClientError, BotoCoreError) as exc:
                raise self._storage._fail("read", self._storage._relative(self._args["Key"]), exc) from None
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
        super().close()


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", client=None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = client or make_client()

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

    def _stream(self, args: dict) -> BinaryIO:
        body = _ResumableBody(self, args)
        body._body = body._open()  # fail here, not at the first read, when the object is gone
        return io.BufferedReader(body, buffer_size=1 << 20)

    def open(self, obj: ObjectInfo) -> BinaryIO:
        try:
            return self._stream(self._version_args(obj))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("read", obj.key, exc) from None

    def read_bytes(self, key: str) -> bytes | None:
        try:
            with self._stream({"Bucket": self.bucket, "Key": self._key(key)}) as stream:
                return stream.read()
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

    def _current(self, key: str) -> tuple[bytes, str] | None:
        """A small object's bytes and ETag, read whole again if its body breaks mid-way."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
                return answer["Body"].read(), answer["ETag"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise self._fail("read", key, exc) from None
            except _STREAM_ERRORS as exc:
                if attempt == MAX_ATTEMPTS - 1:
                    raise self._fail("read", key, exc) from None
                time.sleep(backoff(attempt))
            except BotoCoreError as exc:
                raise self._fail("read", key, exc) from None
        raise AssertionError("unreachable")

    def swap(self, key: str, expected: bytes | None, data: bytes) -> bool:
        args = {"Bucket": self.bucket, "Key": self._key(key), "Body": data, "ContentType": "application/json"}
        if expected is None:
            args["IfNoneMatch"] = "*"
        else:
            current = self._current(key)
            if current is None or current[0] != expected:
                return False
            args["IfMatch"] = current[1]  # S3 refuses the write if anyone replaced the object since
        try:
            self._client.put_object(**args)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise self._fail("write", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("write", key, exc) from None
        return True

    def copy(self, obj: ObjectInfo, dest_key: str) -> None:
        source = {"Bucket": self.bucket, "Key": self._key(obj.key)}
        extra = {}
        if obj.version_id:
            source["VersionId"] = obj.version_id
        elif obj.etag:
            # Unversioned, as open(): copy the listed content or nothing.
            extra["CopySourceIfMatch"] = obj.etag
        try:
            self._client.copy(source, self.bucket, self._key(dest_key), ExtraArgs=extra)
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
