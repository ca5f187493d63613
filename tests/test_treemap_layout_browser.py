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
