"""The sharing surfaces and the error pages in real Chromium, at 390, 768 and 1280 px, light and
dark: the share dialog, a shared page live and as a snapshot, the "Shared links" page (a copy
button and a filter), a failed reply, the 404 and a revoked or expired link. Nothing overflows
sideways, axe finds no violation, and each is kept as a screenshot (in WORKBENCH_SHOTS,
/work/notes/shots by default) for a person to look at."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.template import loader
from playwright.sync_api import expect

from tests.axe import axe_violations
from tests.conftest import PASSWORD
from tests.test_browser import choose_model, replies, send, sign_up, start_conversation

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("WORKBENCH_SHOTS", "/work/notes/shots"))
WIDTHS = [390, 768, 1280]
TITLE = "Planning the quarterly launch of the new onboarding flow for enterprise customers in Europe"


def open_page(browser, *, width: int, dark: bool = False):
    context = browser.new_context(viewport={"width": width, "height": 844 if width < 600 else 900},
                                  color_scheme="dark" if dark else "light")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def create_link(page, *, mode: str) -> str:
    page.get_by_role("button", name="Share").click()
    dialog = page.locator("dialog[open]")
    dialog.locator(f"input[name=mode][value={mode}]").check()
    dialog.get_by_role("button", name="Create link").click()
    url = dialog.locator(".share-result .link-url").text_content().strip()
    page.keyboard.press("Escape")
    return url


def overflow(page) -> int:
    """How far the page reaches past the viewport's right edge, in CSS pixels."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture(scope="module")
def scene(browser, live_server_url, workbench_server):
    """One person's conversation (a reply, then a failed one), a live and a snapshot link, and a
    revoked and an expired one."""
    page = open_page(browser, width=1280)
    try:
        username = sign_up(page, live_server_url)
        start_conversation(page)
        choose_model(page, "fake-model")
        send(page, TITLE)
        expect(replies(page).nth(0)).to_have_attribute("data-status", "complete")
        conversation = page.url
        live = create_link(page, mode="live")
        snapshot = create_link(page, mode="snapshot")
        revoked = create_link(page, mode="snapshot")
        expired = create_link(page, mode="live")
        choose_model(page, "fake-error-500")
        send(page, "And the budget?")
        expect(replies(page).nth(1)).to_have_attribute("data-status", "error")
        page.goto(live_server_url + "/shared/")
        page.locator(".link-card", has=page.locator(f"code:text-is('{revoked}')")).get_by_role(
            "button", name="Revoke").click()
        expect(page.locator(".link-card.link-revoked")).to_have_count(1)
        token = expired.rstrip("/").rsplit("/", 1)[1]
        workbench_server.run_python(
            "from datetime import timedelta; from django.utils import timezone; "
            "from conversations.models import ShareLink; "
            f"ShareLink.objects.filter(token={token!r}).update(expires_at=timezone.now() - timedelta(days=1))"
        )
        assert page.errors == []
    finally:
        page.context.close()
    return {"user": username, "conversation": conversation, "live": live, "snapshot": snapshot,
            "revoked": revoked, "expired": expired}


