"""The main flows with the keyboard alone, in real Chromium against daphne: send, edit a prompt and
send it, regenerate a reply, switch versions, open the tree map, move to a turn and open its branch,
pick branches and compare them, share. Only keys are pressed (Tab, Enter, arrows, Escape, typing):
no mouse, no element clicks. Where the focus is, is asserted by role and accessible name.

The flows reach controls by Tab and their names, so they hold however the keys are bound. The
page's own shortcuts are tested apart: moving along the branch (j/k), versions (←/→), edit (e),
the tree (t) and the composer (/); a stray letter must not regenerate a reply (a paid request);
`?` lists the keys.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fake_upstream import reply_text
from tests.test_browser import sign_up
from tests.test_browser_pages import created_link

pytestmark = pytest.mark.browser

IS_FOCUSED = "el => el === document.activeElement"


def turns(page):
    return page.locator("#transcript article[data-turn]")


def message_box(page):
    return page.get_by_role("textbox", name="Message")


def focused_description(page) -> str:
    return page.evaluate("""() => {
        const e = document.activeElement;
        if (!e || e === document.body) return 'the page itself (nothing focused)';
        const name = e.getAttribute('aria-label') || e.innerText || e.value || '';
        return `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} "${String(name).trim().slice(0, 40)}"`;
    }""")


def tab_to(page, target, *, backwards: bool = False, limit: int = 120) -> None:
    """Presses Tab (or Shift+Tab) until `target` has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    target = target.first
    expect(target).to_be_attached()
    for _ in range(limit):
        if target.evaluate(IS_FOCUSED):
            return
        page.keyboard.press(key)
    raise AssertionError(
        f"{limit} presses of {key} never reached {target}; the focus is on {focused_description(page)}")


def tab_until(page, predicate: str, what: str, *, backwards: bool = False, limit: int = 120) -> None:
    """Presses Tab until `predicate(document.activeElement)` holds."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if page.evaluate(f"() => Boolean(({predicate})(document.activeElement))"):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{limit} presses of {key} never reached {what}; the focus is on {focused_description(page)}")


MORE = re.compile(r"^(More|More actions|Actions)\b", re.I)


def activate_action(page, article, name: re.Pattern, *, backwards: bool = True) -> None:
    """Reaches the turn's action by Tab and presses Enter: a button of its own, or an item of the
    turn's actions menu ("More actions"), opened and walked with the arrow keys."""
    direct = article.get_by_role("button", name=name)
    if direct.count():
        tab_to(page, direct, backwards=backwards)
        page.keyboard.press("Enter")
        return
    menu_button = article.get_by_role("button", name=MORE)
    tab_to(page, menu_button, backwards=backwards)
    page.keyboard.press("Enter")
    item = page.get_by_role("menuitem", name=name).first
    expect(item).to_be_visible()
    for _ in range(20):
        if item.evaluate(IS_FOCUSED):
            break
        page.keyboard.press("ArrowDown")
    expect(item).to_be_focused()
    page.keyboard.press("Enter")


def version_count(article):
    return article.get_by_text(re.compile(r"^\s*\d+\s*/\s*\d+\s*$")).first


def start_by_keyboard(page, base: str) -> None:
    """Signed up; from the home page to a new conversation by Tab and Enter."""
    sign_up(page, base)
    tab_to(page, page.get_by_role("link", name=re.compile(r"(Start a|New) conversation")))
    page.keyboard.press("Enter")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    if not message_box(page).evaluate(IS_FOCUSED):
        tab_to(page, message_box(page))
    expect(message_box(page)).to_be_focused()


def send_by_keyboard(page, text: str, index: int) -> None:
    expect(message_box(page)).to_be_focused()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    reply = page.locator("#transcript article.turn-assistant").nth(index)
    expect(reply).to_have_attribute("data-status", "complete")


