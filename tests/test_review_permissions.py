"""The permission matrix, extended to review: every review URL as each persona (tests/conftest.py:
alice owns Team, bob edits, vera views, charlie is an outsider, and anonymous visitors hold share
links), each cell checking what was, or was not, written. The rules (permissions.py): reading
review is READ; commenting, voting and preferring is REVIEW (owners, editors, and viewers unless the
workspace turned that off; a reader who may not review gets 403, an outsider 404); editing is the
author's, deleting the author's or a workspace owner's, resolving the thread author's, the
conversation owner's or a workspace owner's."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from conversations.models import Workspace
from conversations.permissions import Need, conversation_for
from conversations.review import services as review
from conversations.review.models import Comment, Notification, Preference, Verdict
from tests.conftest import ANON, EDITOR, OUTSIDER, OWNER, VIEWER, World
from tests.test_permissions import LOGIN, assert_reveals_nothing, cells, client_for, matrix, outcome

COMMENT_TEXT = "Review-comment-text-6620"
READ = cells(200, 200, 200, 404)
REVIEW = cells(200, 200, 200, 404)
ANY_SIGNED_IN = cells(200, 200, 200, 200)


def seeded(w: World) -> dict[str, int]:
    """A thread of bob's on A2 (vera replied, mentioning alice), alice's comment on A1."""
    team_conv = lambda user: conversation_for(user, w.conv.id, need=Need.REVIEW)  # noqa: E731
    alice, bob, vera = w.users[OWNER], w.users[EDITOR], w.users[VIEWER]
    bobs = review.comment_create(conversation=team_conv(bob), user=bob, turn_id=w.turns["a2"].id, body=COMMENT_TEXT)
    review.comment_create(conversation=team_conv(vera), user=vera, turn_id=w.turns["a2"].id,
                          body="@alice see", thread_id=bobs.id)
    alices = review.comment_create(conversation=team_conv(alice), user=alice, turn_id=w.turns["a1"].id, body="mine")
    notice = Notification.objects.get(recipient=alice, kind="mention")
    return {"bobs": bobs.id, "alices": alices.id, "notice": notice.id}


# --- GET ----------------------------------------------------------------------------------------

GET_ROWS = [
    ("/c/{conv}/review.json", READ),
    ("/c/{conv}/t/{a2}/comments.json", READ),
    ("/c/{private}/review.json", cells(404, 404, 404, 200)),
    ("/inbox/", ANY_SIGNED_IN),
    # Opening a notification: its recipient's alone (a redirect to the turn), 404 for anyone else.
    ("/inbox/{notice}/", cells(302, 404, 404, 404)),
]


@pytest.mark.django_db
@pytest.mark.parametrize("row,persona", matrix(GET_ROWS))
def test_get(world, row, persona):
    ids = {**world.ids, **seeded(world)}
    path, expected = row
    response = client_for(persona, world).get(path.format(**ids))
    assert outcome(response) == expected[persona]
    body = response.content.decode()
    assert_reveals_nothing(persona, body)
    if persona == OUTSIDER or expected[persona] in (404, LOGIN):
        assert COMMENT_TEXT not in body


# --- POST ---------------------------------------------------------------------------------------


@dataclass
class Post:
    id: str
    path: str
    expected: dict[str, Any]
    probe: Callable[[World], Any]
    data: dict = None  # type: ignore[assignment]
    form: bool = False


def comments(w):
    return list(Comment.objects.order_by("id").values_list("id", "body", "deleted_at", "resolved_at"))


def verdicts(w):
    return list(Verdict.objects.values_list("turn_id", "user_id", "value"))


def preferences(w):
    return list(Preference.objects.values_list("user_id", "turn_id"))


def unread(w):
    return sorted(Notification.objects.filter(read_at__isnull=True).values_list("recipient__username", flat=True))


def setting(w):
    return Workspace.objects.get(pk=w.team.pk).viewers_may_review


POST_ROWS = [
    Post("comment", "/c/{conv}/t/{a2b}/comments/", REVIEW, comments, {"body": "hello"}),
    Post("reply", "/c/{conv}/t/{a2}/comments/", REVIEW, comments, {"body": "hello", "thread": "{bobs}"}),
    Post("edit alice's comment", "/c/{conv}/comments/{alices}/edit/", cells(200, 403, 403, 404), comments,
         {"body": "changed"}),
    # A workspace owner may delete anyone's comment (moderation); the author theirs.
    Post("delete bob's comment", "/c/{conv}/comments/{bobs}/delete/", cells(200, 200, 403, 404), comments, {}),
    Post("resolve bob's thread", "/c/{conv}/comments/{bobs}/resolve/", cells(200, 200, 403, 404), comments,
         {"resolved": True}),
    Post("vote", "/c/{conv}/t/{a2}/verdict/", REVIEW, verdicts, {"value": 1}),
    Post("prefer", "/c/{conv}/preference/", REVIEW, preferences, {"turn": "{a2b}"}),
    Post("comment elsewhere", "/c/{private}/t/{private_turn}/comments/", cells(404, 404, 404, 200), comments,
         {"body": "x"}),
    Post("mark all read", "/inbox/read/", cells(302, 302, 302, 302), unread, form=True),
    Post("viewers may not review", "/w/{team}/review/", cells(302, 404, 404, 404), setting, form=True),
]


def fill(value, ids):
    if isinstance(value, str) and value.startswith("{"):
        return int(value.format(**ids))
    return value


def send(client, row: Post, ids: dict):
    path = row.path.format(**ids)
    if row.form:
        return client.post(path, {})
    return client.post(path, json.dumps({k: fill(v, ids) for k, v in (row.data or {}).items()}),
                       content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("row,persona", matrix(POST_ROWS))
def test_post(world, row, persona):
    ids = {**world.ids, **seeded(world)}
    before = row.probe(world)
    response = send(client_for(persona, world), row, ids)
    expected = row.expected[persona]
    assert outcome(response) == expected
    allowed = expected in (200, 302)
    if row.id == "mark all read":
        allowed = persona in (OWNER, EDITOR)  # alice was mentioned, bob answered; each marks only theirs
    assert (row.probe(world) != before) == allowed, row.id
    assert_reveals_nothing(persona, response.content.decode(errors="replace"))


@pytest.mark.django_db
@pytest.mark.parametrize("row", [r for r in POST_ROWS if r.expected[VIEWER] == 200 and not r.form], ids=lambda r: r.id)
def test_a_workspace_can_keep_viewers_from_reviewing(world, row):
    ids = {**world.ids, **seeded(world)}
    Workspace.objects.filter(pk=world.team.pk).update(viewers_may_review=False)
    before = row.probe(world)
    response = send(client_for(VIEWER, world), row, ids)
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert row.probe(world) == before
    # Reading stays.
    assert client_for(VIEWER, world).get(f"/c/{world.conv.id}/review.json").json()["can_review"] is False


@pytest.mark.django_db
def test_every_review_post_needs_the_csrf_token(world):
    ids = {**world.ids, **seeded(world)}
    client = client_for(OWNER, world, enforce_csrf_checks=True)
    for row in POST_ROWS:
        before = row.probe(world)
        assert send(client, row, ids).status_code == 403, row.id
        assert row.probe(world) == before, row.id


@pytest.mark.django_db
def test_the_summary_tells_each_member_what_they_may_do(world):
    seeded(world)
    expected = {OWNER: (True, True, True), EDITOR: (True, False, False), VIEWER: (True, False, False)}
    for persona, (can_review, can_moderate, can_resolve_any) in expected.items():
        data = client_for(persona, world).get(f"/c/{world.conv.id}/review.json").json()
        assert (data["can_review"], data["can_moderate"], data["can_resolve_any"]) == (
            can_review, can_moderate, can_resolve_any), persona


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["live", "snapshot", "members"])
def test_share_links_show_comments_only_when_included_and_never_write(world, kind):
    seeded(world)
    link = world.links[kind]
    anonymous = client_for(ANON, world) if kind != "members" else client_for(VIEWER, world)
    page = anonymous.get(f"/s/{link.token}/").content.decode()
    assert COMMENT_TEXT not in page
    link.include_comments = True
    link.save(update_fields=["include_comments"])
    page = anonymous.get(f"/s/{link.token}/").content.decode()
    assert COMMENT_TEXT in page and "Teammate 1" in page and '"bob"' not in page
    link.comment_names = "usernames"
    link.save(update_fields=["comment_names"])
    assert '"author": "bob"' in anonymous.get(f"/s/{link.token}/").content.decode()
    if kind == "members":
        return  # a member reviews as their role allows, link or not
    # A link reads; it writes nothing, not even to the conversation it shows.
    before = comments(world)
    response = anonymous.post(f"/c/{world.conv.id}/t/{world.turns['a2'].id}/comments/",
                              json.dumps({"body": "x"}), content_type="application/json")
    assert outcome(response) == LOGIN
    assert comments(world) == before


@pytest.mark.django_db
def test_a_branch_link_shows_only_its_turns_comments(world):
    seeded(world)  # on A1 (shared by the branch link) and A2 (not)
    link = world.links["branch"]
    link.include_comments = True
    link.save(update_fields=["include_comments"])
    page = client_for(ANON, world).get(f"/s/{link.token}/").content.decode()
    assert "mine" in page and COMMENT_TEXT not in page


# --- the settings that decide who sees and writes review ---------------------------------------


@pytest.mark.django_db
def test_a_link_is_made_with_comments_and_names_as_its_maker_chooses(world):
    from conversations.models import ShareLink

    client = client_for(OWNER, world)
    path = f"/c/{world.conv.id}/share/"
    made = client.post(path, {"scope": "conversation", "mode": "live", "audience": "anyone",
                              "include_comments": "1", "comment_names": "usernames"})
    assert made.status_code == 201, made.content
    assert (made.json()["include_comments"], made.json()["comment_names"]) == (True, "usernames")
    plain = client.post(path, {"scope": "conversation", "mode": "snapshot", "audience": "anyone"}).json()
    assert (plain["include_comments"], plain["comment_names"]) == (False, "teammates")
    before = ShareLink.objects.count()
    for bad in ({"include_comments": "perhaps"}, {"comment_names": "real names"}):
        refused = client.post(path, {"scope": "conversation", "mode": "live", "audience": "anyone", **bad})
        assert refused.status_code == 400 and refused.json()["error"]
    assert ShareLink.objects.count() == before


@pytest.mark.django_db
def test_the_workspace_switch_turns_viewers_review_off_and_on(world):
    client = client_for(OWNER, world)
    assert client.post(f"/w/{world.team.id}/review/", {}).status_code == 302
    assert setting(world) is False
    page = client.get(f"/w/{world.team.id}/").content.decode()
    assert 'name="viewers_may_review"' in page and "checked" not in page.split('name="viewers_may_review"')[1][:40]
    assert client.post(f"/w/{world.team.id}/review/", {"viewers_may_review": "1"}).status_code == 302
    assert setting(world) is True
    # An editor sees no switch.
    assert 'name="viewers_may_review"' not in client_for(EDITOR, world).get(f"/w/{world.team.id}/").content.decode()
