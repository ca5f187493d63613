"""Every page at a phone's, a tablet's and a desktop's width, light and dark, in real Chromium
against daphne: nothing sticks out of the viewport or scrolls sideways but a code block or a table,
no control is cut off, axe-core finds no serious or critical WCAG 2.1 A/AA violation (contrast
included), and a full-page screenshot of each is kept to look at.

The pages are those a person meets: the conversation list, a conversation while a reply streams,
one with versions, its tree map, a comparison of three branches, the share dialog, a shared page
live and as a snapshot (as an anonymous visitor), a conversation whose prompts carry files and
the composer holding some, the shared links, the workspaces and a
workspace, import, sign in and sign up, search results, a new conversation, and the 404 page (an
unknown address, a revoked link, an expired link).

Screenshots go to var/artifacts/pages/<page>-<width>-<scheme>.png (the whole page) and
…-view.png (the part in view), or to pages/ under the folder that WORKBENCH_ARTIFACTS names.
Everything is seeded once per module; each width and colour scheme gets one browser tab per account
(signed in, anonymous), reused from page to page.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests import attachment_files
from tests.axe import axe_audit
from tests.conftest import PASSWORD
from tests.layout_checks import layout_problems
from tests.live import ROOT

pytestmark = pytest.mark.browser

SIZES = [(390, 844), (768, 1024), (1280, 800)]
SCHEMES = ["light", "dark"]
VIEWPORTS = [(width, height, scheme) for width, height in SIZES for scheme in SCHEMES]
OWNER = "pagetour"
MATE = "pagetour-mate"
STREAMING_MODEL = "openai:fake-slow-long"  # 400 tokens over 20 s


def artifacts_dir() -> Path:
    base = os.environ.get("WORKBENCH_ARTIFACTS")
    folder = Path(base) / "pages" if base else ROOT / "var" / "artifacts" / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- what the pages show: seeded once -------------------------------------------------------------

# A reply with what stretches a layout: a table, a code block with a long line, a long link, a long
# word, a list, inline code.
LONG_CODE_LINE = (
    '    return [f"Day {n + 1}: {PLACES[n % len(PLACES)]} (reserve the Haruka express '
    'from Kansai Airport early)" for n in range(days)]'
)
RICH_REPLY = """## Day one: Higashiyama

Start early: the temples are calm before **9 am**, and the `Kyoto City Bus One-day Pass` no longer exists.

| Time | Place | Getting there | Cost (¥) |
|------|-------|---------------|---------:|
| 08:00 | Kiyomizu-dera | Bus 206 from Kyoto Station, Gojo-zaka stop | 500 |
| 10:30 | Sannenzaka and Ninenzaka | On foot, downhill | 0 |
| 13:00 | Gion and Yasaka Shrine | On foot along Hanamikoji-dori | 0 |
| 16:00 | Philosopher's Path | Bus 5 to Ginkakuji-michi | 230 |

```python
def itinerary(days: int = 3) -> list[str]:
{long_code_line}
```

1. Book the ryokan at https://www.japan-guide.com/e/e3900.html?utm_source=workbench&campaign=three-days-in-kyoto-autumn-leaves
2. Buy an ICOCA card at Kansai-Airport-Railway-Station-Terminal-One-Ticket-Office-North-Exit.
3. Carry cash: many small shops take no cards.
""".replace("{long_code_line}", LONG_CODE_LINE)

SEED = """
import json
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from conversations import services
from conversations.models import ShareLink, Turn
from conversations.sharing import services as sharing
from conversations.tokens import count_all
from conversations.workspaces import services as workspaces

owner = User.objects.create_user({owner!r}, {owner!r} + "@example.com", {password!r})
mate = User.objects.create_user({mate!r}, {mate!r} + "@example.com", {password!r})

def turn(conversation, parent, role, content, model=""):
    provider, _, name = model.partition(":")
    return Turn.objects.append(conversation=conversation, parent=parent, role=role, content=content,
                               token_counts=count_all(content), provider=provider, model=name,
                               input_tokens=120 if model else None, output_tokens=480 if model else None)

def finish(conversation, current):
    conversation.current_turn = current
    conversation.save(update_fields=["current_turn"])

# The conversation list: a few, one with a long title.
for title in ["Weekly groceries", "Refactor the billing service without downtime",
              "A conversation whose title is far longer than any sidebar could show on one line at all",
              "Birthday card ideas", "SQL window functions"]:
    c = services.conversation_create(owner=owner, title=title)
    q = turn(c, None, "user", "Help me with " + title.lower())
    finish(c, turn(c, q, "assistant", "Here is a start on " + title.lower() + ".", "openai:fake-model"))

