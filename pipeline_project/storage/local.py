"""A folder on the local disk laid out like the bucket."""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from pipeline_project.storage.base import ObjectInfo, Storage, StorageError

# write()'s temporary file beside its target: .<name>.<uuid4 hex>.tmp
_IN_FLIGHT = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise StorageError(f"key {key!r} leaves the storage root {self.root}")
        return path

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        base = self._path(prefix.rstrip("/"))
        objects = []
        for folder, _dirs, files in os.walk(base):
            for name in files:
                if _IN_FLIGHT.fullmatch(name):
                    continue  # another writer's file, not yet an object (S3 lists no upload either)
                path = Path(folder, name)
                stat = path.stat()
                key = path.relative_to(self.root).as_posix()
                objects.append(
                    ObjectInfo(key, stat.st_size, f"{stat.st_mtime_ns:x}-{stat.st_size:x}", None, stat.st_mtime)
                )
        return sorted(objects, key=lambda o: o.key)

    def open(self, obj: ObjectInfo) -> BinaryIO:
        try:
            stream = self._path(obj.key).open("rb")
        except OSError as exc:
            raise StorageError(f"cannot read {self.location(obj.key)}: {exc.strerror}") from None
        # A folder keeps no versions: refuse a file that changed since it was listed, so a
        # report never describes one version and counts another.
        stat = os.fstat(stream.fileno())
        if f"{stat.st_mtime_ns:x}-{stat.st_size:x}" != obj.etag:
            stream.close()
            raise StorageError(f"{self.location(obj.key)} changed after it was listed; run again")
        return stream

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: BinaryIO, content_type: str) -> None:
        path = self._path(key)
        # Write beside the target, then rename: os.replace is atomic within a filesystem.
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        try:
            with os.fdopen(self._create(tmp), "wb") as out:
                data.seek(0)
                shutil.copyfileobj(data, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot write {self.location(key)}: {exc.strerror or exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def swap(self, key: str, expected: bytes | None, data: bytes) -> bool:
        # One machine: an exclusive lock makes compare-and-write atomic. The lock files live in
        # a hidden folder of the root, outside the bucket's layout, so no folder they need is
        # ever pruned under them.
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / hashlib.sha256(key.encode()).hexdigest(), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.read_bytes(key) != expected:
                return False
            self.write(key, io.BytesIO(data), "application/json")
            return True

    @staticmethod
    def _create(tmp: Path) -> int:
        """A new file, its folder made again should a delete prune it between mkdir and open."""
        for _attempt in range(2):
            tmp.parent.mkdir(parents=True, exist_ok=True)
            try:
                # os.open with 0o666 honours the umask, as any other file the process creates.
                return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileNotFoundError:
                continue
        tmp.parent.mkdir(parents=True, exist_ok=True)
        return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)

    def copy(self, obj: ObjectInfo, dest_key: str) -> None:
        with self.open(obj) as source:
            self.write(dest_key, source, "application/octet-stream")

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            path = self._path(key)
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot delete {self.location(key)}: {exc.strerror or exc}") from None
            # A bucket has no empty folders: neither does the lake once a folder's last file goes.
            for folder in path.parents:
                if folder == self.root:
                    break
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty (or gone): stop here
