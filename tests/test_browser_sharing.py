"""Teammates and share links in real Chromium, with two accounts and one anonymous browser."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_browser import replies, send, sign_up

pytestmark = pytest.mark.browser


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def make_link(page, *, mode: str, subtree: bool = True) -> str:
    page.get_by_role("button", name="Share").click()
    dialog = page.locator("dialog[open]")
    dialog.locator(f"input[name=mode][value={mode}]").check()
    dialog.locator("input[name=with_subtree]").set_checked(subtree)
    dialog.get_by_role("button", name="Create link").click()
    url = dialog.locator(".share-result .link-url").text_content().strip()
    page.keyboard.press("Escape")
    return url


def team_conversation(owner, base: str, *, team: str, member: str, role: str, prompt: str) -> None:
    """The owner makes a team workspace, invites `member` with `role`, and starts a conversation."""
    owner.goto(base + "/workspaces/")
    owner.fill("input[name=name]", team)
    owner.get_by_role("button", name=re.compile("Create")).click()
    owner.fill("input[name=who]", member)
    owner.select_option("form[action$='/members/invite/'] select[name=role]", role)
    owner.get_by_role("button", name="Invite").click()
    expect(owner.locator("main")).to_contain_text(member)
    owner.get_by_role("link", name=re.compile("Open its conversations")).click()
    owner.locator("#new-conversation").click()
    expect(owner.locator("body")).to_have_attribute("data-socket", "open")
    owner.select_option("#model", "openai:fake-model")
    send(owner, prompt)
    expect(replies(owner).first).to_have_attribute("data-status", "complete")


def test_a_team_shares_a_branch_live_and_by_snapshot_then_revokes(browser, live_server_url):
    owner, mate, reader = new_page(browser), new_page(browser), new_page(browser)
    try:
        mate_name = sign_up(mate, live_server_url)
        sign_up(owner, live_server_url)

        # The owner makes a team workspace and invites the teammate as an editor.
        team_conversation(owner, live_server_url, team="Launch team", member=mate_name, role="editor",
                          prompt="draft the launch plan")
        conversation_url = owner.url

        # A snapshot for the anonymous reader, and a live link.
        snapshot = make_link(owner, mode="snapshot")
        live = make_link(owner, mode="live")

        # The teammate opens the conversation: each sees the other there.
        mate.goto(conversation_url)
        expect(mate.locator("body")).to_have_attribute("data-socket", "open")
        expect(owner.locator("#presence")).to_contain_text(mate_name)
        expect(mate.locator("#presence")).to_contain_text("Also here")

        # The anonymous reader watches the live link; the snapshot shows exactly the branch.
        reader.goto(snapshot)
        expect(reader.locator("#transcript article.turn")).to_have_count(2)
        expect(reader.locator("#transcript")).to_contain_text("draft the launch plan")
        content = reader.content()
        assert mate_name not in content and "Launch team" not in content
        reader.goto(live)
        expect(reader.locator("body")).to_have_attribute("data-socket", "open")
        expect(owner.locator("#presence")).to_contain_text("1 through a link")

        # The teammate continues the branch with a slow model (20 s, long enough to be seen
        # streaming however busy the machine): owner and reader watch it stream, then it is stopped.
        mate.select_option("#model", "openai:fake-slow-long")
        send(mate, "add a budget section")
        for page in (owner, reader):
            reply = page.locator("#transcript article.turn-assistant").nth(1)
            expect(reply).to_have_attribute("data-status", "streaming")
            expect(reply.locator(".turn-body")).to_contain_text("Echo: add a budget")
        partial = len(reader.locator("#transcript article.turn-assistant").nth(1).inner_text())
        reader.wait_for_function(
            "n => document.querySelectorAll('#transcript article.turn-assistant')[1].innerText.length > n", arg=partial
        )
        mate.click("#stop")
        for page in (owner, reader):
            second_reply = page.locator("#transcript article.turn-assistant").nth(1)
            expect(second_reply).to_have_attribute("data-status", "stopped")
        # The reader's screen reader hears the reply start and stop, once each, not every frame:
        # the transcript itself is not a live region.
        assert reader.locator("#transcript").get_attribute("aria-live") is None
        expect(reader.locator("#announcer")).to_have_text("Reply from fake-slow-long stopped")
        # The snapshot did not change.
        snapshot_page = new_page(browser)
        snapshot_page.goto(snapshot)
        expect(snapshot_page.locator("#transcript article.turn")).to_have_count(2)
        snapshot_page.context.close()

        # Revoking the live link cuts the reader off at once, and the page answers 404 after.
        owner.goto(live_server_url + "/shared/")
        row = owner.locator(".link-card.link-active").filter(has_text="Live")
        row.get_by_role("button", name="Revoke").click()
        expect(reader.locator("#connection")).to_contain_text("revoked")
        expect(reader.locator("#transcript article.turn")).to_have_count(0)
        assert reader.goto(live).status == 404
        assert reader.goto(snapshot).status == 200
        for page in (owner, mate, reader):
            assert page.errors == []
    finally:
        for page in (owner, mate, reader):
            page.context.close()


def test_a_viewer_reads_and_forks_but_cannot_send(browser, live_server_url):
    owner, viewer = new_page(browser), new_page(browser)
    try:
        viewer_name = sign_up(viewer, live_server_url)
        sign_up(owner, live_server_url)
        team_conversation(owner, live_server_url, team="Readers", member=viewer_name, role="viewer",
                          prompt="read only please")

        viewer.goto(owner.url)
        expect(viewer.locator("body")).to_have_attribute("data-socket", "open")
        expect(viewer.locator("#prompt")).to_be_disabled()
        expect(viewer.locator("#share-button")).to_have_count(0)
        reply = replies(viewer).first
        reply.hover()
        expect(reply.get_by_role("button", name="Regenerate", exact=True)).to_have_count(0)
        reply.get_by_role("button", name="More actions").click()
        expect(reply.get_by_role("menuitem", name="Regenerate")).to_have_count(0)
        expect(reply.get_by_role("menuitem", name="Delete")).to_have_count(0)
        reply.get_by_role("menuitem", name="Fork into a new conversation").click()
        expect(viewer.locator(".fork-origin")).to_contain_text("Forked from")
        expect(viewer.locator("#prompt")).to_be_enabled()  # the fork is theirs
        assert viewer.errors == [] and owner.errors == []
    finally:
        owner.context.close()
        viewer.context.close()