# Versions, a tree, three branches: Q1 > A1 > (Q2 > A2 | Q2b > (A2b | A2c)).
rich = services.conversation_create(owner=owner, title="Three days in Kyoto")
q1 = turn(rich, None, "user", "Plan three days in Kyoto for me, with times and costs.")
a1 = turn(rich, q1, "assistant", {rich_reply!r}, "openai:fake-model")
q2 = turn(rich, a1, "user", "What about trains between the cities?")
a2 = turn(rich, q2, "assistant", "Take the **JR Nara line**: 45 minutes, covered by the pass.", "openai:fake-model")
q2b = turn(rich, a1, "user", "What about ferries to the islands?")
a2b = turn(rich, q2b, "assistant", "Ferries leave **Kobe** twice a day; book the 9:10 one.", "anthropic:fake-model")
a2c = turn(rich, q2b, "assistant", "There are no islands near Kyoto; Naoshima is a day trip by train and ferry.",
           "openai:fake-slow")
finish(rich, a2b)

# One reply streams in each of these while its page is checked, one per width and scheme.
streaming = []
for index in range({streams}):
    c = services.conversation_create(owner=owner, title="Packing for the Alps")
    q = turn(c, None, "user", "What should I pack for a week of hiking in the Alps?")
    finish(c, turn(c, q, "assistant", "- Boots you have walked in\\n- A rain shell\\n- Layers, not one thick coat",
                   "openai:fake-model"))
    streaming.append(c.id)

# The share dialog's conversation: links made in the dialog, one revoked before.
sharer = services.conversation_create(owner=owner, title="Share me")
sq = turn(sharer, None, "user", "Summarise the launch plan.")
finish(sharer, turn(sharer, sq, "assistant", "Launch on **Monday**, announce on Tuesday.", "openai:fake-model"))
made = sharing.share_create(conversation=sharer, by=owner, turn_id=None, with_subtree=False, mode="live",
                            audience="anyone", expires_at=None, include_reasoning=False)
sharing.share_revoke(link=made)

def link(mode, **options):
    values = dict(turn_id=None, with_subtree=False, audience="anyone", expires_at=None, include_reasoning=False)
    values.update(options)
    return sharing.share_create(conversation=rich, by=owner, mode=mode, **values)

live = link("live", turn_id=a2b.id, with_subtree=True)
snapshot = link("snapshot")
members = link("live", audience="members", expires_at=timezone.now() + timedelta(days=7))
revoked = link("live")
sharing.share_revoke(link=revoked)
expired = link("snapshot", expires_at=timezone.now() + timedelta(hours=1))
ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

team = workspaces.workspace_create(owner=owner, name="Design review team")
workspaces.member_invite(workspace=team, who={mate!r}, role="editor")
tc = services.conversation_create(owner=owner, workspace=team, title="Onboarding checklist")
tq = turn(tc, None, "user", "Draft an onboarding checklist.")
finish(tc, turn(tc, tq, "assistant", "1. Accounts\\n2. Laptop\\n3. A buddy", "openai:fake-model"))

# Prompts carrying files: two images, a CSV and a PDF on the first, an image on the second.
from tests import attachment_files as files
filed = services.conversation_create(owner=owner, title="Quarterly figures, with the slides")
fq1 = files.attached_turn(
    filed, None, owner,
    files.upload(owner, "dashboard-screenshot-2024-09-30.png", files.png((1600, 900), files.BLUE)),
    files.upload(owner, "org-chart.png", files.png((600, 900), files.GREEN)),
    files.upload(owner, "sales_by_region_q3_final_v2.csv", b"region,q2,q3\\nnorth,12,15\\nsouth,7,9\\n"),
    files.upload(owner, "board-pack.pdf", files.pdf("Q3 board pack", "Sales rose by a tenth.")),
    content="What stands out in the dashboard, the chart, the sales and the board pack?")
fa1 = turn(filed, fq1, "assistant", "Sales rose in **both regions**; the north grew fastest.", "openai:fake-model")
fq2 = files.attached_turn(filed, fa1, owner, files.upload(owner, "north.png", files.png((800, 500), files.RED)),
                          content="And this close-up of the north?")
finish(filed, turn(filed, fq2, "assistant", "The close-up shows the same rise, month by month.", "openai:fake-model"))

