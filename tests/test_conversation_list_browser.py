"""The conversation list in real Chromium, on a server with automatic titles on: a new conversation
stored only by its first message, its title arriving live, the list grouped in the browser's time
zone, each row's menu used from the keyboard, pages loading as the list scrolls; and screenshots
at 390 and 1280 px, light and dark (saved in WORKBENCH_SHOTS, /work/notes/shots by default)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.live import LiveServer, fake_upstream_env
from tests.test_browser import replies, send, sign_up

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("WORKBENCH_SHOTS", "/work/notes/shots"))
PROMPT = "Plan a weekend in Lisbon with two small kids"
TITLE = "Echo: Plan a weekend in Lisbon with two small kids lorem…"  # the fake model's title
ZONE = "Europe/Paris"

SEED = """
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from conversations.models import Conversation
from conversations.workspaces.services import personal_workspace
from tests.conftest import chain
user = User.objects.create_user("lister", password="{password}")
titles = [
    "Quarterly roadmap review", "Fix flaky login test", "Lisbon weekend with kids", "SQL window functions",
    "Draft the launch email", "Tree diff algorithm ideas", "Kubernetes ingress timeouts", "Sourdough hydration",
    "Rust lifetimes, explained", "Interview questions for SRE", "Budget for the offsite", "Regex for ISO dates",
]
now = timezone.now()
ages = [0, 0, 0, 1, 1, 3, 5, 12, 20, 28] + [35 + 6 * n for n in range(120)]
for n, days in enumerate(ages):
    conversation = Conversation.objects.create(
        owner=user, workspace=personal_workspace(user), title=titles[n % len(titles)] + ("" if n < 12 else f" ({{n}})")
    )
    chain(conversation, ["A question", "An answer"])
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=now - timedelta(days=days, seconds=n))
print(Conversation.objects.filter(owner=user).count())
"""


@pytest.fixture(scope="module")
def server(upstream_server, tmp_path_factory):
    env = fake_upstream_env(upstream_server.url, ["fake-model", "fake-slow"])
    env["WORKBENCH_AUTO_TITLES"] = "true"
    live = LiveServer(tmp_path_factory.mktemp("titled"), env)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def seeded(server) -> int:
    return int(server.run_python(SEED.format(password=PASSWORD)).strip().splitlines()[-1])


def conversations_of(server, username: str) -> int:
    code = (
        "from conversations.models import Conversation;"
        f"print(Conversation.objects.filter(owner__username={username!r}).count())"
    )
    return int(server.run_python(code).strip().splitlines()[-1])


def open_page(browser, *, width=1280, height=860, dark=False):
    context = browser.new_context(
        viewport={"width": width, "height": height}, timezone_id=ZONE, color_scheme="dark" if dark else "light"
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def sign_in(page, base: str, username: str = "lister") -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#conversation-list")).to_be_visible()


def labels(page) -> list[str]:
    return page.locator("#conversation-list .conv-group-label").all_inner_texts()


def row(page, title: str):
    return page.locator("#conversation-list .conv-row").filter(has=page.get_by_role("link", name=title, exact=True))


def open_menu(page, title: str):
    """Opens a row's menu from the keyboard; its items, the first of them in focus."""
    target = row(page, title)
    target.locator("summary").focus()
    page.keyboard.press("Enter")
    items = target.get_by_role("menuitem")
    expect(items.nth(0)).to_be_focused()
    return items


def test_a_new_conversation_is_stored_by_its_first_message_and_titled_live(browser, server):
    page = open_page(browser)
    try:
        username = sign_up(page, server.url)
        page.locator("#new-conversation").click()
        expect(page).to_have_url(re.compile(r"/c/new/"))
        expect(page.locator("body")).to_have_attribute("data-socket", "open")
        expect(page.locator("#conversation-list")).to_contain_text("No conversations yet.")
        assert conversations_of(server, username) == 0  # "+ New conversation" stored nothing
        page.select_option("#model", "openai:fake-model")
        send(page, PROMPT)
        expect(page).to_have_url(re.compile(r"/c/\d+/$"))
        expect(replies(page).nth(0)).to_have_attribute("data-status", "complete")
        # The model's title replaces the first prompt, in the list and the title bar, without a reload.
        active = page.locator("#conversation-list .conv-link.active")
        expect(active).to_have_text(TITLE)
        expect(page.locator(".rename-form input[name=title]")).to_have_value(TITLE)
        expect(page).to_have_title(f"{TITLE} · Workbench")
        assert conversations_of(server, username) == 1
        page.reload()
        expect(active).to_have_text(TITLE)
        assert page.errors == []
    finally:
        page.context.close()


