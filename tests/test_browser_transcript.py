"""The conversation page's transcript in real Chromium: a turn's actions and their menu by keyboard,
code blocks' Copy, math, the list of keyboard shortcuts and its switch, the screen reader's
announcements, and the model choice that sticks (and the way back from a model that failed)."""
from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.axe import axe_violations
from tests.conftest import PASSWORD
from tests.test_browser import choose_model, replies, send, sign_up, start_conversation

pytestmark = pytest.mark.browser
_users = itertools.count(1)

CODE = 'def total(prices):\n    return sum(prices)  # "$5" stays text\n'
LONG_REPLY = (
    "Here is the sum, and the identity it rests on.\n\n"
    f"```python\n{CODE}```\n\n"
    "Euler's identity: $e^{i\\pi} + 1 = 0$, and inline with parentheses \\(a^2 + b^2 = c^2\\).\n\n"
    "$$\n\\sum_{n=1}^{\\infty} \\frac{1}{n^2} = \\frac{\\pi^2}{6}\n$$\n\n"
    "\\[\n\\int_0^1 x\\,dx = \\tfrac{1}{2}\n\\]\n\n"
    "It costs $5 and $10 with shipping; `$x$` in code stays code.\n\n"
    "```\nplain $y$ block\n```\n\n"
    "A table, for good measure:\n\n| n | n² |\n|---|---|\n| 1 | 1 |\n| 2 | 4 |\n"
)

SEED = """
from django.contrib.auth.models import User
from conversations.models import Conversation, Turn
from conversations.workspaces.services import personal_workspace
user = User.objects.create_user({username!r}, password={password!r})
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title="Sums and identities")
parent = None
for prompt, reply in {pairs!r}:
    parent = Turn.objects.append(conversation=conversation, parent=parent, role="user", content=prompt)
    parent = Turn.objects.append(conversation=conversation, parent=parent, role="assistant", content=reply,
                                 provider="openai", model="fake-model")
print(conversation.id)
"""


