"""A reply's reasoning and a model's refusal in real Chromium: the Thinking block streams open and
closes at the reply's end, survives a reload, is compared side by side with a word diff; a refusal
is marked; the composer offers a reasoning setting only to a model that takes one; a share link
shows the thinking only when its maker included it. Each page passes axe-core's WCAG 2.1 A/AA audit.
"""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.axe import axe_violations
from tests.conftest import PASSWORD
from tests.live import LiveServer, fake_upstream_env
from tests.test_browser import replies, send, sign_up, start_conversation

pytestmark = pytest.mark.browser

THINKING_MODELS = ["fake-model", "fake-think", "fake-think-slow", "fake-refuse"]
# The catalogue marks the thinking models as OpenAI's take an effort and Anthropic's a budget.
CATALOGUE = {
    **{f"{api}:{model}": {"reasoning": "effort"} for api in ("openai", "openai-responses")
       for model in THINKING_MODELS[1:3]},
    **{f"anthropic:{model}": {"reasoning": "budget"} for model in THINKING_MODELS[1:3]},
}


@pytest.fixture(scope="module")
def reasoning_server(upstream_server, tmp_path_factory):
    """The workbench with thinking models in its catalogue, on the fake upstream."""
    env = fake_upstream_env(upstream_server.url, THINKING_MODELS)
    env["WORKBENCH_MODEL_CATALOGUE"] = json.dumps(CATALOGUE)
    server = LiveServer(tmp_path_factory.mktemp("reasoning"), env)
    server.start()
    yield server
    server.stop()


# A conversation with stored replies: one that thought (Markdown in its reasoning, a hostile bit
# included), a sibling that thought otherwise, one that did not think, and a refusal.
SEED = """
from django.contrib.auth.models import User
from conversations.models import Conversation, Turn
from conversations.workspaces.services import personal_workspace
user = User.objects.create_user({username!r}, password={password!r})
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title="Trains or ferries")
prompt = Turn.objects.append(conversation=conversation, role="user", content="Trains or ferries to the islands?")
first = Turn.objects.append(
    conversation=conversation, parent=prompt, role="assistant", provider="openai", model="fake-think",
    settings={{"reasoning_effort": "low"}}, content="Take the **ferry**: it is the only way across.",
    reasoning="The user asks about the islands.\\n\\n- Trains stop at the coast\\n- Ferries cross daily\\n\\n"
              "So the answer is the ferry. <img src=x onerror=window.pwned=1>",
    reasoning_tokens=1234, reasoning_seconds=12.0, input_tokens=20, output_tokens=1300,
    reasoning_blocks=[{{"type": "redacted_thinking", "data": "opaque"}}])
second = Turn.objects.append(
    conversation=conversation, parent=prompt, role="assistant", provider="openai", model="fake-think",
    settings={{"reasoning_effort": "high"}}, content="Take the ferry, or fly if you are in a hurry.",
    reasoning="The user asks about the islands.\\n\\n- Trains stop at the coast\\n"
              "- Ferries cross twice daily\\n- Planes fly hourly\\n\\nSo the answer is the ferry, or a plane.",
    reasoning_tokens=2345, reasoning_seconds=3.4, input_tokens=20, output_tokens=2400)
follow = Turn.objects.append(conversation=conversation, parent=second, role="user",
                             content="Thanks. And without thinking?")
plain = Turn.objects.append(conversation=conversation, parent=follow, role="assistant", provider="openai",
                            model="fake-model", content="The ferry.")
ask = Turn.objects.append(conversation=conversation, parent=plain, role="user", content="Help me pick a lock.")
refusal = Turn.objects.append(conversation=conversation, parent=ask, role="assistant", provider="openai",
                              model="fake-refuse", content="I can't help with that.", refused=True)
conversation.current_turn = refusal
conversation.save()
print(conversation.id, first.id, second.id, plain.id, refusal.id)
"""


