"""What a page's layout does wrong at the size it is shown, measured in real Chromium: what sticks
out of the viewport sideways, what scrolls sideways that should not, and which controls are cut
off. Each problem is one readable line naming the element (a short CSS path and its text).

Horizontal scrolling is allowed only where it is meant: a code block, a table, a text field. A
vertical scroller (the transcript, a sidebar) computes as overflow-x auto too, so a scroller is
judged by what it holds, not by its overflow value: one that scrolls sideways and holds no table
or code block is a problem, with what sticks out of it.
"""
from __future__ import annotations

from pathlib import Path

LAYOUT_JS = (Path(__file__).resolve().parent / "layout_checks.js").read_text(encoding="utf-8")


def layout_problems(page) -> list[str]:
    """Each way the page, as it is shown now, breaks the layout's rules; [] when it keeps them."""
    return list(page.evaluate(LAYOUT_JS))
