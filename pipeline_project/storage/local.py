"""A folder on the local disk laid out like the bucket."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from pipeline_project.storage.base import ObjectInfo, Storage, StorageError


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise StorageError(f"key {key!r} leaves the storage root {self.root}")
        return path

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        base = self._path(prefix.rstrip("/"))
        objects = []
        for folder, _dirs, files in os.walk(base):
            for name in files:
                path = Path(folder, name)
                stat = path.stat()
                key = path.relative_to(self.root).as_posix()
                objects.append(
                    ObjectInfo(key, stat.st_size, f"{stat.st_mtime_ns:x}-{stat.st_size:x}", None, stat.st_mtime)
                )
        return sorted(objects, key=lambda o: o.key)

    def open(self, obj: ObjectInfo) -> BinaryIO:
        try:
            return self._path(obj.key).open("rb")
        except OSError as exc:
            raise StorageError(f"cannot read {self.location(obj.key)}: {exc.strerror}") from None

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: BinaryIO, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target, then rename: os.replace is atomic within a filesystem.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                data.seek(0)
                shutil.copyfileobj(data, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def copy(self, obj: ObjectInfo, dest_key: str) -> None:
        with self.open(obj) as source:
            self.write(dest_key, source, "application/octet-stream")

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)