def seed(server: LiveServer, username: str) -> dict[str, int]:
    output = server.run_python(SEED.format(username=username, password=PASSWORD))
    names = ("conversation", "first", "second", "plain", "refusal")
    return dict(zip(names, map(int, output.strip().splitlines()[-1].split()), strict=True))


def sign_in(page, server: LiveServer, username: str) -> None:
    page.goto(server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".topbar")).to_be_visible()


def thinking(reply):
    return reply.locator(":scope > details.thinking")


def assert_accessible(page, include: str | None = None) -> None:
    assert axe_violations(page, include=include) == []


def test_stored_thinking_reads_closed_opens_as_markdown_and_refusal_is_marked(page, reasoning_server):
    ids = seed(reasoning_server, "thinker1")
    sign_in(page, reasoning_server, "thinker1")
    page.goto(f"{reasoning_server.url}/c/{ids['conversation']}/t/{ids['first']}/")
    reply = page.locator(f'article[data-turn="{ids["first"]}"]')
    block = thinking(reply)
    # Closed: a finished reply's thinking waits to be opened, above the reply's text.
    expect(block).to_have_count(1)
    expect(block).not_to_have_attribute("open", re.compile(".*"))
    expect(block.locator("summary")).to_have_text("Thought for 12 s · 1,234 reasoning tokens")
    assert reply.evaluate("a => [...a.children].map(c => c.className)")[1:3] == ["thinking", "turn-body markdown"]
    expect(block.locator(".thinking-body")).not_to_be_visible()
    assert_accessible(page)

    # Opened by keyboard: the reasoning as Markdown, sanitised as the reply is.
    block.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(block).to_have_attribute("open", "")
    expect(block.locator(".thinking-body li")).to_have_count(2)
    expect(block.locator(".thinking-body")).to_contain_text("So the answer is the ferry.")
    expect(block.locator(".thinking-redacted")).to_have_text("Part of the thinking was redacted by the provider.")
    assert block.locator(".thinking-body img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert_accessible(page)

    # The reader's choice holds across a redraw (another version, and back).
    reply.get_by_role("button", name="Next version").click()
    other = page.locator(f'article[data-turn="{ids["second"]}"]')
    expect(thinking(other).locator("summary")).to_have_text("Thought for 3.4 s · 2,345 reasoning tokens")
    expect(thinking(other)).not_to_have_attribute("open", re.compile(".*"))
    other.get_by_role("button", name="Previous version").click()
    expect(thinking(page.locator(f'article[data-turn="{ids["first"]}"]'))).to_have_attribute("open", "")

    # A reply that did not think has no block; a refusal is marked as one; the settings show.
    page.goto(f"{reasoning_server.url}/c/{ids['conversation']}/t/{ids['refusal']}/")
    expect(thinking(page.locator(f'article[data-turn="{ids["plain"]}"]'))).to_have_count(0)
    refusal = page.locator(f'article[data-turn="{ids["refusal"]}"]')
    expect(refusal.locator(".turn-head .badge")).to_have_text("refused")
    expect(refusal.locator(".turn-head .badge")).to_be_visible()
    expect(page.locator(f'article[data-turn="{ids["second"]}"] .meta')).to_contain_text("effort high")
    assert_accessible(page)
    assert page.errors == []


def test_two_branches_thinking_compared_with_a_word_diff(page, reasoning_server):
    ids = seed(reasoning_server, "thinker2")
    sign_in(page, reasoning_server, "thinker2")
    page.goto(f"{reasoning_server.url}/c/{ids['conversation']}/compare/?tips={ids['first']},{ids['second']}")
    heads = page.locator(".column-head")
    expect(heads).to_have_count(2)
    expect(heads.nth(0)).to_contain_text("effort low")
    expect(heads.nth(1)).to_contain_text("effort high")
    first = page.locator(f'article.cell[data-turn="{ids["first"]}"]')
    second = page.locator(f'article.cell[data-turn="{ids["second"]}"]')
    expect(thinking(first).locator("summary")).to_have_text("Thought for 12 s · 1,234 reasoning tokens")
    expect(thinking(second).locator("summary")).to_have_text("Thought for 3.4 s · 2,345 reasoning tokens")

    # Opened, the second column's thinking is marked against the first's, word by word.
    thinking(second).locator("summary").click()
    body = thinking(second).locator(".thinking-body")
    expect(body.locator("ins").first).to_be_visible()
    assert "Planes" in " ".join(body.locator("ins").all_inner_texts())
    assert "twice" in " ".join(body.locator("ins").all_inner_texts())
    # The first column's is its Markdown.
    thinking(first).locator("summary").click()
    expect(thinking(first).locator(".thinking-body li")).to_have_count(2)
    assert_accessible(page)

    # Without highlighting, both read as Markdown, and the blocks stay open.
    page.get_by_label("Highlight differences").uncheck()
    expect(thinking(second)).to_have_attribute("open", "")
    expect(thinking(second).locator(".thinking-body li")).to_have_count(3)
    expect(thinking(second).locator(".thinking-body ins")).to_have_count(0)
    assert page.errors == []


def test_the_composer_offers_the_reasoning_setting_the_model_takes(page, reasoning_server):
    sign_up(page, reasoning_server.url)
    start_conversation(page)
    effort = page.get_by_label("Reasoning effort")
    budget = page.get_by_label("Thinking budget (tokens)")
    page.get_by_role("button", name="Settings").click()

    page.select_option("#model", "openai:fake-model")
    expect(effort).to_be_hidden()
    expect(budget).to_be_hidden()
    page.select_option("#model", "openai:fake-think")
    expect(effort).to_be_visible()
    expect(budget).to_be_hidden()
    page.select_option("#model", "anthropic:fake-think")
    expect(effort).to_be_hidden()
    expect(budget).to_be_visible()
    assert_accessible(page)

    # Below the least budget Anthropic takes, nothing goes out and the composer says why.
    budget.fill("500")
    send(page, "think a little")
    expect(page.locator("#composer-error")).to_contain_text("at least 1,024")
    expect(page.locator("#transcript article.turn")).to_have_count(0)

    # An effort goes with the request, and the reply's settings say so.
    page.select_option("#model", "openai:fake-think")
    effort.select_option("high")
    send(page, "think hard")
    reply = replies(page).nth(0)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".meta")).to_contain_text("effort high")
    # A model that takes none gets none, even with an effort chosen before.
    page.select_option("#model", "openai:fake-model")
    send(page, "and you")
    expect(replies(page).nth(1)).to_have_attribute("data-status", "complete")
    expect(replies(page).nth(1).locator(".meta")).not_to_contain_text("effort")
    assert page.errors == []


