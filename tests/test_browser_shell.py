"""The page shell in real Chromium at a phone's (390 px), a tablet's (768 px) and a desktop's
(1280 px) width, light and dark: the sidebar as a drawer below 1024 px (opened, used to move to
another conversation, closed by Escape with the focus back on its button), the top bar's folded
menus, the composer's Send button whole on a phone, and every everyday page free of sideways
scrolling and clipped controls. Screenshots go to WORKBENCH_SHOTS/shell (/work/notes/shots/shell
by default): look at them."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.axe import axe_violations
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("WORKBENCH_SHOTS", "/work/notes/shots")) / "shell"
WIDTHS = {"phone": 390, "tablet": 768, "desktop": 1280}

SEED = """
from django.contrib.auth.models import User
from conversations.models import Conversation
from conversations.workspaces.services import member_invite, personal_workspace, workspace_create
from tests.conftest import chain
user = User.objects.create_user("shelly", email="shelly@example.com", password="{password}")
for name in ("bobby", "verity"):
    User.objects.create_user(name, email=name + "@example.com", password="{password}")
team = workspace_create(owner=user, name="Research team")
member_invite(workspace=team, who="bobby", role="editor")
member_invite(workspace=team, who="verity@example.com", role="viewer")
ids = []
for title in ("Lisbon weekend with two small kids", "SQL window functions", "Tree diff algorithm ideas"):
    conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title=title)
    chain(conversation, ["How would you approach " + title.lower() + "?", "Step by step: " + "a plan. " * 40] * 3)
    ids.append(conversation.id)
