"""URLs the pages' JavaScript fills in: reversed by the server with named slots for the ids it
cannot know yet ("/c/12/t/{turn_id}/branch.json"), never with a placeholder id to replace.
static/js/urls.js fills them (tests/js/urls.test.mjs); here the server's side, on real pages."""
from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import NoReverseMatch, resolve, reverse

from conversations import services
from conversations.converters import url_template
from conversations.models import Turn
from conversations.sharing import services as sharing

pytestmark = pytest.mark.django_db

SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(template: str, **values: int) -> str:
    """What fillUrl does in the page."""
    return SLOT.sub(lambda m: str(values[m.group(1)]), template)


def page_data(response) -> dict:
    html = response.content.decode()
    marker = '<script id="page-data" type="application/json">'
    start = html.index(marker) + len(marker)
    return json.loads(html[start : html.index("</script>", start)])


@pytest.fixture
def talk(alice):
    conversation = services.conversation_create(owner=alice, title="Ten turns")
    parent = None
    turns = []
    for index in range(10):
        parent = Turn.objects.append(conversation=conversation, parent=parent,
                                     role="user" if index % 2 == 0 else "assistant", content=f"turn {index}")
        turns.append(parent)
    conversation.current_turn = parent
    conversation.save()
    return conversation, turns


def test_a_template_names_its_slot_and_fills_to_the_reversed_url():
    template = url_template("branch_json", "turn_id", conversation_id=12)
    assert template == "/c/12/t/{turn_id}/branch.json"
    assert fill(template, turn_id=34) == reverse("branch_json", args=[12, 34])


def test_several_slots_each_by_name():
    template = url_template("conversation_turn", "conversation_id", "turn_id")
    assert template == "/c/{conversation_id}/t/{turn_id}/"
    assert fill(template, conversation_id=5, turn_id=7) == reverse("conversation_turn", args=[5, 7])


@pytest.mark.parametrize("conversation_id", [1, 10, 100, 1000000000000000, 999999999999999999])
def test_ids_with_zeros_or_many_digits_stay_what_they_are(conversation_id):
    # The placeholder "0" this replaces could be read inside "/c/10/" or "/c/100/".
    template = url_template("reply_code", "turn_id", conversation_id=conversation_id)
    assert template == f"/c/{conversation_id}/t/{{turn_id}}/code.py"
    assert fill(template, turn_id=0) == f"/c/{conversation_id}/t/0/code.py"


def test_a_slot_the_url_does_not_have_is_refused():
    with pytest.raises(NoReverseMatch):
        url_template("tree_json", "turn_id", conversation_id=1)


def test_the_conversation_page_sends_no_placeholder_urls(alice, talk, providers):
    conversation, turns = talk
    client = Client()
    client.force_login(alice)
    urls = page_data(client.get(reverse("conversation", args=[conversation.id])))["urls"]
    turn = turns[5]
    # Every turn-shaped URL is a template with the turn's slot; none has a stand-in id.
    expected = {
        "turn": "conversation_turn", "branch": "branch_json", "earlier": "earlier_json",
        "fork": "conversation_fork", "request": "reply_request", "code": "reply_code",
        "export_markdown": "branch_export_markdown",
    }
    for key, name in expected.items():
        assert SLOT.findall(urls[key]) == ["turn_id"], key
        filled = fill(urls[key], turn_id=turn.id)
        assert filled == reverse(name, args=[conversation.id, turn.id]), key
        assert resolve(filled).url_name == name
    for key, value in urls.items():
        assert "/0/" not in value, (key, value)
    assert urls["conversation"] == reverse("conversation", args=[conversation.id])
    assert fill(urls["any_conversation"], conversation_id=conversation.id) == urls["conversation"]
    any_turn = fill(urls["any_turn"], conversation_id=conversation.id, turn_id=turn.id)
    assert any_turn == fill(urls["turn"], turn_id=turn.id)
    # And what they name works: the branch through the turn (down to the leaf of this chain).
    branch = client.get(fill(urls["branch"], turn_id=turn.id)).json()
    assert [t["id"] for t in branch["turns"]] == [t.id for t in turns]


def test_the_comparison_page_links_its_columns_through_a_template(alice, talk, providers):
    conversation, turns = talk
    tip = Turn.objects.append(conversation=conversation, parent=turns[8], role="assistant", content="another")
    client = Client()
    client.force_login(alice)
    response = client.get(reverse("compare", args=[conversation.id]) + f"?tips={turns[9].id},{tip.id}")
    urls = page_data(response)["urls"]
    assert fill(urls["turn"], turn_id=tip.id) == reverse("conversation_turn", args=[conversation.id, tip.id])


def test_the_shared_page_fills_its_branch_url_with_the_link_token(alice, talk):
    conversation, turns = talk
    link = sharing.share_create(conversation=conversation, by=alice, turn_id=None, with_subtree=False,
                                mode="snapshot", audience="anyone", expires_at=None)
    client = Client()
    urls = page_data(client.get(reverse("shared", args=[link.token])))["urls"]
    assert SLOT.findall(urls["branch"]) == ["turn_id"]
    filled = fill(urls["branch"], turn_id=turns[3].id)
    assert filled == reverse("shared_branch", args=[link.token, turns[3].id])
    assert [t["id"] for t in client.get(filled).json()["turns"]][:4] == [t.id for t in turns[:4]]