def test_the_list_grouped_by_date_with_a_menu_on_each_row(browser, server, seeded):
    page = open_page(browser)
    try:
        sign_in(page, server.url)
        # Grouped in the browser's time zone (told in a cookie on the first page, then regrouped).
        expect(page.locator("#conversation-list")).to_have_attribute("data-tz", ZONE)
        assert labels(page)[:4] == ["Today", "Yesterday", "Previous 7 days", "Previous 30 days"]
        assert all(re.fullmatch(r"[A-Z][a-z]+ \d{4}", label) for label in labels(page)[4:]), labels(page)
        assert page.locator("#conversation-list .conv-row").count() == 50

        # The menu, from the keyboard: it opens on its first item, arrows move, Escape closes.
        target = row(page, "Lisbon weekend with kids")
        items = open_menu(page, "Lisbon weekend with kids")
        expect(items).to_have_text(["Pin to top", "Rename", "Delete"])
        page.keyboard.press("ArrowDown")
        expect(items.nth(1)).to_be_focused()
        page.keyboard.press("End")
        expect(items.nth(2)).to_be_focused()
        page.keyboard.press("ArrowDown")
        expect(items.nth(0)).to_be_focused()  # round again
        page.keyboard.press("Escape")
        expect(target.locator("details")).not_to_have_attribute("open", "")
        expect(target.locator("summary")).to_be_focused()

        # Pin: it moves to a Pinned group on top, and its menu keeps the focus.
        open_menu(page, "Lisbon weekend with kids")
        page.keyboard.press("Enter")
        pinned = page.locator('#conversation-list .conv-group[data-group="pinned"]')
        expect(pinned.get_by_role("link", name="Lisbon weekend with kids")).to_be_visible()
        assert labels(page)[0] == "Pinned"
        expect(row(page, "Lisbon weekend with kids").locator("summary")).to_be_focused()

        # Rename in place: Enter saves; a title too long is refused with the reason, and kept out.
        open_menu(page, "Sourdough hydration")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        field = page.locator("#conversation-list input.conv-rename")
        expect(field).to_be_focused()
        field.fill("x" * 201)
        page.keyboard.press("Enter")
        expect(page.locator(".conv-error")).to_have_text("The title is 201 characters; the limit is 200.")
        expect(field).to_be_focused()
        field.fill("Bread at 78% hydration")
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="Bread at 78% hydration")).to_be_focused()
        expect(page.locator(".conv-error")).to_have_count(0)

        # Delete, after the question: the row goes, and the next one takes the focus.
        before = conversations_of(server, "lister")
        doomed = row(page, "Regex for ISO dates")
        open_menu(page, "Regex for ISO dates")
        page.keyboard.press("End")
        page.keyboard.press("Enter")
        expect(doomed).to_have_count(0)
        assert conversations_of(server, "lister") == before - 1

        page.reload()
        expect(pinned.get_by_role("link", name="Lisbon weekend with kids")).to_be_visible()
        expect(page.get_by_role("link", name="Bread at 78% hydration")).to_be_visible()

        # More pages load as the list scrolls; "Load more" is a real link all the same.
        more = page.locator("#conversation-list .load-more")
        expect(more).to_have_attribute("href", re.compile(r"^/\?w=\d+&before=\d+-\d+$"))
        rows = page.locator("#conversation-list .conv-row")
        while more.count():
            shown = rows.count()
            rows.last.scroll_into_view_if_needed()
            expect(rows).not_to_have_count(shown)
        expect(rows).to_have_count(before - 1)
        assert len(set(labels(page))) == len(labels(page))  # a group across pages is one group
        assert page.errors == []
    finally:
        page.context.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots(browser, server, seeded, width, dark):
    SHOTS.mkdir(parents=True, exist_ok=True)
    scheme = "dark" if dark else "light"
    page = open_page(browser, width=width, height=860, dark=dark)
    try:
        sign_in(page, server.url)
        expect(page.locator("#conversation-list")).to_have_attribute("data-tz", ZONE)
        first = page.locator("#conversation-list .conv-row").first
        if width > 760:
            # A conversation open, with a row's menu open beside it.
            first.locator(".conv-link").click()
            expect(page.locator("body")).to_have_attribute("data-socket", "open")
            row(page, "Quarterly roadmap review").locator("summary").click()
        else:
            # On a phone the home page is the list.
            first.locator("summary").click()
        expect(page.get_by_role("menuitem").first).to_be_focused()
        page.screenshot(path=SHOTS / f"list-{width}-{scheme}.png")
        page.keyboard.press("Escape")
        page.locator("#new-conversation").click()
        expect(page.locator("body")).to_have_attribute("data-socket", "open")
        page.screenshot(path=SHOTS / f"list-new-{width}-{scheme}.png")
        assert page.errors == []
    finally:
        page.context.close()
