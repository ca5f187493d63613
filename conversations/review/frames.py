"""What the sockets say about review: one builder per frame, and the payloads pages read.

Every frame goes to the conversation's group as a `conversation.event`. The conversation socket
relays it as it is; a live share link's socket relays only `review.comment`, rebuilt for its reader
by review/shared.py, and only when the link includes comments. The inbox count goes to the
person's own group as `inbox.count`.
"""
from __future__ import annotations

from datetime import datetime

from conversations.review.models import Comment

DELETED = ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def author_name(comment: Comment) -> str:
    """Who wrote it, as members see it: the name it was written under (an import keeps the
    original author's), else its account's username."""
    if comment.author_name:
        return comment.author_name
    return comment.author.get_username() if comment.author is not None else "a former member"


def comment_payload(comment: Comment, *, name: str | None = None) -> dict:
    """A comment as a page reads it. A deleted one has no body. `name` replaces its author's name
    (a share link's reader may see "Teammate 1")."""
    deleted = comment.deleted_at is not None
    return {
        "id": comment.id,
        "turn": comment.turn_id,
        "thread": comment.thread_id,
        "author": name if name is not None else author_name(comment),
        "imported": bool(comment.author_name) and name is None,
        "body": DELETED if deleted else comment.body,
        "deleted": deleted,
        "created_at": _iso(comment.created_at),
        "edited_at": _iso(comment.edited_at),
        "resolved_at": _iso(comment.resolved_at),
        "resolved_by": comment.resolved_by.get_username() if comment.resolved_by is not None else None,
    }


def event(frame: dict) -> dict:
    """The channel-layer message that puts `frame` on every member's socket of the conversation."""
    return {"type": "conversation.event", "event": frame}


def comment_frame(comment: Comment, turn: dict, *, name: str | None = None) -> dict:
    """`review.comment`: a comment made, edited, deleted, or its thread resolved or reopened (then
    it is the thread's first comment); `turn` is the turn's counts after it. `name` as in
    `comment_payload`."""
    return {"type": "review.comment", "comment": comment_payload(comment, name=name), "turn": turn}


def verdicts_frame(turn_id: int, verdicts: dict) -> dict:
    """`review.verdicts`: who marks the reply 👍 and who 👎, now."""
    return {"type": "review.verdicts", "turn": turn_id, "verdicts": verdicts}


def preference_frame(user: str, turn_id: int | None, at: datetime | None, excerpt: str = "") -> dict:
    """`review.preference`: the branch `user` prefers now (ending at `turn_id`, which begins with
    `excerpt`), or none."""
    return {"type": "review.preference", "user": user, "turn": turn_id, "at": _iso(at), "excerpt": excerpt}


def inbox_frame(unread: int) -> dict:
    """`inbox.count`: how many notifications the person has not read (the message and the frame)."""
    return {"type": "inbox.count", "unread": unread}
