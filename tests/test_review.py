"""Review's services and selectors on the real database: comments in threads, edits and deletes,
resolving, verdicts, preferred branches, mentions and the inbox; every bad input refused with its
message and nothing written."""
from __future__ import annotations

from typing import Any

import pytest

from conversations import services as tree
from conversations.errors import ServiceError
from conversations.models import Turn
from conversations.permissions import Need, conversation_for
from conversations.review import selectors, services
from conversations.review.models import Comment, Notification, Preference, Verdict
from conversations.review.services import mentioned
from tests.conftest import chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def conv(personas):
    conversation = tree.conversation_create(owner=personas.alice, workspace=personas.team, title="Plans")
    q1, a1, q2, a2 = chain(conversation, ["Q1", "A1", "Q2", "A2"])
    a2b = Turn.objects.append(conversation=conversation, parent=q2, role="assistant", content="A2b")
    conversation.t = {  # type: ignore[attr-defined]
        "q1": q1, "a1": a1, "q2": q2, "a2": a2, "a2b": a2b}
    return conversation


def as_(user, conversation, need=Need.REVIEW):
    found = conversation_for(user, conversation.id, need=need)
    assert found is not None
    found.t = conversation.t  # type: ignore[attr-defined]
    return found


def writes():
    return (Comment.objects.count(), Notification.objects.count(), Verdict.objects.count(), Preference.objects.count())


def test_a_thread_with_replies_on_a_turn(personas, conv):
    alice, bob = personas.alice, personas.bob
    root = services.comment_create(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a2b"].id,
                                   body="  Why did this one drop the **caching** step?  ")
    assert root.body == "Why did this one drop the **caching** step?"
    reply = services.comment_create(conversation=as_(bob, conv), user=bob, turn_id=conv.t["a2b"].id,
                                    body="Token budget.", thread_id=root.id)
    # A reply to a reply joins the thread: one level.
    again = services.comment_create(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a2b"].id,
                                    body="Thanks", thread_id=reply.id)
    assert (reply.thread_id, again.thread_id) == (root.id, root.id)
    threads = selectors.turn_threads(conversation_id=conv.id, turn_id=conv.t["a2b"].id)
    assert [t["id"] for t in threads] == [root.id]
    assert [(r["author"], r["body"]) for r in threads[0]["replies"]] == [("bob", "Token budget."), ("alice", "Thanks")]
    summary = selectors.review_summary(conversation=as_(alice, conv, Need.READ), user=alice)
    assert summary["turns"] == {conv.t["a2b"].id: {"comments": 3, "open": 1}}
    assert [t["id"] for t in summary["threads"]] == [root.id]


def test_edit_and_delete_are_the_authors(personas, conv):
    alice, bob = personas.alice, personas.bob
    root = services.comment_create(conversation=as_(bob, conv), user=bob, turn_id=conv.t["a1"].id, body="first")
    with pytest.raises(ServiceError) as refused:
        services.comment_edit(conversation=as_(alice, conv), user=alice, comment_id=root.id, body="hijack")
    assert refused.value.code == "forbidden"
    services.comment_edit(conversation=as_(bob, conv), user=bob, comment_id=root.id, body="second")
    root.refresh_from_db()
    assert root.body == "second" and root.edited_at is not None
    reply = services.comment_create(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a1"].id,
                                    body="reply", thread_id=root.id)
    services.comment_delete(conversation=as_(bob, conv), user=bob, comment_id=root.id)
    root.refresh_from_db()
    assert root.body == "" and root.deleted_at is not None
    # Its replies keep it, shown as deleted.
    (thread,) = selectors.turn_threads(conversation_id=conv.id, turn_id=conv.t["a1"].id)
    assert thread["deleted"] and thread["body"] == "" and [r["id"] for r in thread["replies"]] == [reply.id]
    services.comment_delete(conversation=as_(alice, conv), user=alice, comment_id=reply.id)
    assert selectors.turn_threads(conversation_id=conv.id, turn_id=conv.t["a1"].id) == []
    assert selectors.review_summary(conversation=as_(alice, conv), user=alice)["turns"] == {}
    with pytest.raises(ServiceError) as gone:
        services.comment_edit(conversation=as_(bob, conv), user=bob, comment_id=root.id, body="back")
    assert gone.value.code == "not_found"


