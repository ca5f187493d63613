"""Writes of uploads: a file checked, stored once by its content, and kept for its owner's next
prompt; or discarded.

Nothing is half-written: a refused file writes nothing, and a file written to storage by an upload
that then fails is removed again unless a stored-file row (`Blob`) names it.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from conversations.attachments import files, selectors, storage
from conversations.attachments.files import FileRefused, human_size
from conversations.attachments.models import Blob, Upload
from conversations.errors import ServiceError
from conversations.tokens import count_all


def too_large(name: str, size: int) -> ServiceError:
    """The refusal of a file over ATTACHMENT_MAX_FILE_BYTES (answered 413)."""
    limit = settings.ATTACHMENT_MAX_FILE_BYTES
    size_words, limit_words = human_size(size), human_size(limit)
    if size_words == limit_words:  # just over: "20.0 MB" against "20.0 MB" would say nothing
        size_words, limit_words = f"{size:,} bytes", f"{limit:,} bytes"
    return ServiceError(
        f"{name} is {size_words}: a file may be at most {limit_words} "
        "(WORKBENCH_ATTACHMENT_MAX_FILE_BYTES).",
        code="too_large",
    )


def _check_quota(owner, name: str, inspected: files.Inspected, sha256: str) -> None:
    quota = settings.ATTACHMENT_QUOTA_BYTES
    if not quota or selectors.counted_already(owner, sha256):
        return
    used, size = selectors.storage_used(owner), len(inspected.data)
    if used + size > quota:
        raise ServiceError(
            f"You have used {human_size(used)} of your {human_size(quota)} for attached files, and "
            f"{name} ({human_size(size)}) does not fit: discard uploads you will not send, or delete "
            "conversations you no longer need.",
            code="quota",
        )


def upload_create(*, owner, name: str, data: bytes) -> Upload:
    """Check a file, store it (once, whoever attached it before), and keep it as an upload of
    `owner`'s. Refusals are `ServiceError`s: "too_large", "quota", "invalid"."""
    name = files.clean_name(name)
    if len(data) > settings.ATTACHMENT_MAX_FILE_BYTES:
        raise too_large(name, len(data))
    try:
        inspected = files.inspect(name, data, kinds=settings.ATTACHMENT_KINDS)
    except FileRefused as refused:
        raise ServiceError(refused.message, code="invalid") from None
    sha256 = storage.digest(inspected.data)
    stored = [(storage.blob_name(sha256), inspected.data)]
    if inspected.thumbnail is not None:
        stored.append((storage.thumbnail_name(sha256), inspected.thumbnail))
    written: list[str] = []
    try:
        with transaction.atomic():
            # One person's uploads one at a time (PostgreSQL; SQLite writes one at a time anyway),
            # so two at once cannot both fit in the room left for one.
            list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values_list("pk"))
            _check_quota(owner, name, inspected, sha256)
            # The row before the file: a cleanup deleting this file's old row deletes the file
            # before it commits, so either this write finds the file gone and writes it again, or
            # this transaction meets the cleanup's lock and fails (see clean_attachments).
            blob, _ = Blob.objects.get_or_create(
                sha256=sha256,
                defaults={
                    "size": len(inspected.data),
                    "kind": inspected.kind,
                    "media_type": inspected.media_type,
                    "width": inspected.width,
                    "height": inspected.height,
                    "text": inspected.text,
                    "token_counts": count_all(inspected.text) if inspected.kind == "text" else {},
                },
            )
            for stored_name, content in stored:
                if storage.write(stored_name, content):
                    written.append(stored_name)
            return Upload.objects.create(owner=owner, blob=blob, name=name)
    except BaseException:
        _remove_unowned(written, sha256)
        raise


def _remove_unowned(names: list[str], sha256: str) -> None:
    """Files this upload wrote, removed unless a committed row names them (an upload of the same
    file by someone else may have committed meanwhile, and uses them)."""
    if not names or Blob.objects.filter(pk=sha256).exists():
        return
    for name in names:
        storage.attachment_storage().delete(name)


def upload_discard(*, owner, upload_id: uuid.UUID | str) -> None:
    """Discard one of `owner`'s unsent uploads. Its file stays while anything else names it;
    `manage.py clean_attachments` removes it when nothing does."""
    upload = selectors.upload_of(owner, upload_id)
    if upload is None:
        raise ServiceError("That upload is not yours, was sent with a prompt, or was already discarded.",
                           code="not_found")
    upload.delete()