print(json.dumps(dict(
    filed=filed.id, rich=rich.id, versions_tip=a2b.id, tips=[a2.id, a2b.id, a2c.id], streaming=streaming,
    sharer=sharer.id,
    team=team.id, live=live.token, snapshot=snapshot.token, revoked=revoked.token, expired=expired.token,
)))
"""


@dataclass
class Site:
    url: str
    ids: dict
    storage: dict  # the owner's signed-in browser state
    streams: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def site(browser, workbench_server) -> Site:
    output = workbench_server.run_python(SEED.format(
        owner=OWNER, mate=MATE, password=PASSWORD, rich_reply=RICH_REPLY, streams=len(VIEWPORTS)))
    ids = json.loads(output.strip().splitlines()[-1])
    context = browser.new_context()
    page = context.new_page()
    page.goto(workbench_server.url + "/accounts/login/")
    page.fill("#id_username", OWNER)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/)"))
    storage = context.storage_state()
    context.close()
    return Site(workbench_server.url, ids, storage, list(ids["streaming"]))


class Tabs:
    """One tab per width, scheme and account, opened on first use and reused."""

    def __init__(self, browser, site: Site) -> None:
        self.browser, self.site = browser, site
        self.tabs: dict[tuple, Any] = {}

    def get(self, width: int, height: int, scheme: str, *, signed_in: bool):
        key = (width, height, scheme, signed_in)
        if key not in self.tabs:
            options: dict = {"viewport": {"width": width, "height": height}}
            if signed_in:
                options["storage_state"] = self.site.storage
            context = self.browser.new_context(**options)
            page = context.new_page()
            page.emulate_media(color_scheme=scheme)
            page.errors = []
            page.on("pageerror", lambda error, page=page: page.errors.append(str(error)))
            page.on("dialog", lambda dialog: dialog.dismiss())
            self.tabs[key] = page
        page = self.tabs[key]
        # Each page as a newcomer sees it: nothing remembered from the page before (an open tree map).
        if page.url.startswith(self.site.url):
            page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        page.errors.clear()
        return page

    def close(self) -> None:
        for page in self.tabs.values():
            page.context.close()


@pytest.fixture(scope="module")
def tabs(browser, site):
    opened = Tabs(browser, site)
    yield opened
    opened.close()


# --- reaching each page's state -------------------------------------------------------------------

def settle(page) -> None:
    """The page's fonts loaded and two frames drawn since the last change it was waiting for."""
    page.wait_for_load_state("load")
    page.evaluate("() => document.fonts.ready.then(() => new Promise((r) => "
                  "requestAnimationFrame(() => requestAnimationFrame(r))))")


def open_conversation(page, site: Site, path: str, turns: int) -> None:
    page.goto(site.url + path)
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    expect(page.locator("#transcript article[data-turn]")).to_have_count(turns)


MORE = re.compile(r"\b(more|menu|actions)\b", re.I)


def press_button(page, name: str | re.Pattern) -> None:
    """Clicks the visible button of that name, or finds it behind a menu button ("More", "Menu"),
    the top bar's first."""
    button = page.get_by_role("button", name=name, exact=isinstance(name, str)).filter(visible=True)
    if button.count() == 0:
        banner = page.locator("header, [role=banner]").first.get_by_role("button", name=MORE).filter(visible=True)
        menu = banner if banner.count() else page.get_by_role("button", name=MORE).filter(visible=True)
        menu.first.click()
        exact = isinstance(name, str)
        button = page.get_by_role("menuitem", name=name, exact=exact).or_(
            page.get_by_role("button", name=name, exact=exact)).filter(visible=True)
    button.first.click()


def show_home(page, site: Site) -> None:
    page.goto(site.url + "/")
    expect(page.get_by_role("link", name=re.compile("Three days in Kyoto")).first).to_be_attached()


def show_streaming(page, site: Site) -> None:
    conversation = site.streams.pop()
    open_conversation(page, site, f"/c/{conversation}/", 2)
    page.get_by_role("combobox", name="Model").select_option(STREAMING_MODEL)
    page.get_by_role("textbox", name="Message").fill("And what should I leave at home?")
    page.keyboard.press("Enter")
    reply = page.locator("#transcript article[data-turn]").nth(3)
    expect(reply).to_have_attribute("data-status", "streaming")
    page.wait_for_function(
        "() => (document.querySelectorAll('#transcript article[data-turn]')[3]?.innerText.length || 0) > 300")


def still_streaming(page) -> None:
    status = page.locator("#transcript article[data-turn]").nth(3).get_attribute("data-status")
    assert status == "streaming", f"the reply was no longer streaming when the page was measured ({status})"


