"""Branching in real Chromium: edit, versions by click and key, the tree map, compare, fan-out."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conversations.selectors import WINDOW
from tests.fake_upstream import reply_text
from tests.test_browser import choose_model, replies, send, sign_up, start_conversation, turn_action

pytestmark = pytest.mark.browser


def turns(page):
    return page.locator("#transcript article.turn")


def converse(page, prompts: list[str]) -> None:
    for index, prompt in enumerate(prompts):
        send(page, prompt)
        expect(replies(page).nth(index)).to_have_attribute("data-status", "complete")


def test_branch_by_editing_then_compare_regenerate_and_tree(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-model")
    converse(page, ["plan a trip", "what about trains"])
    expect(turns(page)).to_have_count(4)

    # Edit turn 3 (the second prompt): a new version beside it, answered anew.
    prompt = turns(page).nth(2)
    prompt.hover()
    prompt.get_by_role("button", name="Edit", exact=True).click()
    page.locator(".edit-box").fill("what about ferries")
    page.get_by_role("button", name="Save & send").click()
    expect(turns(page).nth(2).locator(".sibling-count")).to_have_text("2 / 2")
    expect(replies(page).nth(1)).to_have_attribute("data-status", "complete")
    expect(replies(page).nth(1).locator(".turn-body")).to_have_text(reply_text("what about ferries", 12))

    # Versions by click, then by keyboard.
    turns(page).nth(2).get_by_role("button", name="Previous version").click()
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("what about trains")
    page.keyboard.press("ArrowRight")
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("what about ferries")
    page.keyboard.press("k")
    page.keyboard.press("j")
    page.keyboard.press("ArrowLeft")
    expect(turns(page).nth(2).locator(".sibling-count")).to_have_text("1 / 2")

    # Regenerate the last reply with another model: a third tip.
    page.select_option("#model", "anthropic:fake-model")
    replies(page).nth(1).get_by_role("button", name="Regenerate", exact=True).click()
    expect(turns(page).nth(3).locator(".sibling-count")).to_have_text("2 / 2")
    expect(replies(page).nth(1)).to_have_attribute("data-status", "complete")

    # The tree map shows all 7 turns; a click on a node shows its branch.
    page.get_by_role("button", name="Tree map").click()
    tree = page.locator("#tree-panel")
    expect(tree.locator("[data-turn-id]")).to_have_count(7)
    ferries = page.evaluate("[...document.querySelectorAll('#transcript article.turn')].map(a => a.dataset.turn)")
    assert len(ferries) == 4
    first_prompt_branch_node = tree.locator(f'[data-turn-id="{ferries[1]}"]')
    expect(first_prompt_branch_node).to_have_attribute("data-on-branch", re.compile(".*"))

    # Compare the three tips, picked in the tree map.
    tips = page.evaluate("""async () => {
        const nodes = (await (await fetch(location.pathname.replace(/t\\/\\d+\\/$/, '') + 'tree.json')).json()).nodes;
        const parents = new Set(nodes.map(n => n.parent));
        return nodes.filter(n => !parents.has(n.id)).map(n => n.id);
    }""")
    assert len(tips) == 3
    tree.get_by_role("button", name="Compare…").click()
    for tip in tips:
        tree.locator(f'[data-turn-id="{tip}"]').click()
    tree.get_by_role("button", name="Compare 3").click()
    expect(page).to_have_url(re.compile(r"/compare/\?tips="))
    expect(page.locator(".column-head")).to_have_count(3)
    expect(page.locator(".shared article.turn")).to_have_count(2)  # plan a trip, its answer
    expect(page.locator(".columns ins").first).to_be_visible()
    expect(page.locator(".columns del").first).to_be_visible()
    page.uncheck("#diff-toggle")
    expect(page.locator(".columns ins")).to_have_count(0)
    compare_url = page.url

    # The comparison's URL opened in a new tab shows the same.
    other = page.context.new_page()
    other.goto(compare_url)
    expect(other.locator(".column-head")).to_have_count(3)
    expect(other.locator(".columns ins").first).to_be_visible()
    assert page.errors == []


def test_fan_out_to_three_settings_streams_into_a_comparison(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-slow")
    page.get_by_role("button", name="Compare with…").click()
    page.get_by_role("button", name="Compare with…").click()
    page.locator(".variant-model").nth(0).select_option("anthropic:fake-slow")
    page.locator(".variant-temperature").nth(1).fill("1.2")
    expect(page.locator("#send")).to_have_text("Send to 3")
    send(page, "three at once")
    expect(page).to_have_url(re.compile(r"/compare/\?tips=\d+,\d+,\d+$"))
    expect(page.locator(".column-head")).to_have_count(3)
    for index in range(3):
        cell = page.locator(".columns article.turn-assistant").nth(index)
        expect(cell).to_have_attribute("data-status", "complete")
        expect(cell.locator(".turn-body")).to_have_text(reply_text("three at once", 12))
    expect(page.locator(".column-head").nth(2)).to_contain_text("temp 1.2")
    assert page.errors == []


def test_reply_from_an_earlier_turn_fork_and_delete(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-model")
    converse(page, ["one", "two"])
    first_reply = replies(page).nth(0)
    first_reply.hover()
    turn_action(first_reply, "Reply here")
    expect(page.locator("#composer-attach")).to_contain_text("Replying from")
    send(page, "branching off")
    expect(turns(page)).to_have_count(4)
    expect(turns(page).nth(2).locator(".sibling-count")).to_have_text("2 / 2")
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("branching off")

    # Star this branch, reload: the conversation opens on it.
    page.get_by_role("button", name="☆ Star as main line").click()
    expect(page.locator("#main-line")).to_have_text("★ Main line")
    page.goto(page.url.split("/t/")[0] + "/")
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("branching off")

    # Delete the new branch: the original remains, with no other version beside it.
    page.once("dialog", lambda dialog: dialog.accept())
    turns(page).nth(2).hover()
    turn_action(turns(page).nth(2), "Delete")
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("two")
    expect(turns(page)).to_have_count(4)
    expect(turns(page).nth(2).locator(".siblings")).to_have_count(0)
    page.reload()
    expect(turns(page)).to_have_count(4)
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("two")

    # Fork at the first reply: a new conversation with those two turns, linked both ways.
    replies(page).nth(0).hover()
    turn_action(replies(page).nth(0), "Fork into a new conversation")
    expect(page.locator(".fork-origin")).to_contain_text("Forked from")
    expect(turns(page)).to_have_count(2)
    page.locator(".fork-origin a").click()
    expect(replies(page).nth(0).locator(".forks")).to_contain_text("Forked into")
    assert page.errors == []


SEED_LONG_CONVERSATION = """
from django.contrib.auth.models import User
from django.db import transaction
from conversations.models import Conversation, Turn
transaction.set_autocommit(False)
user = User.objects.create_user("{username}", password="{password}")
from conversations.workspaces.services import personal_workspace
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title="Two thousand turns")
parent = None
trunk = []
for i in range(2000):
    parent = Turn.objects.append(conversation=conversation, parent=parent, role="user" if i % 2 == 0 else "assistant",
                                 content=f"turn {{i}}", provider="" if i % 2 == 0 else "openai",
                                 model="" if i % 2 == 0 else "fake-model")
    trunk.append(parent)
