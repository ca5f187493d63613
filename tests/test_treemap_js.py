"""The conversation tree map (static/js/treemap.js) on its own, in real Chromium: no database, no
server of the project, only the static folder behind http.server and a small harness page."""
from __future__ import annotations

import functools
import http.server
import os
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parent.parent / "static"
CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-dev-shm-usage"]

HARNESS = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/css/app.css">
<link rel="stylesheet" href="/static/css/treemap.css">
<style>
  body { display: flex; gap: 12px; }
  .panel { width: 340px; height: 600px; background: var(--panel); border: 1px solid var(--border); }
</style></head>
<body><div class="panel" id="a"></div><div class="panel" id="b"></div>
<script type="module">
import { TreeMap } from '/static/js/treemap.js';
window.selected = [];
window.maps = {};
window.make = (id, nodes, branch) => {
  const map = new TreeMap(document.getElementById(id), { onSelect: (turnId) => window.selected.push([id, turnId]) });
  window.maps[id] = map;
  if (nodes) map.setData(nodes);
  if (branch) map.setBranch(branch);
  return true;
};
window.ready = true;
</script></body></html>
"""


def node(id, parent, role="assistant", status="complete", model="openai:gpt-4o", preview=""):
    return {
        "id": id, "parent": parent, "role": role, "status": status,
        "model": "" if role == "user" else model, "preview": preview or f"turn {id}",
    }


# Two roots. 1 → (2, 3); 2 → 4 → 5; 3 → 6 (streaming); 7 (system) → 8 → 9 (error).
SMALL = [
    node(1, None, "user"),
    node(2, 1),
    node(3, 1, model="anthropic:claude"),
    node(4, 2, "user"),
    node(5, 4),
    node(6, 3, "user"),
    node(10, 6, status="streaming"),
    node(7, None, "system"),
    node(8, 7, "user"),
    node(9, 8, status="error", model="openai:o3"),
]


def chain(n):
    return [node(i, i - 1 if i > 1 else None, "user" if i % 2 else "assistant") for i in range(1, n + 1)]


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] == "/harness.html":
            body = HARNESS.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def translate_path(self, path):
        path = path.split("?")[0]
        if path.startswith("/static/"):
            path = path[len("/static"):]
        return super().translate_path(path)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(STATIC)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        why = f"Chromium not found at {CHROMIUM}: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements-dev.txt")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def harness(browser, base_url):
    context = browser.new_context(viewport={"width": 760, "height": 640}, color_scheme="light")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def console_error(message) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", console_error)
    page.goto(base_url + "/harness.html")
    page.wait_for_function("window.ready === true")
    yield page
    context.close()
    assert errors == [], errors


def eventually(condition, timeout: float = 30.0) -> None:
    """Wait until `condition()` holds (an animation frame, a resize, a transition may be due
    first); fail if it has not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def transform(page, panel="a"):
    return page.get_attribute(f"#{panel} .tm-viewport", "transform")


def turn_ids(page, selector):
    return sorted(page.eval_on_selector_all(selector, "els => els.map(e => Number(e.dataset.turnId))"))


def test_small_branched_tree_renders_every_node_and_edge(harness):
    harness.evaluate("nodes => make('a', nodes)", SMALL)
    assert harness.locator("#a .tm-node").count() == len(SMALL)
    assert turn_ids(harness, "#a .tm-node[data-turn-id]") == sorted(n["id"] for n in SMALL)
    assert harness.locator("#a .tm-edge").count() == len(SMALL) - 2  # two roots
    # Shapes by role, colour by model.
    assert harness.locator('#a [data-role="user"] rect.tm-shape').count() == 4
    assert harness.locator('#a [data-role="assistant"] circle.tm-shape').count() == 5
    assert harness.locator('#a [data-role="system"] path.tm-shape').count() == 1
    assert "openai:o3" in harness.text_content('#a [data-turn-id="9"] title')
    assert harness.locator('#a [data-turn-id="9"].tm-status-error').count() == 1
    # A tidy layout: no two nodes of a row overlap.
    boxes = harness.eval_on_selector_all(
        "#a .tm-shape",
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.right, r.bottom]; })",
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_click_and_enter_select_a_turn(harness):
    harness.evaluate("nodes => make('a', nodes)", SMALL)
    harness.click('#a [data-turn-id="5"]')
    assert harness.evaluate("selected") == [["a", 5]]
    harness.focus('#a [data-turn-id="8"]')
    harness.keyboard.press("Enter")
    assert harness.evaluate("selected") == [["a", 5], ["a", 8]]
    # One tab stop for the whole map; arrows move between nodes.
    assert harness.locator('#a .tm-node[tabindex="0"]').count() == 1
    harness.keyboard.press("ArrowUp")
    assert harness.evaluate("document.activeElement.dataset.turnId") == "7"


