"""PIPELINE_STORAGE_URL to a Storage: s3://bucket[/prefix] or a local folder path."""

from __future__ import annotations

from urllib.parse import urlparse

from pipeline_project.storage.base import Storage, StorageError
from pipeline_project.storage.local import LocalStorage
from pipeline_project.storage.s3 import S3Storage


def open_storage(url: str) -> Storage:
    if url.startswith("s3://"):
        parsed = urlparse(url)
        if not parsed.netloc:
            raise StorageError(f"storage URL {url!r} names no bucket")
        return S3Storage(parsed.netloc, parsed.path)
    if "://" in url:
        raise StorageError(f"storage URL {url!r}: only s3:// URLs and local folder paths are supported")
    return LocalStorage(url)
