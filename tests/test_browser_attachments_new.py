"""Attachments on the new conversation page (/c/new/), in real Chromium against daphne: a pasted
screenshot or a file from the Attach button goes with the first message, and the conversation
opens with them on its prompt; a refused file says why on its chip; a model without vision is
refused the image and "Send text only" starts the conversation without it. At a desktop's and a
phone's width."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.test_browser_attachments import attach, chip, paste, png, ready, send, vision_server  # noqa: F401

pytestmark = pytest.mark.browser

USER = """
from django.contrib.auth.models import User
User.objects.create_user("{username}", password="{password}")
"""

WIDTHS = [1280, 390]


def open_new(page, server, *, width: int) -> None:
    """Signs in a fresh user with no conversation, and opens /c/new/ at `width`."""
    username = f"new{uuid.uuid4().hex[:10]}"
    server.run_python(USER.format(username=username, password=PASSWORD))
    page.set_viewport_size({"width": width, "height": 860 if width > 600 else 844})
    page.goto(server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    page.goto(server.url + "/c/new/")
    expect(page.locator("body[data-socket=open]")).to_have_count(1)


def fits(page, width: int, *selectors: str) -> None:
    for selector in selectors:
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, selector
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"


def opened_prompt(page):
    """The conversation the first message made, opened; its prompt."""
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("body[data-socket=open]")).to_have_count(1)
    return page.locator("article.turn-user").first


@pytest.mark.parametrize("width", WIDTHS)
def test_a_pasted_screenshot_starts_the_conversation(page, vision_server, width):  # noqa: F811
    open_new(page, vision_server, width=width)
    paste(page, png(800, 500, (250, 200, 40)))
    ready(page, "Pasted image")
    fits(page, width, "#attachment-tray .attachment-chip", "#attach-button", "#send")
    send(page, "What is wrong in this screenshot?")

    prompt = opened_prompt(page)
    expect(prompt).to_contain_text("What is wrong in this screenshot?")
    image = prompt.locator(".attachment-thumb img")
    expect(image).to_have_count(1)
    expect(image).to_have_attribute("alt", re.compile(r"^Pasted image .*\.png$"))
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    href = prompt.locator(".attachment-thumb").get_attribute("href")
    full = page.request.get(vision_server.url + href)
    assert full.status == 200 and full.headers["content-type"] == "image/png"
    expect(page.locator("article.turn-assistant[data-status=complete]")).to_have_count(1)
    fits(page, width, "article.turn-user .attachment-thumb")
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_text_file_by_the_button_starts_the_conversation(page, vision_server, width):  # noqa: F811
    open_new(page, vision_server, width=width)
    expect(page.get_by_role("button", name="Attach files")).to_be_visible()
    notes = b"# Minutes\nWe ship on Monday.\n"
    # The button opens the picker; the file chosen in it becomes a chip.
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files([{"name": "minutes.md", "mimeType": "text/markdown", "buffer": notes}])
    expect(ready(page, "minutes.md")).to_contain_text("Markdown")
    send(page, "When do we ship?")

    prompt = opened_prompt(page)
    file_chip = prompt.locator(".attachment-file")
    expect(file_chip).to_contain_text("minutes.md")
    response = page.request.get(vision_server.url + file_chip.get_attribute("href"))
    assert response.status == 200 and response.body() == notes
    expect(page.locator("article.turn-assistant[data-status=complete]")).to_have_count(1)
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_refused_file_says_why_and_nothing_starts(page, vision_server, width):  # noqa: F811
    open_new(page, vision_server, width=width)
    attach(page, ("setup.exe", "application/octet-stream", b"MZ\x90\x00" * 64))
    failed = chip(page, "setup.exe")
    expect(failed).to_have_class(re.compile(r"\bis-error\b"))
    expect(failed.get_by_role("alert")).to_contain_text("setup.exe")
    fits(page, width, "#attachment-tray .attachment-chip")
    send(page, "Install this")
    expect(page.locator("#composer-error")).to_contain_text("could not be attached")
    assert page.url.endswith("/c/new/")
    # Dismissed, the text alone starts the conversation.
    failed.get_by_role("button", name="Dismiss: setup.exe").click()
    page.click("#send")
    prompt = opened_prompt(page)
    expect(prompt.locator(".turn-attachments")).to_have_count(0)
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_a_model_without_vision_is_refused_then_sent_the_text_only(page, vision_server, width):  # noqa: F811
    open_new(page, vision_server, width=width)
    page.select_option("#model", "openai:fake-slow")
    paste(page, png())
    ready(page, "Pasted image")
    expect(page.locator("#attach-warning")).to_contain_text("fake-slow cannot see images")
    send(page, "Describe it")
    error = page.locator("#composer-error")
    expect(error).to_contain_text("cannot see images")
    expect(page.locator("#attach-warning")).to_be_hidden()  # said once, with the ways on
    assert page.url.endswith("/c/new/")  # nothing was stored
    fits(page, width, "#composer-error [data-action=text-only]", "#composer-error [data-action=choose-model]")
    error.get_by_role("button", name="Send text only").click()

    prompt = opened_prompt(page)
    expect(prompt).to_contain_text("Describe it")
    # The prompt keeps its image; only the model's request went without it.
    expect(prompt.locator(".attachment-thumb img")).to_have_count(1)
    expect(page.locator("article.turn-assistant[data-status=complete]")).to_have_count(1, timeout=60_000)
    assert page.errors == []