def conversation_of_two(page, base: str) -> None:
    start_by_keyboard(page, base)
    send_by_keyboard(page, "plan a trip", 0)
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(message_box(page)).to_be_focused()  # the conversation's page opens ready to write on
    send_by_keyboard(page, "what about trains", 1)


def test_send_edit_regenerate_versions_tree_and_compare_by_keyboard(page, live_server_url):
    conversation_of_two(page, live_server_url)
    expect(turns(page)).to_have_count(4)

    # Edit the second prompt: a new version, answered anew.
    activate_action(page, turns(page).nth(2), re.compile(r"\bEdit\b"))
    editor = page.get_by_role("textbox", name=re.compile("Edit", re.I))
    expect(editor).to_be_focused()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("what about ferries")
    tab_to(page, page.get_by_role("button", name=re.compile(r"(Save|Send)", re.I)))
    page.keyboard.press("Enter")
    expect(version_count(turns(page).nth(2))).to_have_text(re.compile(r"2\s*/\s*2"))
    expect(turns(page).nth(3)).to_have_attribute("data-status", "complete")
    expect(turns(page).nth(3).locator(".turn-body")).to_have_text(reply_text("what about ferries", 12))

    # Regenerate the last reply: a second version of it.
    activate_action(page, turns(page).nth(3), re.compile("Regenerate"), backwards=False)
    expect(version_count(turns(page).nth(3))).to_have_text(re.compile(r"2\s*/\s*2"))
    expect(turns(page).nth(3)).to_have_attribute("data-status", "complete")

    # Switch versions of the prompt, there and back; the focus stays with the turn.
    tab_to(page, turns(page).nth(2).get_by_role("button", name="Previous version"), backwards=True)
    page.keyboard.press("Enter")
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("what about trains")
    expect(version_count(turns(page).nth(2))).to_have_text(re.compile(r"1\s*/\s*2"))
    assert turns(page).nth(2).evaluate("a => a.contains(document.activeElement)"), focused_description(page)
    tab_to(page, turns(page).nth(2).get_by_role("button", name="Next version"))
    page.keyboard.press("Enter")
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("what about ferries")
    assert turns(page).nth(2).evaluate("a => a.contains(document.activeElement)"), focused_description(page)

    # The tree map: opened from its button, a turn reached with the arrows opens its branch.
    tree_button = page.get_by_role("button", name=re.compile("Tree map", re.I))
    tab_to(page, tree_button, backwards=True)
    page.keyboard.press("Enter")
    expect(tree_button).to_have_attribute("aria-expanded", "true")
    nodes = page.locator("[data-turn-id]")
    expect(nodes).to_have_count(7)
    in_map = "e => Boolean(e && e.closest && e.closest('[data-turn-id]'))"
    tab_until(page, in_map, "a turn in the tree map")
    focused_turn = "() => document.activeElement.closest('[data-turn-id]').dataset.turnId"
    # Up to the last prompt of the branch (whatever the first stop is, End goes to the branch's leaf).
    page.keyboard.press("End")
    page.keyboard.press("ArrowUp")
    ferries = page.evaluate(focused_turn)
    page.keyboard.press("ArrowLeft")
    if page.evaluate(focused_turn) == ferries:
        page.keyboard.press("ArrowRight")
    trains = page.evaluate(focused_turn)
    assert trains != ferries, "the arrows did not move between the two versions of the prompt"
    page.keyboard.press("Enter")
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("what about trains")

    # Compare: pick the three branch ends in the map with the keys, then compare them.
    pick = page.get_by_role("button", name=re.compile(r"^Compare…$|^Pick|^Select", re.I))
    tab_to(page, pick)
    page.keyboard.press("Enter")
    tab_until(page, in_map, "a turn in the tree map")
    page.keyboard.press("End")
    picked: list[str] = []
    for direction in ("ArrowLeft", "ArrowRight", "ArrowRight", "ArrowRight"):
        here = page.evaluate(focused_turn)
        if here not in picked:
            page.keyboard.press("Enter")
            picked.append(here)
        if len(picked) == 3:
            break
        page.keyboard.press(direction)
    expect(page.locator("[data-picked]")).to_have_count(3)
    go = page.get_by_role("button", name=re.compile(r"^Compare\s*\(?3\)?$"))
    tab_to(page, go, backwards=True)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/compare/\?tips=\d+,\d+,\d+$"))
    for tip in picked:
        expect(page.locator(f'article[data-turn="{tip}"]').first).to_be_attached()
    assert page.errors == []


