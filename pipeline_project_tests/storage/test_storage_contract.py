"""The Storage interface, the same assertions on a local folder and on an S3 API (moto over HTTP)."""

from __future__ import annotations

import io
import time
import uuid

import boto3
import pytest

from pipeline_project.storage import ObjectInfo, StorageError, open_storage
from pipeline_project_tests.storage.conftest import put

DAY = "raw-data/2025-01-1/"


class Boom(Exception):
    pass


class FailingStream(io.RawIOBase):
    """Yields some bytes, then fails: a producer that dies half-way."""

    def __init__(self, good: bytes):
        self._good = io.BytesIO(good)
        self._served = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        return self._good.seek(offset, whence)

    def tell(self):
        return self._good.tell()

    def readinto(self, buffer) -> int:
        if self._served:
            raise Boom("producer died")
        self._served = True
        data = self._good.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def test_list_objects_sorted_any_depth_only_under_prefix(lake):
    inside = {
        f"{DAY}b.csv": b"bbb",
        f"{DAY}a/z.csv": b"z" * 7,
        f"{DAY}a.csv": b"",
        f"{DAY}a-b.csv": b"ab",
        f"{DAY}A.csv": b"A" * 11,
        f"{DAY}deep/er/still/x.jsonl": b'{"a": 1}\n',
        f"{DAY}_SUCCESS": b"",
        f"{DAY}\u00fc.csv": "\u00fc".encode(),
    }
    outside = {
        "raw-data/2025-01-10/leak.csv": b"no",
        "raw-data/2025-01-1x/leak.csv": b"no",
        "raw-data/2025-01-1.csv": b"no",
        "raw-data/2025-01-12/2025-01-1/leak.csv": b"no",
        "reports/2025-01-1.json": b"no",
    }
    for key, data in {**outside, **inside}.items():
        put(lake, key, data)

    listed = lake.list_objects(DAY)

    assert [o.key for o in listed] == [
        f"{DAY}A.csv",
        f"{DAY}_SUCCESS",
        f"{DAY}a-b.csv",
        f"{DAY}a.csv",
        f"{DAY}a/z.csv",
        f"{DAY}b.csv",
        f"{DAY}deep/er/still/x.jsonl",
        f"{DAY}\u00fc.csv",
    ]
    assert {o.key: o.size for o in listed} == {k: len(v) for k, v in inside.items()}
    assert all(isinstance(o.etag, str) and o.etag for o in listed)
    assert all(isinstance(o.last_modified, float) and o.last_modified > 0 for o in listed)
    assert [o.key for o in lake.list_objects("raw-data/2025-01-10/")] == ["raw-data/2025-01-10/leak.csv"]


def test_list_objects_of_a_missing_prefix_is_empty(lake):
    put(lake, "raw-data/2025-01-02/a.csv", b"a")
    assert lake.list_objects("raw-data/2025-01-01/") == []
    assert lake.list_objects("nothing/here/") == []


def test_list_objects_of_the_whole_root(lake):
    put(lake, "raw-data/2025-01-02/a.csv", b"a")
    put(lake, "reports/2025-01-02.json", b"{}")
    assert [o.key for o in lake.list_objects("")] == ["raw-data/2025-01-02/a.csv", "reports/2025-01-02.json"]


def test_etag_changes_when_content_changes(lake):
    put(lake, f"{DAY}a.csv", b"one")
    (before,) = lake.list_objects(DAY)
    put(lake, f"{DAY}a.csv", b"second")
    (after,) = lake.list_objects(DAY)
    assert (before.size, after.size) == (3, 6)
    assert before.etag != after.etag


def test_write_replaces_and_reads_back(lake):
    put(lake, "reports/2025-01-01.json", b'{"old": true}')
    put(lake, "reports/2025-01-01.json", b'{"new": 1}')
    assert lake.read_bytes("reports/2025-01-01.json") == b'{"new": 1}'
    (info,) = lake.list_objects("reports/")
    assert (info.key, info.size) == ("reports/2025-01-01.json", 10)


def test_write_reads_the_stream_from_its_start(lake):
    stream = io.BytesIO(b"header\nrow1\nrow2\n")
    stream.read(7)  # a caller that already looked at the data
    lake.write("raw-data/2025-01-01/a.csv", stream, "text/csv")
    assert lake.read_bytes("raw-data/2025-01-01/a.csv") == b"header\nrow1\nrow2\n"


def test_write_of_an_empty_stream(lake):
    lake.write("raw-data/2025-01-01/_SUCCESS", io.BytesIO(b""), "application/octet-stream")
    assert lake.read_bytes("raw-data/2025-01-01/_SUCCESS") == b""
    (info,) = lake.list_objects("raw-data/2025-01-01/")
    assert info.size == 0


