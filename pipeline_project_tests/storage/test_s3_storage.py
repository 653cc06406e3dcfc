"""S3Storage against moto's S3 API over real HTTP, with versioning on: versions, markers, prefixes, errors."""

from __future__ import annotations

import io
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from pipeline_project.storage import ObjectInfo, StorageError, open_storage
from pipeline_project.storage.s3 import S3Storage
from pipeline_project_tests.storage.conftest import RequestLog, put

DAY = "raw-data/2025-01-01/"


@pytest.fixture
def s3(s3_url):
    return open_storage(s3_url)


def test_listing_carries_the_real_version_id_and_etag(s3, raw_s3):
    version = raw_s3.put(raw_s3.full(f"{DAY}a.csv"), b"a,b\n1,2\n")
    head = raw_s3.client.head_object(Bucket=raw_s3.bucket, Key=raw_s3.full(f"{DAY}a.csv"))
    (info,) = s3.list_objects(DAY)
    assert info.key == f"{DAY}a.csv"
    assert info.size == 8
    assert info.version_id == version
    assert info.version_id not in (None, "null")
    assert info.etag == head["ETag"]
    assert info.last_modified == head["LastModified"].timestamp()


def test_listing_shows_only_the_current_version_and_hides_deleted_keys(s3, raw_s3):
    put(s3, f"{DAY}a.csv", b"v1")
    put(s3, f"{DAY}a.csv", b"v2-longer")
    put(s3, f"{DAY}b.csv", b"b1")
    put(s3, f"{DAY}b.csv", b"b2")
    put(s3, f"{DAY}c.csv", b"c1")
    s3.delete([f"{DAY}b.csv"])

    versions, markers = raw_s3.versions(raw_s3.full(DAY))
    assert len(versions) == 5
    assert [m["Key"] for m in markers] == [raw_s3.full(f"{DAY}b.csv")]
    latest = {v["Key"]: v["VersionId"] for v in versions if v["IsLatest"]}

    listed = s3.list_objects(DAY)
    assert [(o.key, o.size) for o in listed] == [(f"{DAY}a.csv", 9), (f"{DAY}c.csv", 2)]
    assert [o.version_id for o in listed] == [latest[raw_s3.full(f"{DAY}a.csv")], latest[raw_s3.full(f"{DAY}c.csv")]]
    assert s3.read_bytes(f"{DAY}b.csv") is None


def test_a_key_deleted_then_written_again_is_listed_with_its_new_version(s3, raw_s3):
    put(s3, f"{DAY}a.csv", b"first")
    s3.delete([f"{DAY}a.csv"])
    assert s3.list_objects(DAY) == []
    put(s3, f"{DAY}a.csv", b"second!")
    (info,) = s3.list_objects(DAY)
    versions, _ = raw_s3.versions(raw_s3.full(DAY))
    (latest,) = [v for v in versions if v["IsLatest"]]
    assert (info.size, info.version_id) == (7, latest["VersionId"])


def test_open_returns_the_version_listed_even_after_an_overwrite(s3):
    put(s3, f"{DAY}a.csv", b"the original bytes")
    (old,) = s3.list_objects(DAY)
    put(s3, f"{DAY}a.csv", b"a replacement")
    (new,) = s3.list_objects(DAY)
    assert old.version_id != new.version_id
    with s3.open(old) as stream:
        assert stream.read() == b"the original bytes"
    with s3.open(new) as stream:
        assert stream.read() == b"a replacement"
    assert s3.read_bytes(f"{DAY}a.csv") == b"a replacement"


def test_open_returns_the_version_listed_even_after_a_delete(s3):
    put(s3, f"{DAY}a.csv", b"still readable by version")
    (old,) = s3.list_objects(DAY)
    s3.delete([f"{DAY}a.csv"])
    with s3.open(old) as stream:
        assert stream.read() == b"still readable by version"


def test_open_of_an_unknown_version_raises_storage_error(s3, raw_s3):
    put(s3, f"{DAY}a.csv", b"x")
    (info,) = s3.list_objects(DAY)
    bogus = ObjectInfo(info.key, info.size, info.etag, "no-such-version-id", info.last_modified)
    with pytest.raises(StorageError) as raised:
        s3.open(bogus)
    assert f"s3://{raw_s3.bucket}/{raw_s3.full(f'{DAY}a.csv')}" in str(raised.value)


def test_copy_of_a_pinned_version_copies_that_version(s3, raw_s3):
    put(s3, f"{DAY}bad.txt", b"version one")
    (old,) = s3.list_objects(DAY)
    put(s3, f"{DAY}bad.txt", b"version two")
    s3.copy(old, "quarantine/2025-01-01/files/bad.txt")
    assert s3.read_bytes("quarantine/2025-01-01/files/bad.txt") == b"version one"
    assert raw_s3.get(raw_s3.full("quarantine/2025-01-01/files/bad.txt")) == b"version one"
    assert s3.read_bytes(f"{DAY}bad.txt") == b"version two"


