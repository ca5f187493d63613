"""A branch's context: how many tokens it holds for a model, and how a request is fitted into the
model's window when the branch has outgrown it.

Counts come from what each turn stores (its tiktoken counts, or the provider's own count for a
reply of the same model), never from recounting the text. The chat format adds a few tokens per
message (its role's among them) and for priming the reply, as OpenAI bills them. A prompt's files
count too: a text file by its stored counts plus the delimiters it is sent in, an image by the
model's rule (attachments/image_tokens.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from conversations.attachments.image_tokens import image_tokens
from conversations.catalogue import ModelInfo
from conversations.models import Turn
from conversations.tokens import TOKENS_PER_REPLY, count, message_overhead


class ContextOverflow(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def sendable(path: list[Turn]) -> list[Turn]:
    """The turns of a branch a request carries: a reply that failed before its first word has
    nothing to tell the model."""
    return [t for t in path if t.content or t.role != Turn.Role.ASSISTANT]


def documents_wrapper(names: list[str]) -> str:
    """The delimiters text files are sent in, without their texts: Anthropic's multi-document form,
    which every provider uses, before the prompt's own text."""
    documents = "".join(
        f'<document index="{i}"><source>{name}</source><document_content>\n\n</document_content></document>\n'
        for i, name in enumerate(names, start=1)
    )
    return f"<documents>\n{documents}</documents>\n\n"


def attachment_tokens(attachments: list[dict], info: ModelInfo, *, images: bool = True) -> int:
    """The tokens a prompt's files add for the model `info`: text files by their stored counts and
    their delimiters; images by the model's rule (none when they are left out, or for a model
    that takes none)."""
    texts = [d for d in attachments if d.get("kind") != "image"]
    total = 0
    if texts:
        encoding = info.encoding.name
        total += sum((d.get("token_counts") or {}).get(encoding) or 0 for d in texts)
        total += count(documents_wrapper([str(d.get("name", "")) for d in texts]), encoding)
    if images:
        total += sum(
            image_tokens(d.get("width") or 0, d.get("height") or 0, info.image_tokens)
            for d in attachments if d.get("kind") == "image"
        )
    return total


def turn_tokens(turn: Turn, info: ModelInfo, *, images: bool = True) -> int:
    """A turn's tokens for the model `info`: the provider's count of a reply it made itself wins;
    a prompt's attached files are added (its images unless `images` is false)."""
    files = attachment_tokens(turn.attachments, info, images=images) if turn.attachments else 0
    if (
        turn.role == Turn.Role.ASSISTANT
        and turn.output_tokens is not None
        and not turn.usage_estimated
        and f"{turn.provider}:{turn.model}" == info.id
    ):
        return turn.output_tokens
    stored = (turn.token_counts or {}).get(info.encoding.name)
    if stored is None:  # a reply still streaming has no count yet
        return count(turn.content, info.encoding.name) + files
    return stored + files


@dataclass(frozen=True)
class ContextPlan:
    turns: list[Turn]  # the turns sent, in order
    omitted: list[int]  # ids of the branch's turns left out to fit the window
    input_tokens: int  # the request's estimated input
    history_budget: int
    reply_budget: int
    info: ModelInfo

    def as_json(self) -> dict:
        return {
            "omitted": self.omitted,
            "input_tokens": self.input_tokens,
            "window": self.info.context_window,
            "history_budget": self.history_budget,
            "reply_budget": self.reply_budget,
            "encoding": self.info.encoding.name,
            "estimate": self.info.encoding.estimate,
        }


def _system_tokens(system_turns: list[Turn], system_prompt: str, info: ModelInfo) -> int:
    if not system_turns and not system_prompt:
        return 0
    return (
        sum(turn_tokens(t, info) for t in system_turns)
        + count(system_prompt, info.encoding.name)
        + message_overhead(Turn.Role.SYSTEM, info.encoding.name)
    )


def plan_context(
    *, path: list[Turn], info: ModelInfo, system_prompt: str = "", max_tokens: int | None = None,
    images: bool = True,
) -> ContextPlan:
    """Fit the branch `path` (root to the prompt being answered) into the model's window; with
    `images` false, the prompts' images are not sent and count nothing.

    Over budget, the oldest turns go first; the system prompt, the turns up to and including the
    first prompt, and the prompt being answered always stay. When what remains begins with a
    prompt, that prompt goes too, so the history still reads prompt, reply, prompt.
    """
    turns = sendable(path)
    history_budget = info.history_budget(max_tokens)
    reply_budget = info.reply_budget(max_tokens)
    system_turns = [t for t in turns if t.role == Turn.Role.SYSTEM]
    dialogue = [t for t in turns if t.role != Turn.Role.SYSTEM]
    cost = {
        t.id: turn_tokens(t, info, images=images) + message_overhead(t.role, info.encoding.name) for t in dialogue
    }
    total = _system_tokens(system_turns, system_prompt, info) + TOKENS_PER_REPLY + sum(cost.values())

    first_prompt = next((i for i, t in enumerate(dialogue) if t.role == Turn.Role.USER), 0)
    # The first prompt and the newest turn always stay; what lies between may be left out.
    droppable = dialogue[first_prompt + 1 : -1] if len(dialogue) > first_prompt + 1 else []
    dropped = 0
    while total > history_budget and dropped < len(droppable):
        total -= cost[droppable[dropped].id]
        dropped += 1
    if dropped and dropped < len(droppable) and droppable[dropped].role == Turn.Role.USER:
        total -= cost[droppable[dropped].id]
        dropped += 1
    if total > history_budget:
        raise ContextOverflow(
            f"This request needs {total:,} tokens even with every older turn left out (the system "
            f"prompt, the first prompt and your message), but {info.id}'s window of "
            f"{info.context_window:,} tokens leaves {history_budget:,} after reserving {reply_budget:,} "
            "for the reply. Shorten the message or the system prompt, ask for fewer reply tokens, "
            "or choose a model with a larger window."
        )
    omitted = [t.id for t in droppable[:dropped]]
    kept = set(omitted)
    return ContextPlan(
        turns=[t for t in turns if t.id not in kept],
        omitted=omitted,
        input_tokens=total,
        history_budget=history_budget,
        reply_budget=reply_budget,
        info=info,
    )


@dataclass(frozen=True)
class BranchMeter:
    used: int
    window: int
    reply_budget: int
    estimate: bool
    cost: Decimal | None  # what the branch's replies cost, when any has a price

    def as_json(self) -> dict:
        return {
            "used": self.used,
            "window": self.window,
            "reply_budget": self.reply_budget,
            "estimate": self.estimate,
            "cost": None if self.cost is None else float(self.cost),
        }


def branch_meter(path: list[Turn], info: ModelInfo) -> BranchMeter:
    """The context the branch `path` would fill for the model `info` (before any trimming)."""
    turns = sendable(path)
    system_turns = [t for t in turns if t.role == Turn.Role.SYSTEM]
    dialogue = [t for t in turns if t.role != Turn.Role.SYSTEM]
    used = (
        _system_tokens(system_turns, "", info)
        + sum(turn_tokens(t, info) + message_overhead(t.role, info.encoding.name) for t in dialogue)
        + TOKENS_PER_REPLY
    )
    costs = [t.cost for t in path if t.cost is not None]
    return BranchMeter(
        used=used,
        window=info.context_window,
        reply_budget=info.reply_budget(None),
        estimate=info.encoding.estimate,
        cost=sum(costs, Decimal(0)) if costs else None,
    )