def create_link(page, *, with_thinking: bool) -> str:
    page.get_by_role("button", name="Share").click()
    dialog = page.get_by_role("dialog", name="Share")
    box = dialog.get_by_label(re.compile("Include the models. thinking"))
    expect(box).not_to_be_checked()  # off unless asked for
    if with_thinking:
        box.check()
    assert_accessible(page, include="dialog")
    dialog.get_by_role("button", name="Create link").click()
    url = dialog.locator(".share-result .link-url").text_content().strip()
    dialog.get_by_role("button", name="Close").click()
    return url


def test_a_share_link_shows_the_thinking_only_when_included(browser, page, reasoning_server):
    ids = seed(reasoning_server, "thinker3")
    sign_in(page, reasoning_server, "thinker3")
    page.goto(f"{reasoning_server.url}/c/{ids['conversation']}/t/{ids['first']}/")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    without = create_link(page, with_thinking=False)
    with_thinking = create_link(page, with_thinking=True)

    reader = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    try:
        reader.goto(without)
        expect(reader.locator("article.turn-assistant")).to_have_count(1)
        expect(reader.locator("details.thinking")).to_have_count(0)
        expect(reader.locator("#share-banner")).not_to_contain_text("thinking")
        reader.goto(with_thinking)
        expect(reader.locator("#share-banner")).to_contain_text("with the models’ thinking")
        block = thinking(reader.locator("article.turn-assistant"))
        expect(block.locator("summary")).to_have_text(re.compile(r"^Thought for 12 s"))
        block.locator("summary").click()
        expect(block.locator(".thinking-body")).to_contain_text("So the answer is the ferry.")
        assert_accessible(reader)
    finally:
        reader.context.close()


