"""Attachments in real Chromium against daphne: files attached by the button, a paste and a drop
upload at once and show as chips; a chip is removed (its upload discarded) and a refused file says
why on its chip; a sent prompt shows its image, which opens in a lightbox; an edit keeps one file
and drops another; a model without vision offers "Send text only"; and the whole story — paste a
screenshot, ask two models, compare their replies with the image in both columns — at a desktop's
and a phone's width. Audited with axe in both colour schemes."""
from __future__ import annotations

import io
import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.axe import axe_audit
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# fake-model sees images (under every provider); fake-slow does not.
CATALOGUE = {"fake-model": {"context_window": 100000, "max_output": 4000, "vision": True}}

SEED = """
from django.contrib.auth.models import User
from conversations.models import Conversation
from conversations.workspaces.services import personal_workspace
user = User.objects.create_user("{username}", password="{password}")
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title="Pictures")
print(conversation.id)
"""


@pytest.fixture(scope="module")
def vision_server(upstream_server, tmp_path_factory):
    """The workbench on daphne with a model that sees images and one that does not."""
    from tests.live import LiveServer, fake_upstream_env

    env = fake_upstream_env(upstream_server.url, ["fake-model", "fake-slow"])
    env["WORKBENCH_MODEL_CATALOGUE"] = json.dumps(CATALOGUE)
    server = LiveServer(tmp_path_factory.mktemp("attachments"), env)
    server.start()
    yield server
    server.stop()


