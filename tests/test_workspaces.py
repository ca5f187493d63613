"""Workspace and member pages: who sees which workspace, and what owners may change.

The personas are tests/conftest.py's: alice owns the team workspace "Team", bob is its editor, vera
its viewer, charlie an outsider.
"""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from django.test import Client
from django.urls import reverse

from conversations.models import Membership
from conversations.streaming.groups import user_group
from conversations.workspaces import services as workspaces
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db


def membership(workspace, user) -> Membership:
    return Membership.objects.get(workspace=workspace, user=user)


def post_urls(team, target: Membership) -> dict[str, tuple[str, dict]]:
    """Every owner-only POST endpoint of `team`, with a valid form for each."""
    return {
        "invite": (reverse("workspace_invite", args=[team.id]), {"who": "charlie", "role": "viewer"}),
        "role": (reverse("workspace_member_role", args=[team.id, target.id]), {"role": "owner"}),
        "remove": (reverse("workspace_member_remove", args=[team.id, target.id]), {}),
        "rename": (reverse("workspace_rename", args=[team.id]), {"name": "Taken over"}),
    }


# --- The list of workspaces ---------------------------------------------------------------


def test_list_shows_only_own_workspaces_with_roles(team, vera, charlie):
    workspaces.workspace_create(owner=charlie, name="Charlie's secret")
    response = signed_in(vera).get(reverse("workspaces"))
    assert response.status_code == 200
    listed = {(ws.name, ws.role, ws.member_count) for ws in response.context["workspaces"]}
    assert listed == {("Personal", "owner", 1), ("Team", "viewer", 3)}
    html = response.content.decode()
    assert reverse("workspace", args=[team.id]) in html
    assert "Charlie&#x27;s secret" not in html and "Charlie's secret" not in html
    assert f'action="{reverse("workspace_create")}"' in html


def test_creating_a_workspace_makes_you_its_owner(bob):
    client = signed_in(bob)
    response = client.post(reverse("workspace_create"), {"name": "  Bob's   lab "})
    created = Membership.objects.get(user=bob, workspace__name="Bob's lab")
    assert created.role == "owner"
    assert response.status_code == 302 and response["Location"] == reverse("workspace", args=[created.workspace_id])
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"invite-form" in page.content


def test_creating_a_workspace_without_a_name_is_a_form_error(bob):
    response = signed_in(bob).post(reverse("workspace_create"), {"name": "   "})
    assert response.status_code == 400
    assert b"Give the workspace a name." in response.content
    assert not Membership.objects.filter(user=bob, workspace__personal_of=None).exists()


# --- A workspace's page ---------------------------------------------------------------------


def test_owner_sees_members_and_every_form(team, alice, bob):
    response = signed_in(alice).get(reverse("workspace", args=[team.id]))
    assert response.status_code == 200
    html = response.content.decode()
    for username in ("alice", "bob", "vera"):
        assert f'data-username="{username}"' in html
    assert "bob@example.com" in html
    assert 'id="invite-form"' in html and 'id="rename-form"' in html
    assert reverse("workspace_member_role", args=[team.id, membership(team, alice).id]) in html
    assert reverse("workspace_member_remove", args=[team.id, membership(team, bob).id]) in html
    assert f'href="/?w={team.id}"' in html