def test_write_sets_the_content_type(s3, raw_s3):
    put(s3, "reports/2025-01-01.json", b"{}", "application/json")
    put(s3, "quarantine/2025-01-01/rejected_rows.jsonl", b"{}\n", "application/x-ndjson")
    head = raw_s3.client.head_object(Bucket=raw_s3.bucket, Key=raw_s3.full("reports/2025-01-01.json"))
    assert head["ContentType"] == "application/json"
    assert head["ContentLength"] == 2
    head = raw_s3.client.head_object(Bucket=raw_s3.bucket, Key=raw_s3.full("quarantine/2025-01-01/rejected_rows.jsonl"))
    assert head["ContentType"] == "application/x-ndjson"


def test_write_of_a_multipart_sized_body_round_trips_with_its_content_type(s3, raw_s3):
    data = (bytes(range(256)) * 4096) * 9  # 9 MiB: above the 8 MiB multipart threshold
    stream = io.BytesIO(data)
    stream.seek(123)
    s3.write("reports/big.json", stream, "application/json")
    assert s3.read_bytes("reports/big.json") == data
    head = raw_s3.client.head_object(Bucket=raw_s3.bucket, Key=raw_s3.full("reports/big.json"))
    assert head["ContentType"] == "application/json"
    assert head["ContentLength"] == len(data)


def test_each_write_makes_exactly_one_new_version(s3, raw_s3):
    put(s3, "reports/2025-01-01.json", b"1")
    put(s3, "reports/2025-01-01.json", b"22")
    versions, markers = raw_s3.versions(raw_s3.full("reports/"))
    assert sorted(v["Size"] for v in versions) == [1, 2]
    assert markers == []


def test_delete_of_more_than_1000_keys_is_batched(s3_url, raw_s3):
    client = boto3.client("s3")
    log = RequestLog(client)
    storage = S3Storage(raw_s3.bucket, raw_s3.prefix, client=client)
    keys = [f"{DAY}f{n:05d}.csv" for n in range(1001)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: raw_s3.put(raw_s3.full(k), b"x"), keys))
    raw_s3.put(raw_s3.full(f"{DAY}zz-keep.csv"), b"keep")

    assert [o.key for o in storage.list_objects(DAY)] == [*keys, f"{DAY}zz-keep.csv"]  # a listing of >1 page

    storage.delete([*keys, f"{DAY}missing.csv"])

    batches = [[o["Key"] for o in call["Delete"]["Objects"]] for call in log.named("DeleteObjects")]
    assert [len(b) for b in batches] == [1000, 2]
    assert [k for b in batches for k in b] == [raw_s3.full(k) for k in [*keys, f"{DAY}missing.csv"]]
    assert [o.key for o in storage.list_objects(DAY)] == [f"{DAY}zz-keep.csv"]
    _, markers = raw_s3.versions(raw_s3.full(DAY))
    assert sorted(m["Key"] for m in markers) == [raw_s3.full(k) for k in keys]


def test_storage_under_a_prefix_never_touches_keys_outside_it(s3_endpoint):
    bucket = f"iso-{uuid.uuid4().hex[:12]}"
    raw = boto3.client("s3")
    raw.create_bucket(Bucket=bucket)
    raw.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    outsiders = [
        f"{DAY}a.csv",  # the same relative key at the bucket root
        f"team/{DAY}a.csv",
        f"team/lake2/{DAY}a.csv",  # a sibling prefix sharing the text "team/lake"
        f"team/lakeside/{DAY}a.csv",
        "team/lake",  # an object named exactly like the prefix
        "team/lake.csv",
        "reports/2025-01-01.json",
    ]
    for key in outsiders:
        raw.put_object(Bucket=bucket, Key=key, Body=b"outsider")

    client = boto3.client("s3")
    log = RequestLog(client)
    storage = S3Storage(bucket, "/team/lake/", client=client)
    assert storage.url == f"s3://{bucket}/team/lake"

    put(storage, f"{DAY}a.csv", b"mine")
    put(storage, "reports/2025-01-01.json", b"{}", "application/json")
    assert [o.key for o in storage.list_objects("")] == [f"{DAY}a.csv", "reports/2025-01-01.json"]
    assert [o.key for o in storage.list_objects(DAY)] == [f"{DAY}a.csv"]
    (mine,) = storage.list_objects(DAY)
    storage.copy(mine, "quarantine/2025-01-01/files/a.csv")
    assert storage.read_bytes(f"{DAY}a.csv") == b"mine"
    with storage.open(mine) as stream:
        assert stream.read() == b"mine"
    storage.delete([f"{DAY}a.csv", "reports/2025-01-01.json", "quarantine/2025-01-01/files/a.csv", "lake.csv"])
    assert storage.read_bytes(f"{DAY}a.csv") is None

    # Every parameter naming a key or prefix stayed under "team/lake/".
    named = []
    for _name, params in log.calls:
        named += [params[p] for p in ("Key", "Prefix") if p in params]
        named += [o["Key"] for o in params.get("Delete", {}).get("Objects", [])]
        if isinstance(params.get("CopySource"), dict):
            named.append(params["CopySource"]["Key"])
    assert named
    assert all(name.startswith("team/lake/") for name in named), named
    # And the objects outside are exactly as they were: one version each, no delete markers.
    pages = list(raw.get_paginator("list_object_versions").paginate(Bucket=bucket))
    versions = [v for p in pages for v in p.get("Versions", []) if not v["Key"].startswith("team/lake/")]
    markers = [m for p in pages for m in p.get("DeleteMarkers", []) if not m["Key"].startswith("team/lake/")]
    assert sorted(v["Key"] for v in versions) == sorted(outsiders)
    assert markers == []
    for key in outsiders:
        assert raw.get_object(Bucket=bucket, Key=key)["Body"].read() == b"outsider"


