"""Search in real Chromium against real daphne, as a new user would: a word remembered from an old
side branch, typed after Ctrl-K, opens that branch at that turn, scrolled to and highlighted; and
the same deep in a conversation of 10,000 turns. Screenshots of the search at 390 and 1280 pixels,
light and dark, go to SHOTS for a person to look at."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.test_browser import choose_model, replies, send, sign_up, start_conversation

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("WORKBENCH_SHOTS", "/work/notes/shots"))
REPLY_WAIT_MS = 30_000


def turns(page):
    return page.locator("#transcript article.turn")


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] < height


def assert_landed(page, turn_id: int, word: str) -> None:
    """The turn is on screen, marked, focused, and the word inside it highlighted."""
    article = page.locator(f'#transcript article.turn[data-turn="{turn_id}"]')
    expect(article).to_have_attribute("data-search-found", "")
    expect(article).to_be_focused()
    expect(article.locator(".turn-body")).to_contain_text(word, ignore_case=True)
    page.wait_for_function(
        """([id, word]) => {
            const found = CSS.highlights.get('search-found');
            return found && [...found].some((range) => range.toString().toLowerCase().startsWith(word)
                && range.startContainer.parentElement.closest(`article[data-turn="${id}"]`));
        }""",
        arg=[turn_id, word],
    )
    assert in_view(page, article), article.bounding_box()


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"search-{name}.png"), full_page=False)


def test_a_word_from_an_old_side_branch_opens_that_branch_at_that_turn(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-model")
    send(page, "plan a week in zanzibar with dhow trips")
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete", timeout=REPLY_WAIT_MS)
    send(page, "and the food there")
    expect(replies(page).nth(1)).to_have_attribute("data-status", "complete", timeout=REPLY_WAIT_MS)
    # Change one's mind: the first prompt edited; the zanzibar branch is now a side branch.
    first = turns(page).nth(0)
    first.hover()
    first.get_by_role("button", name="Edit", exact=True).click()
    page.locator(".edit-box").fill("plan a week in lisbon instead")
    page.get_by_role("button", name="Save & send").click()
    expect(turns(page).nth(0).locator(".sibling-count")).to_have_text("2 / 2")
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete", timeout=REPLY_WAIT_MS)
    send(page, "and trams")
    expect(replies(page).nth(1)).to_have_attribute("data-status", "complete", timeout=REPLY_WAIT_MS)
    expect(page.locator("#transcript")).not_to_contain_text("dhow")

    # Later, from another page: Ctrl-K, a word half remembered, Enter.
    page.goto(live_server_url + "/workspaces/")
    page.keyboard.press("Control+k")
    box = page.locator("#search-box")
    expect(box).to_be_focused()
    box.type("dhow")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=dhow"))
    # The conversation, by its title (its first prompt), then the old prompt and the reply that
    # echoed it.
    expect(page.locator('.search-hit[data-hit="conversation"]')).to_have_count(1)
    hits = page.locator('.search-hit[data-hit="turn"]')
    expect(hits).to_have_count(2)
    expect(hits.nth(0).locator("mark").first).to_have_text(re.compile("dhow", re.I))
    # From the keyboard: down through the results, Enter on the first turn.
    page.locator("#search-box").focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator('.search-hit[data-hit="conversation"]')).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(hits.nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(hits.nth(0)).to_be_focused()
    href = hits.nth(0).get_attribute("href")
    turn_id = int(href.split("/t/")[1].split("/")[0])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/t/{turn_id}/\?q=dhow"))
    assert_landed(page, turn_id, "dhow")
    # It is the old branch: the first prompt shows its first version.
    expect(turns(page).nth(0).locator(".sibling-count")).to_have_text("1 / 2")
    expect(turns(page).nth(0).locator(".turn-body")).to_contain_text("zanzibar")
    shoot(page, "landing-1280-light")
    assert page.errors == []


SEED_TEN_THOUSAND = """
import random
from django.contrib.auth.models import User
from django.db import connection, transaction
from conversations.lineage import lineage
from conversations.models import Conversation, Turn
from conversations.workspaces.services import personal_workspace
user = User.objects.create_user("{username}", password="{password}")
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title="Ten thousand turns")
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
rng = random.Random(3)
rows, parents = [], []
for i in range(10_000):
    reply = i % 2
    rows.append(Turn(conversation=conversation, role="assistant" if reply else "user",
                     content=" ".join(rng.choice(words) for _ in range(12 if reply else 5)),
                     provider="openai" if reply else "", model="fake-model" if reply else ""))
    parents.append(i - 1 if i else None)