def test_share_a_link_by_keyboard(page, live_server_url):
    start_by_keyboard(page, live_server_url)
    send_by_keyboard(page, "share this plan", 0)
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    share = page.get_by_role("button", name="Share", exact=True)
    tab_to(page, share, backwards=True)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=re.compile("Share"))
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.contains(document.activeElement)"), focused_description(page)
    tab_to(page, dialog.get_by_role("button", name="Create link"))
    page.keyboard.press("Enter")
    assert re.match(r"^https?://[^ ]+/s/[\w-]+/$", created_link(dialog))
    # The link's copy button is reachable next.
    tab_to(page, dialog.get_by_role("button", name=re.compile("Copy", re.I)))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(share).to_be_focused()  # back where the dialog was opened from
    assert page.errors == []


# --- the page's shortcuts (today's keys: j/k, ←/→, e, t, /) ---------------------------------------

def leave_the_composer(page) -> None:
    """Out of the message box (where letters are text) to the next button that is not a turn's."""
    expect(message_box(page)).to_be_focused()
    tab_until(page, "e => e.matches('button') && !e.closest('#transcript, article')", "a button outside the turns")


def test_shortcuts_move_along_the_branch_switch_versions_edit_and_open_the_tree(page, live_server_url):
    conversation_of_two(page, live_server_url)
    leave_the_composer(page)
    page.keyboard.press("k")  # the last turn
    expect(turns(page).nth(3)).to_be_focused()
    page.keyboard.press("k")
    expect(turns(page).nth(2)).to_be_focused()
    page.keyboard.press("e")
    editor = page.get_by_role("textbox", name=re.compile("Edit", re.I))
    expect(editor).to_be_focused()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("what about buses")
    page.keyboard.press("Enter")
    expect(version_count(turns(page).nth(2))).to_have_text(re.compile(r"2\s*/\s*2"))
    expect(turns(page).nth(3)).to_have_attribute("data-status", "complete")
    turns(page).nth(2).focus()  # a starting point for the keys (not a click)
    page.keyboard.press("ArrowLeft")
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("what about trains")
    expect(turns(page).nth(2)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(turns(page).nth(2).locator(".turn-body")).to_have_text("what about buses")
    page.keyboard.press("t")
    expect(page.get_by_role("button", name=re.compile("Tree map", re.I))).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("/")
    expect(message_box(page)).to_be_focused()
    assert page.errors == []


def test_a_stray_letter_does_not_regenerate_a_reply(page, live_server_url):
    """Regenerating sends a paid request: a single unmodified letter must not do it (WCAG 2.1.4)."""
    sent: list[str] = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append(str(payload))))
    conversation_of_two(page, live_server_url)
    leave_the_composer(page)
    page.keyboard.press("k")
    expect(turns(page).nth(3)).to_be_focused()
    before = len(sent)
    page.keyboard.press("r")
    # The key is handled, and anything it sends is on its way, by the time the page draws again.
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    asked = [frame for frame in sent[before:] if '"regenerate"' in frame or '"send"' in frame]
    assert asked == [], f"a stray r asked the server for a new reply: {asked}"
    expect(turns(page)).to_have_count(4)
    assert page.errors == []


def test_question_mark_lists_the_keys(page, live_server_url):
    conversation_of_two(page, live_server_url)
    leave_the_composer(page)
    page.keyboard.press("Shift+?")
    help_dialog = page.get_by_role("dialog", name=re.compile("shortcut|keys", re.I))
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text(re.compile("version", re.I))
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
