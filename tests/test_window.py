"""A long branch opens on its end: the last turns with their text, the earlier ones summarised (for
the meter and the cost) and loaded on demand."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from conversations import services
from conversations.context import branch_meter
from conversations.models import Turn
from conversations.registry import registry
from conversations.selectors import WINDOW
from conversations.tokens import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY, count_all
from tests.conftest import PASSWORD, signed_in

LONG = 2 * WINDOW + 100
# What the page adds per message: the chat format's 3 and the role's one token (static/js/tokens.js).
PER_MESSAGE = TOKENS_PER_MESSAGE + 1


def long_branch(conversation, size: int = LONG) -> list[Turn]:
    """A system turn, then prompts and replies; every third reply has reported usage and a cost."""
    turns, parent = [], None
    for index in range(size):
        role = "system" if index == 0 else ("user" if index % 2 else "assistant")
        content = f"turn {index}: " + "words " * (index % 7) + ("" if index == 10 else "end")
        reported = role == "assistant" and index % 3 == 0
        parent = Turn.objects.append(
            conversation=conversation, parent=parent, role=role, content=content, token_counts=count_all(content),
            provider="openai" if role == "assistant" else "", model="fake-model" if role == "assistant" else "",
            output_tokens=index if reported else None, cost=Decimal("0.001") if reported else None,
        )
        turns.append(parent)
    conversation.current_turn = parent
    conversation.save()
    return turns


def meter_from_page(turns: list[dict], earlier: dict | None, model) -> int:
    """The page's sum (static/js/context.js branchTokens), for a model's catalogue entry."""
    total, system_total, has_system = TOKENS_PER_REPLY, 0, False
    if earlier:
        total += earlier["tokens"].get(model.encoding.name, 0) + earlier["messages"] * PER_MESSAGE
        reported = earlier["reported"].get(model.id)
        if reported:
            total += reported["output_tokens"] - reported.get(model.encoding.name, 0)
        system_total += earlier["system_tokens"].get(model.encoding.name, 0)
        has_system = earlier["system_messages"] > 0
    for turn in turns:
        if not turn["content"] and turn["role"] == "assistant":
            continue
        if (turn["role"] == "assistant" and turn["output_tokens"] is not None and not turn["usage_estimated"]
                and f"{turn['provider']}:{turn['model']}" == model.id):
            tokens = turn["output_tokens"]
        else:
            tokens = turn["token_counts"][model.encoding.name]
        if turn["role"] == "system":
            system_total += tokens
            has_system = True
        else:
            total += tokens + PER_MESSAGE
    return total + (system_total + PER_MESSAGE if has_system else 0)


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice, title="Long")


@pytest.mark.django_db
def test_a_long_branch_opens_on_its_end_and_counts_the_rest(alice, conversation, providers):
    turns = long_branch(conversation)
    Turn.objects.filter(pk=turns[10].pk).update(content="")  # an empty reply is not sent
    data = signed_in(alice).get(reverse("conversation", args=[conversation.id])).context["page"]
    assert [t["id"] for t in data["turns"]] == [t.id for t in turns[-WINDOW:]]
    earlier = data["earlier"]
    assert (earlier["count"], earlier["before"]) == (LONG - WINDOW, turns[-WINDOW].id)
    full = Turn.objects.path(conversation_id=conversation.id, turn_id=turns[-1].id)
    for model_id in ("openai:fake-model", "anthropic:fake-model", "openai:gpt-4"):
        info = registry().model_info(model_id)
        assert meter_from_page(data["turns"], earlier, info) == branch_meter(full, info).used, model_id
    costs = sum(float(t.cost) for t in full if t.cost is not None)
    assert earlier["cost"] + sum(t["cost"] or 0 for t in data["turns"]) == pytest.approx(costs)


@pytest.mark.django_db
def test_earlier_turns_load_a_window_at_a_time(alice, charlie, conversation, providers):
    turns = long_branch(conversation)
    client = signed_in(alice)
    first = client.get(reverse("earlier_json", args=[conversation.id, turns[-WINDOW].id])).json()
    assert [t["id"] for t in first["turns"]] == [t.id for t in turns[-2 * WINDOW:-WINDOW]]
    assert first["earlier"]["count"] == LONG - 2 * WINDOW
    last = client.get(reverse("earlier_json", args=[conversation.id, turns[-2 * WINDOW].id])).json()
    assert [t["id"] for t in last["turns"]] == [t.id for t in turns[: LONG - 2 * WINDOW]]
    assert last["earlier"] is None
    root = client.get(reverse("earlier_json", args=[conversation.id, turns[0].id])).json()
    assert root == {"turns": [], "earlier": None}
    assert signed_in(charlie).get(reverse("earlier_json", args=[conversation.id, turns[-1].id])).status_code == 404
    assert client.get(reverse("earlier_json", args=[conversation.id, 999999])).status_code == 404


@pytest.mark.django_db
def test_a_link_to_an_early_turn_opens_from_that_turn(alice, conversation, providers):
    turns = long_branch(conversation)
    data = signed_in(alice).get(reverse("conversation_turn", args=[conversation.id, turns[50].id])).context["page"]
    assert data["turns"][0]["id"] == turns[50].id and data["turns"][-1]["id"] == turns[-1].id
    assert data["earlier"]["count"] == 50


@pytest.mark.django_db
def test_a_short_branch_has_nothing_earlier(alice, conversation, providers):
    turns = long_branch(conversation, size=12)
    data = signed_in(alice).get(reverse("branch_json", args=[conversation.id, turns[-1].id])).json()
    assert len(data["turns"]) == 12 and data["earlier"] is None


SEED = """
from django.contrib.auth.models import User
from conversations import services
from conversations.models import Turn
from conversations.tokens import count_all
user = User.objects.create_user("{username}", password="{password}")
conversation = services.conversation_create(owner=user, title="Long branch")
parent = None
for index in range({size}):
    role = "user" if index % 2 == 0 else "assistant"
    content = f"turn {{index}} " + "words " * (index % 5)
    parent = Turn.objects.append(conversation=conversation, parent=parent, role=role, content=content,
                                 token_counts=count_all(content), provider="openai" if role == "assistant" else "",
                                 model="fake-model" if role == "assistant" else "")
