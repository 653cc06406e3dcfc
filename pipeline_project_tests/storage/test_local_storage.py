"""LocalStorage: atomic writes without leftovers, no way out of the root, no version ids."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest

from pipeline_project.storage import ObjectInfo, StorageError, open_storage
from pipeline_project.storage.local import LocalStorage

DAY = "raw-data/2025-01-01/"


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def local(local_url):
    return open_storage(local_url)


def test_open_storage_of_a_path_is_a_local_folder(local, local_url):
    assert isinstance(local, LocalStorage)
    assert local.root == Path(local_url).resolve()
    assert local.url == str(Path(local_url).resolve())


def test_keys_are_plain_files_under_the_root(local, local_url):
    local.write(f"{DAY}web/a.csv", io.BytesIO(b"a,b\n"), "text/csv")
    assert (Path(local_url) / "raw-data/2025-01-01/web/a.csv").read_bytes() == b"a,b\n"


def test_listing_has_no_version_id_and_a_change_token_as_etag(local, local_url):
    local.write(f"{DAY}a.csv", io.BytesIO(b"abc"), "text/csv")
    (info,) = local.list_objects(DAY)
    stat = (Path(local_url) / f"{DAY}a.csv").stat()
    assert info == ObjectInfo(f"{DAY}a.csv", 3, f"{stat.st_mtime_ns:x}-{stat.st_size:x}", None, stat.st_mtime)


def test_files_dropped_by_other_tools_are_listed(local, local_url):
    folder = Path(local_url) / DAY / "sub"
    folder.mkdir(parents=True)
    (folder / "x.jsonl").write_bytes(b"{}\n")
    (Path(local_url) / DAY / "empty-dir").mkdir()
    assert [(o.key, o.size) for o in local.list_objects(DAY)] == [(f"{DAY}sub/x.jsonl", 3)]


def test_writes_leave_no_temporary_files(local, local_url):
    for n in range(3):
        local.write(f"{DAY}a.csv", io.BytesIO(b"x" * n), "text/csv")
        local.write("reports/2025-01-01.json", io.BytesIO(b"{}"), "application/json")
    (info,) = local.list_objects(DAY)
    local.copy(info, "quarantine/2025-01-01/files/a.csv")
    assert files_under(Path(local_url)) == [
        "quarantine/2025-01-01/files/a.csv",
        f"{DAY}a.csv",
        "reports/2025-01-01.json",
    ]


def test_a_failed_write_leaves_no_temporary_file_and_the_old_content(local, local_url):
    class Boom(Exception):
        pass

    class Broken(io.BytesIO):
        def read(self, *args):
            raise Boom("producer died")

    local.write("reports/2025-01-01.json", io.BytesIO(b"old"), "application/json")
    with pytest.raises(Boom):
        local.write("reports/2025-01-01.json", Broken(b"new"), "application/json")
    assert files_under(Path(local_url)) == ["reports/2025-01-01.json"]
    assert local.read_bytes("reports/2025-01-01.json") == b"old"


ESCAPES = ["../x", "../lake-sibling/x", "raw-data/../../x", "a/../../x", "ABSOLUTE"]


@pytest.mark.parametrize("key", ESCAPES)
def test_a_key_cannot_escape_the_root(local, local_url, key):
    root = Path(local_url)
    if key == "ABSOLUTE":
        key = str(root.parent / "absolute-x")
    before = sorted(p.as_posix() for p in root.parent.rglob("*"))
    with pytest.raises(StorageError) as raised:
        local.write(key, io.BytesIO(b"escaped"), "text/plain")
    assert repr(key) in str(raised.value)
    for attempt in (
        lambda: local.read_bytes(key),
        lambda: local.open(ObjectInfo(key, 7, None, None, 0.0)),
        lambda: local.delete([key]),
        lambda: local.copy(ObjectInfo("a", 1, None, None, 0.0), key),
        lambda: local.list_objects(key),
    ):
        with pytest.raises(StorageError):
            attempt()
    assert sorted(p.as_posix() for p in root.parent.rglob("*")) == before


def test_a_key_cannot_escape_through_a_symlink(local, local_url, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (Path(local_url) / "raw-data").mkdir(parents=True)
    os.symlink(outside, Path(local_url) / "raw-data" / "link")
    with pytest.raises(StorageError):
        local.write("raw-data/link/x.csv", io.BytesIO(b"escaped"), "text/csv")
    assert list(outside.iterdir()) == []


def test_a_key_inside_the_root_with_dot_segments_is_fine(local):
    local.write("raw-data/x/../2025-01-01/a.csv", io.BytesIO(b"a"), "text/csv")
    assert local.read_bytes(f"{DAY}a.csv") == b"a"


def test_written_files_get_the_usual_permissions(local, local_url):
    """A report or quarantine file is as readable as any file the process creates (0o666 minus the umask)."""
    previous = os.umask(0o022)
    try:
        local.write("reports/2025-01-01.json", io.BytesIO(b"{}"), "application/json")
    finally:
        os.umask(previous)
    mode = (Path(local_url) / "reports/2025-01-01.json").stat().st_mode & 0o777
    assert oct(mode) == oct(0o644)


def test_open_refuses_a_file_changed_since_listing(tmp_path):
    storage = LocalStorage(tmp_path / "lake")
    storage.write("raw-data/2025-01-01/a.csv", io.BytesIO(b"one"), "text/csv")
    (listed,) = storage.list_objects("raw-data/2025-01-01/")
    storage.write("raw-data/2025-01-01/a.csv", io.BytesIO(b"three"), "text/csv")
    with pytest.raises(StorageError, match="raw-data/2025-01-01/a.csv changed after it was listed; run again"):
        storage.open(listed)


def test_a_write_in_flight_is_not_listed(tmp_path):
    """Two runs publishing one day at once: one lists quarantine/D/files/ to delete stale entries
    while the other writes there. Its temporary file is no object yet, so it is never listed (and
    deleted under the writer), as S3 never lists an upload in progress."""
    storage = open_storage(str(tmp_path / "lake"))
    storage.write("quarantine/d/files/a.txt", io.BytesIO(b"a"), "text/plain")
    folder = tmp_path / "lake" / "quarantine" / "d" / "files"
    (folder / f".b.txt.{uuid.uuid4().hex}.tmp").write_bytes(b"half")
    (folder / ".c.tmp").write_bytes(b"someone's own file")
    assert [o.key for o in storage.list_objects("quarantine/d/files/")] == [
        "quarantine/d/files/.c.tmp",
        "quarantine/d/files/a.txt",
    ]
