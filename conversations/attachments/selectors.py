"""Reads of attachments: a person's uploads and the storage they use, and the file a turn's
attachment names."""
from __future__ import annotations

from django.db.models import Q, Sum

from conversations.attachments.models import Blob, Upload
from conversations.models import Turn


def _blobs_of(owner) -> Q:
    """The stored files counted against a person: those of their unsent uploads and those of the
    prompts they wrote. A file attached on many branches, or uploaded twice, is one file."""
    uploaded = Upload.objects.filter(owner=owner).values("blob_id")
    attached = Turn.blobs.through.objects.filter(turn__author=owner).values("blob_id")
    return Q(pk__in=uploaded) | Q(pk__in=attached)


def storage_used(owner) -> int:
    """Bytes of the distinct files counted against `owner` (see `_blobs_of`)."""
    return Blob.objects.filter(_blobs_of(owner)).aggregate(total=Sum("size"))["total"] or 0


def counted_already(owner, sha256: str) -> bool:
    """Whether `owner` already has this file counted: attaching it again costs nothing."""
    return Blob.objects.filter(_blobs_of(owner), pk=sha256).exists()


def upload_of(owner, upload_id) -> Upload | None:
    """One of `owner`'s unsent uploads, with its file; None for anyone else's or none."""
    if owner is None or not owner.is_authenticated:
        return None
    return Upload.objects.select_related("blob").filter(pk=upload_id, owner=owner).first()


def attachment_of(attachments, index: int) -> dict | None:
    """The `index`-th descriptor of a turn's attachments (0-based), or None."""
    if not isinstance(attachments, list) or not 0 <= index < len(attachments):
        return None
    descriptor = attachments[index]
    return descriptor if isinstance(descriptor, dict) and isinstance(descriptor.get("sha256"), str) else None


def turn_attachment(*, conversation_id: int, turn_id: int, index: int) -> dict | None:
    """The descriptor of a turn's `index`-th attachment, if the turn is in that conversation."""
    attachments = (
        Turn.objects.filter(pk=turn_id, conversation_id=conversation_id).values_list("attachments", flat=True).first()
    )
    return attachment_of(attachments, index)


def blob_of(descriptor: dict) -> Blob | None:
    return Blob.objects.filter(pk=descriptor["sha256"]).first()