def test_a_workspace_owner_may_delete_anyones_comment_an_editor_not(personas, conv):
    alice, bob, vera = personas.alice, personas.bob, personas.vera
    comment = services.comment_create(conversation=as_(vera, conv), user=vera, turn_id=conv.t["a1"].id, body="x")
    with pytest.raises(ServiceError):
        services.comment_delete(conversation=as_(bob, conv), user=bob, comment_id=comment.id)
    services.comment_delete(conversation=as_(alice, conv), user=alice, comment_id=comment.id)
    assert Comment.objects.get(pk=comment.pk).deleted_at is not None


def test_resolve_by_author_or_owner_and_a_reply_reopens(personas, conv):
    alice, bob, vera = personas.alice, personas.bob, personas.vera
    root = services.comment_create(conversation=as_(vera, conv), user=vera, turn_id=conv.t["a1"].id, body="?")
    with pytest.raises(ServiceError) as refused:
        services.thread_resolve(conversation=as_(bob, conv), user=bob, comment_id=root.id, resolved=True)
    assert refused.value.code == "forbidden"
    services.thread_resolve(conversation=as_(alice, conv), user=alice, comment_id=root.id, resolved=True)
    assert selectors.open_threads(conv.id) == []
    assert selectors.review_summary(conversation=as_(alice, conv), user=alice)["turns"][conv.t["a1"].id] == {
        "comments": 1, "open": 0}
    services.comment_create(conversation=as_(bob, conv), user=bob, turn_id=conv.t["a1"].id, body="!",
                            thread_id=root.id)
    assert [t["id"] for t in selectors.open_threads(conv.id)] == [root.id]
    services.thread_resolve(conversation=as_(vera, conv), user=vera, comment_id=root.id, resolved=True)
    services.thread_resolve(conversation=as_(vera, conv), user=vera, comment_id=root.id, resolved=False)
    assert Comment.objects.get(pk=root.pk).resolved_at is None


@pytest.mark.parametrize("body,code", [
    ("", "empty"), ("   \n ", "empty"), ("x" * 10_001, "too_large"), ("bad \ud800", "bad_text"), (7, "invalid"),
    (None, "invalid"),
])
def test_bad_comment_bodies_write_nothing(personas, conv, body, code):
    alice = personas.alice
    before = writes()
    with pytest.raises(ServiceError) as refused:
        services.comment_create(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a1"].id, body=body)
    assert refused.value.code == code and refused.value.message
    assert writes() == before


def test_comments_keep_to_their_conversation_and_turn(personas, conv):
    alice = personas.alice
    other = tree.conversation_create(owner=alice, workspace=personas.team, title="Other")
    (foreign,) = chain(other, ["elsewhere"])
    root = services.comment_create(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a1"].id, body="x")
    before = writes()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"turn_id": foreign.id, "body": "x"}, "not_found"),
        ({"turn_id": 10**12, "body": "x"}, "not_found"),
        ({"turn_id": "1", "body": "x"}, "not_found"),
        ({"turn_id": conv.t["a2"].id, "body": "x", "thread_id": root.id}, "invalid"),
        ({"turn_id": conv.t["a1"].id, "body": "x", "thread_id": 10**12}, "not_found"),
        ({"turn_id": conv.t["a1"].id, "body": "x", "thread_id": True}, "not_found"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ServiceError) as refused:
            services.comment_create(conversation=as_(alice, conv), user=alice, **kwargs)
        assert refused.value.code == code, kwargs
    assert writes() == before


def test_verdicts_per_member_per_reply(personas, conv):
    alice, bob = personas.alice, personas.bob
    a2 = conv.t["a2"].id
    services.verdict_set(conversation=as_(alice, conv), user=alice, turn_id=a2, value=1)
    services.verdict_set(conversation=as_(bob, conv), user=bob, turn_id=a2, value=1)
    assert services.verdict_set(conversation=as_(bob, conv), user=bob, turn_id=a2, value=-1) == {
        "up": ["alice"], "down": ["bob"]}
    assert services.verdict_set(conversation=as_(alice, conv), user=alice, turn_id=a2, value=0) == {
        "up": [], "down": ["bob"]}
    assert Verdict.objects.count() == 1
    before = writes()
    for turn_id, value in [(conv.t["q1"].id, 1), (a2, 2), (a2, True), (a2, "1"), (a2, None)]:
        with pytest.raises(ServiceError):
            services.verdict_set(conversation=as_(alice, conv), user=alice, turn_id=turn_id, value=value)
    assert writes() == before


