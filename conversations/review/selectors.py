"""Review's reads. A conversation's review summary (counts per turn, open threads, verdicts,
preferences, members) is a fixed number of queries however many turns and comments it holds; a
turn's threads are one."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, F, Q

from conversations.models import Membership
from conversations.permissions import Need, allows
from conversations.review.frames import _iso, author_name, comment_payload
from conversations.review.models import Comment, Notification, Preference, Verdict

EXCERPT_CHARS = 140
PREFERENCE_CHARS = 80


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else f"{line[: limit - 1].rstrip()}…"


def can_review(conversation) -> bool:
    """Whether the person `conversation_for` found it for may comment, vote and prefer here."""
    return allows(getattr(conversation, "role", None), Need.REVIEW,
                  viewers_may_review=getattr(conversation, "viewers_may_review", False))


def _thread_rows(conversation_id: int):
    """The conversation's threads that are still open, each with its count of live replies."""
    return (
        Comment.objects.filter(conversation_id=conversation_id, thread__isnull=True, resolved_at__isnull=True)
        .annotate(live_replies=Count("replies", filter=Q(replies__deleted_at__isnull=True)))
        .select_related("author")
        .order_by("id")
    )


def open_threads(conversation_id: int) -> list[dict]:
    """Open threads, oldest first: their turn, who started them, how they begin, their replies.
    A thread whose every comment was deleted is gone."""
    threads = []
    for root in _thread_rows(conversation_id):
        if root.deleted_at is not None and not root.live_replies:
            continue
        threads.append({
            "id": root.id,
            "turn": root.turn_id,
            "author": author_name(root),
            "excerpt": "" if root.deleted_at else excerpt(root.body),
            "deleted": root.deleted_at is not None,
            "replies": root.live_replies,
            "created_at": _iso(root.created_at),
        })
    return threads