@pytest.mark.parametrize("persona", ["bob", "vera"])
def test_non_owners_see_a_read_only_list(team, persona, request):
    response = signed_in(request.getfixturevalue(persona)).get(reverse("workspace", args=[team.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-username="alice"' in html and 'data-username="vera"' in html
    assert '<form method="post" action="/w/' not in html
    for name in ("workspace_invite", "workspace_rename"):
        assert reverse(name, args=[team.id]) not in html
    assert f'href="/?w={team.id}"' in html


def test_a_personal_workspace_says_so_and_has_no_invite_form(alice):
    personal = workspaces.personal_workspace(alice)
    response = signed_in(alice).get(reverse("workspace", args=[personal.id]))
    assert response.status_code == 200
    assert b'id="personal-note"' in response.content
    assert b'id="invite-form"' not in response.content


# --- Inviting -------------------------------------------------------------------------------


def test_invite_by_username(team, alice, charlie):
    response = signed_in(alice).post(reverse("workspace_invite", args=[team.id]), {"who": "charlie", "role": "viewer"})
    assert response.status_code == 302 and response["Location"] == reverse("workspace", args=[team.id])
    assert membership(team, charlie).role == "viewer"
    assert signed_in(charlie).get(reverse("workspace", args=[team.id])).status_code == 200


def test_invite_by_email_ignores_case(team, alice, charlie):
    response = signed_in(alice).post(
        reverse("workspace_invite", args=[team.id]), {"who": " Charlie@EXAMPLE.com ", "role": "editor"}
    )
    assert response.status_code == 302
    assert membership(team, charlie).role == "editor"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"who": "nobody", "role": "viewer"}, "No single account has the username or email"),
        ({"who": "bob", "role": "viewer"}, "bob is already editor here"),
        ({"who": "charlie", "role": "admin"}, "is not one of owner, editor, viewer"),
        ({"who": "", "role": "viewer"}, "Name the person to invite"),
        # Longer than any username or email; at 50,001 characters SQLite refused the LIKE (a 500).
        ({"who": "w" * 50_001, "role": "editor"}, "That is 50,001 characters; a username or email has at most 254."),
        ({"who": "charlie", "role": "R" * 1_000_000}, "Role 'RRRRRRRRRRRRRRRRRRRR…' is not one of"),
    ],
    ids=["unknown", "member-already", "bad-role", "empty", "too-long", "huge-role"],
)
def test_bad_invites_are_form_errors(team, alice, bob, charlie, form, message):
    response = signed_in(alice).post(reverse("workspace_invite", args=[team.id]), form)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="workspace-error"' in html and message in html.replace("&#x27;", "'")
    assert Membership.objects.filter(workspace=team).count() == 3
    assert membership(team, bob).role == "editor"


def test_nobody_can_be_invited_into_a_personal_workspace(alice, charlie):
    personal = workspaces.personal_workspace(alice)
    response = signed_in(alice).post(
        reverse("workspace_invite", args=[personal.id]), {"who": "charlie", "role": "viewer"}
    )
    assert response.status_code == 400
    assert b"A personal workspace is yours alone" in response.content
    assert not Membership.objects.filter(workspace=personal, user=charlie).exists()


# --- Roles and removal ----------------------------------------------------------------------


def test_owner_changes_a_role(team, alice, vera):
    target = membership(team, vera)
    response = signed_in(alice).post(reverse("workspace_member_role", args=[team.id, target.id]), {"role": "editor"})
    assert response.status_code == 302 and response["Location"] == reverse("workspace", args=[team.id])
    target.refresh_from_db()
    assert target.role == "editor"


def test_the_last_owner_can_be_neither_demoted_nor_removed(team, alice):
    own = membership(team, alice)
    client = signed_in(alice)
    demote = client.post(reverse("workspace_member_role", args=[team.id, own.id]), {"role": "editor"})
    remove = client.post(reverse("workspace_member_remove", args=[team.id, own.id]))
    for response in (demote, remove):
        assert response.status_code == 400
        assert b"A workspace needs at least one owner" in response.content
    own.refresh_from_db()
    assert own.role == "owner"


def test_an_owner_who_steps_down_goes_to_the_list(team, alice, bob):
    workspaces.member_set_role(workspace=team, membership_id=membership(team, bob).id, role="owner")
    own = membership(team, alice)
    response = signed_in(alice).post(reverse("workspace_member_role", args=[team.id, own.id]), {"role": "viewer"})
    assert response.status_code == 302 and response["Location"] == reverse("workspaces")
    own.refresh_from_db()
    assert own.role == "viewer"


def test_an_owner_who_leaves_goes_to_the_list(team, alice, bob):
    workspaces.member_set_role(workspace=team, membership_id=membership(team, bob).id, role="owner")
    client = signed_in(alice)
    response = client.post(reverse("workspace_member_remove", args=[team.id, membership(team, alice).id]))
    assert response.status_code == 302 and response["Location"] == reverse("workspaces")
    assert client.get(reverse("workspace", args=[team.id])).status_code == 404


