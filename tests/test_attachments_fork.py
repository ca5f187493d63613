"""Attachments wherever a branch is copied: a fork of a conversation and a share link's reader
continuing in their own workspace keep each prompt's files, naming the same stored files."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services
from conversations.attachments import storage
from conversations.attachments.models import Blob, Upload
from conversations.errors import ServiceError
from conversations.models import Conversation, Turn
from conversations.sharing import services as sharing
from conversations.tokens import count_all
from tests import attachment_files
from tests.attachment_files import attached_turn, upload
from tests.conftest import make_link, signed_in

pytestmark = pytest.mark.django_db

NOTES = b"# Notes\n\nCache for an hour.\n"


@pytest.fixture
def attachment_dir(_attachment_storage):
    """Where this test's files are stored (tests/conftest.py gives each test a folder of its own)."""
    return _attachment_storage


def two_files(owner) -> tuple[Blob, Blob]:
    """An image and a Markdown file, uploaded by `owner` as the upload service takes them."""
    image = attachment_files.upload(owner, "diagram.png", attachment_files.png(size=(40, 30))).blob
    notes = attachment_files.upload(owner, "notes.md", NOTES).blob
    return image, notes


@pytest.fixture
def files(alice):
    return two_files(alice)


def conversation_with_files(alice) -> tuple[Conversation, list[Turn]]:
    """alice's conversation: a prompt with an image and a Markdown file, a reply, a second prompt
    repeating the image under another name, a reply."""
    conversation = services.conversation_create(owner=alice, title="Diagrams")
    q1 = attached_turn(conversation, None, alice, upload(alice, "diagram.png", attachment_files.png(size=(40, 30))),
                       upload(alice, "notes.md", NOTES), content="What does this show?")
    a1 = Turn.objects.append(conversation=conversation, parent=q1, role="assistant", content="A red box.",
                             provider="openai", model="gpt-4o", token_counts=count_all("A red box."))
    q2 = attached_turn(conversation, a1, alice, upload(alice, "again.png", attachment_files.png(size=(40, 30))),
                       content="And this again?")
    a2 = Turn.objects.append(conversation=conversation, parent=q2, role="assistant", content="Still red.",
                             provider="openai", model="gpt-4o", token_counts=count_all("Still red."))
    return conversation, [q1, a1, q2, a2]


@pytest.fixture
def attached(alice, files):
    return conversation_with_files(alice)


def blob_ids(turn: Turn) -> set[str]:
    return set(turn.blobs.values_list("sha256", flat=True))


def test_a_fork_keeps_each_prompts_files_and_links_the_same_stored_files(alice, bob, attached, files, attachment_dir):
    conversation, turns = attached
    image, notes = files
    fork = services.conversation_fork(conversation=conversation, turn_id=turns[3].id, owner=bob)
    copies = list(fork.turns.order_by("id"))
    assert [copy.attachments for copy in copies] == [turn.attachments for turn in turns]
    assert blob_ids(copies[0]) == {image.sha256, notes.sha256}
    assert blob_ids(copies[2]) == {image.sha256}
    assert blob_ids(copies[1]) == set()
    # Shared, never copied: still one row and one stored file each.
    assert Blob.objects.count() == 2
    stored = sorted(path.name for path in (attachment_dir / "blobs").rglob("*") if path.is_file())
    assert stored == sorted([image.sha256, notes.sha256])


def test_a_forks_copies_keep_their_authors_so_no_quota_is_counted_anew(alice, bob, attached):
    conversation, turns = attached
    fork = services.conversation_fork(conversation=conversation, turn_id=turns[2].id, owner=bob)
    assert set(fork.turns.filter(role="user").values_list("author_id", flat=True)) == {alice.id}
    assert not Turn.objects.filter(author=bob).exists()


def test_the_files_stay_linked_after_the_original_conversation_is_deleted(alice, attached, files):
    conversation, turns = attached
    fork = services.conversation_fork(conversation=conversation, turn_id=turns[1].id, owner=alice)
    services.conversation_delete(conversation=conversation)
    image, notes = files
    for blob in (image, notes):
        assert Turn.objects.get(blobs=blob).conversation_id == fork.id
        assert storage.read(storage.blob_name(blob.sha256))


def test_the_fork_view_makes_a_fork_with_its_files(alice, attached):
    conversation, turns = attached
    response = signed_in(alice).post(reverse("conversation_fork", args=[conversation.id, turns[0].id]))
    fork = Conversation.objects.exclude(pk=conversation.pk).get()
    assert response.status_code == 302
    copy = fork.turns.get()
    assert copy.attachments == turns[0].attachments and len(blob_ids(copy)) == 2


def test_a_fork_links_all_its_files_in_one_insert(alice, attached):
    """One statement links every copy to its files, however many prompts carry them."""
    conversation, turns = attached
    with CaptureQueriesContext(connection) as queries:
        services.conversation_fork(conversation=conversation, turn_id=turns[3].id, owner=alice)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT") and "blobs" in q["sql"]]
    assert len(inserts) == 1


@pytest.mark.parametrize("mode", ["live", "snapshot"])
def test_a_share_link_reader_continues_with_the_files_the_link_shows(mode, alice, bob, attached, files):
    conversation, turns = attached
    link = make_link(conversation, alice, mode=mode)
    fork = sharing.shared_fork(link=link, tree=sharing.shared_tree(link), turn_id=turns[2].id, owner=bob)
    copies = list(fork.turns.order_by("id"))
    assert [copy.attachments for copy in copies] == [turn.attachments for turn in turns[:3]]
    assert blob_ids(copies[0]) == {blob.sha256 for blob in files}
    # The reader's prompts are theirs: their files count against the reader's quota from now on.
    assert {copy.author_id for copy in copies if copy.role == "user"} == {bob.id}


def test_the_shared_fork_view_copies_the_files(alice, bob, attached):
    conversation, turns = attached
    link = make_link(conversation, alice)
    response = signed_in(bob).post(reverse("shared_fork", args=[link.token]), {"turn": turns[1].id})
    fork = Conversation.objects.get(owner=bob)
    assert response.status_code == 302
    assert fork.turns.get(role="user").attachments == turns[0].attachments


def test_a_snapshot_older_than_attachments_still_continues(alice, bob, attached):
    conversation, turns = attached
    link = make_link(conversation, alice, mode="snapshot")
    link.snapshot = [{k: v for k, v in turn.items() if k != "attachments"} for turn in link.snapshot]
    link.save(update_fields=["snapshot"])
    fork = sharing.shared_fork(link=link, tree=sharing.shared_tree(link), turn_id=turns[1].id, owner=bob)
    assert [copy.attachments for copy in fork.turns.order_by("id")] == [[], []]


def test_a_branch_whose_files_are_gone_is_not_copied(alice, bob, attached, files):
    """A snapshot outlives the turns it was made of: files no longer stored make the copy refused,
    with nothing written."""
    conversation, turns = attached
    link = make_link(conversation, alice, mode="snapshot")
    Upload.objects.all().delete()
    Blob.objects.filter(pk__in=[blob.sha256 for blob in files]).delete()
    with pytest.raises(ServiceError, match="no longer stored"):
        sharing.shared_fork(link=link, tree=sharing.shared_tree(link), turn_id=turns[1].id, owner=bob)
    assert Conversation.objects.count() == 1 and not Turn.objects.filter(author=bob).exists()