def show_versions(page, site: Site) -> None:
    open_conversation(page, site, f"/c/{site.ids['rich']}/t/{site.ids['versions_tip']}/", 4)
    expect(page.get_by_text(re.compile(r"^\s*1\s*/\s*2\s*$")).first).to_be_visible()


def show_tree(page, site: Site) -> None:
    show_versions(page, site)
    press_button(page, re.compile("Tree map", re.I))
    expect(page.locator("[data-turn-id]")).to_have_count(7)
    expect(page.locator("[data-turn-id]").first).to_be_visible()
    # Two providers serve a model of the same name: the legend tells them apart as the composer does.
    expect(page.locator(".tm-legend-item[data-model]")).to_have_text(
        ["OpenAI · fake-model", "Anthropic · fake-model", "OpenAI · fake-slow"]
    )


def show_compare(page, site: Site) -> None:
    tips = site.ids["tips"]
    page.goto(f"{site.url}/c/{site.ids['rich']}/compare/?tips={','.join(map(str, tips))}")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    for tip in tips:
        expect(page.locator(f'article[data-turn="{tip}"]').first).to_be_attached()


def show_share_dialog(page, site: Site) -> None:
    open_conversation(page, site, f"/c/{site.ids['sharer']}/", 2)
    with page.expect_response(lambda response: "shares.json" in response.url):
        press_button(page, "Share")
    dialog = page.get_by_role("dialog", name=re.compile("Share"))
    expect(dialog).to_be_visible()
    # A link made in the dialog: its address and copy button are what a narrow dialog must fit.
    with page.expect_response(lambda response: "shares.json" in response.url):
        dialog.get_by_role("button", name="Create link").click()
    assert "/s/" in created_link(dialog)


def created_link(dialog) -> str:
    """The address of the link just made, from the dialog's status: shown as text, or in a field."""
    status = dialog.get_by_role("status").filter(has_text=re.compile("created", re.I)).first
    expect(status).to_be_visible()
    field = status.get_by_role("textbox")
    found = field.first.input_value() if field.count() else status.inner_text()
    url = re.search(r"https?://\S+/s/[\w-]+/", found)
    assert url, f"no link in the share dialog's status: {found!r}"
    return url.group(0)


def show_shared(kind: str) -> Callable:
    def show(page, site: Site) -> None:
        page.goto(f"{site.url}/s/{site.ids[kind]}/")
        if kind == "live":
            expect(page.locator("body")).to_have_attribute("data-socket", "open")
        expect(page.locator("#transcript article[data-turn]").first).to_be_visible()
    return show


def show_path(path: str, *, status: int = 200, ready: str = "main") -> Callable:
    def show(page, site: Site) -> None:
        response = page.goto(site.url + path.format(**site.ids))
        assert response is not None and response.status == status, (path, response and response.status)
        expect(page.locator(ready).first).to_be_visible()
    return show


def show_new(page, site: Site) -> None:
    page.goto(site.url + "/c/new/")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()


def images_loaded(page) -> None:
    page.wait_for_function("() => [...document.querySelectorAll('.attachment-thumb img, img.chip-thumb')]"
                           ".every((img) => img.complete && img.naturalWidth > 0)")


def show_attachments(page, site: Site) -> None:
    open_conversation(page, site, f"/c/{site.ids['filed']}/", 4)
    expect(page.locator("#transcript .attachment-thumb img")).to_have_count(3)
    expect(page.locator("#transcript .attachment-file")).to_have_count(2)
    images_loaded(page)


def show_composer_files(page, site: Site) -> None:
    """The composer holding an image, a text file and a file it refused, over a conversation."""
    show_attachments(page, site)
    page.set_input_files("#attach-input", [
        {"name": "whiteboard-photo.png", "mimeType": "image/png", "buffer": attachment_files.png((900, 600))},
        {"name": "meeting-notes-september.md", "mimeType": "text/markdown", "buffer": b"# Notes\nShip it.\n"},
        {"name": "installer.exe", "mimeType": "application/octet-stream", "buffer": b"MZ" * 64},
    ])
    tray = page.locator("#attachment-tray")
    expect(tray.locator(".attachment-chip.is-ready")).to_have_count(2)
    expect(tray.locator(".attachment-chip.is-error")).to_have_count(1)
    images_loaded(page)


@dataclass(frozen=True)
class Page:
    name: str
    show: Callable
    signed_in: bool = True


