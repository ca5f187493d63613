"""Review wherever the tree goes: the JSON export keeps comments, verdicts and preferred branches
(people by username) and an import brings them back; the Markdown export includes comments when
asked; forks, of a conversation or through a share link, copy none of it."""
from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversations import services as tree
from conversations.exchange.importer import ImportProblem, conversations_import
from conversations.exchange.workbench_json import conversation_export
from conversations.models import Conversation, Turn
from conversations.permissions import Need, conversation_for
from conversations.review import selectors
from conversations.review import services as review
from conversations.review.models import Comment, Preference, Verdict
from conversations.sharing import services as sharing
from tests.conftest import chain, make_link, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewed(personas):
    alice, bob = personas.alice, personas.bob
    conversation = tree.conversation_create(owner=alice, workspace=personas.team, title="Reviewed")
    q1, a1 = chain(conversation, ["Which cache?", "Use Redis."])
    a1b = Turn.objects.append(conversation=conversation, parent=q1, role="assistant", content="Use memcached.")
    as_alice = conversation_for(alice, conversation.id, need=Need.REVIEW)
    as_bob = conversation_for(bob, conversation.id, need=Need.REVIEW)
    root = review.comment_create(conversation=as_alice, user=alice, turn_id=a1b.id, body="@bob why *memcached*?")
    review.comment_create(conversation=as_bob, user=bob, turn_id=a1b.id, body="Cheaper.", thread_id=root.id)
    gone = review.comment_create(conversation=as_bob, user=bob, turn_id=a1.id, body="first thought")
    review.comment_create(conversation=as_alice, user=alice, turn_id=a1.id, body="agreed", thread_id=gone.id)
    review.comment_delete(conversation=as_bob, user=bob, comment_id=gone.id)
    review.thread_resolve(conversation=as_alice, user=alice, comment_id=root.id, resolved=True)
    review.verdict_set(conversation=as_alice, user=alice, turn_id=a1.id, value=1)
    review.verdict_set(conversation=as_bob, user=bob, turn_id=a1b.id, value=-1)
    review.preference_set(conversation=as_bob, user=bob, turn_id=a1.id)
    review.preference_set(conversation=as_alice, user=alice, turn_id=a1b.id)
    return conversation, q1, a1, a1b


def test_the_export_keeps_review_by_username(reviewed):
    conversation, q1, a1, a1b = reviewed
    document = conversation_export(conversation=conversation)
    assert document["version"] == 4
    comments = document["review"]["comments"]
    assert [(c["turn"], c["author"], c["body"], c["deleted"]) for c in comments] == [
        (a1b.id, "alice", "@bob why *memcached*?", False), (a1b.id, "bob", "Cheaper.", False),
        (a1.id, "bob", "", True), (a1.id, "alice", "agreed", False),
    ]
    assert comments[0]["resolved_by"] == "alice" and comments[1]["thread"] == comments[0]["id"]
    assert [(v["turn"], v["user"], v["value"]) for v in document["review"]["verdicts"]] == [
        (a1.id, "alice", 1), (a1b.id, "bob", -1)]
    assert sorted((p["user"], p["turn"]) for p in document["review"]["preferences"]) == [
        ("alice", a1b.id), ("bob", a1.id)]


def test_an_import_brings_review_back_without_speaking_for_anyone(reviewed, personas):
    conversation = reviewed[0]
    data = json.dumps(conversation_export(conversation=conversation)).encode()
    report = conversations_import(owner=personas.bob, data=data)
    (imported,) = report.imported
    copy = imported.conversation
    turns = {t.content: t.id for t in copy.turns.all()}
    threads = selectors.turn_threads(conversation_id=copy.id, turn_id=turns["Use memcached."])
    (thread,) = threads
    # alice's words are bob's comment now (he imported them), under her name; bob's own are his.
    assert (thread["author"], thread["imported"], thread["body"]) == ("alice", True, "@bob why *memcached*?")
    assert thread["resolved_at"] is not None
    assert [(r["author"], r["imported"]) for r in thread["replies"]] == [("bob", False)]
    assert all(c.author_id == personas.bob.pk for c in Comment.objects.filter(conversation=copy))
    (deleted,) = selectors.turn_threads(conversation_id=copy.id, turn_id=turns["Use Redis."])
    assert deleted["deleted"] and [r["body"] for r in deleted["replies"]] == ["agreed"]
    # Verdicts and preferences keep their names; the importer's own are his.
    assert selectors.verdicts_of(copy.id) == {turns["Use Redis."]: {"up": ["alice"], "down": []},
                                              turns["Use memcached."]: {"up": [], "down": ["bob"]}}
    assert Verdict.objects.get(conversation=copy, user_name="alice").user_id is None
    assert Verdict.objects.get(conversation=copy, user=personas.bob).value == -1
    assert sorted((p["user"], p["turn"]) for p in selectors.preferences_of(copy.id)) == [
        ("alice", turns["Use memcached."]), ("bob", turns["Use Redis."])]
    # Exported again, it says the same.
    again = conversation_export(conversation=copy)["review"]
    original = conversation_export(conversation=conversation)["review"]

    def shape(r):
        return sorted((c["author"], c["body"], c["deleted"], c["thread"] is None) for c in r["comments"])

    assert shape(again) == shape(original)


