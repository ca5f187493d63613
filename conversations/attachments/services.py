"""Writes of attachments: uploads, and linking prompts to the files they carry."""
from __future__ import annotations

from collections.abc import Iterable

from conversations.models import Turn


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
