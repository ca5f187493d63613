"""The tree map's layout and fitted views in real Chromium (the harness of test_treemap_js.py):
the main line is one straight line, and a fitted or first view leaves the zoom buttons clear."""
from __future__ import annotations

import pytest

from tests import test_treemap_js
from tests.test_treemap_js import node

# The harness page and its fixtures (a static server, Chromium) are test_treemap_js.py's.
base_url = test_treemap_js.base_url
browser = test_treemap_js.browser
harness = test_treemap_js.harness

pytestmark = pytest.mark.browser


def trunk_with_sides(trunk: int, every: int) -> list[dict]:
    """bench/tree.py's shape: a main line with a side reply every `every` turns (before its end)."""
    nodes = [node(i, i - 1 if i > 1 else None, "user" if i % 2 else "assistant") for i in range(1, trunk + 1)]
    nodes += [node(trunk + k, k * every) for k in range(1, (trunk - 1) // every + 1)]
    return nodes


def centres(page, selector: str) -> dict[int, tuple[float, float]]:
    return {
        int(turn): (x, y)
        for turn, x, y in page.eval_on_selector_all(
            selector,
            """els => els.map(e => { const r = e.querySelector('.tm-shape').getBoundingClientRect();
                                     return [e.dataset.turnId, r.x + r.width / 2, r.y + r.height / 2]; })""",
        )
    }


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]
    )


@pytest.mark.parametrize("pinned", [False, True])
def test_the_main_line_is_straight_with_regular_side_branches(harness, pinned):
    nodes = trunk_with_sides(300, 20)
    trunk = list(range(1, 301))
    harness.evaluate("([nodes, branch]) => make('a', nodes, branch)", [nodes, trunk])
    if pinned:  # every turn of the main line drawn, none folded away
        harness.evaluate(
            "() => { for (let id = 1; id <= 300; id++) maps.a.revealed.add(id); maps.a.setBranch(maps.a.branch); }"
        )
    drawn = centres(harness, "#a .tm-node[data-turn-id]")
    on_trunk = {turn: xy for turn, xy in drawn.items() if turn <= 300}
    assert len(on_trunk) >= (300 if pinned else 10)
    assert max(x for x, _ in on_trunk.values()) - min(x for x, _ in on_trunk.values()) < 0.5, on_trunk
    # Its edges go straight down; the side replies hang to one side of it.
    straight = harness.eval_on_selector_all(
        "#a .tm-edge[data-on-branch]", "els => els.filter(e => e.getAttribute('d').includes('C')).length"
    )
    assert straight == 0
    sides = [x for turn, (x, _) in drawn.items() if turn > 300]
    trunk_x = next(iter(on_trunk.values()))[0]
    assert sides and all(x > trunk_x for x in sides)


@pytest.mark.parametrize(
    "shape",
    [
        # Eight conversations' roots side by side: the last one sits at the top right corner.
        [node(r * 10 + i, r * 10 + i - 1 if i else None, "user" if i % 2 == 0 else "assistant")
         for r in range(1, 9) for i in range(4)],
        # Older short versions on the left, the long newest one on the right: so is the root.
        [node(1, None, "user")] + [node(i, 1) for i in range(2, 12)]
        + [node(i, i - 1 if i > 12 else 1) for i in range(12, 20)],
    ],
    ids=["many-roots", "root-above-its-newest-child"],
)
def test_fit_and_the_first_view_leave_the_zoom_buttons_clear(harness, shape):
    roots = [n["id"] for n in shape if n["parent"] is None]
    harness.evaluate("nodes => make('a', nodes)", shape)
    harness.wait_for_timeout(50)  # the first view is chosen after the caller's task
    buttons = harness.locator("#a .tm-controls").bounding_box()
    panel = harness.locator("#a").bounding_box()
    for view in ("first", "fit"):
        if view == "fit":
            harness.click('#a .tm-button[aria-label="Fit the whole tree"]')
            harness.wait_for_timeout(400)
        for root in roots:
            box = harness.locator(f'#a [data-turn-id="{root}"] .tm-shape').bounding_box()
            assert not overlaps(box, buttons), (view, root, box, buttons)
        # And everything is in the panel.
        for box in harness.eval_on_selector_all(
            "#a .tm-shape",
            "els => els.map(e => { const r = e.getBoundingClientRect(); "
            "return {x: r.x, y: r.y, width: r.width, height: r.height}; })",
        ):
            assert panel["x"] <= box["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"], (view, box)


MODELS = ["openai:gpt-4o", "anthropic:claude-sonnet", "openai:o3-mini", "google:gemini"]