def test_the_import_summary_counts_each_conversations_review(reviewed, personas):
    conversation = reviewed[0]
    client = signed_in(personas.bob)
    data = json.dumps(conversation_export(conversation=conversation)).encode()
    response = client.post(reverse("conversations_import"),
                           {"file": SimpleUploadedFile("reviewed.json", data, content_type="application/json")})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "With its review: 4 comments, 2 verdicts, 2 preferred branches." in page
    copy = Conversation.objects.filter(owner=personas.bob).latest("id")
    assert f'href="{reverse("conversation", args=[copy.id])}">Reviewed</a>' in page

    # One of each is said in the singular; a file without a review says nothing of one.
    document = json.loads(data)
    document["review"] = {key: values[:1] for key, values in document["review"].items()}
    response = client.post(reverse("conversations_import"), {"file": SimpleUploadedFile(
        "one.json", json.dumps(document).encode(), content_type="application/json")})
    page = client.get(response["Location"]).content.decode()
    assert "With its review: 1 comment, 1 verdict, 1 preferred branch." in page
    # A file with nothing to review opens its conversation, as before.
    document["review"] = {"comments": [], "verdicts": [], "preferences": []}
    response = client.post(reverse("conversations_import"), {"file": SimpleUploadedFile(
        "plain.json", json.dumps(document).encode(), content_type="application/json")})
    newest = Conversation.objects.filter(owner=personas.bob).latest("id")
    assert response["Location"] == reverse("conversation", args=[newest.id])


@pytest.mark.parametrize("review_part,message", [
    ({"comments": [{"id": 1, "turn": 99, "body": "x"}]}, "turn 99, which is not in the file"),
    ({"comments": [{"id": 1, "turn": 1, "body": "x", "thread": 5}]}, "thread's first comment earlier"),
    ({"comments": [{"id": 1, "turn": 1, "body": " "}]}, "needs a \"body\""),
    ({"comments": [{"id": 1, "turn": 1, "body": "x", "color": "red"}]}, "color"),
    ({"verdicts": [{"turn": 1, "user": "bob", "value": 1}]}, "must be a reply"),
    ({"verdicts": [{"turn": 2, "user": "bob", "value": 2}]}, "must be 1"),
    ({"verdicts": [{"turn": 2, "user": "bob", "value": 1}, {"turn": 2, "user": "bob", "value": -1}]}, "one verdict"),
    ({"preferences": [{"turn": 2, "user": "a"}, {"turn": 1, "user": "a"}]}, "one preferred branch"),
])
def test_a_bad_review_refuses_the_file_and_writes_nothing(personas, review_part, message):
    document = {
        "format": "workbench.conversation", "version": 3, "conversation": {"title": "T"},
        "turns": [{"id": 1, "role": "user", "content": "q"},
                  {"id": 2, "parent": 1, "role": "assistant", "content": "a"}],
        "review": review_part,
    }
    before = Conversation.objects.count()
    with pytest.raises(ImportProblem) as refused:
        conversations_import(owner=personas.alice, data=json.dumps(document).encode())
    assert message in refused.value.args[0]
    assert Conversation.objects.count() == before and Comment.objects.count() == 0


def test_markdown_export_includes_comments_when_asked(reviewed, personas):
    conversation, q1, a1, a1b = reviewed
    url = reverse("branch_export_markdown", args=[conversation.id, a1b.id])
    plain = signed_in(personas.alice).get(url).content.decode()
    assert "memcached*?" not in plain and "*Comments*" not in plain
    text = signed_in(personas.alice).get(url + "?comments=1").content.decode()
    assert "*Comments*" in text
    assert "> **alice** · " in text and "· resolved" in text
    assert "> @bob why *memcached*?" in text
    assert "> > **bob** · " in text and "> > Cheaper." in text
    # Only the branch's turns: a1's comments are on another branch.
    assert "agreed" not in text
    # A comment cannot break out of its quote into a heading of the document.
    as_bob = conversation_for(personas.bob, conversation.id, need=Need.REVIEW)
    review.comment_create(conversation=as_bob, user=personas.bob, turn_id=a1b.id, body="# Not a heading\n```py\nopen")
    text = signed_in(personas.alice).get(url + "?comments=1").content.decode()
    assert "\n# Not a heading" not in text and "> \\# Not a heading" in text


def test_forks_copy_no_review(reviewed, personas):
    conversation, q1, a1, a1b = reviewed
    response = signed_in(personas.bob).post(reverse("conversation_fork", args=[conversation.id, a1b.id]))
    fork = Conversation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))
    link = make_link(conversation, personas.alice)
    shared = sharing.shared_fork(link=link, tree=sharing.shared_tree(link), turn_id=a1b.id, owner=personas.charlie)
    for copy in (fork, shared):
        assert copy.turns.count() == 2
        assert not Comment.objects.filter(conversation=copy).exists()
        assert not Verdict.objects.filter(conversation=copy).exists()
        assert not Preference.objects.filter(conversation=copy).exists()
    assert Comment.objects.filter(conversation=conversation).count() == 4
