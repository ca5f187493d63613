"""static/js/image-tokens.js counts images as conversations/attachments/image_tokens.py does: both
are checked against one set of cases, tests/data/image_tokens_cases.json (the node side is
tests/js/image-tokens.test.mjs). The cases' tokens are what the Python formulas give; the vendors'
worked examples among them are checked on their own in tests/test_image_tokens.py.

Regenerate the cases' tokens after a deliberate change of a formula:
`python -m tests.test_image_tokens_port` (needs DJANGO_SETTINGS_MODULE unset: nothing here uses Django).
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from conversations.attachments.image_tokens import ImageRule, image_tokens

CASES = Path(__file__).resolve().parent / "data" / "image_tokens_cases.json"


def rule_of(data: dict) -> ImageRule:
    return ImageRule(data["rule"], base=data.get("base", 0), tile=data.get("tile", 0),
                     multiplier=data.get("multiplier", 1.0))


def sizes() -> list[list[int]]:
    """Edge sizes (tiny, unknown, exact tile and patch boundaries, the patch cap, portrait and
    landscape, the area rule's caps, the vendors' examples, huge) and some random ones."""
    edges = [
        [0, 100], [100, 0], [1, 1], [2, 3], [31, 33], [32, 32], [33, 32], [128, 64], [200, 200], [300, 200],
        [511, 511], [512, 512], [513, 513], [767, 767], [768, 768], [769, 769], [512, 2048], [2048, 512],
        [1000, 1000], [1024, 1024], [1092, 1092], [1024, 1536], [1536, 1024], [1025, 1536], [1056, 1408],
        [1568, 784], [784, 1568], [1568, 1568], [1569, 1], [1, 1569], [1800, 2400], [2400, 1800],
        [1920, 1080], [1080, 1920], [2048, 2048], [2048, 4096], [4096, 2048], [3136, 100], [100, 3136],
        [1, 2048], [2048, 1], [1, 20000], [20000, 1], [7000, 7000], [8000, 6000], [10000, 10000],
        [1234, 567], [567, 1234], [333, 1999], [1999, 333],
    ]
    rng = random.Random(20240611)
    drawn = [[rng.randint(1, 4096), rng.randint(1, 4096)] for _ in range(60)]
    return edges + drawn


def cases() -> dict:
    rules: list[dict] = [
        {"rule": "tiles", "base": 85, "tile": 170},
        {"rule": "tiles", "base": 2833, "tile": 5667},
        {"rule": "tiles", "base": 75, "tile": 150},
        {"rule": "tiles", "base": 70, "tile": 140},
        {"rule": "patches", "multiplier": 1.62},
        {"rule": "patches", "multiplier": 2.46},
        {"rule": "patches", "multiplier": 1.72},
        {"rule": "patches", "multiplier": 2},
        {"rule": "area"},
        {"rule": "none"},
    ]
    return {
        "_comment": "Image tokens by rule (columns, in the order of rules) for each width × height: what "
                    "conversations/attachments/image_tokens.py gives; static/js/image-tokens.js must agree.",
        "rules": rules,
        "cases": [
            {"width": w, "height": h, "tokens": [image_tokens(w, h, rule_of(r)) for r in rules]} for w, h in sizes()
        ],
    }


def write() -> None:
    data = cases()
    rows = ",\n".join("    " + json.dumps(case) for case in data["cases"])
    head = json.dumps({k: v for k, v in data.items() if k != "cases"}, indent=2, ensure_ascii=False)[:-2]
    CASES.write_text(f'{head},\n  "cases": [\n{rows}\n  ]\n}}\n', encoding="utf-8")


@pytest.fixture(scope="module")
def shared() -> dict:
    return json.loads(CASES.read_text(encoding="utf-8"))


def test_the_shared_cases_are_what_the_python_formulas_give(shared):
    rules = [rule_of(r) for r in shared["rules"]]
    for case in shared["cases"]:
        got = [image_tokens(case["width"], case["height"], rule) for rule in rules]
        assert got == case["tokens"], case


def test_the_shared_cases_cover_every_rule_and_edge(shared):
    assert {r["rule"] for r in shared["rules"]} == {"tiles", "patches", "area", "none"}
    sizes_ = [(c["width"], c["height"]) for c in shared["cases"]]
    assert any(w > h for w, h in sizes_) and any(h > w for w, h in sizes_)
    assert any(w * h == 0 for w, h in sizes_) and min(w * h for w, h in sizes_ if w * h) == 1
    assert max(max(s) for s in sizes_) > 4096  # beyond every rule's first scaling
    area = next(i for i, r in enumerate(shared["rules"]) if r["rule"] == "area")
    assert [c["tokens"][area] for c in shared["cases"]].count(1600) > 1  # the area rule's cap reached
    assert any(w > 1568 and w * h < 1600 * 750 for w, h in sizes_)  # its long-side cap alone
    raw = [math.ceil(w / 32) * math.ceil(h / 32) for w, h in sizes_]
    assert 1536 in raw and any(n > 1536 for n in raw)  # the patch cap, exactly and beyond


def test_the_catalogues_rules_are_among_the_shared_cases(shared):
    catalogue = json.loads((Path(__file__).resolve().parent.parent / "workbench" / "model_catalogue.json")
                           .read_text(encoding="utf-8"))
    named = [entry["image_tokens"] for key, entry in catalogue.items()
             if not key.startswith("_") and isinstance(entry, dict) and "image_tokens" in entry]
    assert named and all(rule in shared["rules"] for rule in named)


if __name__ == "__main__":
    write()
