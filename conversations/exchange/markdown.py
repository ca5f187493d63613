"""One branch as Markdown: something to read, paste or keep, not to import back.

Contents are written as they are (they are Markdown already), each under one heading: who spoke
and, for a reply, the model. The system prompt the replies were made with is shown once, under the
title; a different one shows again only before the reply that used it. A reply's reasoning comes
before it, quoted under a "Thinking" label; a refusal and a reply that did not finish say so.

What in a text would break the document's outline is neutralised with CommonMark's own means,
found by parsing the text with markdown-it (the parser the pages render with), so what a turn
means elsewhere is unchanged:
- a heading inside a text has its first `#` or its `===`/`---` underline escaped: the document has
  one heading per turn (and the title, and any system prompt);
- a code fence or raw-HTML block still open where a text ends (a reply stopped in the middle of its
  code) is closed there, so it cannot swallow the turns after it;
- the title, model names and error notes are inline text: their Markdown and HTML are escaped.

A prompt's attached files are listed under it, each a link to where the workbench serves it (an
image as an image, `![name](url)`), absolute when the export is given the server's address: a
downloaded file's links must lead back to the server, for whoever may read the conversation.
"""
from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from conversations.models import Conversation, Turn

ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant"}
STATUS_NOTES = {
    "streaming": "Still streaming when exported.",
    "stopped": "Stopped before it finished.",
    "interrupted": "Interrupted before it finished.",
    "error": "Failed",
}
REFUSED_NOTE = "*Refused: the model declined to answer.*"

