"""PIPELINE_STORAGE_URL to a Storage: s3://bucket[/prefix] or a local folder path."""

from __future__ import annotations

from urllib.parse import urlparse

from pipeline_project.storage.base import Storage, StorageError
from pipeline_project.storage.local import LocalStorage
from pipeline_project.storage.s3 import S3Storage


def _shown(url: str) -> str:
    """The URL as it may appear in a message: never with credentials in it."""
    parsed = urlparse(url)
    if "@" in parsed.netloc:
        return parsed._replace(netloc="***@" + parsed.netloc.rsplit("@", 1)[1]).geturl()
    return url


def open_storage(url: str) -> Storage:
    if "://" in url:
        parsed = urlparse(url)
        if "@" in parsed.netloc:
            raise StorageError(f"storage URL {_shown(url)!r} carries credentials; use the AWS credential chain instead")
        if parsed.scheme != "s3":
            raise StorageError(f"storage URL {_shown(url)!r}: only s3:// URLs and local folder paths are supported")
        if not parsed.netloc:
            raise StorageError(f"storage URL {url!r} names no bucket")
        return S3Storage(parsed.netloc, parsed.path)
    return LocalStorage(url)
