"""Pages and accounts: sign up, sign in, the conversation pages, and who may see them."""
from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from conversations import services
from conversations.models import Conversation, Turn
from tests.conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice):
    conversation = services.conversation_create(owner=alice, title="Tree talk")
    root = Turn.objects.append(conversation=conversation, role="user", content="Question <b>one</b>")
    first = Turn.objects.append(conversation=conversation, parent=root, role="assistant", content="Answer A")
    second = Turn.objects.append(conversation=conversation, parent=root, role="assistant", content="Answer B")
    conversation.current_turn = second
    conversation.save()
    conversation.turn_ids = (root.id, first.id, second.id)  # type: ignore[attr-defined]  # handed along for the tests
    return conversation



def page_data(response) -> dict:
    html = response.content.decode()
    opening = '<script id="page-data" type="application/json">'
    start = html.index(opening) + len(opening)
    return json.loads(html[start : html.index("</script>", start)])


def test_sign_up_signs_in_and_lands_home(client):
    response = client.post(
        reverse("signup"), {"username": "dora", "password1": PASSWORD, "password2": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("home")
    assert response.context["user"].username == "dora"


def test_sign_up_errors_are_shown(client, alice):
    response = client.post(reverse("signup"), {"username": "alice", "password1": "x", "password2": "y"})
    assert response.status_code == 200
    assert b"already exists" in response.content
    assert b"didn" in response.content  # the two password fields didn't match


def test_sign_in_and_sign_out(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_wrong_password_is_refused(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200 and b"Please enter a correct username and password" in response.content


@pytest.mark.parametrize(
    "name,args",
    [("home", []), ("conversation", [1]), ("conversation_turn", [1, 1]), ("branch_json", [1, 1])],
)
def test_pages_ask_anonymous_visitors_to_sign_in(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_conversation_page_shows_the_current_branch(alice, conversation, providers):
    response = signed_in(alice).get(reverse("conversation", args=[conversation.id]))
    assert response.status_code == 200
    data = page_data(response)
    root, first, second = conversation.turn_ids
    assert [t["id"] for t in data["turns"]] == [root, second]
    assert data["turns"][1]["siblings"] == [first, second]
    assert data["urls"]["socket"] == f"/ws/conversations/{conversation.id}/"
    assert {m["id"] for m in data["models"]} >= {"openai:fake-model", "anthropic:fake-model"}
    # User text is data, never markup, and no key reaches the page.
    html = response.content.decode()
    assert "<b>one</b>" not in html
    assert "test-key" not in html


def test_a_turn_url_opens_that_branch(alice, conversation, providers):
    root, first, _ = conversation.turn_ids
    response = signed_in(alice).get(reverse("conversation_turn", args=[conversation.id, first]))
    assert [t["id"] for t in page_data(response)["turns"]] == [root, first]
    branch = signed_in(alice).get(reverse("branch_json", args=[conversation.id, first])).json()
    assert [t["content"] for t in branch["turns"]] == ["Question <b>one</b>", "Answer A"]


def test_the_page_opens_with_two_queries_for_the_branch(alice, conversation, providers, django_assert_max_num_queries):
    client = signed_in(alice)
    client.get(reverse("conversation", args=[conversation.id]))  # warm the session
    # Session, user, conversation with the role, the branch (without text, then the text of the
    # turns shown), siblings, forks, the conversation's cost, the sidebar's workspaces (the
    # personal one made if missing, then all), its pinned conversations and a page of the others;
    # the header's unread notifications (review/_inbox_badge.html).
    with django_assert_max_num_queries(13):
        client.get(reverse("conversation", args=[conversation.id]))


def test_outsiders_get_404_everywhere(charlie, conversation, providers):
    client = signed_in(charlie)
    root = conversation.turn_ids[0]
    for name, args in [
        ("conversation", [conversation.id]),
        ("conversation_turn", [conversation.id, root]),
        ("branch_json", [conversation.id, root]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 404
    for name in ("conversation_rename", "conversation_delete"):
        assert client.post(reverse(name, args=[conversation.id]), {"title": "mine"}).status_code == 404
    conversation.refresh_from_db()
    assert conversation.title == "Tree talk"


def test_a_turn_of_another_conversation_is_404(alice, conversation, providers):
    other = services.conversation_create(owner=alice)
    root = conversation.turn_ids[0]
    assert signed_in(alice).get(reverse("conversation_turn", args=[other.id, root])).status_code == 404
    assert signed_in(alice).get(reverse("branch_json", args=[other.id, 10**9])).status_code == 404


def test_home_lists_only_your_conversations(alice, charlie, conversation):
    services.conversation_create(owner=charlie, title="Charlie's secret")
    response = signed_in(alice).get(reverse("home"))
    assert b"Tree talk" in response.content and b"secret" not in response.content


def test_new_rename_and_delete(alice, conversation, providers):
    client = signed_in(alice)
    # "+ New conversation" is a page: nothing is stored until its first message (see
    # tests/test_conversation_list.py).
    assert client.get(reverse("conversation_new")).status_code == 200
    assert client.post(reverse("conversation_new")).status_code == 405
    assert list(Conversation.objects.all()) == [conversation]
    client.post(reverse("conversation_rename", args=[conversation.id]), {"title": "  A   better\ttitle "})
    conversation.refresh_from_db()
    assert conversation.title == "A better title"
    client.post(reverse("conversation_delete", args=[conversation.id]))
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Turn.objects.filter(conversation_id=conversation.pk).exists()


def test_state_changing_views_need_post_and_csrf(alice, conversation):
    client = signed_in(alice)
    assert client.get(reverse("conversation_delete", args=[conversation.id])).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    for name in ("conversation_rename", "conversation_delete"):
        assert strict.post(reverse(name, args=[conversation.id])).status_code == 403
    assert strict.post(reverse("conversation_new")).status_code == 403
    root = conversation.turn_ids[0]
    assert strict.post(reverse("conversation_fork", args=[conversation.id, root])).status_code == 403
    assert strict.post(reverse("logout")).status_code == 403
    assert Conversation.objects.count() == 1


def test_no_model_configured_says_how_to_get_one(alice, conversation, settings):
    settings.LOCAL_MODEL_ENABLED = False
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = ""
    settings.OPENAI_COMPATIBLE_ENDPOINTS = []
    response = signed_in(alice).get(reverse("home"))
    assert b"No model is configured" in response.content
    data = page_data(signed_in(alice).get(reverse("conversation", args=[conversation.id])))
    assert data["models"] == [] and "WORKBENCH_LOCAL_MODEL=false" in data["local_model_problem"]
