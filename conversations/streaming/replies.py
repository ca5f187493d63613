"""The writes of a streaming reply after it was created: checkpoints of its text and its final
state. Few by design: a checkpoint at most every few seconds, one final write, never one per token."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from conversations.models import Turn
from conversations.registry import registry
from conversations.tokens import count, count_all


def reply_checkpoint(*, turn_id: int, content: str, reasoning: str, first_token_at: datetime | None) -> None:
    """Save the text and reasoning streamed so far; a no-op once the reply has its final state."""
    Turn.objects.filter(pk=turn_id, status=Turn.Status.STREAMING).update(
        content=content, reasoning=reasoning, first_token_at=first_token_at
    )


def reply_finish(
    *,
    turn_id: int,
    content: str,
    status: str,
    first_token_at: datetime | None,
    input_tokens: int | None,
    output_tokens: int | None,
    response_id: str,
    error: str,
    reasoning: str = "",
    reasoning_blocks: list[dict] | None = None,
    reasoning_tokens: int | None = None,
    reasoning_seconds: float | None = None,
    refused: bool = False,
) -> FinishedReply:
    """The final state of a reply: its text, reasoning and counts, its usage (counted here when the
    provider reported none) and its cost at the catalogue's prices."""
    finished_at = timezone.now()
    turn = Turn.objects.only("provider", "model", "context").filter(pk=turn_id).first()
    usage = _usage_of(turn, content, reasoning, input_tokens, output_tokens) if turn else {}
    token_counts = count_all(content)
    updated = Turn.objects.filter(pk=turn_id, status=Turn.Status.STREAMING).update(
        content=content,
        status=status,
        first_token_at=first_token_at,
        finished_at=finished_at,
        token_counts=token_counts,
        response_id=response_id,
        error=error,
        reasoning=reasoning,
        reasoning_blocks=reasoning_blocks or [],
        reasoning_tokens=reasoning_tokens,
        reasoning_seconds=reasoning_seconds,
        refused=refused,
        **usage,
    )
    return FinishedReply(
        updated=bool(updated),
        finished_at=finished_at,
        token_counts=token_counts,
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        usage_estimated=usage.get("usage_estimated", False),
        cost=usage.get("cost"),
    )


@dataclass(frozen=True)
class FinishedReply:
    updated: bool
    finished_at: datetime
    token_counts: dict
    input_tokens: int | None
    output_tokens: int | None
    usage_estimated: bool
    cost: Decimal | None


def _usage_of(
    turn: Turn, content: str, reasoning: str, input_tokens: int | None, output_tokens: int | None
) -> dict:
    info = registry().model_info(f"{turn.provider}:{turn.model}")
    estimated = input_tokens is None or output_tokens is None
    if input_tokens is None:
        # What the request was planned at; a reply that never reached the model used nothing.
        input_tokens = turn.context.get("input_tokens") if content or reasoning else 0
    if output_tokens is None:
        # Reasoning is billed as output.
        output_tokens = count(content, info.encoding.name) + (count(reasoning, info.encoding.name) if reasoning else 0)
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "usage_estimated": estimated,
        "cost": info.cost(input_tokens, output_tokens),
    }
