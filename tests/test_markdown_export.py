"""The Markdown export survives real content: read back with a CommonMark parser (markdown-it-py),
the document has its title and one heading per turn, and whatever a turn holds (an unclosed fence,
headings of its own, raw HTML) stays inside that turn."""
from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from markdown_it import MarkdownIt
from markdown_it.token import Token

from conversations import services
from conversations.exchange.markdown import branch_markdown
from conversations.models import Turn
from conversations.tokens import count_all
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db

COMMONMARK = MarkdownIt("commonmark")
REPLY = {"provider": "openai", "model": "gpt-4o"}

# Each turn's content, and what the reader must still find in it.
HOSTILE: list[tuple[str, str, dict[str, Any]]] = [
    ("user", "Finish this:\n```python\nprint('never closed')", {}),
    ("assistant", "Sure:\n~~~\ncode that stops\n## not a heading, still code", {**REPLY, "status": "stopped"}),
    ("user", "````\n```\nthree backticks inside four, never closed\n```", {}),
    ("assistant", (
        "# A top-level heading\n\nText\n===\n\nMore text\n---\n\n- ## in a list\n> ### in a quote\n\n"
        "# Above a rule\n---\n\n    # indented code stays code"
    ), REPLY),
    ("user", "<!-- an HTML comment never closed\n\n## swallowed?", {}),
    ("assistant", "<pre>\nunclosed pre\n\n# swallowed?", {
        **REPLY, "status": "error", "error": "Upstream <b>died</b>\n*hard*",
    }),
    ("user", "<script>alert(1)</script>\n<div>\n\n# after a div", {}),
    ("assistant", "The answer is 42.", {
        **REPLY, "reasoning": "# Plan\nAdd it up.\n\n```\nunclosed in the reasoning", "reasoning_seconds": 12.4,
    }),
    ("user", "Help me with something bad.", {}),
    ("assistant", "I can't help with that.", {**REPLY, "refused": True}),
    ("user", "The last word.", {}),
]


def branch(conversation, turns: list[tuple[str, str, dict]]) -> list[Turn]:
    path, parent = [], None
    for role, content, fields in turns:
        parent = Turn.objects.append(
            conversation=conversation, parent=parent, role=role, content=content, token_counts=count_all(content),
            **fields,
        )
        path.append(parent)
    return path


def plain(inline: Token) -> str:
    """An inline token's text as a reader sees it."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def headings(tokens: list[Token]) -> list[tuple[str, str]]:
    return [(t.tag, plain(tokens[i + 1])) for i, t in enumerate(tokens) if t.type == "heading_open"]


def sections(tokens: list[Token]) -> list[list[Token]]:
    """The tokens under each heading (the title's first), closing tokens left out."""
    found: list[list[Token]] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            found.append([])
        elif token.nesting >= 0 and tokens[index - 1].type != "heading_open":
            found[-1].append(token)
    return found


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice, title="Hostile content")


def export(user, conversation, turn) -> str:
    response = signed_in(user).get(reverse("branch_export_markdown", args=[conversation.id, turn.id]))
    assert response.status_code == 200
    return response.content.decode()


def test_hostile_content_keeps_one_heading_per_turn(alice, conversation):
    path = branch(conversation, HOSTILE)
    text = export(alice, conversation, path[-1])
    tokens = COMMONMARK.parse(text)
    assert headings(tokens) == [("h1", "Hostile content")] + [
        ("h2", "User" if role == "user" else "Assistant · openai:gpt-4o") for role, _, _ in HOSTILE
    ]
    # No block is left open across a turn: each section holds what its turn wrote.
    blocks = sections(tokens)[1:]
    fence = blocks[0][-1]
    assert (fence.type, fence.info, fence.content) == ("fence", "python", "print('never closed')\n")
    stopped = blocks[1]
    assert [t.type for t in stopped] == ["paragraph_open", "inline", "fence", "paragraph_open", "inline"]
    assert stopped[2].content == "code that stops\n## not a heading, still code\n"
    assert plain(stopped[4]) == "Stopped before it finished."
    assert blocks[2][0].content == "```\nthree backticks inside four, never closed\n```\n"
    # The reply's own headings read as text, in place; the indented code is still code.
    texts = [plain(t) for t in blocks[3] if t.type == "inline"]
    assert texts == [
        "# A top-level heading", "Text ===", "More text ---", "## in a list", "### in a quote", "# Above a rule ---",
    ]
    assert blocks[3][-1].type == "code_block" and blocks[3][-1].content == "# indented code stays code\n"
    assert blocks[4][0].type == "html_block" and "## swallowed?" in blocks[4][0].content
    assert blocks[5][0].type == "html_block" and blocks[5][0].content.rstrip().endswith("</pre>")
    assert plain(blocks[5][-1]) == "Failed: Upstream <b>died</b> *hard*"
    # A div ends at a blank line, so the heading after it is the turn's own: escaped to text.
    assert plain(blocks[6][-1]) == "# after a div"
    # The last turn's text is a paragraph of its own, outside any code.
    last = blocks[-1]
    assert [t.type for t in last] == ["paragraph_open", "inline"] and plain(last[1]) == "The last word."


