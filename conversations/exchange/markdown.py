"""One branch as Markdown: something to read, paste or keep, not to import back.

Contents are written verbatim (they are Markdown already); headings name who spoke and, for a
reply, the model. The system prompt the replies were made with is shown once, under the title; a
different one shows again only before the reply that used it.
"""
from __future__ import annotations

from conversations.models import Conversation, Turn

ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant"}
STATUS_NOTES = {
    "streaming": "Still streaming when exported.",
    "stopped": "Stopped before it finished.",
    "interrupted": "Interrupted before it finished.",
    "error": "Failed",
}


def _heading(turn: Turn) -> str:
    heading = f"## {ROLE_NAMES.get(turn.role, turn.role.title())}"
    if turn.role == "assistant" and turn.model:
        model = f"{turn.provider}:{turn.model}" if turn.provider else turn.model
        heading += f" · {model}"
    return heading


def _status_note(turn: Turn) -> str | None:
    if turn.status == "complete":
        return None
    note = STATUS_NOTES.get(turn.status, turn.status)
    if turn.status == "error":
        note = f"{note}: {' '.join(turn.error.split())}" if turn.error else f"{note}."
    return f"*{note}*"


def _system_prompt(turn: Turn) -> str:
    if turn.role != "assistant" or not isinstance(turn.settings, dict):
        return ""
    prompt = turn.settings.get("system_prompt")
    return prompt if isinstance(prompt, str) and prompt.strip() else ""


def branch_markdown(*, conversation: Conversation, turns: list[Turn]) -> str:
    """The path `turns` (root first) as one Markdown document."""
    blocks = [f"# {' '.join(str(conversation).split())}"]
    shown_prompt = ""
    for turn in turns:
        prompt = _system_prompt(turn)
        if prompt and prompt != shown_prompt:
            at = 1 if not shown_prompt else len(blocks)
            blocks.insert(at, f"## System prompt\n\n{prompt}")
            shown_prompt = prompt
        blocks.append(f"{_heading(turn)}\n\n{turn.content}")
        note = _status_note(turn)
        if note:
            blocks.append(note)
    return "\n\n".join(blocks) + "\n"
