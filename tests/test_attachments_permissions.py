"""The permission matrix, extended to attachments: every attachments URL as each persona
(tests/conftest.py: alice owns Team, bob edits, vera views, charlie is an outsider, and anonymous
visitors hold share links), each cell checking what was, or was not, written or served.

The rules: an upload is its owner's alone (anyone signed in may upload; others get 404); a turn's
attachment is for whoever may READ the conversation (outsiders 404); through a share link, only
the attachments of turns the link shows, after the checks its page makes (revoked, expired,
members only)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conversations.attachments.models import Upload
from conversations.models import ShareLink
from conversations.sharing import services as sharing
from tests.attachment_files import attached_turn, png, upload
from tests.conftest import ANON, EDITOR, OUTSIDER, OWNER, VIEWER, World, make_link
from tests.test_permissions import (
    SHARE_PERSONAS,
    assert_reveals_nothing,
    cells,
    client_for,
    matrix,
    outcome,
)

SECRET_TEXT = b"Attached-secret-text-4410\n"
READ = cells(200, 200, 200, 404)
OWN = cells(200, 404, 404, 404)
NOBODY = cells(404, 404, 404, 404)
ANYONE_SIGNED_IN = cells(201, 201, 201, 201)


def attachments_seeded(w: World) -> dict[str, Any]:
    """Q3 under A2 by alice, carrying an image and a text file; links made after it: a snapshot,
    a branch ending at Q3, a branch of Q2 with its subtree, and a branch ending at A2b (which does
    not show Q3). Also an unsent upload of alice's."""
    alice = w.users[OWNER]
    q3 = attached_turn(w.conv, w.turns["a2"], alice, upload(alice, "red.png", png()),
                       upload(alice, "secret.txt", SECRET_TEXT))
    links = {
        "snapshot_after": make_link(w.conv, alice, mode="snapshot"),
        "branch_q3": make_link(w.conv, alice, turn=q3),
        "subtree_q2": sharing.share_create(conversation=w.conv, by=alice, turn_id=w.turns["q2"].id,
                                           with_subtree=True, mode="live", audience="anyone", expires_at=None),
        "branch_a2b": make_link(w.conv, alice, turn=w.turns["a2b"]),
    }
    w.links.update(links)
    pending = upload(alice, "pending.txt", SECRET_TEXT)
    return {"q3": q3.id, "upload": str(pending.id)}


# --- GET a turn's attachment, and an upload -----------------------------------------------------

GET_ROWS = [
    ("/c/{conv}/t/{q3}/files/0/", READ),
    ("/c/{conv}/t/{q3}/files/0/?thumb=1", READ),
    ("/c/{conv}/t/{q3}/files/1/", READ),
    # No such attachment, a text file's thumbnail, a turn without files, a turn of another conversation.
    ("/c/{conv}/t/{q3}/files/2/", NOBODY),
    ("/c/{conv}/t/{q3}/files/1/?thumb=1", cells(404, 404, 404, 404)),
    ("/c/{conv}/t/{a2}/files/0/", cells(404, 404, 404, 404)),
    ("/c/{doomed}/t/{q3}/files/0/", cells(404, 404, 404, 404)),
    ("/c/{private}/t/{q3}/files/0/", cells(404, 404, 404, 404)),
    ("/files/{upload}/", OWN),
    ("/files/{upload}/?thumb=1", cells(404, 404, 404, 404)),
]


@pytest.mark.django_db
@pytest.mark.parametrize("row,persona", matrix(GET_ROWS))
def test_get(world, row, persona):
    ids = {**world.ids, **attachments_seeded(world)}
    path, expected = row
    response = client_for(persona, world).get(path.format(**ids))
    assert outcome(response) == expected[persona]
    body = response.getvalue()
    if expected[persona] == 200:
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
        if path.endswith("/1/") or path.startswith("/files/"):
            assert body == SECRET_TEXT
    else:
        assert SECRET_TEXT.strip() not in body
    assert_reveals_nothing(persona, body.decode(errors="replace"))


# --- through share links -------------------------------------------------------------------------

# The link (a row) and whether it shows Q3's attachments to each visitor (the columns).
SHOWS = {p: 200 for p in SHARE_PERSONAS}
HIDES = {p: 404 for p in SHARE_PERSONAS}
SHARE_ROWS = [
    ("live", SHOWS),  # the whole conversation, live: Q3 joined it
    ("snapshot_after", SHOWS),
    ("branch_q3", SHOWS),
    ("subtree_q2", SHOWS),
    ("members", {OWNER: 200, EDITOR: 200, VIEWER: 200, OUTSIDER: 404, ANON: 404}),
    ("snapshot", HIDES),  # made before Q3 was written
    ("branch", HIDES),  # Q1 → A1
    ("branch_a2b", HIDES),  # another branch
    ("revoked", HIDES),
    ("expired", HIDES),
    ("garbage", HIDES),
]


