"""Writes of attachments: uploads, and linking prompts to the files they carry."""
from __future__ import annotations

from collections.abc import Iterable

from conversations.errors import ServiceError
from conversations.models import Blob, Turn


def link_blobs(turns: Iterable[Turn]) -> None:
    """Make each turn's `blobs` name the stored files its `attachments` describe: every write that
    creates a turn with attachments (a send, an edit, a fork, an import) calls this, so a file
    carried by any turn is never cleaned up."""
    through = Turn.blobs.through
    rows = {
        (turn.pk, attachment["sha256"])
        for turn in turns
        for attachment in turn.attachments or ()
    }
    through.objects.bulk_create(
        [through(turn_id=turn_id, blob_id=sha256) for turn_id, sha256 in rows], ignore_conflicts=True
    )


def check_stored(path: list[dict]) -> None:
    """Refuse to copy a prompt whose files are no longer stored (a share link's snapshot can
    outlive the turns that kept them): the copy would name files it cannot show or send."""
    wanted = {attachment["sha256"] for turn in path for attachment in turn.get("attachments") or ()}
    if not wanted:
        return
    stored = set(Blob.objects.filter(sha256__in=wanted).values_list("sha256", flat=True))
    if wanted - stored:
        raise ServiceError(
            "A file attached to a prompt on this branch is no longer stored, so the branch cannot be copied.",
            code="invalid",
        )
