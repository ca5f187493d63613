"""The review story in real Chromium, two teammates in two browsers: alice asks bob a question on a
reply in a side branch, bob sees the mention in his inbox at once, answers in the thread, marks
the other branch preferred on the compare page, and alice sees all of it without reloading."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.axe import axe_violations
from tests.test_browser import replies, send
from tests.test_browser_sharing import new_page, sign_up, team_conversation

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("REVIEW_SHOTS", "")


def shot(page, name: str) -> None:
    """Screenshots for a person to look at, when REVIEW_SHOTS names a folder."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=False)


def every_size(alice, bob, base: str, side_id: str) -> None:
    """Each page of the story at 390, 768 and 1280 px, light and dark."""
    alice.locator("#tree-toggle").click()  # closed again
    compare_url = bob.url
    for scheme in ("light", "dark"):
        for width in (390, 768, 1280):
            for page in (alice, bob):
                page.emulate_media(color_scheme=scheme)
                page.set_viewport_size({"width": width, "height": 860})
            alice.locator(f'article[data-turn="{side_id}"] .review-threads').scroll_into_view_if_needed()
            alice.wait_for_timeout(500)  # the sidebar folding into its drawer as the window narrows
            shot(alice, f"conversation-thread-{width}-{scheme}")
            if alice.locator("#more-button").is_visible():  # a phone folds the page's actions
                alice.locator("#more-button").click()
            alice.locator("#review-threads-toggle").click()
            shot(alice, f"conversation-panel-{width}-{scheme}")
            alice.keyboard.press("Escape")
            bob.goto(compare_url)
            expect(bob.locator(".review-column")).to_have_count(2)
            shot(bob, f"compare-{width}-{scheme}")
            bob.goto(base + "/inbox/")
            shot(bob, f"inbox-{width}-{scheme}")
            if alice.locator("#more-button").is_visible():
                alice.locator("#more-button").click()
            alice.get_by_role("button", name="Share").click()
            alice.locator("dialog[open] input[name=include_comments]").scroll_into_view_if_needed()
            shot(alice, f"share-dialog-{width}-{scheme}")
            alice.keyboard.press("Escape")
    conversation = alice.url
    alice.get_by_role("link", name="Members").click()
    alice.locator("#review-setting-form").scroll_into_view_if_needed()
    shot(alice, "workspace-setting-1280-dark")
    alice.goto(conversation)