@pytest.mark.django_db
@pytest.mark.parametrize("row,persona", matrix(SHARE_ROWS, personas=SHARE_PERSONAS))
@pytest.mark.parametrize("suffix", ["1/", "0/?thumb=1"])
def test_shared_file(world, row, persona, suffix):
    ids = attachments_seeded(world)
    kind, expected = row
    path = f"/s/{world.token(kind)}/t/{ids['q3']}/files/{suffix}"
    response = client_for(persona, world).get(path)
    assert response.status_code == expected[persona]
    body = response.getvalue()
    if expected[persona] == 200:
        assert response["Referrer-Policy"] == "no-referrer"
        assert response["X-Content-Type-Options"] == "nosniff"
        if suffix == "1/":
            assert body == SECRET_TEXT
        else:
            assert response["Content-Type"] == "image/webp"
    else:
        assert SECRET_TEXT.strip() not in body


@pytest.mark.django_db
def test_a_link_serves_only_the_turn_it_names_and_attachments_that_exist(world):
    ids = attachments_seeded(world)
    token = world.token("live")
    client = client_for(ANON, world)
    assert client.get(f"/s/{token}/t/{ids['q3']}/files/5/").status_code == 404
    assert client.get(f"/s/{token}/t/{world.ids['private_turn']}/files/0/").status_code == 404
    assert client.get(f"/s/{token}/t/{world.turns['a2'].id}/files/0/").status_code == 404


@pytest.mark.django_db
def test_a_link_stops_serving_when_its_maker_loses_access(world):
    ids = attachments_seeded(world)
    link = world.links["bobs"]
    path = f"/s/{link.token}/t/{ids['q3']}/files/1/"
    assert client_for(ANON, world).get(path).status_code == 200
    from conversations.models import Membership

    Membership.objects.filter(workspace=world.team, user=world.users[EDITOR]).update(role="viewer")
    assert client_for(ANON, world).get(path).status_code == 404
    assert ShareLink.objects.filter(pk=link.pk).exists()


# --- POST and DELETE -----------------------------------------------------------------------------


@dataclass
class Write:
    id: str
    method: str
    path: str
    expected: dict[str, Any]


WRITE_ROWS = [
    Write("upload", "post", "/files/", ANYONE_SIGNED_IN),
    Write("discard alice's upload", "delete", "/files/{upload}/", cells(204, 404, 404, 404)),
]


def uploads_by_owner() -> list[tuple[str, str]]:
    return sorted(Upload.objects.values_list("owner__username", "name"))


def send(client, row: Write, ids: dict):
    path = row.path.format(**ids)
    if row.method == "post":
        return client.post(path, {"file": SimpleUploadedFile("new.txt", b"new file")})
    return client.delete(path)


@pytest.mark.django_db
@pytest.mark.parametrize("row,persona", matrix(WRITE_ROWS))
def test_write(world, row, persona):
    ids = {**world.ids, **attachments_seeded(world)}
    before = uploads_by_owner()
    response = send(client_for(persona, world), row, ids)
    expected = row.expected[persona]
    assert outcome(response) == expected
    after = uploads_by_owner()
    if expected == 201:
        user = world.users[persona].username
        assert after == sorted([*before, (user, "new.txt")])
        assert response.json()["name"] == "new.txt"
    elif expected == 204:
        assert after == [entry for entry in before if entry != ("alice", "pending.txt")]
    else:
        assert after == before
    assert_reveals_nothing(persona, response.content.decode(errors="replace"))


@pytest.mark.django_db
@pytest.mark.parametrize("row", WRITE_ROWS, ids=lambda row: row.id)
def test_every_write_needs_the_csrf_token(world, row):
    ids = {**world.ids, **attachments_seeded(world)}
    client = client_for(OWNER, world, enforce_csrf_checks=True)
    before = uploads_by_owner()
    assert send(client, row, ids).status_code == 403
    assert uploads_by_owner() == before


@pytest.mark.django_db
def test_an_upload_with_the_csrf_header_is_accepted(world):
    client = client_for(OWNER, world, enforce_csrf_checks=True)
    client.get("/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post("/files/", {"file": SimpleUploadedFile("ok.txt", b"fine")}, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_writes_through_a_share_link_are_refused(world):
    ids = attachments_seeded(world)
    token = world.token("live")
    client = client_for(ANON, world)
    assert client.post(f"/s/{token}/t/{ids['q3']}/files/0/").status_code == 405
    assert client.delete(f"/s/{token}/t/{ids['q3']}/files/0/").status_code == 405
    assert client.post(f"/c/{world.conv.id}/t/{ids['q3']}/files/0/").status_code in (302, 405)