def png(width: int = 64, height: int = 40, colour: tuple[int, int, int] = (40, 120, 220)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def open_conversation(page, server, *, width: int = 1280) -> int:
    """Signs in a fresh user who owns an empty conversation, and opens it at `width`."""
    username = f"att{uuid.uuid4().hex[:10]}"
    conversation_id = int(server.run_python(SEED.format(username=username, password=PASSWORD)).strip().splitlines()[-1])
    page.goto(server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("link", name="Start a conversation")).to_be_visible()
    page.set_viewport_size({"width": width, "height": 860 if width > 600 else 844})
    page.goto(f"{server.url}/c/{conversation_id}/")
    expect(page.locator("body[data-socket=open]")).to_have_count(1)
    return conversation_id


def attach(page, *files: tuple[str, str, bytes]) -> None:
    page.set_input_files("#attach-input", [{"name": n, "mimeType": t, "buffer": b} for n, t, b in files])


def chip(page, name: str):
    return page.locator("#attachment-tray .attachment-chip").filter(has_text=name)


def ready(page, name: str):
    located = chip(page, name)
    expect(located).to_have_class(re.compile(r"\bis-ready\b"))
    return located


PASTE = """([bytes, name, type, target]) => {
    const file = new File([new Uint8Array(bytes)], name, { type });
    const data = new DataTransfer();
    data.items.add(file);
    const event = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
    document.querySelector(target).dispatchEvent(event);
}"""

DRAG = """([bytes, name, type, target, kind]) => {
    const file = new File([new Uint8Array(bytes)], name, { type });
    const data = new DataTransfer();
    data.items.add(file);
    const event = new DragEvent(kind, { dataTransfer: data, bubbles: true, cancelable: true });
    document.querySelector(target).dispatchEvent(event);
}"""


def paste(page, data: bytes, name: str = "image.png", kind: str = "image/png", target: str = "#prompt") -> None:
    page.evaluate(PASTE, [list(data), name, kind, target])


def send(page, text: str) -> None:
    page.fill("#prompt", text)
    page.click("#send")


def image_loaded(locator) -> bool:
    return locator.evaluate("(img) => img.complete && img.naturalWidth > 0")


def test_files_come_by_button_paste_and_drop_and_a_chip_is_removed(page, vision_server):
    open_conversation(page, vision_server)
    assert page.locator("#attach-input").get_attribute("accept").startswith("image/png,image/jpeg")
    expect(page.get_by_role("button", name="Attach files")).to_be_visible()

    # The button: an image, its thumbnail on the chip.
    attach(page, ("diagram.png", "image/png", png()))
    thumb = ready(page, "diagram.png").locator("img.chip-thumb")
    expect(thumb).to_have_attribute("src", re.compile(r"thumb=1"))
    page.wait_for_function("() => document.querySelector('#attachment-tray img.chip-thumb').naturalWidth > 0")

    # A paste: a screenshot on the clipboard, named by when it came.
    paste(page, png(colour=(200, 60, 60)))
    expect(ready(page, "Pasted image")).to_contain_text("PNG")

    # A drop anywhere on the page: the composer shows itself as the target while files are held over it.
    csv = b"region,sales\nnorth,12\nsouth,7\n"
    with page.expect_response(lambda r: r.url.endswith("/files/") and r.request.method == "POST") as uploaded:
        page.evaluate(DRAG, [list(csv), "sales.csv", "text/csv", "#transcript", "dragover"])
        expect(page.locator("#composer")).to_have_class(re.compile(r"\bis-drop-target\b"))
        page.evaluate(DRAG, [list(csv), "sales.csv", "text/csv", "#transcript", "drop"])
    upload_url = uploaded.value.json()["url"]
    expect(ready(page, "sales.csv")).to_contain_text("CSV")
    expect(page.locator("#composer")).not_to_have_class(re.compile(r"\bis-drop-target\b"))
    assert page.request.get(vision_server.url + upload_url).status == 200

    # × discards the upload: its chip goes, and so does the file on the server.
    with page.expect_response(lambda r: r.request.method == "DELETE"):
        page.get_by_role("button", name="Remove sales.csv").click()
    expect(chip(page, "sales.csv")).to_have_count(0)
    assert page.request.get(vision_server.url + upload_url).status == 404
    expect(page.locator("#attachment-tray .attachment-chip")).to_have_count(2)
    assert page.errors == []


def test_a_refused_file_says_why_on_its_chip_until_dismissed(page, vision_server):
    open_conversation(page, vision_server)
    data = b"MZ\x90\x00" * 64
    # What the server says of this file, asked directly.
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    exe = {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": data}
    refused = page.request.post(vision_server.url + "/files/", multipart={"file": exe}, headers={"X-CSRFToken": token})
    assert refused.status in (400, 413)
    said = refused.json()["error"]

    attach(page, ("setup.exe", "application/octet-stream", data))
    failed = chip(page, "setup.exe")
    expect(failed).to_have_class(re.compile(r"\bis-error\b"))
    expect(failed.get_by_role("alert")).to_have_text(said)
    # Send refuses while it is there, and says what to do.
    send(page, "Here is the installer")
    expect(page.locator("#composer-error")).to_contain_text("could not be attached")
    failed.get_by_role("button", name="Dismiss: setup.exe").click()
    expect(chip(page, "setup.exe")).to_have_count(0)
    expect(page.locator("#attachment-tray")).to_be_hidden()


def test_a_sent_image_shows_on_its_prompt_and_opens_in_a_lightbox(page, vision_server):
    conversation_id = open_conversation(page, vision_server)
    notes = b"# Notes\nThe north grew.\n"
    attach(page, ("chart.png", "image/png", png(640, 400)), ("notes.md", "text/markdown", notes))
    ready(page, "chart.png")
    ready(page, "notes.md")
    send(page, "What does the chart say?")

    prompt = page.locator("article.turn-user").last
    thumb = prompt.locator(".attachment-thumb")
    expect(thumb).to_have_count(1)
    image = thumb.locator("img")
    expect(image).to_have_attribute("alt", "chart.png")
    expect(image).to_have_attribute("loading", "lazy")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    href = thumb.get_attribute("href")
    assert re.fullmatch(rf"/c/{conversation_id}/t/\d+/files/0/", href)
    full = page.request.get(vision_server.url + href)
    assert full.status == 200
    assert full.headers["content-type"] == "image/png"
    # The text file: a chip with its name, type and size, opening the file.
    file_chip = prompt.locator(".attachment-file")
    expect(file_chip).to_contain_text("notes.md")
    expect(file_chip).to_contain_text("Markdown")
    assert file_chip.get_attribute("href").endswith("/files/1/")
    # The tray emptied once the prompt was sent.
    expect(page.locator("#attachment-tray")).to_be_hidden()
    expect(page.locator("article.turn-assistant[data-status=complete]")).to_have_count(1)

    # The lightbox: the full image under its name; Escape closes it and the focus goes back.
    thumb.focus()
    page.keyboard.press("Enter")
    box = page.locator("dialog.lightbox")
    expect(box).to_be_visible()
    expect(box.get_by_role("heading")).to_have_text("chart.png")
    expect(box.locator("img.lightbox-image")).to_have_attribute("src", href)
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('attachment-thumb')")
    assert page.errors == []


def test_a_thumbnail_keeps_its_images_proportions(page, vision_server):
    """A wide screenshot is shown whole at the thumbnail's height, not cut to a square; a tall one
    too, within the thumbnail's bounds."""
    open_conversation(page, vision_server)
    attach(page, ("wide.png", "image/png", png(900, 300)), ("tall.png", "image/png", png(200, 400)))
    ready(page, "wide.png")
    ready(page, "tall.png")
    send(page, "Two shapes")
    thumbs = page.locator("article.turn-user").last.locator(".attachment-thumb img")
    expect(thumbs).to_have_count(2)
    for index in range(2):
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumbs.nth(index).element_handle())
    wide, tall = (thumbs.nth(i).bounding_box() for i in range(2))
    assert wide is not None and tall is not None
    assert wide["width"] / wide["height"] == pytest.approx(3, rel=0.05)
    assert tall["width"] / tall["height"] == pytest.approx(0.5, rel=0.05)
    assert wide["height"] == pytest.approx(tall["height"], abs=1)
    assert page.errors == []


def test_an_edit_keeps_one_file_and_drops_another(page, vision_server):
    open_conversation(page, vision_server)
    attach(page, ("keep.png", "image/png", png()), ("drop.csv", "text/csv", b"a,b\n1,2\n"))
    ready(page, "keep.png")
    ready(page, "drop.csv")
    send(page, "Two files")
    expect(page.locator("article.turn-assistant[data-status=complete]")).to_have_count(1)

    prompt = page.locator("article.turn-user").last
    prompt.locator("[data-action=edit]").click()
    form = prompt.locator(".edit-form")
    expect(form.locator(".attachment-chip")).to_have_count(2)
    expect(prompt.locator(".turn-attachments")).to_be_hidden()
    form.get_by_role("button", name="Remove drop.csv").click()
    expect(form.locator(".attachment-chip")).to_have_count(1)
    # And one more, by the edit's own Attach button.
    added = {"name": "added.png", "mimeType": "image/png", "buffer": png(colour=(0, 160, 90))}
    form.locator("input[type=file]").set_input_files([added])
    expect(form.locator(".attachment-chip.is-ready")).to_have_count(2)
    form.get_by_role("button", name="Save & send").click()

    expect(page.locator(".sibling-count").first).to_have_text("2 / 2")
    edited = page.locator("article.turn-user").last
    expect(edited.locator(".attachment-thumb img")).to_have_count(2)
    expect(edited.locator(".attachment-thumb img").first).to_have_attribute("alt", "keep.png")
    expect(edited.locator(".attachment-thumb img").last).to_have_attribute("alt", "added.png")
    expect(edited.locator(".attachment-file")).to_have_count(0)
    for index in (0, 1):
        href = edited.locator(".attachment-thumb").nth(index).get_attribute("href")
        response = page.request.get(vision_server.url + href)
        assert response.status == 200 and response.headers["content-type"] == "image/png"


def test_a_model_without_vision_warns_and_offers_the_text_alone(page, vision_server):
    open_conversation(page, vision_server)
    page.select_option("#model", "openai:fake-slow")
    attach(page, ("photo.png", "image/png", png()))
    ready(page, "photo.png")
    expect(page.locator("#attach-warning")).to_contain_text("fake-slow cannot see images")
    page.select_option("#model", "openai:fake-model")
    expect(page.locator("#attach-warning")).to_be_hidden()
    page.select_option("#model", "openai:fake-slow")

    send(page, "Describe the photo")
    error = page.locator("#composer-error")
    expect(error).to_contain_text("cannot see images")
    expect(page.locator("article.turn")).to_have_count(0)  # nothing was written
    # "Choose another model" puts the focus on the model picker.
    error.get_by_role("button", name="Choose another model").click()
    assert page.evaluate("document.activeElement.id") == "model"
    send(page, "Describe the photo")
    error.get_by_role("button", name="Send text only").click()
    expect(page.locator("article.turn-user")).to_have_count(1)
    expect(page.locator("article.turn-assistant[data-status=complete]")).to_have_count(1, timeout=60_000)
    expect(page.locator("#composer-error")).to_be_empty()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_story_paste_a_screenshot_ask_two_models_compare_with_the_image(page, vision_server, width):
    open_conversation(page, vision_server, width=width)
    paste(page, png(800, 500, (250, 200, 40)))
    ready(page, "Pasted image")
    # Both the Attach button and Send stay on screen on a phone.
    for control in ("#attach-button", "#send"):
        box = page.locator(control).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, control
    page.click("#add-variant")
    page.locator(".variant-model").select_option("anthropic:fake-model")
    expect(page.locator("#send")).to_have_text("Send to 2")
    send(page, "What is wrong in this screenshot?")

    page.wait_for_url(re.compile(r"/compare/\?tips="))
    given = page.locator(".column-head .attachments-given img")
    expect(given).to_have_count(2)
    for index in range(2):
        if width < 600:
            page.locator(".column-tab").nth(index).click()
        image = given.nth(index)
        image.scroll_into_view_if_needed()
        expect(image).to_have_attribute("alt", re.compile(r"^Pasted image .*\.png$"))
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    assert page.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_chips_and_a_prompt_with_files_pass_axe(page, vision_server, scheme):
    page.emulate_media(color_scheme=scheme)
    open_conversation(page, vision_server)
    attach(
        page, ("first.png", "image/png", png()), ("table.csv", "text/csv", b"a,b\n"),
        ("setup.exe", "application/octet-stream", b"MZ" * 40),
    )
    ready(page, "first.png")
    ready(page, "table.csv")
    expect(chip(page, "setup.exe")).to_have_class(re.compile(r"\bis-error\b"))
    assert axe_audit(page) == []
    page.get_by_role("button", name="Dismiss: setup.exe").click()
    send(page, "Look")
    expect(page.locator("article.turn-user .attachment-thumb")).to_have_count(1)
    expect(page.locator("article.turn-assistant[data-status=complete]")).to_have_count(1)
    assert axe_audit(page) == []