def check(page, name: str, width: int, dark: bool, *, within: str | None = None) -> None:
    """No sideways overflow and no axe violation (on the page, or in the part `within` names when
    the rest of the page is another feature's), then a screenshot."""
    if within is None:
        assert overflow(page) <= 0, f"{name} at {width} px reaches {overflow(page)} px past the right edge"
    else:
        box = page.locator(within).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{name} at {width} px: {box}"
    assert axe_violations(page, include=within) == [], name
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}-{width}-{'dark' if dark else 'light'}.png", full_page=within is None)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_what_a_reader_of_a_link_sees(browser, live_server_url, scene, width, dark):
    page = open_page(browser, width=width, dark=dark)
    try:
        page.goto(scene["live"])
        expect(page.locator("body")).to_have_attribute("data-socket", "open")
        expect(page.locator("#transcript")).to_contain_text("onboarding flow")
        # The whole title, above the banner and the transcript, never over them.
        title = page.get_by_role("heading", level=1)
        expect(title).to_have_text(re.compile(r"^Planning the quarterly launch .*enterprise \w+…$"))
        box, banner = title.bounding_box(), page.locator("#share-banner").bounding_box()
        assert box["y"] + box["height"] <= banner["y"] and box["x"] + box["width"] <= width
        check(page, "shared-live", width, dark)

        page.goto(scene["snapshot"])
        expect(page.locator("#transcript article.turn")).to_have_count(2)
        # The failed reply came after the snapshot; the live page shows its sentence, not a log.
        check(page, "shared-snapshot", width, dark)

        for kind in ("revoked", "expired"):
            response = page.goto(scene[kind])
            assert response.status == 404
            expect(page.locator(".error-card")).to_have_attribute("data-error", f"share-{kind}")
            check(page, f"link-{kind}", width, dark)

        response = page.goto(live_server_url + "/no/such/page/")
        assert response.status == 404
        expect(page.get_by_role("heading", name="There is nothing here")).to_be_visible()
        expect(page.get_by_role("link", name="Sign in")).to_be_visible()
        check(page, "404", width, dark)

        # A form whose CSRF cookie is gone (signed out in another tab, cookies cleared).
        page.goto(live_server_url + "/accounts/login/")
        page.context.clear_cookies()
        page.fill("#id_username", "someone")
        page.fill("#id_password", "wrong")
        with page.expect_response(re.compile(r"/accounts/login/$")) as answer:
            page.click("button[type=submit]")
        assert answer.value.status == 403
        expect(page.get_by_role("heading", name="That form could not be sent")).to_be_visible()
        check(page, "403-csrf", width, dark)

        # The 500 page as Django renders it: with no request behind it, served from the same origin.
        html = loader.get_template("500.html").render()
        page.route(f"{live_server_url}/server-error-preview/",
                   lambda route: route.fulfill(status=500, body=html, content_type="text/html"))
        assert page.goto(f"{live_server_url}/server-error-preview/").status == 500
        expect(page.get_by_role("heading", name="Something went wrong on our side")).to_be_visible()
        check(page, "500", width, dark)
        assert page.errors == []
    finally:
        page.context.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_what_the_person_who_shares_sees(browser, live_server_url, scene, width, dark):
    page = open_page(browser, width=width, dark=dark)
    try:
        sign_in(page, live_server_url, scene["user"])
        page.goto(scene["conversation"])
        failed = replies(page).nth(1)
        expect(failed).to_have_attribute("data-status", "error")
        expect(failed.locator(".turn-error")).to_contain_text("had a problem; it may be busy. Try again in a moment.")
        expect(failed.locator(".turn-error")).not_to_contain_text("127.0.0.1")
        failed.scroll_into_view_if_needed()
        check(page, "failed-reply", width, dark, within=f"article[data-turn='{failed.get_attribute('data-turn')}']")

        if page.get_by_role("button", name="Share").is_visible():
            page.get_by_role("button", name="Share").click()
            dialog = page.locator("dialog[open]")
            expect(dialog.locator(".share-item")).to_have_count(4)
            expect(dialog).not_to_contain_text(re.compile(r"\b(turn|reply) \d"))
            expect(dialog.locator(".share-item").first).to_contain_text(
                re.compile(r"One branch, up to the reply from fake-model at \d\d:\d\d on \d+ \w+, and what follows it"))
            check(page, "share-dialog", width, dark, within="dialog[open]")
            page.keyboard.press("Escape")

        page.goto(live_server_url + "/shared/")
        expect(page.locator(".link-card")).to_have_count(4)
        check(page, "shared-links", width, dark)

        # Signed in, a reader may continue the conversation in their own workspace.
        page.goto(scene["live"])
        expect(page.locator("body")).to_have_attribute("data-socket", "open")
        expect(page.get_by_role("button", name="Continue in my workspace")).to_be_visible()
        check(page, "shared-signed-in", width, dark)
        assert page.errors == []
    finally:
        page.context.close()


def test_the_shared_links_page_copies_a_link_and_filters_by_title(browser, live_server_url, scene):
    page = open_page(browser, width=390)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        sign_in(page, live_server_url, scene["user"])
        page.goto(live_server_url + "/shared/")
        card = page.locator(".link-card", has=page.locator(f"code:text-is('{scene['live']}')"))
        # The whole link is on the page, not cut off in a box.
        expect(card.locator(".link-url")).to_have_text(scene["live"])
        assert card.locator(".link-url").evaluate("e => e.scrollWidth <= e.clientWidth")
        button = card.get_by_role("button", name="Copy link")
        button.click()
        expect(card.get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == scene["live"]
        expect(card.get_by_role("button", name="Copy link")).to_be_visible()  # and back

        cards = page.locator(".link-card")
        expect(cards).to_have_count(4)
        page.get_by_label("Filter links by conversation title").fill("ONBOARDING enterprise")
        expect(page.locator(".link-card:visible")).to_have_count(4)
        expect(page.locator("#links-count")).to_have_text("4 of 4 links")
        page.get_by_label("Filter links by conversation title").fill("budget review")
        expect(page.locator(".link-card:visible")).to_have_count(0)
        expect(page.locator("#links-none")).to_be_visible()
        expect(page.locator("#links-none")).to_contain_text("budget review")
        page.get_by_label("Filter links by conversation title").press("Escape")
        expect(page.locator(".link-card:visible")).to_have_count(4)
        expect(page.locator("#links-none")).to_be_hidden()
        assert page.errors == []
    finally:
        page.context.close()
