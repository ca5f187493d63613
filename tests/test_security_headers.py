"""Every page is sent a strict Content-Security-Policy and the production headers, carries no
inline script, event handler or style attribute for that policy to block, and the production
settings pass Django's deployment checklist. In Chromium, the pages report no CSP violation while
replies stream and Markdown, code and diffs render."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import path
from playwright.sync_api import expect

from conversations import services
from conversations.models import Turn
from tests.conftest import PASSWORD, chain, make_link
from tests.live import ROOT
from workbench import urls as workbench_urls

EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def boom(request: HttpRequest):
    raise RuntimeError("a bug in a view")


# The workbench's URLs and one view that fails, for the 500 page.
urlpatterns = [*workbench_urls.urlpatterns, path("test-only/boom/", boom)]


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


class InlineCode(HTMLParser):
    """What a strict policy would block in a page: inline scripts (a JSON data block is not one),
    event-handler attributes, style attributes and <style> elements, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_script = False
        self.script_is_inline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script":
            self.in_script = True
            self.script_is_inline = "src" not in named and named.get("type") != "application/json"

    def handle_data(self, data: str) -> None:
        if self.in_script and self.script_is_inline and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def pages(db, alice, charlie, team, providers) -> list[tuple[str, Client, str, int]]:
    """(name, client, url, status) for every kind of page, as the visitor who would see it."""
    conversation = services.conversation_create(owner=alice, workspace=team, title="Headers")
    question, answer = chain(conversation, ["A question", "An **answer** with `code`"])
    other = Turn.objects.append(conversation=conversation, parent=question, role="assistant",
                                content="An answer, again", provider="openai", model="fake-model")
    private = services.conversation_create(owner=alice)  # in alice's personal workspace
    snapshot = make_link(conversation, alice, mode="snapshot")
    live = make_link(conversation, alice, mode="live")

    anonymous, signed_in, outsider = Client(), Client(), Client()
    signed_in.force_login(alice)
    outsider.force_login(charlie)
    c = conversation.id
    return [
        ("login", anonymous, "/accounts/login/", 200),
        ("signup", anonymous, "/accounts/signup/", 200),
        ("home", signed_in, "/", 200),
        ("conversation", signed_in, f"/c/{c}/", 200),
        ("conversation turn", signed_in, f"/c/{c}/t/{answer.id}/", 200),
        ("compare", signed_in, f"/c/{c}/compare/?tips={answer.id},{other.id}", 200),
        ("shared page, snapshot", anonymous, f"/s/{snapshot.token}/", 200),
        ("shared page, live", anonymous, f"/s/{live.token}/", 200),
        ("shared links", signed_in, "/shared/", 200),
        ("workspaces", signed_in, "/workspaces/", 200),
        ("workspace", signed_in, f"/w/{team.id}/", 200),
        ("import", signed_in, "/import/", 200),
        ("404, anonymous", anonymous, "/no/such/page/", 404),
        ("404, signed in", signed_in, "/no/such/page/", 404),
        ("404, someone else's conversation", outsider, f"/c/{private.id}/", 404),
        ("404, an unknown share link", anonymous, "/s/no-such-token/", 404),
        ("403, no CSRF token", Client(enforce_csrf_checks=True), "/accounts/login/", 403),
        ("500", Client(raise_request_exception=False), "/test-only/boom/", 500),
    ]


