"""The tree map in real Chromium against real daphne: on a phone (390 px) and a tablet (768 px) it
opens as a full-screen sheet, fitted to the whole tree, its buttons in view; the close button and
Escape close it and give focus back to the Tree map button; a click on a turn shows its branch.
At 300 turns, on a desktop and on a phone, Fit keeps the whole tree in view, clear of the zoom
buttons, and the main line straight."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.axe import axe_violations
from tests.conftest import PASSWORD
from tests.test_browser import choose_model, replies, send, sign_up, start_conversation

pytestmark = pytest.mark.browser

# Replies come from the fake upstream in a few milliseconds; on a busy machine the page may still
# take seconds to show them, so waits for a reply are generous (none of this measures time).
REPLY_WAIT_MS = 30_000


def inside(box: dict, outer: dict) -> bool:
    return (outer["x"] - 0.5 <= box["x"] and box["x"] + box["width"] <= outer["x"] + outer["width"] + 0.5
            and outer["y"] - 0.5 <= box["y"] and box["y"] + box["height"] <= outer["y"] + outer["height"] + 0.5)


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_tree_map_is_a_full_screen_sheet_390_pixels_wide(page, live_server_url, scheme):
    page.emulate_media(color_scheme=scheme)
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-model")
    for index, prompt in enumerate(["first question", "second question"]):
        send(page, prompt)
        expect(replies(page).nth(index)).to_have_attribute("data-status", "complete", timeout=REPLY_WAIT_MS)
    # A second version of the first reply: the branch on screen becomes that one.
    replies(page).nth(0).get_by_role("button", name="Regenerate", exact=True).click()
    expect(page.locator("#transcript article.turn")).to_have_count(2, timeout=REPLY_WAIT_MS)
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete", timeout=REPLY_WAIT_MS)

    page.set_viewport_size({"width": 390, "height": 844})
    toggle = page.locator("#tree-toggle")
    more = page.locator("#more-button")

    def open_map() -> None:
        # On a phone the top bar's actions, Tree map among them, are folded behind "More".
        more.click()
        toggle.click()

    open_map()
    panel = page.locator("#tree-panel")
    expect(panel.locator(".tm-node[data-turn-id]")).to_have_count(5)
    box = panel.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}, box
    expect(panel).to_have_attribute("role", "dialog")
    expect(panel.get_by_role("button", name="Close")).to_be_focused()
    # Its buttons are on screen, whole; the page behind takes no focus.
    viewport = {"x": 0, "y": 0, "width": 390, "height": 844}
    for name in ("Compare…", "Close"):
        assert inside(panel.get_by_role("button", name=name).bounding_box(), viewport), name
    assert page.evaluate("document.querySelector('.main').inert")
    assert axe_violations(page, include="#tree-panel") == []
    # Every turn is on screen, inside the map, and none under the zoom buttons.
    canvas = panel.locator(".tree-canvas").bounding_box()
    buttons = panel.locator(".tm-controls").bounding_box()
    for node in panel.locator(".tm-node[data-turn-id] .tm-shape").all():
        shape = node.bounding_box()
        assert inside(shape, canvas), shape
        assert not overlaps(shape, buttons), shape

    # Picking for a comparison: the Compare button shows, whole, once two are picked.
    panel.get_by_role("button", name="Compare…").click()
    leaves = page.eval_on_selector_all(
        "#tree-panel .tm-node[data-turn-id]",
        """els => {
             const from = new Set([...document.querySelectorAll('#tree-panel .tm-edge')].map(e => e.dataset.from));
             return els.map(e => e.dataset.turnId).filter(id => !from.has(id));
           }""",
    )
    assert len(leaves) == 2, leaves
    for leaf in leaves:
        panel.locator(f'[data-turn-id="{leaf}"]').click()
    compare = panel.get_by_role("button", name="Compare 2")
    expect(compare).to_be_visible()
    assert inside(compare.bounding_box(), viewport)
    # Escape leaves picking first, then closes the sheet; focus goes back to the Tree map button, or
    # on a phone, where that button is folded away, to "More" that holds it.
    page.keyboard.press("Escape")
    expect(panel.get_by_role("button", name="Compare…")).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(more).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    assert not page.evaluate("document.querySelector('.main').inert")

    # Opened again and closed with its button: the same.
    open_map()
    panel.get_by_role("button", name="Close").click()
    expect(panel).to_be_hidden()
    expect(more).to_be_focused()

    # The deepest turn, off the branch on screen, opens its branch (four turns) and closes the sheet.
    open_map()
    off_branch = panel.locator(".tm-node[data-turn-id]:not([data-on-branch])")
    expect(off_branch.first).to_be_visible()
    deepest = max(off_branch.all(), key=lambda n: n.bounding_box()["y"])
    deepest.click()
    expect(page.locator("#transcript article.turn")).to_have_count(4)
    expect(panel).to_be_hidden()
    assert not page.errors, page.errors


SEED_300 = """
from django.contrib.auth.models import User
from conversations.models import Conversation, Turn
from conversations.workspaces.services import personal_workspace
user = User.objects.create_user("{username}", password="{password}")
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title="300 turns")
parent = None
trunk = []
for i in range(300):
    reply = i % 2 == 1
    parent = Turn.objects.append(conversation=conversation, parent=parent, role="assistant" if reply else "user",
                                 content=f"turn {{i}}", provider="openai" if reply else "",
                                 model="fake-model" if reply else "")
    trunk.append(parent)
