"""A corpus of hostile text in prompts, replies and the replies' reasoning runs no script in real
Chromium: on the conversation page, on a comparison and on shared pages (snapshot and live)."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.xss_payloads import PAYLOADS

pytestmark = pytest.mark.browser

SEED = """
import json
from django.contrib.auth.models import User
from conversations.models import Conversation, Turn
payloads = json.loads({payloads!r})
user = User.objects.create_user("mallory-target", password="{password}")
from conversations.workspaces.services import personal_workspace
from conversations.sharing import services as sharing
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title=payloads[0])
parent = None
for payload in payloads:
    parent = Turn.objects.append(conversation=conversation, parent=parent, role="user", content=payload)
    parent = Turn.objects.append(conversation=conversation, parent=parent, role="assistant", content=payload,
                                 provider="openai", model=payload[:100], error=payload, reasoning=payload)
tip_a = parent
prompt = Turn.objects.append(conversation=conversation, parent=tip_a.parent.parent, role="user", content=payloads[-1])
tip_b = Turn.objects.append(conversation=conversation, parent=prompt, role="assistant", content="\\n\\n".join(payloads),
                            provider="openai", model="fake-model", reasoning="\\n\\n".join(payloads))
conversation.current_turn = tip_a
conversation.save()
links = [
    sharing.share_create(conversation=conversation, by=user, turn_id=None, with_subtree=False, mode=mode,
                         audience="anyone", expires_at=None, include_reasoning=True).token
    for mode in ("snapshot", "live")
]
print(conversation.id, tip_a.id, tip_b.id, *links)
"""

# Every reply's Thinking block opened: its reasoning is rendered only once open.
OPEN_THINKING = "() => document.querySelectorAll('details.thinking').forEach((d) => { d.open = true; })"

TRAP = """
window.__hits = [];
window.__xss = (name) => window.__hits.push(name);
window.alert = window.confirm = window.prompt = (x) => window.__hits.push('dialog ' + x);
"""


def test_hostile_text_never_runs(page, workbench_server):
    assert len(PAYLOADS) >= 50
    output = workbench_server.run_python(SEED.format(payloads=json.dumps(PAYLOADS), password=PASSWORD))
    conversation_id, tip_a, tip_b, snapshot, live = output.strip().splitlines()[-1].split()
    dialogs = []

    def dismissed(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismissed)
    page.context.add_init_script(TRAP)
    page.goto(workbench_server.url + "/accounts/login/")
    page.fill("#id_username", "mallory-target")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")

    page.goto(f"{workbench_server.url}/c/{conversation_id}/")
    expect(page.locator("#transcript article.turn")).to_have_count(2 * len(PAYLOADS))
    # Bring every reply into view so each gets its Markdown rendered, hover and click around.
    for article in page.locator("#transcript article.turn-assistant").all():
        article.scroll_into_view_if_needed()
    expect(page.locator("#transcript .markdown-pending")).to_have_count(0)
    page.evaluate(OPEN_THINKING)
    expect(page.locator("#transcript .thinking-body:not([hidden])")).to_have_count(len(PAYLOADS))
    for link in page.locator("#transcript .turn-body a, #transcript .thinking-body a").all():
        href = link.get_attribute("href") or ""
        assert href.startswith(("http:", "https:", "mailto:", "#")) or href == "", href
    assert page.locator("#transcript [onclick], #transcript [onerror], #transcript [onload]").count() == 0
    assert page.locator("#transcript script, #transcript iframe, #transcript img, #transcript svg, "
                        "#transcript object, #transcript embed, #transcript form, #transcript input").count() == 0
    page.get_by_role("button", name="Tree map").click()
    expect(page.locator("#tree-panel [data-turn-id]").first).to_be_attached()

    page.goto(f"{workbench_server.url}/c/{conversation_id}/compare/?tips={tip_a},{tip_b}")
    expect(page.locator(".column-head")).to_have_count(2)
    page.evaluate(OPEN_THINKING)
    page.uncheck("#diff-toggle")
    page.check("#diff-toggle")
    page.wait_for_timeout(300)
    assert page.locator(".columns .thinking-body img, .columns .thinking-body script").count() == 0
    assert page.evaluate("window.__hits") == []

    # The shared page, as a reader without an account, for a snapshot and a live link.
    page.context.clear_cookies()
    for token in (snapshot, live):
        page.goto(f"{workbench_server.url}/s/{token}/")
        expect(page.locator("#transcript article.turn")).to_have_count(2 * len(PAYLOADS))
        for article in page.locator("#transcript article.turn-assistant").all():
            article.scroll_into_view_if_needed()
        expect(page.locator("#transcript .markdown-pending")).to_have_count(0)
        page.evaluate(OPEN_THINKING)
        expect(page.locator("#transcript .thinking-body:not([hidden])")).to_have_count(len(PAYLOADS))
        assert page.locator("#transcript script, #transcript iframe, #transcript img, #transcript svg, "
                            "#transcript [onclick], #transcript [onerror], #transcript [onload]").count() == 0
        page.wait_for_timeout(200)
        assert page.evaluate("window.__hits") == []
    assert dialogs == []
    assert page.errors == []