def three_hundred_turns() -> list[dict]:
    """A 300-turn main line with a side branch every 20 turns: a prompt answered by another model."""
    nodes = trunk_with_sides(300, 20)
    extra = max(n["id"] for n in nodes)
    for index, side in enumerate([n for n in nodes if n["id"] > 300]):
        side.update(role="user", model="")
        extra += 1
        nodes.append(node(extra, side["id"], model=MODELS[index % len(MODELS)]))
    return nodes


def sized_map(page, width: int, height: int, nodes: list[dict], branch: list[int]) -> None:
    """A map in a box of its own size (a desktop panel, a phone's sheet), fitted."""
    page.evaluate(
        """([w, h, nodes, branch]) => {
             const box = document.createElement('div');
             box.id = 'sized'; box.className = 'panel';
             box.style.width = w + 'px'; box.style.height = h + 'px';
             document.body.prepend(box);
             make('sized', nodes, branch);
           }""",
        [width, height, nodes, branch],
    )
    page.wait_for_timeout(50)
    page.click('#sized .tm-button[aria-label="Fit the whole tree"]')
    page.wait_for_timeout(400)


@pytest.mark.parametrize("size", [(360, 800), (390, 760)], ids=["desktop-panel", "phone-sheet"])
def test_a_fitted_three_hundred_turn_tree_is_whole_clear_of_the_buttons_and_straight(harness, size):
    harness.set_viewport_size({"width": 1280, "height": 900})
    width, height = size
    sized_map(harness, width, height, three_hundred_turns(), list(range(1, 301)))
    panel = harness.locator("#sized").bounding_box()
    buttons = harness.locator("#sized .tm-controls").bounding_box()
    root = harness.locator('#sized [data-turn-id="1"] .tm-shape').bounding_box()
    assert panel["x"] <= root["x"] and root["x"] + root["width"] <= panel["x"] + panel["width"], (root, panel)
    assert panel["y"] <= root["y"] and root["y"] + root["height"] <= panel["y"] + panel["height"], (root, panel)
    assert not overlaps(root, buttons), (root, buttons)
    shapes = harness.eval_on_selector_all(
        "#sized .tm-shape, #sized .tm-pill",
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; })",
    )
    for box in shapes:
        assert panel["x"] <= box["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"], box
        assert panel["y"] <= box["y"] and box["y"] + box["height"] <= panel["y"] + panel["height"], box
        assert not overlaps(box, buttons), (box, buttons)
    # The main line is one column: every drawn turn of it has the same x.
    drawn = centres(harness, "#sized .tm-node[data-turn-id]")
    trunk_x = {round(x, 1) for turn, (x, _) in drawn.items() if turn <= 300}
    assert len(trunk_x) == 1, trunk_x
    # The counts of collapsed runs read at 11 px or more, beside their pills at this zoom.
    heights = harness.eval_on_selector_all(
        "#sized .tm-pill-side",
        "els => els.filter(e => getComputedStyle(e).display !== 'none').map(e => e.getBoundingClientRect().height)",
    )
    assert heights and min(heights) >= 11, heights


def test_turns_show_short_text_once_zoomed_in_and_models_have_distinct_colours(harness):
    nodes = three_hundred_turns()
    harness.evaluate("([nodes, branch]) => make('a', nodes, branch)", [nodes, list(range(1, 301))])
    harness.click('#a .tm-button[aria-label="Fit the whole tree"]')
    harness.wait_for_timeout(400)
    visible_labels = (
        "els => els.filter(e => getComputedStyle(e).display !== 'none' && e.textContent).map(e => e.textContent)"
    )
    assert harness.eval_on_selector_all("#a .tm-node-label", visible_labels) == []  # too far out for text
    for _ in range(8):
        harness.click('#a .tm-button[aria-label="Zoom in"]')
    harness.wait_for_timeout(400)
    labels = harness.eval_on_selector_all("#a .tm-node-label", visible_labels)
    assert any(label == "gpt-4o" for label in labels), labels
    assert any(label.startswith("turn ") for label in labels), labels  # a prompt's first words
    sizes = harness.eval_on_selector_all(
        "#a .tm-node-label",
        "els => els.filter(e => e.textContent).map(e => e.getBoundingClientRect().height)",
    )
    assert min(sizes) >= 11, sizes
    # Each model its own colour, named in the legend.
    fills = harness.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#a .tm-legend-item[data-model]')].map(item =>
             [item.dataset.model, getComputedStyle(item.querySelector('.tm-swatch')).backgroundColor]))"""
    )
    assert set(fills) == set(MODELS), fills
    assert len(set(fills.values())) == len(MODELS), fills
    for model, colour in fills.items():
        node_fills = harness.eval_on_selector_all(
            f'#a .tm-node[data-model="{model}"] .tm-shape', "els => els.map(e => getComputedStyle(e).fill)"
        )
        assert all(fill == colour for fill in node_fills), (model, colour, node_fills)