def test_removing_a_member_takes_their_access_at_once(team, alice, bob):
    bob_client = signed_in(bob)
    assert bob_client.get(reverse("workspace", args=[team.id])).status_code == 200
    response = signed_in(alice).post(reverse("workspace_member_remove", args=[team.id, membership(team, bob).id]))
    assert response.status_code == 302 and response["Location"] == reverse("workspace", args=[team.id])
    assert not Membership.objects.filter(workspace=team, user=bob).exists()
    assert bob_client.get(reverse("workspace", args=[team.id])).status_code == 404
    assert "Team" not in {ws.name for ws in bob_client.get(reverse("workspaces")).context["workspaces"]}


def test_removal_tells_the_removed_persons_sockets(team, alice, bob, settings, django_capture_on_commit_callbacks):
    # The in-memory layer lets this synchronous test listen on a made-up channel; the Redis layer
    # is exercised by the socket tests in tests/test_permissions.py.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    layer = get_channel_layer()
    async_to_sync(layer.group_add)(user_group(bob.id), "test-channel")
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(alice).post(
            reverse("workspace_member_remove", args=[team.id, membership(team, bob).id])
        )
    assert response.status_code == 302
    assert async_to_sync(layer.receive)("test-channel") == {"type": "access.changed"}


def test_renaming(team, alice):
    client = signed_in(alice)
    response = client.post(reverse("workspace_rename", args=[team.id]), {"name": "Research"})
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.name == "Research"
    blank = client.post(reverse("workspace_rename", args=[team.id]), {"name": " "})
    assert blank.status_code == 400 and b"Give the workspace a name." in blank.content
    team.refresh_from_db()
    assert team.name == "Research"


def test_a_membership_of_another_workspace_is_refused(team, alice, charlie):
    elsewhere = workspaces.workspace_create(owner=charlie, name="Elsewhere")
    theirs = membership(elsewhere, charlie)
    client = signed_in(alice)
    response = client.post(reverse("workspace_member_remove", args=[team.id, theirs.id]))
    assert response.status_code == 400
    assert Membership.objects.filter(pk=theirs.pk).exists()


# --- Who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["bob", "vera"])
def test_non_owners_get_404_on_every_post_endpoint(team, alice, persona, request):
    user = request.getfixturevalue(persona)
    client = signed_in(user)
    for name, (url, form) in post_urls(team, membership(team, alice)).items():
        assert client.post(url, form).status_code == 404, name
    team.refresh_from_db()
    assert team.name == "Team"
    assert membership(team, alice).role == "owner"
    assert Membership.objects.filter(workspace=team).count() == 3


def test_an_outsider_gets_404_on_every_workspace_url(team, alice, charlie):
    client = signed_in(charlie)
    assert client.get(reverse("workspace", args=[team.id])).status_code == 404
    for name, (url, form) in post_urls(team, membership(team, alice)).items():
        assert client.post(url, form).status_code == 404, name
    assert not Membership.objects.filter(workspace=team, user=charlie).exists()
    assert client.get(reverse("workspace", args=[999_999_999])).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(team, alice):
    client = Client()
    urls = [reverse("workspaces"), reverse("workspace", args=[team.id])]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
    posts = [reverse("workspace_create")] + [url for url, _ in post_urls(team, membership(team, alice)).values()]
    for url in posts:
        response = client.post(url, {"name": "x", "who": "bob", "role": "owner"})
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
    assert Membership.objects.filter(workspace=team).count() == 3


def test_every_post_needs_the_csrf_token(team, alice, bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    posts = [(reverse("workspace_create"), {"name": "Forged"})] + list(post_urls(team, membership(team, bob)).values())
    for url, form in posts:
        assert client.post(url, form).status_code == 403, url
    assert membership(team, bob).role == "editor"
    assert not Membership.objects.filter(workspace__name="Forged").exists()


def test_pages_answer_get_only_and_endpoints_post_only(team, alice):
    client = signed_in(alice)
    assert client.post(reverse("workspace", args=[team.id])).status_code == 405
    assert client.get(reverse("workspace_rename", args=[team.id])).status_code == 405


def test_names_are_escaped(alice, bob):
    team = workspaces.workspace_create(owner=alice, name="<img src=x onerror=alert(1)>')")
    workspaces.member_invite(workspace=team, who="bob", role="viewer")
    for client in (signed_in(alice), signed_in(bob)):
        for url in (reverse("workspaces"), reverse("workspace", args=[team.id])):
            html = client.get(url).content.decode()
            assert "<img src=x" not in html and "&lt;img src=x" in html
