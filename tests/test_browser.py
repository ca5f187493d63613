"""End to end in real Chromium against daphne and the fake upstream, as a new user would."""
from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.fake_upstream import reply_text

pytestmark = pytest.mark.browser
_users = itertools.count(1)


def sign_up(page, base: str) -> str:
    username = f"user{next(_users)}"
    page.goto(base + "/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("link", name="Start a conversation")).to_be_visible()
    return username


def start_conversation(page) -> None:
    """Opens a new conversation, which its first message will create (and then open)."""
    page.get_by_role("link", name="Start a conversation").click()
    expect(page.locator("body")).to_have_attribute("data-socket", "open")


def choose_model(page, model: str) -> None:
    page.select_option("#model", f"openai:{model}")


def send(page, text: str) -> None:
    page.fill("#prompt", text)
    page.keyboard.press("Enter")


def replies(page):
    return page.locator("article.turn-assistant")


def turn_action(article, name: str) -> None:
    """Runs one of a turn's actions from its "More actions" menu."""
    article.get_by_role("button", name="More actions").click()
    article.get_by_role("menuitem", name=name, exact=True).click()


def test_converse_stream_stop_reload_and_switch_siblings(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)

    # Three turns; the first message creates the conversation and opens it.
    choose_model(page, "fake-model")
    send(page, "first question")
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete")
    expect(page.locator(".rename-form input[name=title]")).to_have_value("first question")

    # The reply visibly grows while it streams.
    choose_model(page, "fake-slow")
    # Every length the reply's text takes on screen, recorded as it changes.
    page.evaluate("""() => {
        window.__lengths = [];
        new MutationObserver(() => {
            const body = document.querySelectorAll('article.turn-assistant .turn-body')[1];
            if (body) window.__lengths.push(body.textContent.length);
        }).observe(document.getElementById('transcript'), {childList: true, subtree: true, characterData: true});
    }""")
    send(page, "second question")
    body = replies(page).nth(1).locator(".turn-body")
    expect(body).to_contain_text("Echo: second")
    expect(replies(page).nth(1)).to_have_attribute("data-status", "complete")
    grew = sorted(set(page.evaluate("window.__lengths")) - {0})
    assert len(grew) >= 3, grew  # it grew in steps, not all at once
    expect(body).to_have_text(reply_text("second question", 12))

    choose_model(page, "fake-model")
    send(page, "third question")
    expect(replies(page).nth(2)).to_have_attribute("data-status", "complete")
    expect(replies(page).nth(2).locator(".turn-body")).to_have_text(reply_text("third question", 12))

    # Stop a long reply: the partial text stays, marked stopped.
    choose_model(page, "fake-slow-long")
    send(page, "tell me everything")
    expect(page.locator("#stop")).to_be_visible()
    expect(replies(page).nth(3).locator(".turn-body")).to_contain_text("Echo: tell")
    page.click("#stop")
    expect(replies(page).nth(3)).to_have_attribute("data-status", "stopped")
    expect(replies(page).nth(3).locator(".badge")).to_have_text("stopped")
    stopped_text = replies(page).nth(3).locator(".turn-body").inner_text()
    assert 0 < len(stopped_text) < len(reply_text("tell me everything", 400))
    expect(page.locator("#send")).to_be_visible()

    # Reload: everything is saved.
    page.reload()
    expect(page.locator("article.turn")).to_have_count(8)
    expect(replies(page).nth(3)).to_have_attribute("data-status", "stopped")
    assert replies(page).nth(3).locator(".turn-body").inner_text() == stopped_text
    expect(replies(page).nth(0).locator(".turn-body")).to_have_text(reply_text("first question", 12))

    # Regenerate the third reply: a sibling streams, then switch between the two.
    choose_model(page, "fake-model")
    replies(page).nth(2).get_by_role("button", name="Regenerate", exact=True).click()
    expect(replies(page).nth(2).locator(".sibling-count")).to_have_text("2 / 2")
    expect(page.locator("article.turn")).to_have_count(6)  # the new sibling ends the branch
    expect(replies(page).nth(2)).to_have_attribute("data-status", "complete")
    replies(page).nth(2).get_by_role("button", name="Previous version").click()
    expect(replies(page).nth(2).locator(".sibling-count")).to_have_text("1 / 2")
    expect(page.locator("article.turn")).to_have_count(8)  # the original branch, with its stopped reply
    expect(page).to_have_url(re.compile(r"/t/\d+/$"))
    replies(page).nth(2).get_by_role("button", name="Next version").click()
    expect(replies(page).nth(2).locator(".sibling-count")).to_have_text("2 / 2")
    page.go_back()
    expect(replies(page).nth(2).locator(".sibling-count")).to_have_text("1 / 2")
    assert page.errors == []


def test_a_provider_error_is_shown_and_the_page_stays_usable(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-error-500")
    send(page, "will this work")
    expect(replies(page).nth(0)).to_have_attribute("data-status", "error")
    expect(replies(page).nth(0).locator(".turn-error")).to_contain_text("(OpenAI) had a problem; it may be busy.")
    choose_model(page, "fake-model")
    send(page, "and now")
    expect(replies(page).nth(1)).to_have_attribute("data-status", "complete")
    assert page.errors == []


def test_a_second_tab_watches_the_reply_stream(browser, page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    send(page, "a first message makes the conversation")
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete")
    url = page.url
    watcher = page.context.new_page()
    watcher.goto(url)
    expect(watcher.locator("body")).to_have_attribute("data-socket", "open")
    # Every status the reply shows in the watching tab, recorded as it changes: the reply may be
    # over before a look at the page would catch it streaming.
    watcher.evaluate("""() => {
        window.__statuses = [];
        new MutationObserver(() => {
            const reply = document.querySelectorAll('article.turn-assistant')[1];
            if (reply) window.__statuses.push(reply.dataset.status);
        }).observe(document.getElementById('transcript'),
                   {childList: true, subtree: true, attributes: true, attributeFilter: ['data-status']});
    }""")
    choose_model(page, "fake-slow")
    send(page, "watch this")
    expect(watcher.locator("article.turn-assistant").nth(1)).to_have_attribute("data-status", "complete")
    assert "streaming" in watcher.evaluate("window.__statuses")
    expect(watcher.locator("article.turn-assistant .turn-body").nth(1)).to_have_text(reply_text("watch this", 12))


def test_model_output_is_rendered_as_markdown_and_never_runs(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    # The fake upstream echoes the prompt, so these come back as model output.
    payload = (
        '**bold** <img src=x onerror="window.pwned=1"> '
        "[link](javascript:window.pwned=2) <script>window.pwned=3</script>"
    )
    send(page, payload)
    reply = replies(page).nth(0)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".turn-body strong")).to_have_text("bold")
    assert reply.locator(".turn-body img, .turn-body script").count() == 0
    assert reply.locator('.turn-body a[href^="javascript"]').count() == 0
    # The prompt itself is shown as text.
    expect(page.locator("article.turn-user .turn-body")).to_have_text(payload)
    assert page.evaluate("window.pwned") is None


def test_reload_mid_reply_continues_without_gap_or_duplicate(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    choose_model(page, "fake-slow-long")
    prompt = "keep talking while I reload"
    full = reply_text(prompt, 400)
    send(page, prompt)
    expect(replies(page).nth(0).locator(".turn-body")).to_contain_text("keep")
    page.reload()
    reply = replies(page).nth(0)
    expect(reply).to_have_attribute("data-status", "streaming")
    body = reply.locator(".turn-body")
    reloaded = len(body.inner_text())
    # It goes on growing after the reload, and what is shown is always the reply's own beginning.
    page.wait_for_function(
        "([n]) => document.querySelector('article.turn-assistant .turn-body').innerText.length > n + 40", arg=[reloaded]
    )
    page.click("#stop")
    expect(reply).to_have_attribute("data-status", "stopped")
    shown = body.inner_text()
    assert shown == full[: len(shown)] and len(shown) > reloaded
    page.reload()
    expect(replies(page).nth(0).locator(".turn-body")).to_have_text(shown)
    assert page.errors == []
