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

# Every element on the page that could run or load something, and every event-handler attribute or
# script URL, as a list of what was found. The only SVG allowed: the page's own icons (one <use> of
# the sprite) and KaTeX's drawings (of paths and lines) inside a typeset formula.
UNSAFE = """() => {
    const found = [];
    const tags = ['script', 'iframe', 'img', 'object', 'embed', 'form', 'input', 'style', 'link', 'meta', 'base',
                  'video', 'audio', 'source', 'template', 'noscript', 'marquee', 'isindex', 'x'];
    const icon = (svg) => svg.matches('svg.icon') && svg.children.length === 1
        && svg.firstElementChild.localName === 'use'
        && /^#i-[a-z0-9-]+$/.test(svg.firstElementChild.getAttribute('href'));
    for (const node of document.querySelectorAll('#transcript *, .columns *')) {
        const tag = node.localName;
        if (tags.includes(tag)) found.push(tag);
        for (const attr of node.attributes) {
            if (/^on/i.test(attr.name)) found.push(`${tag}[${attr.name}]`);
            if (/^\\s*(javascript|vbscript|data):/i.test(attr.value)) found.push(`${tag}[${attr.name}=${attr.value}]`);
        }
        if (tag === 'svg' && !icon(node) && !node.closest('.katex-html')) found.push('svg outside a formula');
        const drawing = node.closest('svg');
        if (drawing && !node.closest('.katex-html') && !icon(drawing)) found.push(`${tag} in svg`);
        const drawn = ['svg', 'path', 'line', 'g', 'rect'];
        if (node.closest('.katex-html svg') && !drawn.includes(tag)) found.push(`${tag} in KaTeX`);
    }
    return found;
}"""

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
    assert page.evaluate(UNSAFE) == []
    # The math payloads were typeset (the commands trust=false refuses drawn as errors), not
    # skipped; the one in a code span stayed code.
    typeset = page.evaluate("""() => [...document.querySelectorAll('[data-turn] > .turn-body .math')].map(
        (m) => m.querySelector('.katex') ? 'katex' : m.querySelector('.katex-error') ? 'error' : 'raw')""")
    assert "raw" not in typeset and len(typeset) >= 13 and typeset.count("error") >= 3, typeset
    expect(page.locator("#transcript .turn-body code", has_text="code math").first).to_be_attached()
    page.get_by_role("button", name="Tree map").click()
    expect(page.locator("#tree-panel [data-turn-id]").first).to_be_attached()

    page.goto(f"{workbench_server.url}/c/{conversation_id}/compare/?tips={tip_a},{tip_b}")
    expect(page.locator(".column-head")).to_have_count(2)
    page.evaluate(OPEN_THINKING)
    page.uncheck("#diff-toggle")
    page.check("#diff-toggle")
    page.wait_for_timeout(300)
    assert page.locator(".columns .thinking-body img, .columns .thinking-body script").count() == 0
    assert page.evaluate(UNSAFE) == []
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
        assert page.evaluate(UNSAFE) == []
        assert page.locator("#transcript .turn-body .math .katex").count() >= 4
        page.wait_for_timeout(200)
        assert page.evaluate("window.__hits") == []
    assert dialogs == []
    assert page.errors == []
