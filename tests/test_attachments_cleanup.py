"""`manage.py clean_attachments`: unsent uploads expire, stored files nothing uses go with their
thumbnails, files no row names go with --files; what is used, or being uploaded, stays."""
from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations import services
from conversations.attachments.models import Blob, Upload
from conversations.attachments.storage import blob_name
from conversations.sharing import services as sharing
from tests import attachment_files as sample
from tests.attachment_files import attached_turn, upload
from tests.conftest import signed_in
from tests.test_attachments_store import stored_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def world_conv(alice):
    return services.conversation_create(owner=alice, title="Attachments")


def clean(*args: str) -> str:
    out = io.StringIO()
    call_command("clean_attachments", *args, stdout=out)
    return out.getvalue()


def age(hours: float, *rows) -> None:
    """Make rows (uploads, blobs) `hours` old."""
    when = timezone.now() - timedelta(hours=hours)
    for row in rows:
        type(row).objects.filter(pk=row.pk).update(created_at=when)


def age_file(path: Path, hours: float) -> None:
    when = time.time() - hours * 3600
    os.utime(path, (when, when))


def test_cleanup_removes_old_uploads_then_unused_files_and_keeps_what_is_used(
    alice, bob, world_conv, _attachment_storage
):
    old = upload(alice, "old.png", sample.png(color=sample.BLUE))
    fresh = upload(alice, "fresh.txt", b"fresh\n")
    sent = attached_turn(world_conv, None, alice, upload(alice, "sent.txt", b"sent\n"))
    # A file in a snapshot whose turn was deleted since: the link still shows it.
    shown = attached_turn(world_conv, None, alice, upload(alice, "shown.txt", b"shown\n"))
    sharing.share_create(conversation=world_conv, by=alice, turn_id=None, with_subtree=False,
                         mode="snapshot", audience="anyone", expires_at=None)
    shown_sha = shown.attachments[0]["sha256"]
    shown.delete()
    discarded = upload(bob, "discarded.txt", b"discarded\n")
    discarded_sha = discarded.blob.sha256
    discarded.delete()
    age(30, old, *Blob.objects.all())
    old_sha = old.blob.sha256

    dry = clean("--dry-run")
    assert "Would remove 1 unsent upload(s) older than 24 hours" in dry and "upload old.png of alice" in dry
    assert Upload.objects.filter(pk=old.pk).exists() and (_attachment_storage / blob_name(old_sha)).exists()

    out = clean()
    assert "Removed 1 unsent upload(s) older than 24 hours" in out
    assert "Removed 2 stored file(s) nothing uses" in out
    assert f"file {old_sha} (image/png)" in out and f"file {discarded_sha} (text/plain)" in out
    assert not Upload.objects.filter(pk=old.pk).exists() and Upload.objects.filter(pk=fresh.pk).exists()
    remaining = set(Blob.objects.values_list("sha256", flat=True))
    assert remaining == {fresh.blob.sha256, sent.attachments[0]["sha256"], shown_sha}
    expected_files = sorted(blob_name(sha) for sha in remaining)
    assert stored_files(_attachment_storage) == expected_files  # the image's thumbnail went with it
    # What is used is served still.
    client = signed_in(alice)
    assert client.get(f"/c/{world_conv.id}/t/{sent.id}/files/0/").getvalue() == b"sent\n"
    assert "Removed 0" in clean()


def test_cleanup_leaves_a_file_being_uploaded_alone(alice, _attachment_storage):
    unused = upload(alice, "young.txt", b"young\n")
    unused.delete()  # its row is minutes old: an upload may be about to use it again
    assert "Removed 0 stored file(s)" in clean()
    assert Blob.objects.count() == 1
    # A file written by an upload whose row has not committed yet: young, kept.
    (_attachment_storage / "blobs/ab/cd").mkdir(parents=True)
    pending = _attachment_storage / "blobs/ab/cd" / ("abcd" + "0" * 60)
    pending.write_bytes(b"being uploaded")
    assert "Removed 0 file(s) in storage no row names" in clean("--files")
    assert pending.exists()


def test_cleanup_with_files_removes_old_files_no_row_names(alice, _attachment_storage):
    kept = upload(alice, "kept.png", sample.png())
    kept_files = stored_files(_attachment_storage)
    stray = [_attachment_storage / "blobs/ab/cd" / ("abcd" + "1" * 60),
             _attachment_storage / "thumbnails/ab/cd" / ("abcd" + "1" * 60 + ".webp"),
             _attachment_storage / "blobs/ab/cd" / ("abcd" + "2" * 60 + "_Xy12AbC")]
    for path in stray:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left behind")
        age_file(path, 2)
    for name in kept_files:
        age_file(_attachment_storage / name, 2)
    assert "file(s) in storage" not in clean()  # only with --files
    dry = clean("--files", "--dry-run")
    assert "Would remove 3 file(s) in storage no row names" in dry
    assert all(path.exists() for path in stray)
    out = clean("--files")
    assert "Removed 3 file(s) in storage no row names (33 bytes)." in out
    assert stored_files(_attachment_storage) == kept_files
    assert Upload.objects.filter(pk=kept.pk).exists()
