"""The comparison page in real Chromium against daphne, at a desktop's, a tablet's and a phone's
width: the shared start folds into one line so the branches start on the first screen, a shorter
branch ends without empty boxes, the base column is marked and can be changed, links lead back to
the branch and the tree map; on a phone one branch shows at a time, with a bar to switch."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.axe import axe_violations
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SEED = """
from django.contrib.auth.models import User
from conversations.models import Conversation, Turn
from conversations.workspaces.services import personal_workspace
user = User.objects.create_user("{username}", password="{password}")
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title="Trip")
parent = None
for i in range(6):
    reply = i % 2 == 1
    parent = Turn.objects.append(
        conversation=conversation, parent=parent, role="assistant" if reply else "user",
        content=("A long shared answer about trains and ferries. " * 12) if reply else "Plan a trip to Norway.",
        provider="openai" if reply else "", model="fake-model" if reply else "")
split = parent
tips = []
for branch, (depth, provider) in enumerate([(4, "openai"), (2, "anthropic"), (6, "openai")]):
    parent = split
    for j in range(depth):
        reply = j % 2 == 1
        parent = Turn.objects.append(
            conversation=conversation, parent=parent, role="assistant" if reply else "user",
            content=f"branch {{branch}} reply {{j}}: take the Bergen line" if reply else f"branch {{branch}} ask {{j}}",
            provider=provider if reply else "", model=("fake-model" if branch != 2 else "fake-tiny") if reply else "")
    tips.append(parent.id)