def test_set_branch_highlights_exactly_its_turns(harness):
    harness.evaluate("nodes => make('a', nodes, [1, 2, 4, 5])", SMALL)
    assert turn_ids(harness, "#a .tm-node[data-on-branch]") == [1, 2, 4, 5]
    assert turn_ids(harness, "#a .tm-node.is-on-branch") == [1, 2, 4, 5]
    assert turn_ids(harness, "#a [data-branch-leaf]") == [5]
    assert harness.locator("#a .tm-edge[data-on-branch]").count() == 3
    harness.evaluate("maps.a.setBranch([1, 3, 6, 10])")
    assert turn_ids(harness, "#a .tm-node[data-on-branch]") == [1, 3, 6, 10]
    assert turn_ids(harness, "#a [data-branch-leaf]") == [10]


def test_long_linear_chain_collapses_and_its_last_turn_is_clickable(harness):
    harness.evaluate("nodes => make('a', nodes)", chain(2000))
    assert harness.locator("#a .tm-node").count() < 50
    segment = harness.locator("#a .tm-segment")
    assert segment.count() == 1
    assert int(segment.get_attribute("data-hidden-count")) > 1900
    harness.click('#a [data-turn-id="2000"]')
    assert harness.evaluate("selected") == [["a", 2000]]

    # With the whole chain as the branch, its end stays readable and the rest stays collapsed.
    harness.evaluate("maps.a.setBranch(Array.from({length: 2000}, (_, i) => i + 1))")
    assert harness.locator("#a .tm-node").count() < 50
    assert turn_ids(harness, "#a [data-branch-leaf]") == [2000]
    assert harness.locator("#a .tm-segment[data-on-branch]").count() == 1

    # Clicking the segment reveals the turns at its top; it never selects.
    before = int(segment.get_attribute("data-hidden-count"))
    segment.click()
    after = int(harness.get_attribute("#a .tm-segment", "data-hidden-count"))
    assert after == before - 20
    assert harness.locator('#a [data-turn-id="2"]').count() == 1
    assert harness.evaluate("selected") == [["a", 2000]]


def test_upsert_adds_a_turn_without_moving_the_view(harness):
    harness.evaluate("nodes => make('a', nodes, [1, 2, 4, 5])", SMALL)
    initial = transform(harness)
    # The user pans and zooms.
    box = harness.locator("#a .tm-svg").bounding_box()
    harness.mouse.move(box["x"] + 60, box["y"] + 300)
    harness.mouse.down()
    harness.mouse.move(box["x"] + 90, box["y"] + 340, steps=4)
    harness.mouse.up()
    panned = transform(harness)
    assert panned != initial
    harness.mouse.wheel(0, -200)
    eventually(lambda: transform(harness) != panned)
    moved = transform(harness)
    assert harness.evaluate("selected") == []  # a drag is not a click

    harness.evaluate("n => maps.a.upsert(n)", node(11, 5, "user"))
    assert harness.locator('#a [data-turn-id="11"]').count() == 1
    assert harness.locator("#a .tm-node").count() == len(SMALL) + 1
    assert harness.locator('#a .tm-edge[data-from="5"][data-to="11"]').count() == 1
    assert transform(harness) == moved

    # A status change patches the node in place.
    harness.evaluate("n => maps.a.upsert(n)", node(12, 11, status="streaming"))
    harness.evaluate("n => maps.a.upsert(n)", node(12, 11, status="complete", preview="done"))
    assert harness.get_attribute('#a [data-turn-id="12"]', "data-status") == "complete"
    assert "done" in harness.text_content('#a [data-turn-id="12"] title')
    assert transform(harness) == moved

    # The first turn upserted into an empty map lands in view.
    harness.evaluate("n => { make('b'); maps.b.upsert(n); }", node(1, None, "user"))
    panel = harness.locator("#b").bounding_box()

    def in_view() -> bool:
        first = harness.locator('#b [data-turn-id="1"] .tm-shape').bounding_box()
        return (panel["x"] < first["x"] < panel["x"] + panel["width"] - first["width"]
                and panel["y"] < first["y"] < panel["y"] + panel["height"] - first["height"])

    eventually(in_view)