print(team.id, *ids)
"""


@pytest.fixture(scope="module")
def seeded(workbench_server) -> dict:
    team, *conversations = workbench_server.run_python(SEED.format(password=PASSWORD)).split()[-4:]
    return {"team": int(team), "conversations": [int(c) for c in conversations]}


def open_page(browser, base: str, *, width: int, dark: bool = False, height: int = 844):
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="dark" if dark else "light")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def sign_in(page, base: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", "shelly")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#conversation-list")).to_be_attached()


def assert_fits(page, width: int) -> None:
    """No sideways scrolling, and every visible control whole inside the viewport's width (or in a
    row that scrolls sideways by design, itself inside it)."""
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{page.url}: the page is {overflow} px wide at {width} px"
    clipped = page.evaluate(
        """(width) => {
            const inScroller = (el) => {
                for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
                    if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) return true;
                }
                return false;
            };
            return [...document.querySelectorAll('button, a.button, summary, input, select, textarea')]
                .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden'
                    && !el.closest('[inert], .sidebar:not(.open)') && !inScroller(el))
                .map((el) => [el, el.getBoundingClientRect()])
                .filter(([, box]) => box.width > 1 && (box.left < -0.5 || box.right > width + 0.5))
                .map(([el, box]) => `${el.tagName}#${el.id}.${el.className} ${Math.round(box.left)}–`
                    + `${Math.round(box.right)}`);
        }""",
        width,
    )
    assert clipped == [], f"{page.url}: cut off at {width} px: {clipped}"


def test_the_drawer_on_a_phone_leads_to_another_conversation(browser, live_server_url, seeded):
    first, second, _ = seeded["conversations"]
    page = open_page(browser, live_server_url, width=390)
    try:
        sign_in(page, live_server_url)
        page.goto(f"{live_server_url}/c/{first}/")
        expect(page.locator("body")).to_have_attribute("data-socket", "open")
        toggle = page.get_by_role("button", name="Conversations", exact=True)
        sidebar = page.locator("#sidebar")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(toggle).to_have_attribute("aria-controls", "sidebar")
        expect(sidebar).not_to_be_in_viewport()

        # Opened: over the page, the focus inside it (on the open conversation), the page inert.
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(sidebar).to_be_in_viewport(ratio=1)
        expect(page.locator(f'.conv-row[data-conversation="{first}"] .conv-link')).to_be_focused()
        for name in ("New conversation", "Import…", "Members", "Shared links"):
            expect(sidebar.get_by_role("link", name=name)).to_be_visible()
        assert page.evaluate("document.querySelector('main').inert")
        for _ in range(4):  # the keyboard stays in the drawer
            page.keyboard.press("Shift+Tab")
            assert page.evaluate("document.getElementById('sidebar').contains(document.activeElement)")
        assert_fits(page, 390)
        page.screenshot(path=SHOTS / "drawer-390-light.png")

        # Escape closes it and gives the focus back to the menu button.
        page.keyboard.press("Escape")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(toggle).to_be_focused()
        expect(sidebar).not_to_be_in_viewport()
        assert not page.evaluate("document.querySelector('main').inert")

        # The scrim closes it too.
        toggle.click()
        expect(sidebar).to_be_in_viewport(ratio=1)
        page.mouse.click(380, 400)
        expect(toggle).to_have_attribute("aria-expanded", "false")

        # Choosing another conversation opens it, the drawer closed.
        toggle.click()
        sidebar.get_by_role("link", name="SQL window functions").click()
        expect(page).to_have_url(re.compile(rf"/c/{second}/$"))
        expect(page.locator(".rename-form input[name=title]")).to_have_value("SQL window functions")
        expect(page.locator("#nav-toggle")).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#sidebar")).not_to_be_in_viewport()
        assert page.errors == []
    finally:
        page.context.close()


def test_the_drawer_is_a_column_from_1024_pixels(browser, live_server_url, seeded):
    page = open_page(browser, live_server_url, width=1024, height=800)
    try:
        sign_in(page, live_server_url)
        page.goto(f"{live_server_url}/c/{seeded['conversations'][0]}/")
        expect(page.locator("#nav-toggle")).to_be_hidden()
        expect(page.locator("#sidebar")).to_be_in_viewport()
        box = page.locator("#sidebar").bounding_box()
        assert box["x"] == 0 and box["width"] == 264, box
        assert page.locator("main").bounding_box()["x"] >= 264
    finally:
        page.context.close()


def test_the_composer_and_top_bar_fit_a_phone(browser, live_server_url, seeded):
    page = open_page(browser, live_server_url, width=390)
    try:
        sign_in(page, live_server_url)
        page.goto(f"{live_server_url}/c/{seeded['conversations'][0]}/")
        expect(page.locator("body")).to_have_attribute("data-socket", "open")
        send = page.locator("#send")
        expect(send).to_be_in_viewport(ratio=1)
        box = send.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        # One row of controls: the model, Compare and Settings as icons, Send.
        boxes = [page.locator(f"#{id}").bounding_box() for id in ("model", "add-variant", "settings-toggle", "send")]
        middles = [box["y"] + box["height"] / 2 for box in boxes]
        assert max(middles) - min(middles) < 4, boxes
        expect(page.get_by_role("button", name="Compare with…")).to_be_visible()
        # The strip behind the meter and the composer hides the transcript under it.
        assert page.evaluate("getComputedStyle(document.querySelector('.composer-wrap')).backgroundColor") not in (
            "rgba(0, 0, 0, 0)", "transparent",
        )
        # Two extra models and the settings still fit.
        page.get_by_role("button", name="Compare with…").click()
        page.get_by_role("button", name="Compare with…").click()
        page.get_by_role("button", name="Settings").click()
        expect(page.locator("#settings")).to_be_visible()
        assert_fits(page, 390)
        expect(send).to_have_text("Send to 3")
        page.screenshot(path=SHOTS / "composer-open-390-light.png")

        # Someone else here shows as a dot on "More" while the list behind it is folded.
        more = page.get_by_role("button", name="More", exact=True)
        expect(more).not_to_have_class(re.compile("has-presence"))
        page.evaluate("document.getElementById('presence').hidden = false")
        expect(more).to_have_class(re.compile("has-presence"))
        page.evaluate("document.getElementById('presence').hidden = true")
        expect(more).not_to_have_class(re.compile("has-presence"))

        # The title keeps the bar: the page's actions fold behind "More", the search box behind a button.
        for hidden in ("#share-button", "#tree-toggle", "#export-menu", ".topbar-search"):
            expect(page.locator(hidden)).to_be_hidden()
        title = page.locator(".topbar-title").bounding_box()
        assert title["width"] >= 150, title
        more = page.get_by_role("button", name="More", exact=True)
        more.click()
        expect(more).to_have_attribute("aria-expanded", "true")
        expect(page.locator("#share-button")).to_be_focused()
        expect(page.locator("#tree-toggle")).to_be_visible()
        assert_fits(page, 390)
        page.screenshot(path=SHOTS / "more-390-light.png")
        page.keyboard.press("Escape")
        expect(more).to_have_attribute("aria-expanded", "false")
        expect(more).to_be_focused()
        more.click()
        page.get_by_role("button", name="Share").click()
        expect(page.get_by_role("dialog", name="Share")).to_be_visible()
        page.keyboard.press("Escape")
        expect(more).to_be_focused()

        # The search button opens the field over the bar; Escape folds it again.
        search = page.get_by_role("button", name="Search")
        search.click()
        expect(page.locator("#search-box")).to_be_focused()
        expect(page.locator("#search-box")).to_be_in_viewport(ratio=1)
        page.screenshot(path=SHOTS / "search-open-390-light.png")
        page.keyboard.press("Escape")
        expect(page.locator("#search-box")).to_be_hidden()
        expect(search).to_be_focused()
        page.keyboard.press("Control+k")
        expect(page.locator("#search-box")).to_be_focused()
        page.keyboard.type("window")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/search/\?q=window"))

        # Sign out lives in the account menu.
        page.locator("#account-menu > summary").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.get_by_role("link", name="Workspaces")).to_be_visible()
        assert_fits(page, 390)
        page.keyboard.press("Escape")
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
        assert page.errors == []
    finally:
        page.context.close()


def pages(base: str, seeded: dict) -> dict[str, str]:
    first = seeded["conversations"][0]
    return {
        "home": "/",
        "new": "/c/new/",
        "conversation": f"/c/{first}/",
        "search": "/search/?q=plan",
        "workspaces": "/workspaces/",
        "workspace": f"/w/{seeded['team']}/",
        "import": "/import/",
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(WIDTHS))
def test_every_everyday_page_fits(browser, live_server_url, seeded, size, scheme):
    SHOTS.mkdir(parents=True, exist_ok=True)
    width = WIDTHS[size]
    page = open_page(browser, live_server_url, width=width, dark=scheme == "dark", height=844 if width < 600 else 900)
    try:
        for name, path in (("login", "/accounts/login/"), ("signup", "/accounts/signup/")):
            page.goto(live_server_url + path)
            assert_fits(page, width)
            page.screenshot(path=SHOTS / f"{name}-{width}-{scheme}.png")
            assert axe_violations(page) == [], name
        sign_in(page, live_server_url)
        for name, path in pages(live_server_url, seeded).items():
            page.goto(live_server_url + path)
            if name in ("new", "conversation"):
                expect(page.locator("body")).to_have_attribute("data-socket", "open")
                expect(page.locator("#send")).to_be_in_viewport(ratio=1)
            assert_fits(page, width)
            page.screenshot(path=SHOTS / f"{name}-{width}-{scheme}.png")
            assert axe_violations(page) == [], name
            if name != "conversation":
                continue
            if size == "phone":
                page.get_by_role("button", name="More", exact=True).click()
                assert_fits(page, width)
                page.screenshot(path=SHOTS / f"more-{width}-{scheme}.png")
                page.keyboard.press("Escape")
            page.locator("#account-menu > summary").click()
            expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport(ratio=1)
            page.screenshot(path=SHOTS / f"account-{width}-{scheme}.png")
            page.keyboard.press("Escape")
            if size != "desktop":
                page.get_by_role("button", name="Conversations", exact=True).click()
                expect(page.locator("#sidebar")).to_be_in_viewport(ratio=1)
                assert_fits(page, width)
                page.screenshot(path=SHOTS / f"drawer-{width}-{scheme}.png")
                assert axe_violations(page) == [], "drawer"
        assert page.errors == []
    finally:
        page.context.close()