def test_two_teammates_review_a_side_branch_live(browser, live_server_url):
    alice, bob = new_page(browser), new_page(browser)
    try:
        bob_name = sign_up(bob, live_server_url)
        sign_up(alice, live_server_url)
        team_conversation(alice, live_server_url, team="Cache team", member=bob_name, role="editor",
                          prompt="plan the caching layer")
        # A side branch: the reply regenerated beside the first.
        first = replies(alice).first
        first.hover()
        first.locator("[data-action=regenerate]").click()
        expect(alice.locator(".sibling-count")).to_have_text("2 / 2")
        expect(replies(alice).first).to_have_attribute("data-status", "complete")
        side_reply = replies(alice).first
        side_id = side_reply.get_attribute("data-turn")

        # bob waits on his inbox; his badge says nothing yet.
        bob.goto(live_server_url + "/inbox/")
        expect(bob.locator("#inbox-count")).to_be_hidden()
        expect(bob.locator(".empty-inbox")).to_be_visible()
        bob.evaluate("window.stillTheSamePage = true")

        # alice asks bob on the side branch's reply, completing his name from the members.
        side_reply.locator(".review-button.comments").click()
        box = side_reply.locator(".review-threads textarea")
        box.press_sequentially("@" + bob_name[:3])
        expect(side_reply.locator(".mention-option").first).to_have_text("@" + bob_name)
        box.press("Enter")
        box.press_sequentially("why did this one drop the **caching** step?")
        side_reply.get_by_role("button", name="Comment", exact=True).click()
        thread = side_reply.locator(".thread").first
        expect(thread).to_contain_text("why did this one drop the caching step?")
        expect(thread.locator(".mention")).to_have_text("@" + bob_name)
        expect(side_reply.locator(".review-button.comments .count")).to_have_text("1")
        shot(alice, "alice-asks")

        # A comment is Markdown through the one sanitised renderer: nothing in it runs or loads.
        dialogs: list[str] = []
        alice.on("dialog", lambda dialog: dialogs.append(dialog.message))
        prompt = alice.locator("article.turn-user").first
        prompt.locator(".review-button.comments").click()
        prompt.locator(".review-threads textarea").fill(
            '<img src=x onerror=alert(1)> [click](javascript:alert(2)) <script>alert(3)</script> `code`')
        prompt.get_by_role("button", name="Comment", exact=True).click()
        hostile = prompt.locator(".comment-body").first
        expect(hostile.locator("code")).to_have_text("code")
        expect(hostile.locator("img, script, a[href^='javascript']")).to_have_count(0)
        assert dialogs == []

        # bob's badge counts it at once, and his open inbox lists it, unread, without a reload.
        expect(bob.locator("#inbox-count")).to_have_text("1")
        item = bob.locator(".inbox-item").first
        expect(item).to_have_class(re.compile(r"\bunread\b"))
        expect(item).to_contain_text("mentioned you")
        expect(item).to_contain_text("caching")
        expect(bob.locator("#inbox-unread")).to_have_text("1 unread")
        expect(bob.locator("#read-all-form")).to_be_visible()
        assert bob.evaluate("window.stillTheSamePage") is True
        shot(bob, "bob-inbox")
        assert axe_violations(bob, include="main") == []
        item.locator("a").click()

        # It opens the side branch at that reply, the thread open; reading it clears the badge.
        expect(bob).to_have_url(re.compile(rf"/t/{side_id}/#comment-\d+$"))
        bob_reply = bob.locator(f'article[data-turn="{side_id}"]')
        expect(bob_reply.locator(".thread")).to_contain_text("caching")
        expect(bob.locator("#inbox-count")).to_be_hidden()
        bob_reply.get_by_role("button", name="Reply in thread").click()
        bob_reply.locator(".thread textarea").fill("It ran out of budget: the other branch keeps it.")
        bob_reply.get_by_role("button", name="Reply", exact=True).click()
        expect(bob_reply.locator(".thread .comment")).to_have_count(2)

        # alice sees the answer in her open thread, live.
        expect(thread.locator(".comment")).to_have_count(2)
        expect(thread).to_contain_text("It ran out of budget")
        expect(side_reply.locator(".review-button.comments .count")).to_have_text("2")
        # ...and alice, whose thread bob answered, is told too.
        expect(alice.locator("#inbox-count")).to_have_text("1")

        # bob compares the two versions and prefers the other branch there.
        bob_reply.locator(".siblings .compare-link").click()
        expect(bob).to_have_url(re.compile(r"/compare/\?tips="))
        other_column = bob.locator(".review-column").filter(has_not=bob.locator(f'[data-review-tip="{side_id}"]'))
        columns = bob.locator(".review-column")
        expect(columns).to_have_count(2)
        other = next(i for i in range(2) if columns.nth(i).get_attribute("data-review-tip") != side_id)
        other_tip = columns.nth(other).get_attribute("data-review-tip")
        columns.nth(other).get_by_role("button", name="Prefer this branch").click()
        expect(columns.nth(other)).to_contain_text("Preferred by you")
        expect(columns.nth(other).locator("button[aria-pressed=true]")).to_have_count(1)
        shot(bob, "bob-compare")
        assert other_column is not None

        # alice sees who prefers which branch, live: in the panel and on the tree map.
        alice.locator("#review-threads-toggle").click()
        panel = alice.locator("#review-panel")
        expect(panel.locator(".preferred-branch")).to_contain_text(f"{bob_name} prefers the branch ending")
        expect(panel.locator(".preferred-branch a")).to_have_attribute("href", re.compile(rf"/t/{other_tip}/$"))
        expect(panel.locator(".open-thread")).to_have_count(2)  # the question and the hostile one
        shot(alice, "alice-panel")
        alice.keyboard.press("Escape")

        # From the other branch, an open thread in the panel opens its turn in its branch.
        alice.locator(".siblings").get_by_role("button", name="Previous version").click()
        expect(alice.locator(".sibling-count")).to_have_text("1 / 2")
        expect(alice.locator(f'article[data-turn="{side_id}"]')).to_have_count(0)
        alice.locator("#review-threads-toggle").click()
        panel.locator(".open-thread a").filter(has_text="caching").click()
        expect(alice).to_have_url(re.compile(rf"/t/{side_id}/$"))
        expect(alice.locator(f'article[data-turn="{side_id}"] .thread').first).to_contain_text("It ran out of budget")
        alice.locator("#review-threads-toggle").click()
        alice.locator("#tree-toggle").click()
        expect(alice.locator(f'#tree-panel g[data-turn-id="{other_tip}"]')).to_have_attribute("data-preferred", "")
        expect(alice.locator(f'#tree-panel g[data-turn-id="{side_id}"]')).to_have_attribute("data-review-open", "")
        shot(alice, "alice-tree")
        assert axe_violations(alice, include="#transcript") == []
        assert axe_violations(bob, include="main") == []
        if SHOTS:
            every_size(alice, bob, live_server_url, side_id)
        for page in (alice, bob):
            assert page.errors == []
    finally:
        for page in (alice, bob):
            page.context.close()


