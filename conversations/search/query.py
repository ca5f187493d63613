"""What a person typed into the search box, as terms both databases search for alike.

The language is small on purpose, and nothing in it is an operator: words match in any order and
all must be found; a word of three characters or more also matches words that begin with it
("refact" finds "refactoring"); text in double quotes is a phrase, its words side by side in that
order. A run of words joined by punctuation without spaces ("node.js", "foo-bar") is a phrase too:
that is how the text was indexed. Everything else (`*`, `-`, `(`, `AND`, `NEAR`, a quote left open)
is either a separator or an ordinary word, so no input can reach the engine's own syntax: the
terms are rebuilt from letters and digits alone and quoted for each engine.

Words are split the way the index splits text (index.py): a word is a run of letters and digits
(`[^\\W_]`), anything else separates words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from conversations.errors import ServiceError

WORD = re.compile(r"[^\W_]+")
MAX_QUERY_CHARS = 500
MAX_TERMS = 12
MAX_PHRASE_WORDS = 12
MAX_WORD_CHARS = 100
# Shorter words match whole words only: a prefix of one or two letters matches a large part of
# every index, and is hardly what anyone means by "go" or "js".
MIN_PREFIX_CHARS = 3


@dataclass(frozen=True)
class Term:
    """One thing every result must contain: a word (a prefix, when `prefix`) or a phrase."""

    words: tuple[str, ...]
    prefix: bool = False

    def fts5(self) -> str:
        """The term in SQLite FTS5's query syntax: a quoted string, `*` after it for a prefix."""
        quoted = '"' + " ".join(self.words).replace('"', '""') + '"'
        return quoted + ("*" if self.prefix else "")

    def tsquery(self) -> str:
        """The term in PostgreSQL's to_tsquery syntax: quoted lexemes, `<->` between a phrase's
        words, `:*` after a prefix."""
        lexemes = ["'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in self.words]
        return " <-> ".join(lexemes) + (":*" if self.prefix else "")


@dataclass(frozen=True)
class Query:
    text: str
    terms: tuple[Term, ...]

    def fts5(self) -> str:
        return " ".join(term.fts5() for term in self.terms)

    def tsquery(self) -> str:
        return " & ".join(f"({term.tsquery()})" for term in self.terms)


def _chunk_terms(chunk: str, *, quoted: bool) -> list[Term]:
    # Kept as typed: each engine folds case with its own rules, the same it used on the text.
    words = WORD.findall(chunk)
    if not words:
        return []
    if len(words) == 1:
        word = words[0]
        return [Term((word,), prefix=not quoted and len(word) >= MIN_PREFIX_CHARS)]
    return [Term(tuple(words))]


def parse(text: str) -> Query:
    """The terms of `text`. Raises ServiceError (code "invalid") with a message for the person when
    it holds nothing to search for or is too long to search for."""
    text = text.strip()
    if len(text) > MAX_QUERY_CHARS:
        raise ServiceError(f"A search is at most {MAX_QUERY_CHARS} characters long; this one has {len(text):,}.")
    terms: list[Term] = []
    # Even pieces are outside quotes, odd ones inside; a quote left open runs to the end.
    for index, piece in enumerate(text.split('"')):
        if index % 2:
            terms.extend(_chunk_terms(piece, quoted=True))
        else:
            for chunk in piece.split():
                terms.extend(_chunk_terms(chunk, quoted=False))
    unique: dict[tuple, Term] = {}
    for term in terms:
        unique.setdefault((tuple(word.lower() for word in term.words), term.prefix), term)
    terms = list(unique.values())
    if not terms:
        raise ServiceError("Type a word to search for: letters or digits.")
    if len(terms) > MAX_TERMS:
        raise ServiceError(f"Search for at most {MAX_TERMS} words or phrases at once; this names {len(terms)}.")
    for term in terms:
        if len(term.words) > MAX_PHRASE_WORDS:
            raise ServiceError(f"A phrase is at most {MAX_PHRASE_WORDS} words long.")
        if any(len(word) > MAX_WORD_CHARS for word in term.words):
            raise ServiceError(f"A word is at most {MAX_WORD_CHARS} characters long.")
    return Query(text=text, terms=tuple(terms))