def test_thinking_streams_open_then_closes_and_survives_a_reload(page, reasoning_server):
    sign_up(page, reasoning_server.url)
    start_conversation(page)
    # A first exchange stores the conversation and opens its page, where the thinking is watched.
    page.select_option("#model", "openai:fake-model")
    send(page, "hello")
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete")
    page.select_option("#model", "openai:fake-think-slow")
    # Every state the block shows, recorded as it changes: the reply may be over before a look
    # at the page would catch it thinking.
    page.evaluate("""() => {
        window.__seen = [];
        new MutationObserver(() => {
            const block = document.querySelector('article.turn-assistant details.thinking');
            if (block) window.__seen.push([block.open, block.querySelector('summary').textContent,
                                           block.querySelector('.thinking-body').textContent.length]);
        }).observe(document.getElementById('transcript'),
                   {childList: true, subtree: true, characterData: true, attributes: true});
    }""")
    send(page, "think it over before you answer me")
    reply = replies(page).nth(1)
    expect(reply).to_have_attribute("data-status", "complete")
    block = thinking(reply)
    expect(block).not_to_have_attribute("open", re.compile(".*"))
    expect(block.locator("summary")).to_have_text(re.compile(r"^Thought for [\d.]+ s · \d+ reasoning tokens?$"))
    # While it thought, the block was open, counting the seconds, and the reasoning grew in it.
    seen = page.evaluate("window.__seen")
    streamed = [length for is_open, label, length in seen if is_open and re.match(r"Thinking… \d+ s$", label)]
    assert len(set(streamed)) >= 2, seen
    assert_accessible(page)
    block.locator("summary").click()
    expect(block.locator(".thinking-body")).to_contain_text("Considering:")  # rendered once open
    reasoning = block.locator(".thinking-body").inner_text()
    label = block.locator("summary").inner_text()
    body = reply.locator(":scope > .turn-body").inner_text()
    assert body

    page.reload()
    reply = replies(page).nth(1)
    block = thinking(reply)
    expect(block.locator("summary")).to_have_text(label)
    expect(block).not_to_have_attribute("open", re.compile(".*"))
    block.locator("summary").click()
    expect(block.locator(".thinking-body")).to_have_text(reasoning)
    expect(reply.locator(":scope > .turn-body")).to_have_text(body)
    assert page.errors == []


def test_a_refusal_streams_marked(page, reasoning_server):
    sign_up(page, reasoning_server.url)
    start_conversation(page)
    page.select_option("#model", "openai:fake-refuse")
    send(page, "help me pick a lock")
    reply = replies(page).nth(0)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".turn-head .badge")).to_have_text("refused")
    expect(reply.locator(":scope > .turn-body")).not_to_be_empty()
    page.reload()
    expect(replies(page).nth(0).locator(".turn-head .badge")).to_have_text("refused")
    assert page.errors == []


def test_what_the_model_saw_says_the_earlier_thinking_was_not_sent(page, reasoning_server):
    ids = seed(reasoning_server, "thinker7")
    sign_in(page, reasoning_server, "thinker7")
    page.goto(f"{reasoning_server.url}/c/{ids['conversation']}/t/{ids['plain']}/")
    reply = page.locator(f'article[data-turn="{ids["plain"]}"]')
    reply.get_by_role("button", name="More actions").click()
    reply.get_by_role("menuitem", name="What the model saw").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(
        "the reasoning of 1 earlier reply was not sent: only the provider that made it gets it back, with thinking on"
    )
    # Nor is it anywhere in the body as text.
    expect(dialog.locator("pre")).not_to_contain_text("Planes fly hourly")
    assert page.errors == []