PAGES = [
    Page("home", show_home),
    Page("conversation-streaming", show_streaming),
    Page("conversation-versions", show_versions),
    Page("tree-map", show_tree),
    Page("compare", show_compare),
    Page("conversation-attachments", show_attachments),
    Page("composer-attachments", show_composer_files),
    Page("share-dialog", show_share_dialog),
    Page("shared-live", show_shared("live"), signed_in=False),
    Page("shared-snapshot", show_shared("snapshot"), signed_in=False),
    Page("shared-links", show_path("/shared/")),
    Page("workspaces", show_path("/workspaces/")),
    Page("workspace", show_path("/w/{team}/")),
    Page("inbox", show_path("/inbox/")),
    Page("import", show_path("/import/")),
    Page("search", show_path("/search/?q=Kyoto")),
    Page("new-conversation", show_new),
    Page("login", show_path("/accounts/login/", ready="form"), signed_in=False),
    Page("signup", show_path("/accounts/signup/", ready="form"), signed_in=False),
    Page("404", show_path("/no-such-page/", status=404, ready="body")),
    Page("404-revoked-link", show_path("/s/{revoked}/", status=404, ready="body"), signed_in=False),
    Page("404-expired-link", show_path("/s/{expired}/", status=404, ready="body"), signed_in=False),
]


def report(problems: dict[str, list[str]]) -> str:
    """The problems by kind, a line repeated on the page (the same control in every reply) once."""
    def once(lines: list[str]) -> list[str]:
        counts = Counter(lines)
        return [line + (f" (× {counts[line]})" if counts[line] > 1 else "") for line in counts]
    return "\n".join(f"  {kind}:\n" + "\n".join(f"    - {line}" for line in once(lines))
                     for kind, lines in problems.items() if lines)


def dead_end(page) -> list[str]:
    """An error page must lead somewhere: at least a link home."""
    if page.get_by_role("link").filter(visible=True).count() == 0:
        return ["a dead end: no link anywhere on the page, not even to the home page"]
    return []


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=[f"{w}-{s}" for w, _, s in VIEWPORTS])
@pytest.mark.parametrize("shown", PAGES, ids=[p.name for p in PAGES])
def test_the_page_fits_and_reads_at_this_size(shown: Page, viewport, site, tabs):
    width, height, scheme = viewport
    page = tabs.get(width, height, scheme, signed_in=shown.signed_in)
    shown.show(page, site)
    settle(page)

    layout = layout_problems(page)
    # The whole page, and the part in view as it is shown (a full-page capture draws a sticky bar
    # where the page happens to be scrolled to, mid-page on a conversation scrolled to its end).
    page.screenshot(path=str(artifacts_dir() / f"{shown.name}-{width}-{scheme}.png"), full_page=True)
    page.screenshot(path=str(artifacts_dir() / f"{shown.name}-{width}-{scheme}-view.png"))
    if shown.name == "conversation-streaming":
        still_streaming(page)
    violations = axe_audit(page)
    axe = [f"{v['id']} ({v['impact']}): {v['help']} — "
           + "; ".join(f"{n['target']}: {n['summary']}" for n in v["nodes"][:6])
           + (f"; and {len(v['nodes']) - 6} more" if len(v["nodes"]) > 6 else "")
           for v in violations]
    problems = {"layout": layout, "axe (serious/critical)": axe, "script errors": list(page.errors),
                "page": dead_end(page) if shown.name.startswith("404") else []}
    if any(problems.values()):
        pytest.fail(f"{shown.name} at {width} px, {scheme}:\n{report(problems)}", pytrace=False)


# --- the checks themselves catch what they are for --------------------------------------------------

PROBE = """<!doctype html><html lang="en"><head><title>Probe</title><style>
  body { margin: 0; font: 16px sans-serif; }
  .clip { overflow: hidden; width: 100px; height: 40px; }
  .scroller { overflow-x: auto; width: 200px; }
  .column { overflow-y: auto; width: 200px; height: 100px; }
  .drawer { position: fixed; top: 0; left: 0; width: 300px; transform: translateX(-100%); }
  .tight { width: 40px; white-space: nowrap; overflow: hidden; }
</style></head><body><main><h1>Probe</h1>{body}</main></body></html>"""


def probe(page, body: str) -> list[str]:
    page.set_viewport_size({"width": 390, "height": 844})
    page.set_content(PROBE.replace("{body}", body))
    return layout_problems(page)


