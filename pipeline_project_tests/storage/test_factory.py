"""open_storage: PIPELINE_STORAGE_URL to a backend, or one clear StorageError."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_project.storage import StorageError, open_storage
from pipeline_project.storage.local import LocalStorage
from pipeline_project.storage.s3 import S3Storage


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://x", "only s3:// URLs and local folder paths"),
        ("https://bucket.s3.amazonaws.com/p", "only s3:// URLs and local folder paths"),
        ("file:///tmp/lake", "only s3:// URLs and local folder paths"),
        ("s3://", "names no bucket"),
        ("s3:///prefix/only", "names no bucket"),
    ],
)
def test_rejected_urls(url, words):
    with pytest.raises(StorageError) as raised:
        open_storage(url)
    assert str(raised.value).startswith(f"storage URL {url!r}")
    assert words in str(raised.value)


@pytest.mark.parametrize(
    ("url", "bucket", "prefix", "normalized"),
    [
        ("s3://my-bucket", "my-bucket", "", "s3://my-bucket"),
        ("s3://my-bucket/", "my-bucket", "", "s3://my-bucket"),
        ("s3://my-bucket/team/lake", "my-bucket", "team/lake", "s3://my-bucket/team/lake"),
        ("s3://my-bucket/team/lake/", "my-bucket", "team/lake", "s3://my-bucket/team/lake"),
    ],
)
def test_s3_urls(s3_endpoint, url, bucket, prefix, normalized):
    storage = open_storage(url)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.url) == (bucket, prefix, normalized)
    assert storage.location("reports/2025-01-01.json") == f"{normalized}/reports/2025-01-01.json"


def test_local_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = open_storage("data/lake")
    assert isinstance(relative, LocalStorage)
    assert relative.root == (tmp_path / "data/lake").resolve()
    assert relative.location("reports/x.json") == f"{(tmp_path / 'data/lake').resolve()}/reports/x.json"
    absolute = open_storage(str(tmp_path / "abs"))
    assert absolute.root == Path(tmp_path / "abs").resolve()
    assert not (tmp_path / "abs").exists()  # opening does not create anything