def test_storage_without_a_prefix_uses_bare_keys(s3_endpoint):
    bucket = f"bare-{uuid.uuid4().hex[:12]}"
    raw = boto3.client("s3")
    raw.create_bucket(Bucket=bucket)
    storage = open_storage(f"s3://{bucket}")
    assert storage.url == f"s3://{bucket}"
    put(storage, f"{DAY}a.csv", b"abc")
    assert raw.get_object(Bucket=bucket, Key=f"{DAY}a.csv")["Body"].read() == b"abc"
    (info,) = storage.list_objects(DAY)
    assert (info.key, info.size) == (f"{DAY}a.csv", 3)
    assert storage.location(f"{DAY}a.csv") == f"s3://{bucket}/{DAY}a.csv"


def test_unversioned_bucket_lists_no_version_id(s3_endpoint):
    bucket = f"plain-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    storage = open_storage(f"s3://{bucket}/p")
    put(storage, f"{DAY}a.csv", b"one")
    (old,) = storage.list_objects(DAY)
    assert old.version_id is None
    assert old.etag == '"f97c5d29941bfb1b2fdab0874906ab82"'  # MD5 of b"one"
    storage.copy(old, "quarantine/a.csv")
    assert storage.read_bytes("quarantine/a.csv") == b"one"


MISSING_OPERATIONS = {
    "list_objects": lambda s: s.list_objects(DAY),
    "open": lambda s: s.open(ObjectInfo(f"{DAY}a.csv", 1, None, None, 0.0)),
    "read_bytes": lambda s: s.read_bytes(f"{DAY}a.csv"),
    "write": lambda s: s.write(f"{DAY}a.csv", io.BytesIO(b"x"), "text/csv"),
    "copy": lambda s: s.copy(ObjectInfo("raw-data/2025-01-01/b.csv", 1, None, None, 0.0), f"{DAY}a.csv"),
}


@pytest.mark.parametrize("operation", sorted(MISSING_OPERATIONS))
def test_a_missing_bucket_fails_with_storage_error_naming_bucket_and_key(s3_endpoint, operation):
    bucket = f"missing-{uuid.uuid4().hex[:12]}"
    storage = open_storage(f"s3://{bucket}/team/lake")
    with pytest.raises(StorageError) as raised:
        MISSING_OPERATIONS[operation](storage)
    message = str(raised.value)
    assert bucket in message
    expected = f"team/lake/{DAY}" if operation == "list_objects" else f"team/lake/{DAY}a.csv"
    assert f"s3://{bucket}/{expected}" in message


def test_delete_in_a_missing_bucket_fails_with_storage_error_naming_the_bucket(s3_endpoint):
    bucket = f"missing-{uuid.uuid4().hex[:12]}"
    storage = open_storage(f"s3://{bucket}/team/lake")
    with pytest.raises(StorageError) as raised:
        storage.delete([f"{DAY}a.csv"])
    assert f"s3://{bucket}/team/lake" in str(raised.value)


def test_unversioned_bucket_refuses_content_changed_since_listing(s3_endpoint):
    bucket = f"plain-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    storage = open_storage(f"s3://{bucket}/p")
    put(storage, f"{DAY}a.csv", b"one")
    (listed,) = storage.list_objects(DAY)
    assert storage.open(listed).read() == b"one"
    put(storage, f"{DAY}a.csv", b"two")
    with pytest.raises(StorageError, match=rf"cannot read s3://{bucket}/p/{DAY}a.csv \(PreconditionFailed"):
        storage.open(listed)
