"""The interface's icons: Lucide's SVGs, vendored, served as one inline sprite per page.

An inline sprite rather than `<img>` tags or an icon font: the icons take the text colour
(`currentColor`), need no request of their own, and pass the strict CSP (no inline script or style).
Templates use `{% icon "name" %}`, scripts `icon("name")` from static/js/icons.js; both point at a
`<symbol id="i-name">` that base.html renders from this list.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from django.conf import settings

ICONS = (
    "arrow-left", "arrow-up", "at-sign", "bell", "check", "chevron-down", "chevron-left",
    "chevron-right", "circle-check", "circle-help", "columns-2", "copy", "corner-down-right",
    "download", "ellipsis", "external-link", "eye", "file-text", "git-branch", "git-compare",
    "git-fork", "image", "inbox", "keyboard", "link", "list-tree", "log-out", "maximize-2", "menu",
    "message-square", "minimize-2", "network", "paperclip", "pencil", "play", "plus", "refresh-cw",
    "scan", "search", "send", "share-2", "sliders-horizontal", "square", "star", "thumbs-down",
    "thumbs-up", "trash-2", "upload", "users", "x", "zoom-in", "zoom-out",
    # The error pages and gone share links.
    "clock", "house", "link-2-off", "log-in", "search-x", "shield-alert", "triangle-alert",
)

_SVG = re.compile(r"<svg\b[^>]*>(?P<body>.*)</svg>", re.DOTALL)


def _folder() -> Path:
    return Path(settings.BASE_DIR) / "static" / "vendor" / "lucide"


@functools.cache
def sprite() -> str:
    """Every icon as a `<symbol>`, in one hidden `<svg>`: read once per process."""
    symbols = []
    for name in ICONS:
        match = _SVG.search((_folder() / f"{name}.svg").read_text())
        if match is None:
            raise ValueError(f"static/vendor/lucide/{name}.svg is not an SVG")
        body = " ".join(match["body"].split())
        symbols.append(f'<symbol id="i-{name}" viewBox="0 0 24 24">{body}</symbol>')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="icon-sprite" aria-hidden="true" focusable="false"'
        ' fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
        + "".join(symbols)
        + "</svg>"
    )
