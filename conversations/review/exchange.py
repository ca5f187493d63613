"""Review in the Workbench export (version 3): a conversation's comments (threads, resolutions,
deletions), verdicts and preferred branches, their people by username; and the same read back on
import.

A file anyone can edit must not speak for an account (as for turns, see exchange/workbench_json.py):
imported comments are the importer's, each keeping the name it was written under (shown with
"imported", editable only by the importer); imported verdicts and preferences keep their names and
belong to no account, except those under the importer's own name, which are theirs. Nothing is
skipped. Forks copy none of it: review belongs to the conversation it was written in.
"""
from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, model_validator

from conversations.exchange import ImportProblem, describe_id
from conversations.exchange.fieldtypes import (
    CommentKey,
    CommentText,
    Flag,
    Moment,
    TurnKey,
    Username,
    VerdictValue,
)
from conversations.fields import problem
from conversations.models import Conversation
from conversations.review.models import Comment, Preference, Verdict


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def review_export(conversation: Conversation) -> dict:
    """Every comment (a deleted one without its text), verdict and preference. Three queries."""
    comments = [
        {
            "id": c.id,
            "turn": c.turn_id,
            "thread": c.thread_id,
            "author": c.author_name or (c.author.get_username() if c.author else None),
            "body": "" if c.deleted_at else c.body,
            "deleted": c.deleted_at is not None,
            "created_at": _iso(c.created_at),
            "edited_at": _iso(c.edited_at),
            "resolved_at": _iso(c.resolved_at),
            "resolved_by": c.resolved_by.get_username() if c.resolved_by else None,
        }
        for c in Comment.objects.filter(conversation=conversation)
        .select_related("author", "resolved_by").order_by("id")
    ]
    verdicts = [
        {"turn": turn, "user": username or name, "value": value, "created_at": _iso(at)}
        for turn, username, name, value, at in Verdict.objects.filter(conversation=conversation)
        .order_by("id").values_list("turn_id", "user__username", "user_name", "value", "created_at")
    ]
    preferences = [
        {"turn": turn, "user": username or name, "created_at": _iso(at)}
        for turn, username, name, at in Preference.objects.filter(conversation=conversation)
        .order_by("id").values_list("turn_id", "user__username", "user_name", "created_at")
    ]
    return {"comments": comments, "verdicts": verdicts, "preferences": preferences}


# --- import ----------------------------------------------------------------------------------------


class _Declared(BaseModel):
    """Every field declared, as in exchange/schema.py: an unknown one is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewComment(_Declared):
    id: CommentKey
    turn: TurnKey
    thread: CommentKey | None = None
    author: Username = None
    body: CommentText = ""
    deleted: Flag = False
    created_at: Moment = None
    edited_at: Moment = None
    resolved_at: Moment = None
    resolved_by: Username = None

    @model_validator(mode="after")
    def _state(self) -> ReviewComment:
        if self.thread is not None and self.resolved_at is not None:
            raise problem("only a thread's first comment (no \"thread\") can be resolved.", sentence=True)
        if not self.deleted and not self.body.strip():
            raise problem('a comment that is not "deleted" needs a "body".', sentence=True)
        return self


class ReviewVerdict(_Declared):
    turn: TurnKey
    user: Username
    value: VerdictValue
    created_at: Moment = None


class ReviewPreference(_Declared):
    turn: TurnKey
    user: Username
    created_at: Moment = None


class WorkbenchReview(_Declared):
    comments: list[ReviewComment] = []
    verdicts: list[ReviewVerdict] = []
    preferences: list[ReviewPreference] = []


def check_review(review: WorkbenchReview | None, keys: set[Hashable], roles: dict[Hashable, str]) -> None:
    """The review's references: turns in the file (verdicts on replies), threads named before their
    replies and on the same turn, one verdict per person and reply, one preference per person."""
    if review is None:
        return
    seen: dict[int, ReviewComment] = {}
    for index, comment in enumerate(review.comments):
        place = f"review.comments[{index}]"
        if comment.id in seen:
            raise ImportProblem(f"{place}: another comment has the id {comment.id}.")
        if comment.turn not in keys:
            raise ImportProblem(f'{place}: "turn" is turn {describe_id(comment.turn)}, which is not in the file.')
        if comment.thread is not None:
            root = seen.get(comment.thread)
            if root is None or root.thread is not None:
                raise ImportProblem(f'{place}: "thread" must name a thread\'s first comment earlier in the file.')
            if root.turn != comment.turn:
                raise ImportProblem(f"{place}: its thread is on another turn.")
        seen[comment.id] = comment
    voted: set[tuple[Hashable, str | None]] = set()
    for index, verdict in enumerate(review.verdicts):
        place = f"review.verdicts[{index}]"
        if roles.get(verdict.turn) != "assistant":
            raise ImportProblem(f'{place}: "turn" must be a reply in the file, not {describe_id(verdict.turn)}.')
        if not verdict.user or (verdict.turn, verdict.user) in voted:
            raise ImportProblem(f"{place}: one verdict per person and reply, by a username.")
        voted.add((verdict.turn, verdict.user))
    preferring: set[str | None] = set()
    for index, preference in enumerate(review.preferences):
        place = f"review.preferences[{index}]"
        if preference.turn not in keys:
            raise ImportProblem(f'{place}: "turn" is turn {describe_id(preference.turn)}, which is not in the file.')
        if not preference.user or preference.user in preferring:
            raise ImportProblem(f"{place}: one preferred branch per person, by a username.")
        preferring.add(preference.user)


def review_import(*, conversation: Conversation, owner, review: WorkbenchReview | None, ids: dict) -> dict[str, int]:
    """Write the file's review for the conversation just imported (`ids`: file turn keys → ids).
    Returns how many of each were kept."""
    if review is None:
        return {}
    me = owner.get_username()
    created: dict[int, Comment] = {}
    for parents in (True, False):  # threads first: their replies point at them
        rows = []
        for c in review.comments:
            if (c.thread is None) != parents:
                continue
            rows.append((c.id, Comment(
                conversation=conversation, turn_id=ids[c.turn], author=owner,
                thread=created[c.thread] if c.thread is not None else None,
                author_name="" if c.author is None or c.author in ("", me) else c.author,
                body="" if c.deleted else c.body,
                created_at=c.created_at or conversation.created_at, edited_at=c.edited_at,
                deleted_at=(c.edited_at or c.created_at or conversation.created_at) if c.deleted else None,
                resolved_at=c.resolved_at, resolved_by=owner if c.resolved_at and c.resolved_by == me else None,
            )))
        Comment.objects.bulk_create([row for _, row in rows])
        created.update(dict(rows))

    def person(name: str) -> dict:
        return {"user": owner, "user_name": ""} if name == me else {"user": None, "user_name": name}

    Verdict.objects.bulk_create([
        Verdict(conversation=conversation, turn_id=ids[v.turn], value=v.value,
                created_at=v.created_at or conversation.created_at, **person(v.user or ""))
        for v in review.verdicts
    ])
    Preference.objects.bulk_create([
        Preference(conversation=conversation, turn_id=ids[p.turn], created_at=p.created_at or conversation.created_at,
                   **person(p.user or ""))
        for p in review.preferences
    ])
    return {"comments": len(created), "verdicts": len(review.verdicts), "preferences": len(review.preferences)}