def test_streaming_turn_pulses_and_stops_when_complete(harness):
    harness.evaluate("nodes => make('a', nodes)", SMALL)
    streaming = harness.locator('#a [data-turn-id="10"]')
    assert "tm-status-streaming" in streaming.get_attribute("class")
    assert streaming.get_attribute("data-status") == "streaming"
    assert streaming.locator(".tm-pulse").count() == 1
    animation = harness.eval_on_selector('#a [data-turn-id="10"] .tm-pulse', "e => getComputedStyle(e).animationName")
    assert animation == "tm-pulse"
    harness.evaluate("n => maps.a.upsert(n)", node(10, 6, status="complete"))
    assert "tm-status-streaming" not in streaming.get_attribute("class")
    assert streaming.locator(".tm-pulse").count() == 0


def test_a_prompt_with_files_wears_a_paperclip_and_its_name_says_how_many(harness):
    nodes = [dict(n, files=2) if n["id"] == 4 else dict(n) for n in SMALL]
    harness.evaluate("nodes => make('a', nodes, [1, 2, 4, 5])", nodes)
    assert turn_ids(harness, "#a .tm-node[data-files]") == [4]
    assert harness.get_attribute('#a [data-turn-id="4"]', "data-files") == "2"
    assert harness.locator("#a .tm-clip").count() == 1
    assert harness.locator('#a [data-turn-id="4"] .tm-clip').count() == 1
    assert harness.text_content('#a [data-turn-id="4"] title') == "User · complete\n2 files attached\nturn 4"
    # The glyph sits beside the node's shape, over nothing else of the map.
    clip = harness.locator('#a [data-turn-id="4"] .tm-clip').bounding_box()
    shape = harness.locator('#a [data-turn-id="4"] .tm-shape').bounding_box()
    assert clip["x"] + clip["width"] > shape["x"] + shape["width"] and clip["y"] < shape["y"]
    # A node learns of its files when it is upserted, and a prompt with one says so in the singular.
    harness.evaluate("n => maps.a.upsert(n)", dict(node(8, 7, "user"), files=1))
    assert harness.text_content('#a [data-turn-id="8"] title') == "User · complete\n1 file attached\nturn 8"
    assert turn_ids(harness, "#a .tm-node[data-files]") == [4, 8]


def test_maps_are_independent_and_fit_select_destroy_work(harness):
    harness.evaluate("nodes => make('a', nodes, [1, 2, 4, 5])", SMALL)
    harness.evaluate("nodes => make('b', nodes)", chain(30))
    assert harness.locator("#a .tm-node").count() == len(SMALL)
    assert harness.locator("#b .tm-node[data-on-branch]").count() == 0
    harness.click('#b [data-turn-id="1"]')
    assert harness.evaluate("selected") == [["b", 1]]

    # select() reveals a collapsed turn and centers it.
    harness.evaluate("maps.b.select(15)")
    assert harness.locator('#b [data-turn-id="15"]').count() == 1
    panel = harness.locator("#b").bounding_box()

    def centered() -> bool:  # at the end of the view's transition
        target = harness.locator('#b [data-turn-id="15"] .tm-shape').bounding_box()
        return abs(target["x"] + target["width"] / 2 - (panel["x"] + panel["width"] / 2)) < 3

    eventually(centered)
    harness.click('#b .tm-button[aria-label="Fit the whole tree"]')
    eventually(lambda: transform(harness, "b") != transform(harness, "a"))

    harness.evaluate("maps.b.destroy()")
    assert harness.locator("#b .treemap").count() == 0
    assert harness.locator("#a .tm-node").count() == len(SMALL)


def test_ten_thousand_turns_lay_out_fast(harness):
    result = harness.evaluate(
        """() => {
          const nodes = [];
          let seed = 1;
          const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
          for (let id = 1; id <= 10000; id++) {
            const parent = id === 1 ? null
              : random() < 0.15 ? Math.max(1, id - 1 - Math.floor(random() * 300)) : id - 1;
            nodes.push({id, parent, role: id % 2 ? 'user' : 'assistant', status: 'complete',
                        model: id % 2 ? '' : 'openai:gpt-4o', preview: 'turn ' + id});
          }
          make('a', nodes);
          const times = [];
          for (let i = 0; i < 5; i++) { maps.a._layout(); times.push(maps.a.lastLayoutMs); }
          times.sort((x, y) => x - y);
          return {median: times[2], drawn: document.querySelectorAll('#a .tm-node').length};
        }"""
    )
    assert result["median"] < 100, result
    assert result["drawn"] < 1500, result  # only what is near the view gets elements
