"""The context meter counts files in real Chromium: an image attached with the Attach button makes
the draft's count rise by that image's tokens under the chosen model's rule (OpenAI tiles, OpenAI
patches, Anthropic's area; nothing for a model without vision), on a new conversation's page and
on a conversation's, where the images of prompts already sent count too."""
from __future__ import annotations

import io
import json
import re

import pytest
from playwright.sync_api import expect

from tests.test_browser import replies, sign_up, start_conversation

pytestmark = pytest.mark.browser

# fake-model sees images: by tiles under openai (the vendor's default, 85 + 170 a tile), by patches
# under openai-responses (set here), by area under anthropic (the vendor's default); fake-slow sees none.
CATALOGUE = {
    "fake-model": {"context_window": 100000, "max_output": 4000, "vision": True},
    "openai-responses:fake-model": {
        "context_window": 100000, "max_output": 4000, "vision": True,
        "image_tokens": {"rule": "patches", "multiplier": 1.62},
    },
}
# A 1024 × 1024 image: 85 + 4 × 170 tiles; 32 × 32 patches × 1.62, rounded up; 1024² / 750, rounded up.
IMAGE_TOKENS = {
    "openai:fake-model": 765, "openai-responses:fake-model": 1659, "anthropic:fake-model": 1399, "openai:fake-slow": 0,
}
# Reply priming (3) and the draft's message (3 + 1 for its role), as conversations/tokens.py counts.
FRAME = 3 + 4


@pytest.fixture(scope="module")
def vision_server(upstream_server, tmp_path_factory):
    from tests.live import LiveServer, fake_upstream_env

    env = fake_upstream_env(upstream_server.url, ["fake-model", "fake-slow"])
    env["WORKBENCH_MODEL_CATALOGUE"] = json.dumps(CATALOGUE)
    server = LiveServer(tmp_path_factory.mktemp("meter-files"), env)
    server.start()
    yield server
    server.stop()


def png(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 220)).save(buffer, "PNG")
    return buffer.getvalue()


def meter_used(page) -> int:
    text = page.locator(".meter-label").inner_text()
    found = re.search(r"([\d,]+) / ", text)
    assert found, text
    return int(found.group(1).replace(",", ""))


def expect_used(page, tokens: int) -> None:
    expect(page.locator(".meter-label")).to_have_text(re.compile(rf"^≈ {tokens:,} / "))


def attach(page, name: str, data: bytes) -> None:
    page.set_input_files("#attach-input", [{"name": name, "mimeType": "image/png", "buffer": data}])
    expect(page.locator("#attachment-tray .attachment-chip").filter(has_text=name)).to_have_class(
        re.compile(r"\bis-ready\b")
    )


def test_an_attached_image_counts_in_the_meter_by_the_models_rule(page, vision_server):
    from conversations.tokens import count

    sign_up(page, vision_server.url)
    start_conversation(page)
    text = "What is in this picture?"
    draft = count(text, "o200k_base")  # every model here is estimated with o200k_base
    page.fill("#prompt", text)
    for model in IMAGE_TOKENS:
        page.select_option("#model", model)
        expect_used(page, FRAME + draft)

    # The Attach button: the draft's count rises by the image's tokens for the chosen model.
    attach(page, "square.png", png(1024, 1024))
    for model, tokens in IMAGE_TOKENS.items():
        page.select_option("#model", model)
        expect_used(page, FRAME + draft + tokens)

    # Sent to a model that sees it, the image counts in the branch: the conversation's meter for a
    # model that sees images and one that does not differs by the image, as they count the rest alike.
    page.select_option("#model", "openai:fake-model")
    page.click("#send")
    expect(replies(page).first).to_have_attribute("data-status", "complete")
    expect(page.locator("#attachment-tray .attachment-chip")).to_have_count(0)
    page.select_option("#model", "openai:fake-slow")
    blind = meter_used(page)
    page.select_option("#model", "anthropic:fake-model")
    expect_used(page, blind + IMAGE_TOKENS["anthropic:fake-model"])

    # A second image in the conversation's composer counts as the draft's, alone, with no text.
    attach(page, "wide.png", png(600, 400))
    expect_used(page, blind + IMAGE_TOKENS["anthropic:fake-model"] + 4 + 600 * 400 // 750)
    assert not page.errors