def test_every_page_gets_the_policy_and_the_production_headers(pages, settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    seen = set()
    for name, client, url, status in pages:
        if name.startswith("403"):
            response = client.post(url, {"username": "alice", "password": PASSWORD})
        else:
            response = client.get(url)
        assert response.status_code == status, (name, response.status_code)
        headers = response.headers
        assert policy(response) == EXPECTED_CSP, name
        assert "unsafe" not in headers["Content-Security-Policy"], name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin", name
        assert "camera=()" in headers["Permissions-Policy"] and "microphone=()" in headers["Permissions-Policy"]
        # A shared page's URL is its secret, even once the link is gone: never sent on as a Referer
        # to another site (and a gone link's page sends none at all). The shared page itself keeps
        # its origin on its own form's POST, which the CSRF check needs.
        expected_referrer = "no-referrer" if "share link" in name else "same-origin"
        assert headers["Referrer-Policy"] == expected_referrer, name
        # Plain http by default: no HSTS (it would lock browsers out of http://127.0.0.1:8000).
        assert "Strict-Transport-Security" not in headers, name
        assert inline_code(response.content.decode()) == [], name
        seen.add(name)
    assert len(seen) == len(pages)


def test_the_inline_code_finder_finds_what_the_policy_blocks():
    page = """<form onsubmit="return confirm('x')"><input onclick="this.select()"></form>
        <div style="color: red"></div><style>p {}</style><a href="javascript:alert(1)">x</a>
        <script>alert(1)</script><script type="application/json">{"a": 1}</script>
        <script type="module" src="/static/js/behaviours.js"></script>"""
    assert inline_code(page) == ["<form onsubmit=...>", "<input onclick=...>", "<div style=...>", "<style>",
                                 "<a href=javascript:alert(1)>", "<script>alert(1)"]


def _deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WORKBENCH_DATA_DIR": str(tmp_path),
            "WORKBENCH_LOCAL_MODEL": "false", "SECRET_KEY": "a-production-secret-" + "k3y-" * 12}
    production = {**base, "WORKBENCH_HTTPS": "true", "ALLOWED_HOSTS": "workbench.example.com",
                  "CSRF_TRUSTED_ORIGINS": "https://workbench.example.com"}
    done = _deploy_check(production)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout

    # Behind a proxy that terminates TLS, too.
    done = _deploy_check({**production, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})
    assert done.returncode == 0, done.stdout + done.stderr

    # The embedded default (plain http on 127.0.0.1) is not a production setup, and the checklist
    # says what is missing.
    done = _deploy_check(base)
    assert done.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in done.stderr, check


def test_https_settings_turn_on_hsts_secure_cookies_and_the_redirect(tmp_path):
    probe = ("from django.conf import settings as s; import json; print(json.dumps([s.SECURE_HSTS_SECONDS, "
             "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SECURE_SSL_REDIRECT, "
             "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER]))")

    def read(**env: str) -> list:
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", probe], cwd=ROOT, capture_output=True, text=True,
            timeout=120, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WORKBENCH_DATA_DIR": str(tmp_path),
                              "WORKBENCH_LOCAL_MODEL": "false", **env},
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert read() == [0, False, False, False, False, False, None]
    year = 365 * 24 * 3600
    assert read(WORKBENCH_HTTPS="true") == [year, True, False, True, True, True, None]
    behind_a_proxy = read(WORKBENCH_HTTPS="true", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
                          WORKBENCH_HSTS_PRELOAD="true", WORKBENCH_HSTS_SECONDS="600")
    assert behind_a_proxy == [600, True, True, True, True, True, ["HTTP_X_FORWARDED_PROTO", "https"]]


def test_a_bad_proxy_header_setting_stops_the_start_with_a_clear_message(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WORKBENCH_DATA_DIR": str(tmp_path),
             "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"},
    )
    assert done.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER='X-Forwarded-Proto: https' is not a header name" in done.stderr


# --- In Chromium ----------------------------------------------------------------------------------

SEED = """
from django.contrib.auth.models import User
from conversations.models import Conversation, Turn
from conversations.workspaces.services import personal_workspace, workspace_create
from conversations.sharing import services as sharing
user = User.objects.create_user("csp-reader", password="{password}")
workspace_create(owner=user, name="Second workspace")
conversation = Conversation.objects.create(owner=user, workspace=personal_workspace(user), title="Policy")
question = Turn.objects.append(conversation=conversation, role="user", content="Show me code")
markdown = "# Code\\n\\nSome **bold**, a [link](https://example.com) and a list:\\n\\n- one\\n- two\\n\\n"
code = "```python\\ndef greet(name):\\n    return f'hello {{name}}'\\n```\\n"
first = Turn.objects.append(conversation=conversation, parent=question, role="assistant", content=markdown + code,
                            provider="openai", model="fake-model")
second = Turn.objects.append(conversation=conversation, parent=question, role="assistant",
                             content=markdown.replace("bold", "brave") + code, provider="openai", model="fake-model")
conversation.current_turn = first
conversation.save()
links = [sharing.share_create(conversation=conversation, by=user, turn_id=None, with_subtree=False, mode=mode,
                              audience="anyone", expires_at=None).token for mode in ("snapshot", "live")]
print(conversation.id, first.id, second.id, *links)
"""

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective}: ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture(scope="module")
def seeded(workbench_server) -> list[str]:
    output = workbench_server.run_python(SEED.format(password=PASSWORD))
    return output.strip().splitlines()[-1].split()