def seeded(page, server, pairs: list[tuple[str, str]]) -> str:
    """A new account with one conversation of `pairs` (prompt, reply), signed in; its URL."""
    username = f"reader{next(_users)}"
    output = server.run_python(SEED.format(username=username, password=PASSWORD, pairs=pairs))
    conversation_id = output.strip().splitlines()[-1]
    page.goto(server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    url = f"{server.url}/c/{conversation_id}/"
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    return url


def focused(page) -> str:
    """The focused element, described: its aria-label or text, and its role."""
    return page.evaluate("""() => {
        const e = document.activeElement;
        const name = (e.getAttribute('aria-label') || e.textContent).trim();
        return `${e.getAttribute('role') || e.tagName.toLowerCase()}:${name}`;
    }""")


# --- a turn's actions --------------------------------------------------------------------------


def test_reply_actions_are_icons_and_a_menu_run_by_keyboard(page, workbench_server):
    seeded(page, workbench_server, [("first", "one"), ("second", "two")])
    reply = replies(page).last
    prompt = page.locator("article.turn-user").last
    # Two quick actions each, as icon buttons named for screen readers; the rest in the menu.
    expect(reply.locator(".turn-actions > button")).to_have_count(2)
    expect(reply.get_by_role("button", name="Copy", exact=True)).to_have_attribute("title", "Copy the text")
    expect(reply.get_by_role("button", name="Regenerate", exact=True)).to_be_visible()
    expect(prompt.get_by_role("button", name="Edit", exact=True)).to_be_attached()
    expect(page.get_by_role("button", name="↻ Regenerate")).to_have_count(0)

    more = reply.get_by_role("button", name="More actions")
    expect(more).to_have_attribute("aria-haspopup", "menu")
    expect(more).to_have_attribute("aria-expanded", "false")
    more.focus()
    page.keyboard.press("Enter")
    menu = reply.get_by_role("menu")
    expect(menu).to_be_visible()
    expect(more).to_have_attribute("aria-expanded", "true")
    items = menu.get_by_role("menuitem")
    expect(items).to_have_text(["Regenerate", "Reply here", "Copy text", "What the model saw", "Get code",
                                "Fork into a new conversation", "Copy link", "Delete"])
    # Delete is last, behind a rule, in the danger style.
    expect(items.last).to_have_class("menu-item danger")
    assert menu.evaluate("m => m.lastElementChild.previousElementSibling.getAttribute('role')") == "separator"

    # Focus starts on the first item; the arrows move and wrap; a letter jumps; Escape gives it back.
    assert focused(page) == "menuitem:Regenerate"
    page.keyboard.press("ArrowDown")
    assert focused(page) == "menuitem:Reply here"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert focused(page) == "menuitem:Delete"
    page.keyboard.press("Home")
    page.keyboard.press("g")
    assert focused(page) == "menuitem:Get code"
    # The page's own keys are off inside the menu: j moves nothing, t opens no tree map.
    page.keyboard.press("t")
    expect(page.locator("#tree-panel")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(more).to_have_attribute("aria-expanded", "false")
    assert focused(page) == "button:More actions"

    # ArrowUp on the button opens the menu on its last item; Tab closes it.
    page.keyboard.press("ArrowUp")
    assert focused(page) == "menuitem:Delete"
    page.keyboard.press("Tab")
    expect(menu).to_be_hidden()

    # A click outside closes it too; a prompt's menu starts with Edit.
    prompt.get_by_role("button", name="More actions").click()
    expect(prompt.get_by_role("menuitem").first).to_have_text("Edit")
    page.get_by_role("textbox", name="Conversation title").click()
    expect(prompt.get_by_role("menu")).to_be_hidden()

    # An action from the menu runs: Reply here attaches the composer to the reply.
    more.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#composer-attach")).to_contain_text("Replying from")
    assert page.errors == []


def test_reply_actions_fit_one_line_on_a_phone(page, workbench_server):
    page.set_viewport_size({"width": 390, "height": 844})
    seeded(page, workbench_server, [("a question", "an answer")])
    for article in page.locator("article.turn").all():
        middles = [box["y"] + box["height"] / 2 for box in article.locator(".turn-actions > *").evaluate_all(
            "nodes => nodes.map(n => n.getBoundingClientRect().toJSON())")]
        assert len(middles) >= 2 and max(middles) - min(middles) < 2, middles
    reply = replies(page).last
    reply.get_by_role("button", name="More actions").click()
    box = reply.get_by_role("menu").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate(OVERFLOWING, 390) == []


# --- code and math -------------------------------------------------------------------------------


def test_code_blocks_copy_their_raw_code(page, workbench_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    seeded(page, workbench_server, [("the code", LONG_REPLY)])
    blocks = replies(page).last.locator(".code-block")
    expect(blocks).to_have_count(2)
    expect(blocks.locator(".code-lang")).to_have_text(["python", "text"])
    copy = blocks.first.locator(".code-copy")
    expect(copy).to_have_accessible_name("Copy")
    copy.focus()  # reachable by keyboard: a real button
    page.keyboard.press("Enter")
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == CODE
    expect(copy).to_have_text("Copy")  # after a moment
    assert page.errors == []


def test_math_is_typeset_and_money_is_not(page, workbench_server):
    seeded(page, workbench_server, [("the maths", LONG_REPLY)])
    body = replies(page).last.locator(".turn-body")
    # $…$, \(…\), $$…$$ and \[…\]: four formulas, two of them displayed.
    expect(body.locator(".katex")).to_have_count(4)
    expect(body.locator(".math-display .katex-display")).to_have_count(2)
    # MathML beside the drawing, for screen readers.
    expect(body.locator(".katex math").first).to_be_attached()
    money = body.locator("p", has_text="It costs")
    expect(money).to_contain_text("It costs $5 and $10 with shipping;")
    expect(money.locator(".katex")).to_have_count(0)
    expect(money.locator("code")).to_have_text("$x$")
    expect(body.locator("pre code").last).to_have_text("plain $y$ block\n")
    expect(body.locator("pre .katex, code .katex")).to_have_count(0)
    assert page.errors == []


WIDE_TABLE = (
    "| Time | Place | Getting there | Cost |\n|---|---|---|---|\n"
    "| 08:00 | Kiyomizu-dera | https://www.japan-guide.com/e/e3900.html?utm_source=workbench-kyoto-autumn | 500 |\n"
    "| 10:30 | Sannenzaka and Ninenzaka | On foot, downhill through the old lanes | 0 |\n"
)


def test_a_wide_table_keeps_its_words_whole_and_scrolls_in_its_own_box(page, workbench_server):
    page.set_viewport_size({"width": 390, "height": 844})
    seeded(page, workbench_server, [("a plan", WIDE_TABLE)])
    box = replies(page).last.locator(".turn-body .table-scroll")
    expect(box).to_have_count(1)
    expect(box.locator("table")).to_have_count(1)
    # "08:00" and "Time" each on one line: their text makes one line box, not two.
    for word in ("08:00", "Time"):
        lines = box.locator("th, td", has_text=word).first.evaluate(
            "(td) => { const r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length; }"
        )
        assert lines == 1, f"{word} is broken over {lines} lines"
    # The table scrolls inside its box, the page does not, and the keyboard can reach the box.
    assert box.evaluate("(b) => b.scrollWidth > b.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert box.get_attribute("tabindex") == "0"
    assert page.errors == []


# --- the keyboard --------------------------------------------------------------------------------


def test_shortcut_list_its_switch_and_no_stray_regenerate(page, workbench_server):
    seeded(page, workbench_server, [("a question", "an answer")])
    dialog = page.locator("#shortcuts-dialog")
    expect(page.locator(".page-foot .keys")).to_have_count(0)

    # ? opens the list as a modal dialog; Escape closes it and the focus goes back.
    page.locator("article.turn-user").first.focus()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("open", "")
    assert page.evaluate("document.activeElement.closest('dialog') !== null")
    for key in ("j", "k", "t", "/", "e", "?", "Shift+R"):
        expect(dialog.locator("dt kbd", has_text=key.split("+")[-1]).first).to_be_attached()
    # Focus stays inside: the page behind is inert.
    for _ in range(6):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('dialog') !== null")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("document.activeElement.matches('article.turn-user')")

    # r on a focused reply does nothing; Shift+R regenerates it.
    reply = replies(page).last
    reply.focus()
    page.keyboard.press("r")
    page.wait_for_timeout(600)
    expect(page.locator(".sibling-count")).to_have_count(0)
    expect(replies(page)).to_have_count(1)
    reply.focus()
    page.keyboard.press("Shift+R")
    expect(replies(page).last.locator(".sibling-count")).to_have_text("2 / 2")
    expect(replies(page).last).to_have_attribute("data-status", "complete")

    # The visible button opens the list; the switch turns the single keys off, for good.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    switch = dialog.get_by_role("switch", name="Single-key shortcuts")
    expect(switch).to_be_checked()
    switch.press("Space")
    expect(switch).not_to_be_checked()
    assert page.evaluate("localStorage.getItem('workbench.shortcuts')") == "off"
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Keyboard shortcuts")).to_be_focused()

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    page.locator("article.turn").first.focus()
    for key in ("t", "?", "j"):
        page.keyboard.press(key)
    expect(page.locator("#tree-panel")).to_be_hidden()
    expect(dialog).to_be_hidden()
    assert page.evaluate("document.activeElement.matches('article.turn')")
    assert page.evaluate("document.activeElement === document.querySelector('article.turn')")
    replies(page).last.focus()
    page.keyboard.press("Shift+R")
    page.wait_for_timeout(600)
    expect(page.locator(".sibling-count").last).to_have_text("2 / 2")

    # Turned on again from the list, the keys work again.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    dialog.get_by_role("switch").click()
    page.keyboard.press("Escape")
    page.locator("article.turn").first.focus()
    page.keyboard.press("t")
    expect(page.locator("#tree-panel")).to_be_visible()
    assert page.errors == []


# --- screen readers --------------------------------------------------------------------------------

RECORD_ANNOUNCEMENTS = """() => {
    window.__said = [];
    const region = document.getElementById('announcer');
    new MutationObserver(() => { if (region.textContent) window.__said.push(region.textContent); })
        .observe(region, {childList: true, characterData: true, subtree: true});
}"""


def test_the_live_region_announces_a_reply_once(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-model")
    send(page, "hello there")
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete")

    # The transcript is not a live region; one polite status region speaks instead.
    expect(page.locator("#transcript")).not_to_have_attribute("aria-live", "polite")
    assert page.locator("#transcript[aria-live], #transcript [aria-live]").count() == 0
    expect(page.locator("#announcer")).to_have_attribute("role", "status")

    page.evaluate(RECORD_ANNOUNCEMENTS)
    choose_model(page, "fake-slow")
    send(page, "a slow one")
    expect(replies(page).nth(1)).to_have_attribute("data-status", "complete")
    expect(page.locator("#announcer")).to_contain_text("finished")
    page.wait_for_timeout(400)
    said = page.evaluate("window.__said")
    label = page.evaluate("document.querySelector('#model option:checked').textContent")
    assert said.count(f"Reply from {label} started") == 1, said
    assert said.count(f"Reply from {label} finished") == 1, said
    assert len(said) == 2, said
    assert page.errors == []


# --- the model choice --------------------------------------------------------------------------------


def test_the_model_choice_sticks_and_a_failed_model_offers_the_way_back(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-model")
    send(page, "first")
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete")

    # Chosen, not sent, reloaded: still chosen.
    choose_model(page, "fake-slow")
    page.reload()
    expect(page.locator("#model")).to_have_value("openai:fake-slow")

    # A reply that fails with the chosen model: the note names it and offers the last that replied.
    choose_model(page, "fake-error-500")
    send(page, "second")
    expect(replies(page).nth(1)).to_have_attribute("data-status", "error")
    notice = page.locator("#model-notice")
    expect(notice).to_be_visible()
    failed = page.evaluate("document.querySelector('#model option:checked').textContent")
    expect(notice).to_contain_text(f"{failed} failed to reply.")
    back = notice.get_by_role("button", name="Switch back to")
    worked = page.locator('#model option[value="openai:fake-model"]').text_content()
    expect(back).to_have_text(f"Switch back to {worked}")

    # Reloaded on the failure, the note is there again.
    page.reload()
    expect(page.locator("#model")).to_have_value("openai:fake-error-500")
    expect(notice).to_be_visible()
    notice.get_by_role("button", name="Switch back to").click()
    expect(page.locator("#model")).to_have_value("openai:fake-model")
    expect(notice).to_be_hidden()
    page.reload()
    expect(page.locator("#model")).to_have_value("openai:fake-model")

    # Another conversation without a choice of its own opens on the last model sent.
    page.goto(live_server_url + "/")
    start_conversation(page)
    expect(page.locator("#model")).to_have_value("openai:fake-error-500")
    assert page.errors == []


OVERFLOWING = """width => [...document.querySelectorAll('#transcript *')]
    .filter((e) => e.getBoundingClientRect().right > width + 0.5)
    .filter((e) => !e.parentElement.closest('.math-display, pre, .katex'))
    .map((e) => e.tagName + '.' + e.className)"""


# --- screenshots -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_transcript_screenshots(page, workbench_server, scheme, tmp_path):
    """The page with a long reply of code and math, its open menu, and the list of shortcuts, at
    phone, tablet and desktop widths: each saved (WORKBENCH_SHOTS names a folder to keep them in),
    each without an accessibility violation (axe-core, WCAG 2.1 AA)."""
    folder = Path(os.environ.get("WORKBENCH_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.emulate_media(color_scheme=scheme)
    seeded(page, workbench_server, [("Sum a list of prices, and remind me of Euler", LONG_REPLY),
                                    ("And the Basel problem?", "It is $\\zeta(2) = \\pi^2/6$, shown above.")])
    for width, height in ((390, 844), (768, 1024), (1280, 860)):
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")
        reply = replies(page).first
        reply.scroll_into_view_if_needed()
        page.screenshot(path=str(folder / f"transcript-{width}-{scheme}.png"))
        assert axe_violations(page, include="#transcript") == []
        more = reply.get_by_role("button", name="More actions")
        more.evaluate("b => b.scrollIntoView({block: 'center'})")
        more.focus()
        page.keyboard.press("Enter")
        expect(reply.get_by_role("menu")).to_be_visible()
        page.wait_for_timeout(300)  # the actions fade in
        page.screenshot(path=str(folder / f"menu-{width}-{scheme}.png"))
        assert axe_violations(page, include=".action-menu-items:not([hidden])") == []
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Keyboard shortcuts").click()
        page.wait_for_timeout(200)
        page.screenshot(path=str(folder / f"shortcuts-{width}-{scheme}.png"))
        assert axe_violations(page, include="#shortcuts-dialog") == []
        page.keyboard.press("Escape")
        # Nothing in the transcript reaches past the window's edge (the composer is laid out apart).
        assert page.evaluate(OVERFLOWING, width) == []
    assert json.dumps(page.errors) == "[]"

