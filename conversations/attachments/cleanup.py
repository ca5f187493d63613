"""Removing what attachments leave behind: uploads never sent, stored files nothing uses, and files
in storage that no row names (`manage.py clean_attachments`). Safe while the server runs.

A file is in use while an upload, a turn (`Turn.blobs`) or a snapshot share link names it. Two
guards keep a cleanup from racing an upload: nothing younger than `GRACE` is removed (a file is
written before the row naming it commits), and a row is removed under its lock, its files before
the removal commits, so an upload reusing the row either finds the files gone and writes them
again, or fails on the removed row and writes nothing (uploads.py).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from conversations.attachments.models import Blob, Upload
from conversations.attachments.storage import attachment_storage, blob_name, thumbnail_name
from conversations.models import ShareLink, Turn

# How old an unnamed file or an unused row must be before it is removed.
GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class Removed:
    """One thing removed (or that would be, in a dry run), as the command prints it."""

    what: str
    size: int = 0


def uploads_expire(*, now: datetime, dry_run: bool = False) -> list[Removed]:
    """Uploads not sent within ATTACHMENT_UPLOAD_HOURS of being made."""
    cutoff = now - timedelta(hours=settings.ATTACHMENT_UPLOAD_HOURS)
    expired = Upload.objects.filter(created_at__lt=cutoff).select_related("owner", "blob").order_by("created_at")
    removed = [
        Removed(f"upload {upload.name} of {upload.owner.username}, made {upload.created_at:%Y-%m-%d %H:%M}",
                upload.blob.size)
        for upload in expired
    ]
    if not dry_run:
        Upload.objects.filter(pk__in=[upload.pk for upload in expired]).delete()
    return removed


def _snapshot_hashes() -> set[str]:
    """Files a snapshot link shows: kept even when the turns that carried them are deleted."""
    hashes: set[str] = set()
    snapshots = ShareLink.objects.filter(mode=ShareLink.Mode.SNAPSHOT).values_list("snapshot", flat=True)
    for snapshot in snapshots.iterator(chunk_size=200):
        for turn in snapshot or ():
            for attachment in (turn.get("attachments") if isinstance(turn, dict) else None) or ():
                if isinstance(attachment, dict) and isinstance(attachment.get("sha256"), str):
                    hashes.add(attachment["sha256"])
    return hashes


def _unused(now: datetime):
    return (
        Blob.objects.filter(created_at__lt=now - GRACE)
        .exclude(pk__in=Upload.objects.values("blob_id"))
        .exclude(pk__in=Turn.blobs.through.objects.values("blob_id"))
    )


def _delete_files(sha256: str) -> None:
    storage = attachment_storage()
    for name in (blob_name(sha256), thumbnail_name(sha256)):
        storage.delete(name)  # no error when it is not there


def blobs_unused_delete(*, now: datetime, dry_run: bool = False) -> list[Removed]:
    """Stored files no upload, turn or snapshot link names, with their thumbnails."""
    kept = _snapshot_hashes()
    removed = []
    for blob in _unused(now).only("sha256", "size", "media_type").order_by("created_at"):
        if blob.sha256 in kept:
            continue
        if not dry_run:
            try:
                with transaction.atomic():
                    # Checked again under the row's lock: an upload may have taken it up since.
                    if not _unused(now).select_for_update().filter(pk=blob.pk).exists():
                        continue
                    Blob.objects.filter(pk=blob.pk).delete()
                    _delete_files(blob.sha256)
            except DatabaseError:
                continue  # in use again (an upload committed first): kept
        removed.append(Removed(f"file {blob.sha256} ({blob.media_type})", blob.size))
    return removed


def _walk(folder: str) -> Iterator[str]:
    storage = attachment_storage()
    try:
        folders, names = storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _walk(f"{folder}/{sub}")


def _named_hash(name: str) -> str:
    """The hash a stored name is of ("" for a name that is no blob's or thumbnail's)."""
    sha256 = name.rsplit("/", 1)[-1].removesuffix(".webp")
    expected = blob_name(sha256) if name.startswith("blobs/") else thumbnail_name(sha256)
    return sha256 if name == expected else ""


def files_unnamed_delete(*, now: datetime, dry_run: bool = False) -> list[Removed]:
    """Files in storage that no stored-file row names (left by a crash, or by a storage that
    renamed a second copy), once older than GRACE. A storage that cannot tell a file's age keeps
    them all."""
    storage = attachment_storage()
    removed = []
    for folder in ("blobs", "thumbnails"):
        for name in _walk(folder):
            sha256 = _named_hash(name)
            if sha256 and Blob.objects.filter(pk=sha256).exists():
                continue
            try:
                modified = storage.get_modified_time(name)
            except (NotImplementedError, OSError):
                continue
            if timezone.is_naive(modified):
                modified = timezone.make_aware(modified)
            if modified > now - GRACE:
                continue
            size = storage.size(name)
            if not dry_run:
                storage.delete(name)
            removed.append(Removed(f"stored file {name} that nothing names", size))
    return removed