# A side branch leaves the main line 6,000 turns down: an edit of prompt 6,000, answered.
side_prompt = Turn(conversation=conversation, role="user", content="what about the quokka sanctuary")
side_reply = Turn(conversation=conversation, role="assistant", content="The quokka sanctuary opens at nine.",
                  provider="openai", model="fake-model")
rows += [side_prompt, side_reply]
parents += [5_999, 10_000]
with transaction.atomic():
    ids = [t.id for t in Turn.objects.bulk_create(rows, batch_size=1000)]
    links = [(ids[i], ids[p] if p is not None else None) for i, p in enumerate(parents)]
    placed = lineage(links)
    with connection.cursor() as cursor:
        cursor.executemany("UPDATE conversations_turn SET parent_id = %s, depth = %s, chain = %s WHERE id = %s",
                           [(parent, *placed[turn], turn) for turn, parent in links])
    Conversation.objects.filter(pk=conversation.pk).update(current_turn_id=ids[9_999])
print(conversation.id, ids[10_000], ids[10_001])
"""


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    # Until the page has loaded, its modules have not run and Ctrl-K would reach nothing.
    with page.expect_navigation(wait_until="load"):
        page.click("button[type=submit]")
    expect(page.locator("#search-box")).to_be_attached()


def test_a_result_deep_in_a_ten_thousand_turn_conversation(page, workbench_server):
    output = workbench_server.run_python(SEED_TEN_THOUSAND.format(username="deepsearch", password=PASSWORD))
    conversation_id, side_prompt, side_reply = map(int, output.strip().splitlines()[-1].split())
    sign_in(page, workbench_server.url, "deepsearch")
    page.keyboard.press("Control+k")
    page.keyboard.type("quokka sanct")
    page.keyboard.press("Enter")
    hits = page.locator('.search-hit[data-hit="turn"]')
    expect(hits).to_have_count(2)
    expect(hits.nth(0)).to_contain_text("Ten thousand turns")
    shoot(page, "results-1280-light")
    page.emulate_media(color_scheme="dark")
    shoot(page, "results-1280-dark")
    page.emulate_media(color_scheme="light")

    page.locator(f'.search-hit[href*="/t/{side_prompt}/"]').click()
    expect(page).to_have_url(re.compile(rf"/c/{conversation_id}/t/{side_prompt}/"))
    assert_landed(page, side_prompt, "quokka")
    # The branch through it: the main line's first 6,000 turns (the last of them shown), then the
    # side branch; the conversation itself opens elsewhere.
    expect(page.locator("#show-earlier")).to_be_visible()
    expect(turns(page).last.locator(".turn-body")).to_contain_text("opens at nine")
    expect(page.locator(f'article[data-turn="{side_prompt}"] .sibling-count')).to_have_text("2 / 2")
    assert page.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_search_on_a_phone(page, live_server_url, scheme):
    page.emulate_media(color_scheme=scheme)
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-model")
    send(page, "tell me about the giant tortoise of aldabra")
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete", timeout=REPLY_WAIT_MS)
    page.set_viewport_size({"width": 390, "height": 844})
    # The box folds into a button on a phone, which opens it over the top bar.
    toggle = page.get_by_role("button", name="Search", exact=True)
    expect(toggle).to_be_visible()
    expect(page.locator("#search-box")).to_be_hidden()
    box = toggle.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    shoot(page, f"topbar-390-{scheme}")
    toggle.click()
    expect(page.locator("#search-box")).to_be_focused()
    box = page.locator("#search-box").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    page.keyboard.type("tortoise aldab")
    page.keyboard.press("Enter")
    hits = page.locator(".search-hit")
    expect(hits).to_have_count(3)  # its title (the first prompt), the prompt, the reply
    page.locator(".search-filters > summary").click()
    for hit in hits.all():
        box = hit.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, f"results-390-{scheme}")
    hits.nth(1).click()
    article = page.locator("#transcript article[data-search-found]")
    expect(article).to_be_focused()
    shoot(page, f"landing-390-{scheme}")
    assert page.errors == []
