"""Where attachments' bytes live: Django's storage named "attachments" (settings.STORAGES), the
filesystem under the data directory unless configured otherwise. Files are named by their SHA-256,
so a file is written once however often it is attached."""
from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages


def attachment_storage() -> Storage:
    return storages["attachments"]


def blob_name(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def thumbnail_name(sha256: str) -> str:
    return f"thumbnails/{sha256[:2]}/{sha256[2:4]}/{sha256}.webp"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(name: str, data: bytes) -> bool:
    """Store `data` under `name` unless it is there already; whether it was written now.

    Content-addressed names make a file already there the same file. Two processes writing the
    same new file at once may both write: a storage that then picks another name for the second
    has that copy removed, so exactly one stays."""
    storage = attachment_storage()
    if storage.exists(name):
        return False
    saved = storage.save(name, ContentFile(data))
    if saved != name:
        storage.delete(saved)
        return False
    return True


def read(name: str) -> bytes:
    with attachment_storage().open(name, "rb") as handle:
        return handle.read()
