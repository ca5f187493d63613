"""The error pages: a 404, a 403, a 500 that needs no request, a refused form, and a share link
that no longer opens, each saying what happened and what to do, and nothing of what it hides."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import loader
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.views import defaults

from conversations import services
from conversations.exchange.markdown import branch_markdown
from conversations.models import Membership, ShareLink, Turn
from conversations.permissions import share_checked, share_for
from conversations.sharing import services as sharing
from conversations.workspaces import services as workspaces
from tests.conftest import chain, expire, make_link, signed_in

SECRET = "The launch date is the fourteenth"


@pytest.fixture
def conversation(alice, team):
    conversation = services.conversation_create(owner=alice, workspace=team, title="Launch plan")
    chain(conversation, [SECRET, "Noted."])
    return conversation


def test_a_missing_page_is_the_branded_404_with_a_way_on(db, alice):
    anonymous = Client().get("/no/such/page/")
    assert anonymous.status_code == 404
    assert [t.name for t in anonymous.templates][:2] == ["404.html", "errors/base.html"]
    html = anonymous.content.decode()
    assert "There is nothing here" in html and "Sign in" in html and "next=/no/such/page/" in html
    signed = signed_in(alice).get(reverse("conversation", args=[999999]))
    assert signed.status_code == 404
    assert "Back to your conversations" in signed.content.decode() and "Sign in" not in signed.content.decode()


def test_the_500_page_renders_with_no_request_behind_it():
    html = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in html and 'href="/"' in html
    response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500 and "Something went wrong on our side" in response.content.decode()


def test_a_form_sent_without_its_token_is_refused_with_the_matching_page(db):
    response = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x", "password": "y"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "That form could not be sent" in html and "errors.css" in html


def test_a_permission_refused_is_the_branded_403():
    response = defaults.permission_denied(RequestFactory().get("/"), PermissionError())
    assert response.status_code == 403 and "You may not open this page" in response.content.decode()


GONE = {
    "revoked": "This link was turned off",
    "expired": "This link has expired",
    "withdrawn": "This link was turned off",
    "members": "Sign in to open this link",
    "not_member": "This link is for a workspace’s members",
    "unknown": "This link does not work",
}


@pytest.mark.parametrize("reason", GONE)
def test_a_link_that_does_not_open_says_why_and_shows_nothing_it_shared(reason, alice, bob, charlie, conversation):
    link = make_link(conversation, bob if reason == "withdrawn" else alice,
                     audience="members" if reason in ("members", "not_member") else "anyone")
    token = link.token
    if reason == "revoked":
        sharing.share_revoke(link=link)
    elif reason == "expired":
        expire(link)
    elif reason == "withdrawn":  # its maker, an editor, is made a viewer
        membership = Membership.objects.get(workspace=conversation.workspace, user=bob)
        workspaces.member_set_role(workspace=conversation.workspace, membership_id=membership.id, role="viewer")
    elif reason == "unknown":
        token = "x" * 32
    client = signed_in(charlie) if reason == "not_member" else Client()
    response = client.get(reverse("shared", args=[token]))
    assert response.status_code == 404
    assert [t.name for t in response.templates][:2] == ["sharing/gone.html", "errors/base.html"]
    html = response.content.decode()
    assert GONE[reason] in html
    assert SECRET not in html and "Launch plan" not in html
    assert response["Cache-Control"] == "private, no-store" and response["Referrer-Policy"] == "no-referrer"
    if reason == "members":
        assert f'href="/accounts/login/?next=/s/{token}/"' in html
    if reason == "not_member":
        assert charlie.username in html and "Back to your conversations" in html


def test_the_reason_is_the_one_permission_check_uses(alice, conversation):
    link = make_link(conversation, alice, audience="members")
    assert share_checked(AnonymousUser(), link.token) == (link, "members")
    assert share_for(AnonymousUser(), link.token) is None
    assert share_checked(alice, link.token) == (link, "") and share_for(alice, link.token) == link


def test_what_a_link_shares_is_said_in_words_not_turn_numbers(alice, conversation):
    question, answer = Turn.objects.filter(conversation=conversation).order_by("id")
    at = timezone.localtime(answer.created_at).strftime("%H:%M")
    links = [
        make_link(conversation, alice),
        make_link(conversation, alice, turn=answer),
        make_link(conversation, alice, turn=question),
    ]
    ShareLink.objects.filter(pk=links[1].pk).update(with_subtree=True)
    links = [ShareLink.objects.select_related("turn").get(pk=link.pk) for link in links]
    day = timezone.localtime(answer.created_at).strftime("%-d %b")
    assert [sharing.scope_words(link) for link in links] == [
        "The whole conversation",
        f"One branch, up to the reply from fake-model at {at} on {day}, and what follows it",
        f"One branch, up to the message at {timezone.localtime(question.created_at).strftime('%H:%M')} on {day}",
    ]
    client = signed_in(alice)
    page = client.get(reverse("share_links")).content.decode()
    listed = client.get(reverse("conversation_links", args=[conversation.id])).json()["links"]
    assert sorted(link["describes"] for link in listed) == sorted(sharing.scope_words(link) for link in links)
    for words in (f"turn {answer.id}", f"turn {question.id}", "branch to turn"):
        assert words not in page and words not in str(listed)
    assert "One branch, up to the reply from fake-model" in page


def test_an_untitled_conversation_is_never_named_by_its_number(alice):
    untitled = services.conversation_create(owner=alice)
    question, _ = chain(untitled, ["q", "a"])
    assert branch_markdown(conversation=untitled, turns=[]).startswith("# Untitled conversation")
    fork = services.conversation_fork(conversation=untitled, turn_id=question.id, owner=alice)
    assert fork.title == "Fork of an untitled conversation"
    assert str(untitled.pk) not in fork.title