def _sign_in(page, base: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", "csp-reader")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("link", name="Start a conversation")).to_be_visible()


def _watch(page) -> list[str]:
    console: list[str] = []
    page.context.add_init_script(WATCH)
    page.on("console", lambda message: console.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    return console


def _violations(page) -> list[str]:
    return page.evaluate("window.__csp")


@pytest.mark.browser
def test_pages_stream_and_render_under_the_policy_with_no_violation(page, workbench_server, seeded):
    conversation_id, first, second, snapshot, live = seeded
    base = workbench_server.url
    console = _watch(page)
    _sign_in(page, base)

    # The conversation page: the socket connects under connect-src 'self', a reply streams in,
    # and Markdown with highlighted code renders.
    page.goto(f"{base}/c/{conversation_id}/")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    expect(page.locator("article.turn-assistant .turn-body pre code .hljs-keyword").first).to_have_text("def")
    # Every state a reply takes on screen, recorded as it changes.
    page.evaluate("""() => {
        window.__statuses = new Set();
        new MutationObserver(() => document.querySelectorAll('article.turn-assistant')
            .forEach((turn) => window.__statuses.add(turn.dataset.status)))
          .observe(document.getElementById('transcript'), {subtree: true, childList: true, attributes: true});
    }""")
    page.select_option("#model", "openai:fake-slow")
    page.fill("#prompt", "stream **bold** and `inline code` please")
    page.keyboard.press("Enter")
    expect(page.locator("article.turn-assistant")).to_have_count(2)  # the seeded reply, and this one
    reply = page.locator("article.turn-assistant").nth(1)
    expect(reply).to_have_attribute("data-status", "complete")
    assert "streaming" in page.evaluate("[...window.__statuses]")
    expect(reply.locator(".turn-body strong")).to_have_text("bold")
    expect(reply.locator(".turn-body code")).to_have_text("inline code")
    page.get_by_role("button", name="Tree map").click()
    expect(page.locator("#tree-panel [data-turn-id]").first).to_be_attached()
    page.locator("#settings-toggle").click()
    page.fill("#prompt", "a draft\nover\nseveral\nlines")  # the composer grows (CSSOM, not a style attribute)
    assert _violations(page) == []

    # The comparison: two versions side by side, diffed word by word.
    page.goto(f"{base}/c/{conversation_id}/compare/?tips={first},{second}")
    expect(page.locator(".column-head")).to_have_count(2)
    expect(page.locator("#columns ins").first).to_contain_text("brave")
    expect(page.locator("#columns .hljs-keyword").first).to_be_attached()
    page.uncheck("#diff-toggle")
    page.check("#diff-toggle")
    assert _violations(page) == []

    # The shared pages, for a reader without an account: a snapshot, and a live link whose socket
    # connects.
    page.context.clear_cookies()
    for token in (snapshot, live):
        page.goto(f"{base}/s/{token}/")
        expect(page.locator("#transcript .hljs-keyword").first).to_be_attached()
        if token == live:
            expect(page.locator("body")).to_have_attribute("data-socket", "open")
        assert _violations(page) == []
    assert console == []
    assert page.errors == []


@pytest.mark.browser
def test_the_handlers_moved_out_of_the_markup_still_work(page, workbench_server, seeded):
    conversation_id, *_ = seeded
    base = workbench_server.url
    console = _watch(page)
    _sign_in(page, base)

    # The workspace switcher submits itself when another workspace is chosen.
    page.select_option("#workspace-select", label="Second workspace · owner")
    expect(page).to_have_url(f"{base}/?w=" + page.locator("#workspace-select").input_value())

    # A share link's address is selected whole by a click, ready to copy; Revoke asks first, and
    # declining keeps the link.
    page.goto(f"{base}/shared/")
    link = page.locator(".link-card.link-active .link-url").first
    link.click()
    assert page.evaluate("window.getSelection().toString()").strip() == link.text_content().strip()
    asked: list[str] = []

    def dismissed(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismissed)
    page.locator(".link-card.link-active").first.get_by_role("button", name="Revoke").click()
    expect(page.locator(".link-card.link-active")).to_have_count(2)
    assert asked == ["Revoke this link? Anyone using it loses it at once."]

    # Deleting the conversation asks first; declining keeps it.
    page.goto(f"{base}/c/{conversation_id}/")
    page.once("dialog", dismissed)
    page.get_by_role("button", name="Delete conversation").click()
    expect(page).to_have_url(f"{base}/c/{conversation_id}/")
    assert asked[-1] == "Delete this conversation and every branch in it?"
    assert page.goto(f"{base}/c/{conversation_id}/").status == 200
    assert _violations(page) == [] and console == [] and page.errors == []
