"""Reads: conversations a user may open, the path to a turn, a branch and its siblings."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Substr

from conversations.conversation_list import Cursor, conversation_list
from conversations.models import Conversation, Turn
from conversations.permissions import Need, allows
from conversations.workspaces.services import workspaces_for

PREVIEW_CHARS = 48


# A long branch opens on its last WINDOW turns (and the turn asked for); earlier ones load on demand.
WINDOW = 200
_LIGHT_COLUMNS = ("id", "role", "provider", "model", "token_counts", "output_tokens", "usage_estimated", "cost")


@dataclass
class EarlierTurns:
    """What a window leaves out before it: how many turns, and enough to count them in the meter
    and the branch's cost without sending them."""

    count: int
    before: int  # the id of the window's first turn
    messages: int = 0  # user and assistant turns with text
    tokens: dict = field(default_factory=dict)  # their counts, by encoding
    system_messages: int = 0
    system_tokens: dict = field(default_factory=dict)
    # Replies whose provider reported usage, by model: its count, and ours, so a model's meter
    # can use the provider's own count for its replies as it does for loaded turns.
    reported: dict = field(default_factory=dict)
    cost: float | None = None

    def as_json(self) -> dict:
        return {
            "count": self.count,
            "before": self.before,
            "messages": self.messages,
            "tokens": self.tokens,
            "system_messages": self.system_messages,
            "system_tokens": self.system_tokens,
            "reported": self.reported,
            "cost": self.cost,
        }


def _add(into: dict, counts: dict) -> None:
    for name, value in counts.items():
        into[name] = into.get(name, 0) + value


def _summarise(rows: list[tuple], before: int) -> EarlierTurns:
    summary = EarlierTurns(count=len(rows), before=before)
    costs = []
    for _id, role, provider, model, counts, output_tokens, estimated, cost, empty in rows:
        if isinstance(counts, str):
            counts = json.loads(counts)
        counts = counts or {}
        if cost is not None:
            costs.append(float(cost))
        if role == Turn.Role.ASSISTANT and empty:
            continue  # not sent to a model (see context.sendable)
        if role == Turn.Role.SYSTEM:
            summary.system_messages += 1
            _add(summary.system_tokens, counts)
            continue
        summary.messages += 1
        _add(summary.tokens, counts)
        if role == Turn.Role.ASSISTANT and output_tokens is not None and not estimated:
            reported = summary.reported.setdefault(f"{provider}:{model}", {"output_tokens": 0})
            reported["output_tokens"] += output_tokens
            _add(reported, counts)
    summary.cost = sum(costs) if costs else None
    return summary


def _light_branch(conversation_id: int, turn_id: int) -> list[tuple]:
    """The branch through `turn_id`, root first, without the text: one row per turn."""
    columns = ", ".join(f"t.{connection.ops.quote_name(name)}" for name in _LIGHT_COLUMNS)
    return Turn.objects.branch_rows(
        conversation_id=conversation_id, turn_id=turn_id, columns=f"{columns}, t.content = ''"
    )


def _turns_by_id(ids: list[int]) -> list[Turn]:
    found = Turn.objects.in_bulk(ids)
    return [found[i] for i in ids]


def branch_window(*, conversation_id: int, turn_id: int, limit: int = WINDOW) -> tuple[list[Turn], EarlierTurns | None]:
    """The branch through `turn_id` from its last `limit` turns (or from `turn_id`, if that is
    earlier) down to the leaf, and a summary of the turns before. Two queries; a short branch
    is loaded whole in one."""
    rows = _light_branch(conversation_id, turn_id)
    if not rows:
        return [], None
    ids = [row[0] for row in rows]
    start = max(0, min(ids.index(turn_id), len(ids) - limit))
    turns = _turns_by_id(ids[start:])
    return turns, (_summarise(rows[:start], ids[start]) if start else None)


def turns_before(*, conversation_id: int, turn_id: int, limit: int = WINDOW) -> tuple[list[Turn], EarlierTurns | None]:
    """Up to `limit` turns just above `turn_id` on its path, and a summary of those above them."""
    turn = Turn.objects.filter(pk=turn_id, conversation_id=conversation_id).values_list("parent_id", flat=True).first()
    if turn is None:
        return [], None
    rows = _light_branch(conversation_id, turn)
    ids = [row[0] for row in rows]
    cut = ids.index(turn) + 1  # the path to the parent (the rows below it are another matter)
    rows, ids = rows[:cut], ids[:cut]
    start = max(0, len(ids) - limit)
    return _turns_by_id(ids[start:]), (_summarise(rows[:start], ids[start]) if start else None)


@dataclass
class BranchView:
    conversation: Conversation
    turns: list[Turn]
    # For every turn on the branch: the ids of it and its siblings, oldest first.
    siblings: dict[int, list[int]] = field(default_factory=dict)
    # The turns before the first of `turns`, when a long branch shows only its end.
    earlier: EarlierTurns | None = None


def siblings_along(*, conversation_id: int, turns: list[Turn]) -> dict[int, list[int]]:
    """Sibling ids of every turn on a branch, in one query."""
    if not turns:
        return {}
    parent_ids = {turn.parent_id for turn in turns if turn.parent_id is not None}
    rows = (
        Turn.objects.filter(
            Q(parent_id__in=parent_ids) | Q(conversation_id=conversation_id, parent__isnull=True)
        )
        .order_by("id")
        .values_list("id", "parent_id")
    )
    children: dict[int | None, list[int]] = {}
    for turn_id, parent_id in rows:
        children.setdefault(parent_id, []).append(turn_id)
    return {turn.id: children.get(turn.parent_id, [turn.id]) for turn in turns}