_COMMONMARK = MarkdownIt("commonmark")
# Parsed after a text, this line stays a heading unless the text left a block open that takes it in.
_PROBE = "## probe"
# A line that may start a heading, a fence or raw HTML, after any quote or list markers; a text
# without one is left as it is, unparsed.
_MAY_BREAK_OUT = re.compile(r"^[ \t>*+\-0-9.)]*(?:#|`{3}|~{3}|<|[=-]+[ \t]*$)", re.MULTILINE)
# Characters with a meaning in inline Markdown; a backslash makes each plain text (CommonMark lets
# any ASCII punctuation be escaped). `~` is GitHub's strikethrough; `&` means something only where
# it starts an entity ("&amp;", "&#60;").
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<~]|&(?=#?[0-9A-Za-z]+;))")
# A heading's closing run of `#`, which CommonMark drops: a run at the end, after a space or alone.
_CLOSING_HASHES = re.compile(r"(^|[ \t])(#+)$")
# Raw-HTML blocks that run until their end marker, blank lines included (CommonMark's kinds 1 to 5),
# by their opening and the marker that ends them; the other kinds end at a blank line.
_HTML_UNTIL_END_MARKER = [
    (re.compile(r"<(script|pre|style|textarea)(?=[\s>]|$)", re.IGNORECASE), None),
    (re.compile(r"<!--"), "-->"),
    (re.compile(r"<\?"), "?>"),
    (re.compile(r"<!\[CDATA\["), "]]>"),
    (re.compile(r"<![A-Za-z]"), ">"),
]


def _inline(text: str) -> str:
    """`text` on one line, to read as itself inside a heading or a note."""
    text = _INLINE_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return _CLOSING_HASHES.sub(r"\1\\\2", text)


def _section(text: str) -> str:
    """`text` as Markdown that stays within its section: no heading of its own, nothing left open.

    Each heading found is escaped into a paragraph, in lists and quotes too; repeated, because
    escaping one can make another ("# A" above "---" is a heading and a rule, "\\# A" above "---" a
    setext heading), and each pass escapes lines that no later pass makes a heading again.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    if not _MAY_BREAK_OUT.search(text):
        return text
    while True:
        lines = text.split("\n")
        tokens = _COMMONMARK.parse(f"{text}\n\n{_PROBE}")
        headings = [
            (t.map, t.markup) for t in tokens if t.type == "heading_open" and t.map and t.map[0] < len(lines)
        ]
        if not headings:
            break
        for (start, end), markup in headings:
            if markup in ("=", "-"):  # setext: its underline, after any quote and list indent
                index = end - 1
                at = len(lines[index]) - len(lines[index].lstrip(" \t>"))
            else:  # ATX: its first "#" (quote and list markers have none)
                index = start
                at = lines[index].index("#")
            lines[index] = f"{lines[index][:at]}\\{lines[index][at:]}"
        text = "\n".join(lines)
    last = [t for t in tokens if t.level == 0 and t.map][-1]
    if last.type != "heading_open":  # the probe was taken in: a fence or HTML block is still open
        text = f"{text}\n{_end_marker(last)}"
    return text


def _end_marker(block: Token) -> str:
    if block.type == "fence":
        return block.markup  # the same run of ` or ~ closes it
    opening = block.content.lstrip()
    for pattern, marker in _HTML_UNTIL_END_MARKER:
        found = pattern.match(opening)
        if found:
            return marker or f"</{found.group(1)}>"
    raise ValueError(f"No end marker known for an open {block.type}: {opening[:40]!r}")


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in _section(text).split("\n"))


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def _heading(turn: Turn) -> str:
    heading = f"## {ROLE_NAMES.get(turn.role, turn.role.title())}"
    if turn.role == "assistant" and turn.model:
        model = f"{turn.provider}:{turn.model}" if turn.provider else turn.model
        heading += f" · {_inline(model)}"
    return heading


def _reasoning(turn: Turn) -> str | None:
    """The reply's reasoning, quoted under a label with how long it took: the owner's own data,
    always part of their export."""
    if not turn.reasoning.strip():
        return None
    label = "Thinking" if turn.reasoning_seconds is None else f"Thinking ({_seconds(turn.reasoning_seconds)})"
    return f"*{label}*\n\n{_quoted(turn.reasoning)}"


def _status_note(turn: Turn) -> str | None:
    if turn.status == "complete":
        return None
    note = STATUS_NOTES.get(turn.status, turn.status)
    if turn.status == "error":
        note = f"{note}: {turn.error}" if turn.error.strip() else f"{note}."
    return f"*{_inline(note)}*"


def _system_prompt(turn: Turn) -> str:
    if turn.role != "assistant" or not isinstance(turn.settings, dict):
        return ""
    prompt = turn.settings.get("system_prompt")
    return prompt if isinstance(prompt, str) and prompt.strip() else ""


def _prefix(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.split("\n"))


def _comment(comment: dict, note: str = "") -> str:
    head = f"**{_inline(comment['author'])}** · {(comment['created_at'] or '')[:16].replace('T', ' ')}{note}"
    return f"{head}\n\n{'*deleted*' if comment['deleted'] else _section(comment['body'])}"


def _comments(threads: list[dict]) -> str:
    """A turn's threads, each one quote: its first comment under its author and time, its replies
    quoted within it."""
    quotes = []
    for thread in threads:
        text = _comment(thread, " · resolved" if thread.get("resolved_at") else "")
        for reply in thread["replies"]:
            text += "\n\n" + _prefix(_comment(reply))
        quotes.append(_prefix(text))
    return "*Comments*\n\n" + "\n\n".join(quotes)


def _attachments(conversation: Conversation, turn: Turn, base_url: str) -> str | None:
    """The turn's files as a list of links, in their order: images shown, other files linked."""
    if not turn.attachments:
        return None
    items = []
    for index, attachment in enumerate(turn.attachments):
        url = f"{base_url}/c/{conversation.id}/t/{turn.id}/files/{index}/"
        name = _inline(str(attachment.get("name") or f"file {index + 1}"))
        items.append(f"- {'!' if attachment.get('kind') == 'image' else ''}[{name}]({url})")
    return "*Attached files*\n\n" + "\n".join(items)


def branch_markdown(
    *, conversation: Conversation, turns: list[Turn], comments: dict[int, list[dict]] | None = None,
    base_url: str = "",
) -> str:
    """The path `turns` (root first) as one Markdown document; with `comments` (threads by turn,
    review.selectors.threads_by_turn), each turn's threads after it. Links to attached files start
    with `base_url` (the server's scheme and host, "https://workbench.example"; "" for relative)."""
    blocks = [f"# {_inline(conversation.title) or 'Untitled conversation'}"]
    shown_prompt = ""
    for turn in turns:
        prompt = _system_prompt(turn)
        if prompt and prompt != shown_prompt:
            at = 1 if not shown_prompt else len(blocks)
            blocks.insert(at, f"## System prompt\n\n{_section(prompt)}")
            shown_prompt = prompt
        blocks.append(_heading(turn))
        reasoning = _reasoning(turn)
        if reasoning:
            blocks.append(reasoning)
        if turn.refused:
            blocks.append(REFUSED_NOTE)
        content = _section(turn.content)
        if content.strip():
            blocks.append(content)
        files = _attachments(conversation, turn, base_url.rstrip("/"))
        if files:
            blocks.append(files)
        note = _status_note(turn)
        if note:
            blocks.append(note)
        if comments and comments.get(turn.id):
            blocks.append(_comments(comments[turn.id]))
    return "\n\n".join(blocks) + "\n"
