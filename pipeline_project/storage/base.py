"""The interface every backend implements. Keys are relative to the storage root, '/'-separated."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None  # S3 ETag; on a local lake a change token (mtime and size)
    version_id: str | None  # S3 version id; None when unversioned or local
    last_modified: float  # epoch seconds


class StorageError(Exception):
    """An operation failed for good; the message names the location."""


class Storage(abc.ABC):
    url: str

    @abc.abstractmethod
    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        """Current objects under prefix, at any depth, sorted by key."""

    @abc.abstractmethod
    def open(self, obj: ObjectInfo) -> BinaryIO:
        """A stream of exactly the version described by obj."""

    @abc.abstractmethod
    def read_bytes(self, key: str) -> bytes | None:
        """The whole object, or None when there is none."""

    @abc.abstractmethod
    def write(self, key: str, data: BinaryIO, content_type: str) -> None:
        """Replace key with data (read from its start) atomically: readers see old or new, never part."""

    @abc.abstractmethod
    def swap(self, key: str, expected: bytes | None, data: bytes) -> bool:
        """Write data only if key holds exactly `expected` now (None: only if there is no key),
        atomically against other writers of the key; False, and nothing written, otherwise."""

    @abc.abstractmethod
    def copy(self, obj: ObjectInfo, dest_key: str) -> None:
        """Copy exactly the version described by obj to dest_key."""

    @abc.abstractmethod
    def delete(self, keys: Iterable[str]) -> None:
        """Remove keys; missing ones are fine."""

    def location(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"