def test_one_preferred_branch_per_member(personas, conv):
    alice, bob = personas.alice, personas.bob
    services.preference_set(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a2"].id)
    services.preference_set(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a2b"].id)
    services.preference_set(conversation=as_(bob, conv), user=bob, turn_id=conv.t["a2"].id)
    prefs = selectors.preferences_of(conv.id)
    assert [(p["user"], p["turn"]) for p in prefs] == [("alice", conv.t["a2b"].id), ("bob", conv.t["a2"].id)]
    assert all(p["at"] for p in prefs)
    services.preference_set(conversation=as_(alice, conv), user=alice, turn_id=None)
    assert [p["user"] for p in selectors.preferences_of(conv.id)] == ["bob"]
    with pytest.raises(ServiceError):
        services.preference_set(conversation=as_(alice, conv), user=alice, turn_id=10**12)
    assert Preference.objects.count() == 1


def test_mentions_match_whole_member_names():
    names = ["bob", "bo", "vera", "al.ice"]
    assert mentioned("@bob why? cc @vera.", names) == {"bob", "vera"}
    assert mentioned("mail bob@bob.com or @bobby or x@bo", names) == set()
    assert mentioned("(@al.ice)", names) == {"al.ice"}


def test_mentions_and_replies_notify_and_the_inbox_lists_them(personas, conv):
    alice, bob, vera, charlie = personas.alice, personas.bob, personas.vera, personas.charlie
    root = services.comment_create(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a2b"].id,
                                   body="@bob why did B drop caching? (not @charlie, not @alice)")
    assert list(Notification.objects.values_list("recipient__username", "kind")) == [("bob", "mention")]
    assert selectors.inbox_unread(bob) == 1 and selectors.inbox_unread(charlie) == 0
    services.comment_create(conversation=as_(vera, conv), user=vera, turn_id=conv.t["a2b"].id,
                            body="me too", thread_id=root.id)
    answer = services.comment_create(conversation=as_(bob, conv), user=bob, turn_id=conv.t["a2b"].id,
                                     body="budget; @vera see above", thread_id=root.id)
    got = {(n.recipient.username, n.kind) for n in Notification.objects.filter(comment=answer)}
    # The thread's participants but the author; vera, mentioned, is told once, as a mention.
    assert got == {("alice", "reply"), ("vera", "mention")}
    inbox = selectors.inbox(alice)
    assert [n.comment_id for n in inbox][0] == answer.id
    notice = services.notification_open(user=alice, notification_id=inbox[0].id)
    assert notice.read_at is not None and selectors.inbox_unread(alice) == 1
    assert [n.read_at is None for n in selectors.inbox(alice)] == [True, False]  # unread first
    services.notifications_read_all(user=alice)
    assert selectors.inbox_unread(alice) == 0
    with pytest.raises(ServiceError):
        services.notification_open(user=charlie, notification_id=inbox[0].id)
    # Deleting a comment takes its notifications with it.
    services.comment_delete(conversation=as_(bob, conv), user=bob, comment_id=answer.id)
    assert not Notification.objects.filter(comment=answer).exists()


def test_the_inbox_keeps_to_what_its_reader_may_read(personas, conv):
    from conversations.workspaces import services as workspaces

    alice, bob = personas.alice, personas.bob
    services.comment_create(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a1"].id, body="@bob ?")
    assert selectors.inbox_unread(bob) == 1
    membership = personas.team.memberships.get(user=bob)
    workspaces.member_remove(workspace=personas.team, membership_id=membership.id)
    assert selectors.inbox_unread(bob) == 0 and selectors.inbox(bob) == []


def test_an_edit_notifies_those_newly_mentioned(personas, conv):
    alice = personas.alice
    comment = services.comment_create(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a1"].id, body="hm")
    services.comment_edit(conversation=as_(alice, conv), user=alice, comment_id=comment.id, body="hm @vera")
    services.comment_edit(conversation=as_(alice, conv), user=alice, comment_id=comment.id, body="hm @vera!")
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["vera"]


def test_the_inbox_shows_a_comment_as_plain_words(personas, conv):
    from django.urls import reverse

    from tests.conftest import signed_in

    alice = personas.alice
    services.comment_create(conversation=as_(alice, conv), user=alice, turn_id=conv.t["a1"].id,
                            body="@bob why did **this** drop the `cache`? See [the docs](https://example.com)")
    page = signed_in(personas.bob).get(reverse("inbox")).content.decode()
    assert "@bob why did this drop the cache? See the docs" in page
    assert "**" not in page and "example.com" not in page