def latest_turn_id(*, conversation: Conversation) -> int | None:
    """Where a conversation opens: its main line if one is starred, else its latest reply."""
    if conversation.main_turn_id is not None:
        return conversation.main_turn_id
    if conversation.current_turn_id is not None:
        return conversation.current_turn_id
    return (
        Turn.objects.filter(conversation=conversation).order_by("-id").values_list("id", flat=True).first()
    )


def branch_view(*, conversation: Conversation, turn_id: int | None = None) -> BranchView | None:
    """The branch to show for a conversation (through `turn_id`, or its current tip).
    None when `turn_id` is not a turn of this conversation."""
    if turn_id is None:
        turn_id = latest_turn_id(conversation=conversation)
        if turn_id is None:
            return BranchView(conversation=conversation, turns=[])
    turns, earlier = branch_window(conversation_id=conversation.id, turn_id=turn_id)
    if not turns:
        return None
    return BranchView(
        conversation=conversation,
        turns=turns,
        siblings=siblings_along(conversation_id=conversation.id, turns=turns),
        earlier=earlier,
    )


@dataclass
class Comparison:
    conversation: Conversation
    shared: list[Turn]  # the path all branches have in common, root first
    columns: list[tuple[int, list[Turn]]]  # (tip, the turns after the split), in the order asked


def comparison(*, conversation: Conversation, tip_ids: list[int]) -> Comparison | None:
    """Branches side by side, aligned where they split. None if a tip is not in the conversation."""
    paths = Turn.objects.paths(conversation_id=conversation.id, turn_ids=tip_ids)
    if any(tip not in paths for tip in tip_ids):
        return None
    ordered = [paths[tip] for tip in tip_ids]
    shared = 0
    while all(len(path) > shared for path in ordered) and len({p[shared].id for p in ordered}) == 1:
        shared += 1
    return Comparison(
        conversation=conversation,
        shared=ordered[0][:shared],
        columns=[(tip, path[shared:]) for tip, path in zip(tip_ids, ordered, strict=True)],
    )


def tree_nodes(*, conversation: Conversation) -> list[dict]:
    """Every turn of a conversation, briefly, for the tree map: one query, no full texts. "files"
    is how many files a prompt carries, counted from its descriptors (a few each, at most)."""
    rows = (
        Turn.objects.filter(conversation=conversation)
        .order_by("id")
        .annotate(preview=Substr("content", 1, PREVIEW_CHARS))
        .values_list("id", "parent_id", "role", "status", "provider", "model", "preview", "attachments")
    )
    return [
        {
            "id": turn_id,
            "parent": parent_id,
            "role": role,
            "status": status,
            "model": f"{provider}:{model}" if provider else "",
            "preview": " ".join(preview.split()),
            "files": len(attachments or ()),
        }
        for turn_id, parent_id, role, status, provider, model, preview, attachments in rows
    ]


def forks_of(*, turn_ids: list[int], user) -> dict[int, list[dict]]:
    """Conversations `user` can open that were forked from these turns, by turn."""
    forks: dict[int, list[dict]] = {}
    rows = conversations_for(user=user).filter(forked_from_id__in=turn_ids).order_by("id")
    for fork in rows.values("id", "title", "forked_from_id"):
        forks.setdefault(fork["forked_from_id"], []).append({"id": fork["id"], "title": fork["title"]})
    return forks


def sibling_tips(*, conversation_id: int, turn_id: int, limit: int) -> list[int]:
    """For a turn and its siblings (newest `limit`), the tip of the branch through each."""
    turn = Turn.objects.filter(pk=turn_id, conversation_id=conversation_id).first()
    if turn is None:
        return []
    siblings = Turn.objects.filter(conversation_id=conversation_id, parent_id=turn.parent_id)
    others = siblings.exclude(pk=turn.pk).order_by("-id").values_list("id", flat=True)[: limit - 1]
    return [
        Turn.objects.branch_through(conversation_id=conversation_id, turn_id=sibling)[-1].id
        for sibling in sorted([turn.pk, *others])
    ]


def conversations_for(*, user, workspace_id: int | None = None) -> QuerySet[Conversation]:
    """Conversations `user` may open (in any workspace of theirs, or in one), newest first."""
    rows = Conversation.objects.filter(workspace__memberships__user=user)
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    return rows.order_by("-updated_at")


def conversation_cost(*, conversation_id: int):
    """What every reply of the conversation cost (a Decimal), or None when none has a price."""
    return Turn.objects.filter(conversation_id=conversation_id).aggregate(total=Sum("cost"))["total"]


def sidebar(user, workspace_id: int, *, before: Cursor | None = None) -> dict:
    """What the sidebar shows: the workspaces to switch between and one workspace's conversation
    list (from `before`, or its first page)."""
    mine = list(workspaces_for(user))
    current = next((w for w in mine if w.id == workspace_id), None)
    listed = None
    if current is not None:
        listed = conversation_list(
            user=user,
            workspace_id=current.id,
            can_write=allows(current.role, Need.WRITE),
            can_manage=allows(current.role, Need.MANAGE),
            before=before,
        )
    return {
        "workspaces": mine,
        "workspace": current,
        "can_write_here": current is not None and allows(current.role, Need.WRITE),
        "conversation_list": listed,
        "with_sidebar": True,  # the top bar's menu button, which opens it as a drawer on a narrow screen
    }