def test_a_live_links_reader_sees_comments_arrive_under_teammate_names(browser, live_server_url):
    alice, reader = new_page(browser), new_page(browser)
    try:
        alice_name = sign_up(alice, live_server_url)
        alice.goto(live_server_url + "/")
        alice.locator("#new-conversation").click()
        expect(alice.locator("body")).to_have_attribute("data-socket", "open")
        alice.select_option("#model", "openai:fake-model")
        send(alice, "plan the caching layer")
        reply = replies(alice).first
        expect(reply).to_have_attribute("data-status", "complete")
        turn_id = reply.get_attribute("data-turn")

        alice.get_by_role("button", name="Share").click()
        dialog = alice.locator("dialog[open]")
        dialog.locator("input[name=mode][value=live]").check()
        dialog.locator("input[name=include_comments]").check()
        dialog.get_by_role("button", name="Create link").click()
        url = dialog.locator(".share-result .link-url").text_content().strip()
        alice.keyboard.press("Escape")

        reader.goto(url)
        expect(reader.locator("body")).to_have_attribute("data-socket", "open")
        shared_reply = reader.locator(f'article[data-turn="{turn_id}"]')
        expect(shared_reply.locator(".review-button.comments")).to_have_count(0)

        # alice comments: the reader's page counts it at once, under the link's name for her.
        reply.locator(".review-button.comments").click()
        reply.locator(".review-threads textarea").fill("Is **Redis** enough?")
        reply.get_by_role("button", name="Comment", exact=True).click()
        expect(shared_reply.locator(".review-button.comments .count")).to_have_text("1")
        shared_reply.locator(".review-button.comments").click()
        thread = shared_reply.locator(".thread")
        expect(thread.locator(".comment-author")).to_have_text("Teammate 1")
        expect(thread.locator("strong").filter(has_text="Redis")).to_have_count(1)

        # Resolved on alice's page, resolved on the reader's; no write control anywhere.
        reply.locator(".thread").first.get_by_role("button", name=re.compile("Resolve")).click()
        expect(thread.locator(".thread-state")).to_contain_text("Resolved")
        expect(shared_reply.locator("textarea, .review-threads button")).to_have_count(0)
        if SHOTS:
            for scheme in ("light", "dark"):
                for width in (390, 768, 1280):
                    reader.emulate_media(color_scheme=scheme)
                    reader.set_viewport_size({"width": width, "height": 860})
                    shared_reply.locator(".thread").scroll_into_view_if_needed()
                    shot(reader, f"shared-live-comment-{width}-{scheme}")
        assert alice_name not in reader.locator("#transcript").inner_text()
        assert axe_violations(reader, include="#transcript") == []
        for page in (alice, reader):
            assert page.errors == []
    finally:
        for page in (alice, reader):
            page.context.close()


def test_the_import_summary_says_what_review_came_back(browser, live_server_url, tmp_path):
    page = new_page(browser)
    try:
        me = sign_up(page, live_server_url)
        document = {
            "format": "workbench.conversation", "version": 3, "conversation": {"title": "Cache plan"},
            "turns": [{"id": 1, "role": "user", "content": "Which cache?"},
                      {"id": 2, "parent": 1, "role": "assistant", "content": "Use Redis."}],
            "review": {
                "comments": [{"id": 1, "turn": 2, "author": "dana", "body": "Why not memcached?"},
                             {"id": 2, "turn": 2, "thread": 1, "author": me, "body": "Persistence."}],
                "verdicts": [{"turn": 2, "user": "dana", "value": 1}],
                "preferences": [{"turn": 2, "user": me}],
            },
        }
        file = tmp_path / "cache-plan.json"
        file.write_text(json.dumps(document), encoding="utf-8")
        page.goto(live_server_url + "/import/")
        page.set_input_files("input[type=file]", str(file))
        page.locator("main form button[type=submit]").click()
        row = page.locator(".import-row")
        expect(row).to_contain_text("With its review: 2 comments, 1 verdict, 1 preferred branch.")
        if SHOTS:
            for scheme in ("light", "dark"):
                for width in (390, 768, 1280):
                    page.emulate_media(color_scheme=scheme)
                    page.set_viewport_size({"width": width, "height": 860})
                    page.wait_for_timeout(500)  # the sidebar folding into its drawer as the window narrows
                    shot(page, f"import-summary-{width}-{scheme}")
        assert axe_violations(page, include="main") == []
        row.get_by_role("link", name="Cache plan").click()
        expect(page.locator("body")).to_have_attribute("data-socket", "open")
        assert page.errors == []
    finally:
        page.context.close()
