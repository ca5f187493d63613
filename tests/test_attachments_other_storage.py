"""Attachments work through Django's storage API alone: with another backend in
STORAGES["attachments"] (here Django's own InMemoryStorage, as S3 through django-storages would be),
a file is uploaded, served to a reader, sent to the provider and cleaned up, and nothing touches
the filesystem."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.storage import InMemoryStorage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from conversations import services
from conversations.attachments.models import Blob
from conversations.attachments.sending import message_attachments, with_image_bytes
from conversations.attachments.storage import attachment_storage, blob_name, thumbnail_name
from conversations.providers.base import GenerationRequest, Message
from tests import attachment_files as sample
from tests.attachment_files import attached_turn, upload
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_memory(settings, _attachment_storage):
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    assert isinstance(attachment_storage(), InMemoryStorage)
    return _attachment_storage


def test_a_file_goes_the_whole_way_through_another_storage_backend(alice, in_memory):
    conversation = services.conversation_create(owner=alice, title="In memory")
    image = upload(alice, "chart.png", sample.png(color=sample.BLUE))
    sha256 = image.blob.sha256
    storage = attachment_storage()
    assert storage.exists(blob_name(sha256)) and storage.exists(thumbnail_name(sha256))
    assert not any(in_memory.iterdir())  # the filesystem location is never used

    with storage.open(blob_name(sha256)) as handle:
        stored = handle.read()
    prompt = attached_turn(conversation, None, alice, image)
    client = signed_in(alice)
    served = client.get(reverse("turn_file", args=[conversation.id, prompt.id, 0]))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served.getvalue() == stored

    # What a reply's request carries: the bytes read from this storage as the reply starts.
    files = message_attachments([prompt], read_images=False)
    request = GenerationRequest(
        model="m", messages=[Message(role="user", content=prompt.content, attachments=files[prompt.id])]
    )
    assert with_image_bytes(request).messages[0].attachments[0].data == stored

    # Cleanup through the same API: once no prompt carries the file, it and its thumbnail go.
    prompt.delete()
    Blob.objects.filter(pk=sha256).update(created_at=timezone.now() - timedelta(hours=2))  # not one being uploaded
    call_command("clean_attachments", stdout=io.StringIO())
    assert not Blob.objects.filter(pk=sha256).exists()
    assert not storage.exists(blob_name(sha256)) and not storage.exists(thumbnail_name(sha256))
