"""The tree map on a phone-sized screen (390 px), in real Chromium against real daphne: it opens as
a sheet over the lower part of the page, wide enough to use, and a click on a turn shows its
branch. (On a screen that narrow it used to squeeze into a column one pixel wide.)"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser import choose_model, replies, send, sign_up, start_conversation

pytestmark = pytest.mark.browser

# Replies come from the fake upstream in a few milliseconds; on a busy machine the page may still
# take seconds to show them, so waits for a reply are generous (none of this measures time).
REPLY_WAIT_MS = 30_000


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_tree_map_is_usable_390_pixels_wide(page, live_server_url, scheme):
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
    # On a phone the top bar's actions are behind "More".
    page.get_by_role("button", name="More").click()
    page.get_by_role("button", name="Tree map").click()
    panel = page.locator("#tree-panel")
    expect(panel.locator(".tm-node[data-turn-id]")).to_have_count(5)
    box = panel.bounding_box()
    assert box["x"] == 0 and box["width"] == 390, box
    assert box["height"] > 300 and box["y"] + box["height"] <= 844 + 0.5, box
    # Every turn is on screen, inside the panel, and none under the zoom buttons.
    buttons = panel.locator(".tm-controls").bounding_box()
    for node in panel.locator(".tm-node[data-turn-id] .tm-shape").all():
        shape = node.bounding_box()
        assert box["x"] <= shape["x"] and shape["x"] + shape["width"] <= box["x"] + box["width"], shape
        assert box["y"] <= shape["y"] and shape["y"] + shape["height"] <= box["y"] + box["height"], shape
        assert not (shape["x"] < buttons["x"] + buttons["width"] and buttons["x"] < shape["x"] + shape["width"]
                    and shape["y"] < buttons["y"] + buttons["height"] and buttons["y"] < shape["y"] + shape["height"])

    # The deepest turn, off the branch on screen, opens its branch (four turns) when clicked.
    off_branch = panel.locator(".tm-node[data-turn-id]:not([data-on-branch])")
    deepest = max(off_branch.all(), key=lambda n: n.bounding_box()["y"])
    deepest.click()
    expect(page.locator("#transcript article.turn")).to_have_count(4)
    assert not page.errors, page.errors
