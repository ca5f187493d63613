"""What a result shows of a text: a window around the matched words, every character escaped, the
words themselves in <mark> elements built here. Nothing the database returns is trusted as HTML:
the engines' own highlighters would put their markers into text a model wrote, which may hold
anything.

Words are found the way the index found them (query.WORD), compared without case; a phrase is its
words one after another. A text in which none is found (a match the engine made by its own case
rules) shows its beginning.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from conversations.search.query import WORD, Query

SNIPPET_CHARS = 220
LEAD_CHARS = 60
# Enough to choose a good window; a long text's later matches change nothing of what is shown.
MAX_MATCHES = 64
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    term: int


def matches(text: str, query: Query, *, limit: int = MAX_MATCHES) -> list[Match]:
    """Where the query's terms occur in `text`, in order, up to `limit` of them."""
    terms = [([word.lower() for word in term.words], term.prefix) for term in query.terms]
    found: list[Match] = []
    window: list[re.Match] = []  # the last few words, for phrases that end at this one
    longest = max(len(words) for words, _ in terms)
    for word in WORD.finditer(text):
        window.append(word)
        if len(window) > longest:
            window.pop(0)
        lowered = word.group().lower()
        for index, (words, prefix) in enumerate(terms):
            last = words[-1]
            if not (lowered.startswith(last) if prefix else lowered == last):
                continue
            if len(words) > 1:
                if len(window) < len(words):
                    continue
                before = window[-len(words):-1]
                if [w.group().lower() for w in before] != words[:-1]:
                    continue
                found.append(Match(before[0].start(), word.end(), index))
            else:
                found.append(Match(word.start(), word.end(), index))
        if len(found) >= limit:
            break
    return found


def _best_start(found: list[Match], width: int) -> int:
    """The match that begins the window holding the most different terms (the first, on a tie)."""
    best, best_count = 0, 0
    for index, match in enumerate(found):
        inside = {m.term for m in found[index:] if m.start < match.start - LEAD_CHARS + width}
        if len(inside) > best_count:
            best, best_count = index, len(inside)
    return found[best].start if found else 0


def _cut(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) moved out to whole words."""
    if start > 0:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 30 else start
    if end < len(text):
        space = text.find(" ", end)
        end = space if space >= 0 and space - end < 30 else end
    return start, end


def _piece(text: str) -> str:
    return escape(_SPACE.sub(" ", text))


def highlight(text: str, query: Query, *, width: int = SNIPPET_CHARS, whole: bool = False) -> SafeString:
    """HTML of `text` (all of it when `whole`, else a window of about `width` characters around the
    best match) with the matched words marked."""
    found = matches(text, query)
    if whole:
        start, end = 0, len(text)
    else:
        anchor = _best_start(found, width)
        start = max(0, anchor - LEAD_CHARS)
        start, end = _cut(text, start, min(len(text), start + width))
    parts = ["…" if start > 0 else ""]
    at = start
    for match in found:
        if match.start < at or match.end > end:
            continue
        parts.append(_piece(text[at:match.start]))
        parts.append(f"<mark>{_piece(text[match.start:match.end])}</mark>")
        at = match.end
    parts.append(_piece(text[at:end]))
    if end < len(text):
        parts.append("…")
    # Safe: every piece of text was escaped above; the only markup is the <mark> elements.
    return mark_safe("".join(parts).strip())
