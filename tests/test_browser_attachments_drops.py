"""A file let go of where it cannot be attached never takes the page away, in real Chromium against
daphne: a browser opens a dropped file in place of the page unless the page cancels the drop, so
each case dispatches the drag's events and checks that the page cancelled them (dispatchEvent
answers false), took no file and stayed where it was. A viewer's conversation, a shared page (an
anonymous reader), a comparison; and the owner's page while a reply streams, where the file is
attached to the next message."""
from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SEED = """
import json
from django.contrib.auth.models import User
from conversations import services
from conversations.models import Turn
from conversations.sharing import services as sharing
from conversations.tokens import count_all
from conversations.workspaces import services as workspaces

owner = User.objects.create_user({owner!r}, password={password!r})
viewer = User.objects.create_user({viewer!r}, password={password!r})
team = workspaces.workspace_create(owner=owner, name="Readers")
workspaces.member_invite(workspace=team, who={viewer!r}, role="viewer")
c = services.conversation_create(owner=owner, workspace=team, title="Read only")

def turn(parent, role, text, model=""):
    provider, _, name = model.partition(":")
    return Turn.objects.append(conversation=c, parent=parent, role=role, content=text,
                               token_counts=count_all(text), provider=provider, model=name)

q = turn(None, "user", "Plan the week.")
a = turn(q, "assistant", "Monday: plan.", "openai:fake-model")
b = turn(q, "assistant", "Tuesday: plan.", "openai:fake-slow")
c.current_turn = a
c.save(update_fields=["current_turn"])
link = sharing.share_create(conversation=c, by=owner, turn_id=None, with_subtree=False, mode="live",
                            audience="anyone", expires_at=None)
print(json.dumps(dict(conversation=c.id, tips=[a.id, b.id], token=link.token)))
"""

# Dispatches a file's dragenter, dragover and drop on `target`; answers for each whether the page
# let it through (true) or cancelled it (false), as dispatchEvent does.
DROP = """([target, name]) => {
    const data = new DataTransfer();
    data.items.add(new File(['hello'], name, { type: 'text/plain' }));
    const element = document.querySelector(target);
    return ['dragenter', 'dragover', 'drop'].map((type) =>
        element.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true })));
}"""


@pytest.fixture(scope="module")
def scene(workbench_server):
    suffix = uuid.uuid4().hex[:8]
    names = {"owner": f"dropper{suffix}", "viewer": f"dropview{suffix}"}
    output = workbench_server.run_python(SEED.format(password=PASSWORD, **names))
    return {**json.loads(output.strip().splitlines()[-1]), **names}


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.uploads = []
    page.on("request", lambda r: page.uploads.append(r.url)
            if r.method == "POST" and r.url.endswith("/files/") else None)
    return page


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def refused_everywhere(page, *targets: str) -> None:
    """Drops on each of `targets` are cancelled, take no file, and leave the page where it was."""
    before = page.url
    for target in targets:
        assert page.evaluate(DROP, [target, "notes.txt"]) == [False, False, False], target
        # The pointer said the page takes no file here.
        effect = page.evaluate("""(target) => {
            const data = new DataTransfer();
            data.items.add(new File(['x'], 'x.txt', { type: 'text/plain' }));
            const event = new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true });
            document.querySelector(target).dispatchEvent(event);
            return event.dataTransfer.dropEffect;
        }""", target)
        assert effect == "none", target
    page.wait_for_timeout(200)  # a navigation would have begun by now; the checks below are not timed
    assert page.url == before
    assert page.uploads == []
    expect(page.locator(".attachment-chip")).to_have_count(0)
    assert page.errors == []


def test_a_viewer_drops_a_file_and_stays(browser, live_server_url, scene):
    page = new_page(browser)
    try:
        sign_in(page, live_server_url, scene["viewer"])
        page.goto(f"{live_server_url}/c/{scene['conversation']}/")
        expect(page.locator("body[data-socket=open]")).to_have_count(1)
        expect(page.locator("#prompt")).to_be_disabled()
        refused_everywhere(page, "#transcript", "#composer", "body")
        expect(page.locator("#composer")).not_to_have_class(re.compile(r"\bis-drop-target\b"))
    finally:
        page.context.close()


def test_a_reader_of_a_shared_page_drops_a_file_and_stays(browser, live_server_url, scene):
    page = new_page(browser)
    try:
        page.goto(f"{live_server_url}/s/{scene['token']}/")
        expect(page.locator("article.turn-assistant")).to_have_count(1)
        refused_everywhere(page, "#transcript", "#share-banner", "body")
    finally:
        page.context.close()


def test_a_comparison_drops_a_file_and_stays(browser, live_server_url, scene):
    page = new_page(browser)
    try:
        sign_in(page, live_server_url, scene["owner"])
        tips = ",".join(map(str, scene["tips"]))
        page.goto(f"{live_server_url}/c/{scene['conversation']}/compare/?tips={tips}")
        expect(page.locator("body[data-socket=open]")).to_have_count(1)
        refused_everywhere(page, "body", "main")
    finally:
        page.context.close()


def test_a_file_dropped_while_a_reply_streams_waits_for_the_next_message(browser, live_server_url, scene):
    page = new_page(browser)
    try:
        sign_in(page, live_server_url, scene["owner"])
        page.goto(f"{live_server_url}/c/{scene['conversation']}/")
        expect(page.locator("body[data-socket=open]")).to_have_count(1)
        page.select_option("#model", "openai:fake-slow-long")
        page.fill("#prompt", "Go on, slowly.")
        page.click("#send")
        expect(page.locator("article.turn-assistant").last).to_have_attribute("data-status", "streaming")
        before = page.url
        with page.expect_response(lambda r: r.url.endswith("/files/") and r.request.method == "POST"):
            assert page.evaluate(DROP, ["#transcript", "notes.txt"])[2] is False
        expect(page.locator("#attachment-tray .attachment-chip.is-ready")).to_have_count(1)
        assert page.url == before
        expect(page.locator("article.turn-assistant").last).to_have_attribute("data-status", "streaming")
        page.click("#stop")
        expect(page.locator("article.turn-assistant").last).not_to_have_attribute("data-status", "streaming")
        assert page.errors == []
    finally:
        page.context.close()