def comment_counts(conversation_id: int, turn_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Live comments per turn (of `turn_ids` only, when given)."""
    rows = Comment.objects.filter(conversation_id=conversation_id, deleted_at__isnull=True)
    if turn_ids is not None:
        rows = rows.filter(turn_id__in=list(turn_ids))
    return dict(rows.order_by().values_list("turn_id").annotate(n=Count("id")).values_list("turn_id", "n"))


def turn_summary(conversation_id: int, turn_id: int) -> dict:
    """A turn's counts: live comments and open threads (a frame carries them after each change)."""
    comments = comment_counts(conversation_id, [turn_id]).get(turn_id, 0)
    open_count = sum(
        1 for root in _thread_rows(conversation_id).filter(turn_id=turn_id)
        if root.deleted_at is None or root.live_replies
    )
    return {"id": turn_id, "comments": comments, "open": open_count}


def verdicts_of(conversation_id: int, turn_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """Per reply: the names marking it 👍 ("up") and 👎 ("down"), in the order they did."""
    rows = Verdict.objects.filter(conversation_id=conversation_id)
    if turn_ids is not None:
        rows = rows.filter(turn_id__in=list(turn_ids))
    found: dict[int, dict] = defaultdict(lambda: {"up": [], "down": []})
    for turn_id, value, username, name in rows.order_by("created_at", "id").values_list(
        "turn_id", "value", "user__username", "user_name"
    ):
        found[turn_id]["up" if value > 0 else "down"].append(username or name)
    return dict(found)


def preferences_of(conversation_id: int) -> list[dict]:
    """Who prefers which branch (named by its last turn), and since when."""
    rows = Preference.objects.filter(conversation_id=conversation_id).order_by("created_at", "id")
    return [
        {"user": username or name, "turn": turn_id, "at": _iso(at), "excerpt": excerpt(content, PREFERENCE_CHARS)}
        for turn_id, username, name, at, content in rows.values_list(
            "turn_id", "user__username", "user_name", "created_at", "turn__content"
        )
    ]


def member_names(workspace_id: int) -> list[str]:
    """The workspace's members, whom a comment may mention."""
    return list(
        Membership.objects.filter(workspace_id=workspace_id).order_by("user__username")
        .values_list("user__username", flat=True)
    )


def review_summary(*, conversation, user) -> dict:
    """Everything a conversation page shows of review, for the whole tree: counts per turn, open
    threads, verdicts, preferences, members and what this person may do. Five queries."""
    threads = open_threads(conversation.id)
    open_per_turn: dict[int, int] = defaultdict(int)
    for thread in threads:
        open_per_turn[thread["turn"]] += 1
    counts = comment_counts(conversation.id)
    role = getattr(conversation, "role", None)
    return {
        "me": user.get_username(),
        "can_review": can_review(conversation),
        # Workspace owners may delete anyone's comment; they and the conversation's owner resolve any thread.
        "can_moderate": role == Membership.Role.OWNER,
        "can_resolve_any": role == Membership.Role.OWNER or conversation.owner_id == user.pk,
        "turns": {
            turn_id: {"comments": counts.get(turn_id, 0), "open": open_per_turn.get(turn_id, 0)}
            for turn_id in set(counts) | set(open_per_turn)
        },
        "threads": threads,
        "verdicts": verdicts_of(conversation.id),
        "preferences": preferences_of(conversation.id),
        "members": member_names(conversation.workspace_id),
    }


def _threads_from(comments: list[Comment], names=None) -> list[dict]:
    """Comments (in id order) as threads: each first comment with its replies; a deleted comment
    shows only while it holds replies (a deleted reply never)."""
    def name_of(comment: Comment) -> str | None:
        return names(comment) if names is not None else None

    threads: dict[int, dict] = {}
    for comment in comments:
        if comment.thread_id is None:
            threads[comment.id] = {**comment_payload(comment, name=name_of(comment)), "replies": []}
        elif comment.deleted_at is None and comment.thread_id in threads:
            threads[comment.thread_id]["replies"].append(comment_payload(comment, name=name_of(comment)))
    return [t for t in threads.values() if not t["deleted"] or t["replies"]]


def _comments(conversation_id: int, turn_ids: Iterable[int] | None = None):
    rows = Comment.objects.filter(conversation_id=conversation_id)
    if turn_ids is not None:
        rows = rows.filter(turn_id__in=list(turn_ids))
    return list(rows.select_related("author", "resolved_by").order_by("id"))


def turn_threads(*, conversation_id: int, turn_id: int) -> list[dict]:
    """A turn's threads, oldest first, each with its replies. One query."""
    return _threads_from(_comments(conversation_id, [turn_id]))


def threads_by_turn(*, conversation_id: int, turn_ids: Iterable[int], names=None) -> dict[int, list[dict]]:
    """The threads of several turns (a comparison's columns, a shared branch, an export). One query;
    `names(comment)` may replace authors' names."""
    by_turn: dict[int, list[Comment]] = defaultdict(list)
    for comment in _comments(conversation_id, turn_ids):
        if names is not None:
            names(comment)  # numbered in the order they first commented
        by_turn[comment.turn_id].append(comment)
    return {turn_id: threads for turn_id, rows in by_turn.items() if (threads := _threads_from(rows, names))}


# --- the inbox ------------------------------------------------------------------------------------


def _readable(user):
    """A person's notifications about conversations they may still read."""
    return Notification.objects.filter(
        recipient=user, conversation__workspace__memberships__user=user
    )


def inbox_unread(user) -> int:
    return _readable(user).filter(read_at__isnull=True).count() if user.is_authenticated else 0


def inbox(user, *, limit: int = 200) -> list[Notification]:
    """Unread first (newest first), then those read (latest read first). One query."""
    return list(
        _readable(user)
        .select_related("comment__author", "conversation")
        .order_by(F("read_at").desc(nulls_first=True), "-created_at", "-id")[:limit]
    )