print(conversation.id, ",".join(map(str, tips)))
"""
DEPTHS = [4, 2, 6]


@pytest.fixture
def comparison(page, workbench_server):
    """Signs in a fresh user who owns a conversation split three ways; its compare URL and ids."""
    username = f"cmp{uuid.uuid4().hex[:10]}"
    output = workbench_server.run_python(SEED.format(username=username, password=PASSWORD))
    conversation_id, tips = output.strip().splitlines()[-1].split()
    page.goto(workbench_server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("link", name="Start a conversation")).to_be_visible()
    tip_ids = [int(t) for t in tips.split(",")]
    url = f"{workbench_server.url}/c/{conversation_id}/compare/?tips={tips}"
    return {"url": url, "conversation": int(conversation_id), "tips": tip_ids}


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["x"] >= -0.5 and box["x"] + box["width"] <= width + 0.5


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_desktop_the_branches_start_on_the_first_screen_without_ghost_boxes(page, comparison, scheme):
    page.emulate_media(color_scheme=scheme)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(comparison["url"])
    # The six shared turns are one line, closed; the columns start on the first screen.
    summary = page.locator("#shared-summary")
    expect(summary).to_contain_text("Shared start: 6 messages")
    expect(page.locator("#shared-turns article.turn")).to_have_count(0)
    heads = page.locator(".column-head")
    expect(heads).to_have_count(3)
    for index in range(3):
        box = heads.nth(index).bounding_box()
        assert box["y"] + box["height"] < 800 * 0.5, box
    # Every column holds its own turns and nothing else: no empty boxes where a branch has none.
    for index, depth in enumerate(DEPTHS):
        expect(page.locator(f"#column-{index} .cell")).to_have_count(depth)
    expect(page.locator(".cell.empty")).to_have_count(0)
    expect(page.locator(".column-end")).to_have_count(2)  # the two shorter branches end, quietly
    # Turns at the same depth share a row.
    tops = [page.locator(f"#column-{i} .cell").nth(1).bounding_box()["y"] for i in range(3)]
    assert max(tops) - min(tops) < 1, tops
    # Opened, the shared start shows its turns.
    summary.click()
    expect(page.locator("#shared-turns article.turn")).to_have_count(6)
    no_sideways_scroll(page)
    assert axe_violations(page, include="main.compare") == []
    assert page.errors == []


def test_the_base_column_is_marked_and_another_can_be_chosen(page, comparison):
    page.goto(comparison["url"])
    base = page.locator(".column.is-base")
    expect(base).to_have_count(1)
    expect(base).to_have_attribute("id", "column-0")
    expect(base.locator(".base-badge")).to_have_text("Base")
    # Against the first branch, the third's words are marked; the first's are not.
    expect(page.locator("#column-2 ins").first).to_be_visible()
    expect(page.locator("#column-0 ins")).to_have_count(0)

    page.locator("#column-2").get_by_role("button", name="Use as base").click()
    expect(page.locator(".column.is-base")).to_have_attribute("id", "column-2")
    expect(page.locator("#column-0").get_by_role("button", name="Use as base")).to_be_visible()
    expect(page.locator("#column-0 ins").first).to_be_visible()
    expect(page.locator("#column-2 ins")).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"[?&]base={comparison['tips'][2]}$"))
    assert page.evaluate("document.activeElement.closest('.column')?.id") == "column-2"
    # The choice is in the address: a reload keeps it, and the way back opens the base branch.
    page.reload()
    expect(page.locator(".column.is-base")).to_have_attribute("id", "column-2")
    expect(page.locator("#back-to-branch")).to_have_attribute(
        "href", f"/c/{comparison['conversation']}/t/{comparison['tips'][2]}/"
    )
    assert page.errors == []


def test_links_lead_back_to_the_branch_and_the_tree_map(page, comparison):
    page.goto(comparison["url"])
    page.get_by_role("link", name="Conversation", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/c/{comparison['conversation']}/t/{comparison['tips'][0]}/$"))
    expect(page.locator("#transcript article.turn")).to_have_count(6 + DEPTHS[0])
    page.go_back()
    page.get_by_role("link", name="Tree map", exact=True).click()
    expect(page).to_have_url(re.compile(r"#tree$"))
    expect(page.locator("#tree-panel")).to_be_visible()
    expect(page.locator(f'#tree-panel [data-turn-id="{comparison["tips"][0]}"]')).to_have_attribute(
        "data-branch-leaf", "true"
    )
    # Each column opens its own branch too.
    page.goto(comparison["url"])
    page.locator("#column-1").get_by_role("link", name="Open").click()
    expect(page).to_have_url(re.compile(rf"/t/{comparison['tips'][1]}/$"))
    assert page.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_phone_shows_one_branch_at_a_time_and_switches(page, comparison, scheme):
    page.emulate_media(color_scheme=scheme)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(comparison["url"])
    tabs = page.locator("#column-tabs .column-tab")
    expect(tabs).to_have_count(3)
    expect(tabs.nth(0)).to_have_attribute("aria-pressed", "true")
    expect(tabs.nth(0)).to_contain_text("fake-model")
    columns = [page.locator(f"#column-{i}") for i in range(3)]
    assert in_viewport(page, columns[0]) and not in_viewport(page, columns[1])
    width = columns[0].bounding_box()["width"]
    assert width > 390 * 0.85, width  # a column is the screen's width, not squeezed
    # The bar moves to a branch…
    tabs.nth(2).click()
    expect(tabs.nth(2)).to_have_attribute("aria-pressed", "true")
    expect(tabs.nth(0)).to_have_attribute("aria-pressed", "false")
    page.wait_for_function("() => { const r = document.getElementById('column-2').getBoundingClientRect();"
                           " return r.x >= -1 && r.right <= innerWidth + 1; }")
    assert not in_viewport(page, columns[0])
    # …and a swipe (a sideways scroll) moves the bar.
    page.evaluate("document.getElementById('columns').scrollTo({ left: 0 })")
    expect(tabs.nth(0)).to_have_attribute("aria-pressed", "true")
    no_sideways_scroll(page)
    for name in ("Conversation", "Tree map"):
        assert in_viewport(page, page.get_by_role("link", name=name, exact=True))
    assert axe_violations(page, include="main.compare") == []
    assert page.errors == []


def test_a_tablet_shows_two_branches_side_by_side(page, comparison):
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(comparison["url"])
    assert in_viewport(page, page.locator("#column-0")) and in_viewport(page, page.locator("#column-1"))
    assert not in_viewport(page, page.locator("#column-2"))
    tabs = page.locator("#column-tabs .column-tab")
    expect(tabs.nth(0)).to_have_attribute("aria-pressed", "true")
    expect(tabs.nth(1)).to_have_attribute("aria-pressed", "true")  # the bar marks both in view
    expect(tabs.nth(2)).to_have_attribute("aria-pressed", "false")
    tabs.nth(2).click()
    page.wait_for_function("() => document.getElementById('column-2').getBoundingClientRect().right <= innerWidth + 1")
    expect(tabs.nth(2)).to_have_attribute("aria-pressed", "true")
    expect(tabs.nth(0)).to_have_attribute("aria-pressed", "false")
    no_sideways_scroll(page)
    assert page.errors == []
