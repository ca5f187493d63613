"""Reads: conversations a user may open, the path to a turn, a branch and its siblings."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Substr

from conversations.models import Conversation, Turn

# Deeper than any real branch; stops the recursion should the tree ever hold a cycle.
MAX_DEPTH = 100_000

PREVIEW_CHARS = 48
_TURN_COLUMNS = ", ".join(f"t.{f.column}" for f in Turn._meta.concrete_fields)


def _path_cte() -> str:
    table = connection.ops.quote_name(Turn._meta.db_table)
    return f"""
        up(id, parent_id, depth) AS (
            SELECT id, parent_id, 0 FROM {table} WHERE id = %s AND conversation_id = %s
            UNION ALL
            SELECT t.id, t.parent_id, up.depth + 1
            FROM {table} t JOIN up ON t.id = up.parent_id
            WHERE up.depth < {MAX_DEPTH}
        )"""


def turn_path(*, conversation_id: int, turn_id: int) -> list[Turn]:
    """The turns from the root down to `turn_id`, in one query. Empty if it is not in the conversation."""
    table = connection.ops.quote_name(Turn._meta.db_table)
    sql = f"""
        WITH RECURSIVE {_path_cte()}
        SELECT {_TURN_COLUMNS} FROM {table} t JOIN up ON t.id = up.id
        ORDER BY up.depth DESC"""
    return list(Turn.objects.raw(sql, [turn_id, conversation_id]))


def branch_through(*, conversation_id: int, turn_id: int) -> list[Turn]:
    """The branch that passes through `turn_id`: root → turn, then on down through the newest
    child at each step to a leaf. One query. Empty if the turn is not in the conversation."""
    table = connection.ops.quote_name(Turn._meta.db_table)
    sql = f"""
        WITH RECURSIVE {_path_cte()},
        down(id, depth) AS (
            SELECT id, 0 FROM up WHERE depth = 0
            UNION ALL
            SELECT (SELECT c.id FROM {table} c WHERE c.parent_id = down.id ORDER BY c.id DESC LIMIT 1),
                   down.depth + 1
            FROM down WHERE down.id IS NOT NULL AND down.depth < {MAX_DEPTH}
        ),
        ordered(id, position) AS (
            SELECT id, -depth FROM up
            UNION ALL
            SELECT id, depth FROM down WHERE depth > 0 AND id IS NOT NULL
        )
        SELECT {_TURN_COLUMNS} FROM {table} t JOIN ordered o ON t.id = o.id
        ORDER BY o.position"""
    return list(Turn.objects.raw(sql, [turn_id, conversation_id]))


@dataclass
class BranchView:
    conversation: Conversation
    turns: list[Turn]
    # For every turn on the branch: the ids of it and its siblings, oldest first.
    siblings: dict[int, list[int]] = field(default_factory=dict)


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
    turns = branch_through(conversation_id=conversation.id, turn_id=turn_id)
    if not turns:
        return None
    return BranchView(
        conversation=conversation,
        turns=turns,
        siblings=siblings_along(conversation_id=conversation.id, turns=turns),
    )


def subtree_ids(*, conversation_id: int, turn_id: int) -> list[int]:
    """The turn and every turn below it, in one query (breadth first)."""
    table = connection.ops.quote_name(Turn._meta.db_table)
    sql = f"""
        WITH RECURSIVE below(id, depth) AS (
            SELECT id, 0 FROM {table} WHERE id = %s AND conversation_id = %s
            UNION ALL
            SELECT t.id, below.depth + 1 FROM {table} t JOIN below ON t.parent_id = below.id
            WHERE below.depth < {MAX_DEPTH}
        )
        SELECT id FROM below ORDER BY depth, id"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [turn_id, conversation_id])
        return [row[0] for row in cursor.fetchall()]


def paths_to(*, conversation_id: int, turn_ids: list[int]) -> dict[int, list[Turn]]:
    """Root → turn paths for several turns of a conversation, in one query. Turns that are not
    in the conversation are missing from the result."""
    table = connection.ops.quote_name(Turn._meta.db_table)
    seeds = ", ".join(["%s"] * len(turn_ids))
    sql = f"""
        WITH RECURSIVE up(tip, id, parent_id, depth) AS (
            SELECT id, id, parent_id, 0 FROM {table} WHERE id IN ({seeds}) AND conversation_id = %s
            UNION ALL
            SELECT up.tip, t.id, t.parent_id, up.depth + 1
            FROM {table} t JOIN up ON t.id = up.parent_id
            WHERE up.depth < {MAX_DEPTH}
        )
        SELECT up.tip AS tip, {_TURN_COLUMNS} FROM {table} t JOIN up ON t.id = up.id
        ORDER BY up.tip, up.depth DESC"""
    paths: dict[int, list[Turn]] = {}
    for turn in Turn.objects.raw(sql, [*turn_ids, conversation_id]):
        paths.setdefault(turn.tip, []).append(turn)
    return paths


@dataclass
class Comparison:
    conversation: Conversation
    shared: list[Turn]  # the path all branches have in common, root first
    columns: list[tuple[int, list[Turn]]]  # (tip, the turns after the split), in the order asked


def comparison(*, conversation: Conversation, tip_ids: list[int]) -> Comparison | None:
    """Branches side by side, aligned where they split. None if a tip is not in the conversation."""
    paths = paths_to(conversation_id=conversation.id, turn_ids=tip_ids)
    if any(tip not in paths for tip in tip_ids):
        return None
    ordered = [paths[tip] for tip in tip_ids]
    shared = 0
    while all(len(path) > shared for path in ordered) and len({p[shared].id for p in ordered}) == 1:
        shared += 1
    return Comparison(
        conversation=conversation,
        shared=ordered[0][:shared],
        columns=[(tip, path[shared:]) for tip, path in zip(tip_ids, ordered)],
    )


def tree_nodes(*, conversation: Conversation) -> list[dict]:
    """Every turn of a conversation, briefly, for the tree map: one query, no full texts."""
    rows = (
        Turn.objects.filter(conversation=conversation)
        .order_by("id")
        .annotate(preview=Substr("content", 1, PREVIEW_CHARS))
        .values_list("id", "parent_id", "role", "status", "provider", "model", "preview")
    )
    return [
        {
            "id": turn_id,
            "parent": parent_id,
            "role": role,
            "status": status,
            "model": f"{provider}:{model}" if provider else "",
            "preview": " ".join(preview.split()),
        }
        for turn_id, parent_id, role, status, provider, model, preview in rows
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
        branch_through(conversation_id=conversation_id, turn_id=sibling)[-1].id
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