def test_reasoning_comes_first_as_a_quote_and_a_refusal_is_marked(alice, conversation):
    path = branch(conversation, HOSTILE)
    text = export(alice, conversation, path[-1])
    assert "<details" not in text
    blocks = sections(COMMONMARK.parse(text))
    reasoned, refused = blocks[8], blocks[10]
    assert [t.type for t in reasoned] == [
        "paragraph_open", "inline", "blockquote_open", "paragraph_open", "inline", "fence", "paragraph_open", "inline",
    ]
    assert plain(reasoned[1]) == "Thinking (12 s)"
    assert plain(reasoned[4]) == "# Plan Add it up." and reasoned[5].content == "unclosed in the reasoning\n"
    assert reasoned[5].level == 1  # inside the quote
    assert plain(reasoned[-1]) == "The answer is 42." and reasoned[-1].level == 1
    assert (
        "*Thinking (12 s)*\n\n> \\# Plan\n> Add it up.\n>\n> ```\n> unclosed in the reasoning\n> ```\n\n"
        "The answer is 42.\n\n## User"
    ) in text
    assert plain(refused[1]).startswith("Refused") and plain(refused[-1]) == "I can't help with that."


@pytest.mark.parametrize(
    "title, shown",
    [
        ("C# vs F# #", "C# vs F# #"),
        ("##", "##"),
        ("<img src=x onerror=alert(1)> & <b>bold</b>", "<img src=x onerror=alert(1)> & <b>bold</b>"),
        ("*not emphasis* [not a link](https://example.com) `not code` &amp;", None),
        ("Tabs\tand\nnew lines", "Tabs and new lines"),
    ],
)
def test_the_title_reads_as_itself(alice, title, shown):
    conversation = services.conversation_create(owner=alice, title=title)
    path = branch(conversation, [("user", "Hi", {})])
    text = branch_markdown(conversation=conversation, turns=path)
    tokens = COMMONMARK.parse(text)
    heading = tokens[1]
    assert headings(tokens) == [("h1", shown or title), ("h2", "User")]
    assert [child.type for child in heading.children or []] == ["text"] * len(heading.children or [])
    assert "<img" not in COMMONMARK.render(text)


def test_reasoning_without_a_time_and_replies_without_reasoning(alice, conversation):
    path = branch(conversation, [
        ("user", "Why?", {}),
        ("assistant", "Because.", {**REPLY, "reasoning": "Think.\n\nThink again.", "reasoning_seconds": None}),
        ("user", "And?", {}),
        ("assistant", "So.", {**REPLY, "reasoning": "Quick.", "reasoning_seconds": 0.44}),
        ("user", "Plain?", {}),
        ("assistant", "Plain.", REPLY),
    ])
    text = branch_markdown(conversation=conversation, turns=path)
    assert "## Assistant · openai:gpt-4o\n\n*Thinking*\n\n> Think.\n>\n> Think again.\n\nBecause.\n" in text
    assert "*Thinking (0.4 s)*\n\n> Quick.\n\nSo." in text
    assert text.endswith("## Assistant · openai:gpt-4o\n\nPlain.\n")
    assert text.count("Thinking") == 2


def test_a_system_prompt_is_a_section_of_its_own_and_kept_in_it(alice, conversation):
    prompt = "# Rules\n```\nnever closed"
    path = branch(conversation, [
        ("user", "Hi", {}), ("assistant", "Hello", {**REPLY, "settings": {"system_prompt": prompt}}),
    ])
    tokens = COMMONMARK.parse(branch_markdown(conversation=conversation, turns=path))
    assert headings(tokens) == [
        ("h1", "Hostile content"), ("h2", "System prompt"), ("h2", "User"), ("h2", "Assistant · openai:gpt-4o"),
    ]
    rules = sections(tokens)[1]
    assert plain(rules[1]) == "# Rules" and rules[-1].type == "fence" and rules[-1].content == "never closed\n"


def test_plain_text_is_written_as_it_is(alice, conversation):
    """Text that cannot leave its section is not touched: no escapes where none is needed."""
    content = "A *reply* with a [link](https://example.com), a list:\n\n- one\n- two\n\nand `code` — C# and 1 + 1 = 2."
    path = branch(conversation, [("user", "Hi\r\nthere\r\n", {}), ("assistant", content, REPLY)])
    text = branch_markdown(conversation=conversation, turns=path)
    assert text == (
        "# Hostile content\n\n## User\n\nHi\nthere\n\n## Assistant · openai:gpt-4o\n\n" + content + "\n"
    )