def test_the_layout_checks_catch_what_breaks_a_page_and_pass_what_does_not(page):
    assert probe(page, "<p>Fits.</p><button>Send</button>") == []
    # Meant to scroll sideways, or off canvas: not problems.
    assert probe(page, '<div class="scroller"><pre>' + "x" * 400 + "</pre></div>") == []
    assert probe(page, '<div class="scroller"><table><tr><td>' + "y" * 400 + "</td></tr></table></div>") == []
    assert probe(page, '<nav class="drawer"><a href="/">Home</a></nav>') == []
    assert probe(page, '<nav style="position: absolute; left: -320px; width: 300px"><a href="/">Home</a></nav>') == []

    wide = probe(page, '<div id="wide" style="width: 2000px">wide</div>')
    assert any("scrolls sideways: document scrollWidth 2000" in line for line in wide), wide
    assert any(line.startswith("sticks out of the viewport: div#wide") for line in wide), wide

    cut = probe(page, '<div class="clip"><button id="cut" style="margin-left: 60px; width: 90px">Send</button></div>')
    assert any(line.startswith("control cut off by main > div.clip") and "button#cut" in line for line in cut), cut

    outside = probe(page, '<button id="away" style="position: absolute; left: 360px">Send now</button>')
    assert any("button#away" in line for line in outside), outside
    # Wholly past the edge in a sticky bar (a composer's Send button pushed off a tablet's screen).
    pushed = probe(page, '<div style="position: sticky; bottom: 0; display: flex"><span style="flex: none; '
                         'width: 500px">Model</span><button id="send" style="flex: none">Send</button></div>')
    assert any(line.startswith("sticks out of the viewport: button#send") for line in pushed), pushed

    poking = probe(page, '<form style="border: 1px solid; width: 200px; display: flex"><span style="flex: none; '
                         'width: 180px">Message</span><button id="send" style="flex: none">Send</button></form>')
    assert any(line.startswith("control pokes out of its frame main > form") for line in poking), poking
    # Its own border is not a frame it sits in; a framed box it fits in is fine.
    fits = '<form style="border: 1px solid; width: 200px"><button style="border: 1px solid">Send</button></form>'
    assert probe(page, fits) == []

    # A see-through bar over text that scrolls under it; the same bar with a background is fine.
    under = ('<p>Under the heading, which the bar covers</p>'
             '<div style="position: fixed; top: 30px; left: 0; width: 390px{}"><span>Over it</span></div>')
    assert any(line.startswith("text shows through a bar") for line in probe(page, under.format(""))), under
    assert probe(page, under.format("; background: white")) == []
    # Text over the bar (a dialog's) is not under it.
    above = ('<div style="position: fixed; top: 30px; left: 0; width: 390px; z-index: 0"><span>Bar</span></div>'
             '<p style="position: fixed; top: 30px; left: 0; width: 390px; z-index: 1; margin: 0; background: white">'
             'Over the bar</p>')
    assert probe(page, above) == []

    label = probe(page, '<button class="tight">Save and send</button>')
    assert any(line.startswith("label cut") for line in label), label

    wrapped = probe(page, '<button style="width: 60px">+ Compare with…</button>')
    assert any(line.startswith("short label broken over") for line in wrapped), wrapped
    # An icon button whose label is there for screen readers only is one line.
    hidden_label = ('<button style="width: 40px"><span aria-hidden="true">⇪</span><span style="position: absolute; '
                    'width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0)">Share this</span></button>')
    assert probe(page, hidden_label) == []

    # A column that scrolls sideways because of what is in it, not a table or code block.
    sideways = probe(page, '<div class="column"><p id="long" style="width: 600px">long</p></div>')
    assert any(line.startswith("scrolls sideways") and "p#long" in line for line in sideways), sideways


def test_the_audit_catches_text_too_faint_to_read(page):
    page.set_content(PROBE.replace("{body}", '<p style="color: #bbb; background: #fff">Faint</p>'))
    assert [v["id"] for v in axe_audit(page)] == ["color-contrast"]
    page.set_content(PROBE.replace("{body}", '<p style="color: #333; background: #fff">Clear</p>'))
    assert axe_audit(page) == []


def test_a_button_behind_the_top_bars_menu_is_found(page):
    page.set_content(
        '<header><button onclick="document.getElementById(\'m\').hidden = false">More</button>'
        '<div id="m" role="menu" hidden><button role="menuitem" onclick="document.title = \'shared\'">Share</button>'
        "</div></header><main><article><button>More actions</button></article></main>")
    press_button(page, "Share")
    assert page.title() == "shared"
