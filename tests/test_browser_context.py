"""Tokens, context and cost in real Chromium: the meter fills along a branch, turns left out of a
reply's context are marked, "what the model saw" and "get code" open, exports download."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.test_browser import replies, send, sign_up, start_conversation

pytestmark = pytest.mark.browser


def meter_used(page) -> int:
    text = page.locator(".meter-label").inner_text()
    found = re.search(r"([\d,]+) / ", text)
    assert found, text
    return int(found.group(1).replace(",", ""))


def test_the_meter_fills_and_left_out_turns_are_marked(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    page.select_option("#model", "openai:fake-tiny")
    label = page.locator(".meter-label")
    expect(label).to_contain_text("/ 200 tokens")
    expect(label).to_contain_text("reply budget 40")
    empty = meter_used(page)

    # A draft counts before it is sent (counted by the server: the browser has no tokenizer).
    page.fill("#prompt", "one two three four five six seven eight")
    expect(label).not_to_have_text(re.compile(rf"^≈ {empty} / "))
    drafted = meter_used(page)
    assert drafted > empty

    # Along the branch the meter fills; once over the window, replies leave the oldest turns out.
    used = []
    for index in range(8):
        send(page, f"question number {index} about trains")
        expect(replies(page).nth(index)).to_have_attribute("data-status", "complete")
        used.append(meter_used(page))
    assert used[:3] == sorted(used[:3]) and used[0] < used[2]
    expect(page.locator(".context-meter")).to_have_class(re.compile("over"))

    last = replies(page).last
    chip = last.locator(".context-chip")
    expect(chip).to_have_text(re.compile(r"\d+ turns? left out"))
    reply_id = last.get_attribute("data-turn")
    request = page.evaluate(
        f"fetch(location.pathname.replace(/t\\/\\d+\\/$/, '') + 't/{reply_id}/request.json').then(r => r.json())"
    )
    omitted = request["context"]["omitted"]
    assert omitted
    # Exactly the turns the request left out are marked, and the first prompt is not among them.
    marked = page.eval_on_selector_all("article.turn-omitted", "nodes => nodes.map(n => Number(n.dataset.turn))")
    assert marked == omitted
    first = page.locator("#transcript article.turn").first
    expect(first).not_to_have_class(re.compile("turn-omitted"))
    sent_texts = [m["content"] for m in request["body"]["messages"]]
    assert sent_texts[0] == "question number 0 about trains"
    assert "question number 1 about trains" not in sent_texts

    # Cost per reply, per branch and per conversation.
    expect(last.locator(".meta")).to_contain_text("$")
    expect(page.locator(".meter-costs")).to_contain_text("Branch $")
    expect(page.locator(".meter-costs")).to_contain_text("Conversation $")

    # What the model saw, then the code that sends it again.
    last.get_by_role("button", name="More actions").click()
    last.get_by_role("menuitem", name="What the model saw").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text(re.compile(r"\d+ older turns? (was|were) left out to fit the window"))
    expect(dialog.locator(".dialog-code")).to_contain_text('"question number 0 about trains"')
    dialog.get_by_role("button", name="Get code").click()
    code = page.locator("dialog[open]").last
    expect(code.locator(".dialog-code")).to_contain_text("client.chat.completions.create(")
    expect(code.locator(".dialog-code")).to_contain_text("stream=True")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)

    # Another model: the meter measures the same branch against its window.
    page.select_option("#model", "openai:fake-model")
    expect(label).to_contain_text("/ 8,192 tokens")
    assert page.errors == []


def test_exports_download_the_tree_and_the_branch(page, live_server_url):
    sign_up(page, live_server_url)
    start_conversation(page)
    page.select_option("#model", "openai:fake-model")
    send(page, "export me")
    expect(replies(page).first).to_have_attribute("data-status", "complete")
    page.get_by_text("Export", exact=True).click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="Whole conversation (JSON)").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert data["format"] == "workbench.conversation"
    assert [t["content"] for t in data["turns"]][0] == "export me"
    page.get_by_text("Export", exact=True).click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="This branch (Markdown)").click()
    markdown = download.value.path().read_text(encoding="utf-8")
    assert "export me" in markdown and "Echo: export me" in markdown
    assert page.errors == []


def test_a_chatgpt_export_imports_with_every_branch(page, live_server_url):
    sign_up(page, live_server_url)
    page.get_by_role("link", name="Import…").click()
    page.set_input_files("input[type=file]", str(Path(__file__).parent / "data" / "chatgpt_conversations.json"))
    page.locator("main form button[type=submit]").click()
    summary = page.locator("main")
    expect(summary).to_contain_text(re.compile(r"Imported 2 conversations \(\d+ turns\)"))
    summary.get_by_role("link", name=re.compile("Three days in Kyoto")).click()
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    # An edited prompt: its versions are there to switch between.
    expect(page.locator(".sibling-count").first).to_have_text(re.compile(r"\d / 2"))
    page.get_by_role("button", name="Tree map").click()
    tree = page.evaluate("fetch(location.pathname.replace(/t\\/\\d+\\/$/, '') + 'tree.json').then(r => r.json())")
    nodes = tree["nodes"]
    parents = {n["parent"] for n in nodes}
    tips = [n for n in nodes if n["id"] not in parents]
    assert len(tips) >= 3  # the current branch, the first version of the edited prompt, a regenerated reply
    expect(page.locator("#tree-panel [data-turn-id]")).to_have_count(len(nodes))
    # Every tip opens its own branch.
    for tip in tips:
        page.locator(f'#tree-panel [data-turn-id="{tip["id"]}"]').click()
        expect(page.locator(f'#transcript article.turn[data-turn="{tip["id"]}"]')).to_be_visible()
    assert page.errors == []