for k in range(1, 15):
    side = Turn.objects.append(conversation=conversation, parent=trunk[k * 20 - 2], role="assistant",
                               content=f"another version {{k}}", provider="anthropic", model="fake-model")
conversation.current_turn = trunk[-1]
conversation.save()
print(conversation.id, trunk[0].id, trunk[-1].id)
"""


@pytest.mark.parametrize("width,height", [(1280, 860), (390, 844)], ids=["desktop", "phone"])
def test_a_300_turn_tree_fits_whole_clear_of_the_zoom_buttons(page, workbench_server, width, height):
    username = f"tree{uuid.uuid4().hex[:10]}"
    output = workbench_server.run_python(SEED_300.format(username=username, password=PASSWORD))
    conversation_id, root, leaf = map(int, output.strip().splitlines()[-1].split())
    page.goto(workbench_server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{workbench_server.url}/c/{conversation_id}/")
    if width < 600:  # a phone folds the top bar's actions behind "More"
        page.locator("#more-button").click()
    page.locator("#tree-toggle").click()
    panel = page.locator("#tree-panel")
    expect(panel.locator(f'[data-turn-id="{leaf}"]')).to_have_attribute("data-branch-leaf", "true")
    canvas = panel.locator(".tree-canvas").bounding_box()
    buttons = panel.locator(".tm-controls").bounding_box()

    def check(view: str) -> None:
        root_box = panel.locator(f'[data-turn-id="{root}"] .tm-shape').bounding_box()
        assert inside(root_box, canvas), (view, root_box, canvas)
        assert not overlaps(root_box, buttons), (view, root_box, buttons)
        for shape in panel.locator(".tm-shape, .tm-pill").all():
            box = shape.bounding_box()
            assert inside(box, canvas), (view, box)
        # The main line is one straight column.
        xs = page.eval_on_selector_all(
            "#tree-panel .tm-node[data-on-branch] .tm-shape, #tree-panel .tm-node[data-on-branch] .tm-pill",
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return Math.round((r.x + r.width / 2) * 2) / 2; })",
        )
        assert len(xs) > 10 and len(set(xs)) == 1, (view, sorted(set(xs)))

    page.wait_for_timeout(300)  # the first view settles (no animation)
    check("first")
    panel.get_by_role("button", name="Zoom in").click()
    panel.get_by_role("button", name="Zoom in").click()
    panel.get_by_role("button", name="Fit the whole tree").click()
    page.wait_for_timeout(500)  # the fit's animation ends
    check("fit")
    assert not page.errors, page.errors