def test_write_that_fails_half_way_leaves_the_old_object(lake):
    put(lake, "reports/2025-01-01.json", b"complete old report")
    with pytest.raises(Boom):
        lake.write("reports/2025-01-01.json", FailingStream(b"partial new"), "application/json")
    assert lake.read_bytes("reports/2025-01-01.json") == b"complete old report"
    assert [o.key for o in lake.list_objects("reports/")] == ["reports/2025-01-01.json"]


def test_open_returns_the_listed_object(lake):
    data = bytes(range(256)) * 5000  # bigger than one read buffer
    put(lake, f"{DAY}big.bin", data)
    (info,) = lake.list_objects(DAY)
    with lake.open(info) as stream:
        head = stream.read(10)
        rest = stream.read()
    assert head + rest == data
    assert stream.closed


def test_open_of_a_missing_object_raises_storage_error_naming_it(lake):
    missing = ObjectInfo(f"{DAY}gone.csv", 3, None, None, 0.0)
    with pytest.raises(StorageError) as raised:
        lake.open(missing)
    assert f"{DAY}gone.csv" in str(raised.value)


def test_read_bytes_of_a_missing_key_is_none(lake):
    assert lake.read_bytes("reports/2099-01-01.json") is None
    put(lake, "reports/2025-01-01.json", b"x")
    lake.delete(["reports/2025-01-01.json"])
    assert lake.read_bytes("reports/2025-01-01.json") is None


def test_copy_copies_the_listed_object(lake):
    put(lake, f"{DAY}bad.txt", b"not data")
    (info,) = lake.list_objects(DAY)
    lake.copy(info, "quarantine/2025-01-1/files/bad.txt")
    assert lake.read_bytes("quarantine/2025-01-1/files/bad.txt") == b"not data"
    assert lake.read_bytes(f"{DAY}bad.txt") == b"not data"


def test_copy_over_an_existing_key_replaces_it(lake):
    put(lake, f"{DAY}bad.txt", b"new bad")
    put(lake, "quarantine/2025-01-1/files/bad.txt", b"an older quarantined copy")
    (info,) = lake.list_objects(DAY)
    lake.copy(info, "quarantine/2025-01-1/files/bad.txt")
    assert lake.read_bytes("quarantine/2025-01-1/files/bad.txt") == b"new bad"


def test_delete_present_and_missing_keys(lake):
    for name in ("a.csv", "b.csv", "c/d.csv"):
        put(lake, f"{DAY}{name}", name.encode())
    lake.delete([f"{DAY}a.csv", f"{DAY}never-existed.csv", f"{DAY}c/d.csv", "reports/none.json"])
    assert [o.key for o in lake.list_objects(DAY)] == [f"{DAY}b.csv"]
    assert lake.read_bytes(f"{DAY}a.csv") is None
    lake.delete([f"{DAY}a.csv"])  # again: still fine
    lake.delete([])
    assert [o.key for o in lake.list_objects(DAY)] == [f"{DAY}b.csv"]


def test_delete_accepts_any_iterable(lake):
    put(lake, f"{DAY}a.csv", b"a")
    put(lake, f"{DAY}b.csv", b"b")
    lake.delete(o.key for o in lake.list_objects(DAY))
    assert lake.list_objects(DAY) == []


def test_location_names_the_key_under_the_root(lake, lake_url):
    assert lake.location("reports/2025-01-01.json") == f"{lake_url.rstrip('/')}/reports/2025-01-01.json"


@pytest.fixture(params=["local", "unversioned-s3"])
def unversioned_lake(request, tmp_path):
    """A store without versions: a local folder, or an S3 bucket without versioning (MinIO,
    LocalStack and many S3-compatible APIs by default)."""
    if request.param == "local":
        return open_storage(str(tmp_path / "lake"))
    request.getfixturevalue("s3_endpoint")
    bucket = f"plain-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return open_storage(f"s3://{bucket}/lake")


@pytest.mark.orchestration
def test_an_unversioned_copy_copies_the_listed_content_or_nothing(unversioned_lake):
    """Quarantine copies the file the report names: replaced after listing, it is not copied."""
    put(unversioned_lake, f"{DAY}a.csv", b"listed")
    (listed,) = unversioned_lake.list_objects(DAY)
    assert listed.version_id is None
    unversioned_lake.copy(listed, "quarantine/a.csv")
    assert unversioned_lake.read_bytes("quarantine/a.csv") == b"listed"

    time.sleep(0.01)  # a local file's identity includes its modification time
    put(unversioned_lake, f"{DAY}a.csv", b"replaced!")
    with pytest.raises(StorageError, match=r"Precondition ?Failed|changed after it was listed"):
        unversioned_lake.copy(listed, "quarantine/b.csv")
    assert unversioned_lake.read_bytes("quarantine/b.csv") is None
