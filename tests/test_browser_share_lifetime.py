"""A reader watching a live link in real Chromium is told at once when the link dies because its
maker lost the right to write: the same message as any link that is gone, not silence."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser import sign_up
from tests.test_browser_sharing import make_link, new_page, team_conversation

pytestmark = pytest.mark.browser


def test_a_reader_is_told_when_the_makers_demotion_ends_the_link(browser, live_server_url):
    owner, mate, reader = new_page(browser), new_page(browser), new_page(browser)
    try:
        mate_name = sign_up(mate, live_server_url)
        sign_up(owner, live_server_url)
        team_conversation(owner, live_server_url, team="Demotion team", member=mate_name, role="editor",
                          prompt="share me while you can")

        # The teammate, an editor, shares the conversation live; an anonymous reader watches.
        mate.goto(owner.url)
        expect(mate.locator("body")).to_have_attribute("data-socket", "open")
        live = make_link(mate, mode="live")
        reader.goto(live)
        expect(reader.locator("body")).to_have_attribute("data-socket", "open")
        expect(reader.locator("#transcript")).to_contain_text("share me while you can")

        # The owner makes the teammate a viewer: the reader is told, and the page is gone.
        owner.goto(live_server_url + "/workspaces/")
        owner.get_by_role("link", name="Demotion team").click()
        row = owner.locator(f"tr.member[data-username='{mate_name}']")
        row.get_by_label(f"Role of {mate_name}").select_option("viewer")
        row.get_by_role("button", name="Change").click()
        expect(row.locator("select")).to_have_value("viewer")
        expect(reader.locator("#connection")).to_have_text(
            "This link is no longer available: it was turned off or has expired. "
            "Ask the person who shared it for a new link.")
        expect(reader.locator("#connection")).to_be_visible()
        expect(reader.locator("#transcript article.turn")).to_have_count(0)
        expect(reader.locator("#transcript")).to_contain_text("no longer available")
        expect(reader.locator("body")).to_have_attribute("data-socket", "closed")
        assert reader.goto(live).status == 404
        for page in (owner, mate, reader):
            assert page.errors == []
    finally:
        for page in (owner, mate, reader):
            page.context.close()
