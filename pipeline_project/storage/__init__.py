"""Storage: a local folder or an S3 bucket behind one small interface (see base.Storage)."""

from pipeline_project.storage.base import ObjectInfo, Storage, StorageError
from pipeline_project.storage.factory import open_storage

__all__ = ["ObjectInfo", "Storage", "StorageError", "open_storage"]