side = Turn.objects.append(conversation=conversation, parent=trunk[999], role="user", content="a side branch")
conversation.current_turn = trunk[-1]
conversation.save()
transaction.commit()
print(conversation.id, trunk[-1].id, side.id)
"""


def test_a_two_thousand_turn_conversation_stays_usable(page, workbench_server):
    from tests.conftest import PASSWORD

    output = workbench_server.run_python(SEED_LONG_CONVERSATION.format(username="longtalk", password=PASSWORD))
    conversation_id, leaf, side = map(int, output.strip().splitlines()[-1].split())
    page.goto(workbench_server.url + "/accounts/login/")
    page.fill("#id_username", "longtalk")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{workbench_server.url}/c/{conversation_id}/")
    # It opens on the branch's last turns; the 1,800 before are a click away.
    expect(turns(page)).to_have_count(WINDOW)
    expect(page.locator("#show-earlier")).to_have_text("Show earlier turns (1,800 more)")
    page.get_by_role("button", name="Tree map").click()
    tree = page.locator("#tree-panel")
    expect(tree.locator(f'[data-turn-id="{leaf}"]')).to_have_attribute("data-branch-leaf", "true")
    assert tree.locator(".tm-node").count() < 60  # long runs are folded
    tree.locator(f'[data-turn-id="{side}"]').click()
    expect(page.locator("#show-earlier")).to_have_text("Show earlier turns (801 more)")  # 1,001 turns in all
    expect(turns(page)).to_have_count(WINDOW)
    expect(turns(page).last.locator(".turn-body")).to_have_text("a side branch")
    assert page.errors == []
