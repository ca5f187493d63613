"""A shared conversation whose prompt carries an image and a PDF, in real Chromium against daphne:
an anonymous reader of an "anyone" link, live or a snapshot, sees the thumbnail and the file's chip;
the image comes through the link (/s/<token>/t/<turn>/files/<n>/) and opens in the lightbox; a link
to another branch serves none of that prompt's files; "Continue in my workspace" keeps the files in
the fork. At a desktop's and a phone's width."""
from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# Two branches from the root: a prompt with a chart and a report (and its reply), and another
# prompt with an image of its own. Links to the first branch (live and a snapshot) and to the other.
SEED = """
import json
from django.contrib.auth.models import User
from conversations import services
from conversations.models import Turn
from conversations.sharing import services as sharing
from conversations.tokens import count_all
from tests import attachment_files as files

owner = User.objects.create_user({owner!r}, password={password!r})
User.objects.create_user({reader!r}, password={password!r})
c = services.conversation_create(owner=owner, title="The quarter in a chart")

def reply(parent, text):
    return Turn.objects.append(conversation=c, parent=parent, role="assistant", content=text,
                               token_counts=count_all(text), provider="openai", model="fake-model")

chart = files.upload(owner, "chart.png", files.png((640, 400), files.BLUE))
report = files.upload(owner, "report.pdf", files.pdf("Sales rose by a tenth.", "Costs fell."))
q = files.attached_turn(c, None, owner, chart, report, content="What do the chart and the report say?")
a = reply(q, "Sales rose by a tenth while costs fell.")
other = files.attached_turn(c, None, owner, files.upload(owner, "other.png", files.png(color=files.GREEN)),
                            content="And this one?")
b = reply(other, "A green square.")
c.current_turn = a
c.save(update_fields=["current_turn"])

def link(mode, turn):
    return sharing.share_create(conversation=c, by=owner, turn_id=turn.id, with_subtree=False, mode=mode,
                                audience="anyone", expires_at=None).token

print(json.dumps(dict(prompt=q.id, other=other.id, live=link("live", a), snapshot=link("snapshot", a),
                      elsewhere=link("live", b))))
"""


@pytest.fixture(scope="module")
def shared(workbench_server):
    suffix = uuid.uuid4().hex[:8]
    names = {"owner": f"sharer{suffix}", "reader": f"reader{suffix}"}
    output = workbench_server.run_python(SEED.format(password=PASSWORD, **names))
    return {**json.loads(output.strip().splitlines()[-1]), **names}


def reader_page(browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 860 if width > 600 else 844})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def loaded(page, image) -> None:
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("kind", ["live", "snapshot"])
def test_an_anonymous_reader_sees_the_prompts_files(browser, live_server_url, shared, kind, width):
    page = reader_page(browser, width)
    try:
        token = shared[kind]
        page.goto(f"{live_server_url}/s/{token}/")
        prompt = page.locator("article.turn-user")
        expect(prompt).to_have_count(1)
        thumb = prompt.locator(".attachment-thumb")
        image = thumb.locator("img")
        expect(image).to_have_attribute("alt", "chart.png")
        loaded(page, image)
        href = thumb.get_attribute("href")
        assert href == f"/s/{token}/t/{shared['prompt']}/files/0/"
        full = page.request.get(live_server_url + href)
        assert full.status == 200 and full.headers["content-type"] == "image/png"
        small = page.request.get(live_server_url + href + "?thumb=1")
        assert small.status == 200 and small.headers["content-type"] == "image/webp"

        pdf = prompt.locator(".attachment-file")
        expect(pdf).to_contain_text("report.pdf")
        expect(pdf).to_contain_text("PDF")
        assert pdf.get_attribute("href") == f"/s/{token}/t/{shared['prompt']}/files/1/"
        document = page.request.get(live_server_url + pdf.get_attribute("href"))
        assert document.status == 200 and document.headers["content-type"] == "application/pdf"

        # The lightbox, by the mouse; Escape closes it.
        thumb.click()
        box = page.locator("dialog.lightbox")
        expect(box).to_be_visible()
        expect(box.get_by_role("heading")).to_have_text("chart.png")
        loaded(page, box.locator("img.lightbox-image"))
        lightbox = box.locator("img.lightbox-image").bounding_box()
        assert lightbox["x"] >= 0 and lightbox["x"] + lightbox["width"] <= width
        page.keyboard.press("Escape")
        expect(box).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.errors == []
    finally:
        page.context.close()


def test_a_link_serves_only_the_files_of_what_it_shows(browser, live_server_url, shared):
    page = reader_page(browser, 1280)
    try:
        prompt, other = shared["prompt"], shared["other"]
        # The link to the other branch shows its own prompt's image...
        page.goto(f"{live_server_url}/s/{shared['elsewhere']}/")
        expect(page.locator("article.turn-user .attachment-thumb img")).to_have_attribute("alt", "other.png")
        get = lambda token, turn, index: page.request.get(f"{live_server_url}/s/{token}/t/{turn}/files/{index}/")  # noqa: E731
        assert get(shared["elsewhere"], other, 0).status == 200
        # ...and none of the first branch's, nor do the first branch's links serve the other's.
        for token, turn in ((shared["elsewhere"], prompt), (shared["live"], other), (shared["snapshot"], other)):
            for index in (0, 1):
                assert get(token, turn, index).status == 404, (token, turn, index)
                assert page.request.get(f"{live_server_url}/s/{token}/t/{turn}/files/{index}/?thumb=1").status == 404
        # A file past the prompt's last, through a link that shows the prompt.
        assert get(shared["live"], prompt, 2).status == 404
    finally:
        page.context.close()


@pytest.mark.parametrize("kind", ["live", "snapshot"])
def test_continue_in_my_workspace_keeps_the_files(browser, live_server_url, shared, kind):
    page = reader_page(browser, 1280)
    try:
        page.goto(live_server_url + "/accounts/login/")
        page.fill("#id_username", shared["reader"])
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
        page.goto(f"{live_server_url}/s/{shared[kind]}/")
        expect(page.locator("article.turn-assistant")).to_have_count(1)
        page.get_by_role("button", name="Continue in my workspace").click()

        page.wait_for_url(re.compile(r"/c/\d+/"))
        opened = re.search(r"/c/(\d+)/", page.url)
        assert opened, page.url
        fork = int(opened.group(1))
        expect(page.locator("body[data-socket=open]")).to_have_count(1)
        prompt = page.locator("article.turn-user").first
        image = prompt.locator(".attachment-thumb img")
        expect(image).to_have_attribute("alt", "chart.png")
        loaded(page, image)
        href = prompt.locator(".attachment-thumb").get_attribute("href")
        assert re.fullmatch(rf"/c/{fork}/t/\d+/files/0/", href)
        assert page.request.get(live_server_url + href).headers["content-type"] == "image/png"
        expect(prompt.locator(".attachment-file")).to_contain_text("report.pdf")
        # The fork's prompt is the reader's own: editing it keeps both files.
        prompt.locator("[data-action=edit]").click()
        expect(prompt.locator(".edit-form .attachment-chip")).to_have_count(2)
        assert page.errors == []
    finally:
        page.context.close()