conversation.current_turn = parent
conversation.save()
from conversations.context import branch_meter
from conversations.registry import registry
info = registry().model_info("openai:fake-model")
print(conversation.id, branch_meter(Turn.objects.path(conversation_id=conversation.id, turn_id=parent.id), info).used)
"""


@pytest.mark.browser
def test_the_page_loads_earlier_turns_on_demand_and_meters_all_of_them(page, workbench_server):
    size = 2 * WINDOW + 50
    output = workbench_server.run_python(SEED.format(username="longreader", password=PASSWORD, size=size))
    conversation_id, used = map(int, output.strip().splitlines()[-1].split())
    page.goto(workbench_server.url + "/accounts/login/")
    page.fill("#id_username", "longreader")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(f"{workbench_server.url}/c/{conversation_id}/")
    page.select_option("#model", "openai:fake-model")
    articles = page.locator("#transcript article.turn")
    expect(articles).to_have_count(WINDOW)
    label = page.locator(".meter-label")
    expect(label).to_contain_text(re.compile(rf"^≈ {used:,} / "))
    page.get_by_role("button", name=re.compile(r"Show earlier turns \(250 more\)")).click()
    expect(articles).to_have_count(2 * WINDOW)
    page.get_by_role("button", name=re.compile(r"Show earlier turns \(50 more\)")).click()
    expect(articles).to_have_count(size)
    expect(page.locator("#show-earlier")).to_have_count(0)
    expect(articles.first.locator(".turn-body")).to_have_text("turn 0 ")
    expect(label).to_contain_text(re.compile(rf"^≈ {used:,} / "))
    assert page.errors == []
