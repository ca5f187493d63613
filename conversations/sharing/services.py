"""Share links: make, revoke and read what a link shows.

A link shares a whole conversation or one branch (root → turn, optionally with the subtree below
it), as a snapshot frozen when it is made or live. What a link shows is a `SharedTree`: the turns
in its scope with only what a reader needs (text, role, model, status, times, and the replies'
reasoning when its maker included it). No settings, usage, cost, author or other conversation
leaves through a link.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F
from django.utils import dateformat, timezone

from conversations.errors import TURN_GONE, ServiceError
from conversations.models import Conversation, ShareLink, Turn
from conversations.services import path_copy
from conversations.streaming.frames import reader_columns, reader_payload, reader_turn
from conversations.streaming.groups import maker_group, share_group

TOKEN_BYTES = 32  # 256 bits from `secrets`
MAX_EXPIRY = timedelta(days=366)


def _after_commit_send(group: str, message: dict) -> None:
    transaction.on_commit(lambda: async_to_sync(get_channel_layer().group_send)(group, message))


def share_links_recheck(*, made_by: int) -> None:
    """After the commit, sockets watching links `made_by` made check them again (`share_for`)
    and close if they no longer work."""
    _after_commit_send(maker_group(made_by), {"type": "share.check"})


def maker_access_changed(sender, *, user_id: int, **kwargs) -> None:
    """`workspaces.signals.access_changed`: the links this person made are checked again."""
    share_links_recheck(made_by=user_id)


def share_deleted(sender, instance: ShareLink, **kwargs) -> None:
    """`post_delete` of a link, itself or through its conversation, turn, workspace or maker:
    the sockets watching it check it again, find it gone, and close."""
    _after_commit_send(share_group(instance.pk), {"type": "share.check"})


def _scope(conversation_id: int, turn_id: int | None, with_subtree: bool) -> tuple[set[int] | None, set[int]]:
    """The ids of the turns shared (None: every turn of the conversation), and those of the
    shared subtree, under which new turns join it."""
    if turn_id is None:
        return None, set()
    ids = {t.id for t in Turn.objects.path(conversation_id=conversation_id, turn_id=turn_id)}
    below = set(Turn.objects.subtree_ids(conversation_id=conversation_id, turn_id=turn_id)) if with_subtree else set()
    return ids | below, below


def scope_ids(link: ShareLink) -> tuple[set[int] | None, set[int]]:
    """What a live link shows now (see `_scope`)."""
    return _scope(link.conversation_id, link.turn_id, link.with_subtree)


def shown_attachments(link: ShareLink, turn_id: int) -> list | None:
    """The attachments of a turn this link shows (a snapshot's as they were when it was made), or
    None when it does not show that turn."""
    if link.mode == ShareLink.Mode.SNAPSHOT:
        shown = next((turn for turn in link.snapshot if turn.get("id") == turn_id), None)
        return None if shown is None else shown.get("attachments") or []
    ids, _ = scope_ids(link)
    if ids is not None and turn_id not in ids:
        return None
    return (
        Turn.objects.filter(pk=turn_id, conversation_id=link.conversation_id)
        .values_list("attachments", flat=True)
        .first()
    )


def _scope_turns(
    conversation: Conversation, turn_id: int | None, with_subtree: bool, *, reasoning: bool
) -> list[Turn]:
    turns = Turn.objects.filter(conversation=conversation).only(*reader_columns(reasoning=reasoning)).order_by("id")
    ids, _ = _scope(conversation.id, turn_id, with_subtree)
    return list(turns if ids is None else turns.filter(pk__in=ids))


def share_create(
    *,
    conversation: Conversation,
    by,
    turn_id: int | None,
    with_subtree: bool,
    mode: str,
    audience: str,
    expires_at: datetime | None,
    include_reasoning: bool = False,
    include_comments: bool = False,
    comment_names: str = ShareLink.CommentNames.TEAMMATES,
) -> ShareLink:
    if mode not in ShareLink.Mode.values:
        raise ServiceError(f"A link is a snapshot or live, not {mode!r}.", code="invalid")
    if audience not in ShareLink.Audience.values:
        raise ServiceError(f"A link is for anyone or for members, not {audience!r}.", code="invalid")
    if comment_names not in ShareLink.CommentNames.values:
        raise ServiceError("Comments show their authors' usernames or as Teammate 1, 2, …", code="invalid")
    if with_subtree and turn_id is None:
        raise ServiceError("Only a branch has a subtree to share: pick a turn.", code="invalid")
    now = timezone.now()
    if expires_at is not None and not now < expires_at <= now + MAX_EXPIRY:
        raise ServiceError("The expiry must be in the future and within a year.", code="invalid")
    if turn_id is not None and not Turn.objects.filter(pk=turn_id, conversation=conversation).exists():
        raise ServiceError(TURN_GONE, code="not_found")
    snapshot = []
    if mode == ShareLink.Mode.SNAPSHOT:
        turns = _scope_turns(conversation, turn_id, with_subtree, reasoning=include_reasoning)
        if any(t.status == Turn.Status.STREAMING for t in turns):
            raise ServiceError(
                "A reply in what you are sharing is still streaming: make the snapshot once it has "
                "finished, or share it live.",
                code="streaming",
            )
        snapshot = [reader_turn(t, reasoning=include_reasoning) for t in turns]
    return ShareLink.objects.create(
        token=secrets.token_urlsafe(TOKEN_BYTES),
        conversation=conversation,
        turn_id=turn_id,
        with_subtree=with_subtree,
        include_reasoning=include_reasoning,
        include_comments=include_comments,
        comment_names=comment_names,
        mode=mode,
        audience=audience,
        snapshot=snapshot,
        expires_at=expires_at,
        created_by=by,
    )


def share_revoke(*, link: ShareLink) -> None:
    """Revoke a link at once: it answers 404 and its open viewers are disconnected."""
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    _after_commit_send(share_group(link.id), {"type": "share.revoked"})


def share_viewed(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(views=F("views") + 1)


def links_of(user):
    """The links `user` made, newest first, with their conversation."""
    return ShareLink.objects.filter(created_by=user).select_related("conversation", "turn").order_by("-created_at")


def scope_words(link: ShareLink) -> str:
    """What a link shares, in words a person knows the conversation by: the reply or message its
    branch ends at, by model and time (in the active time zone), never by a turn's number."""
    turn = link.turn
    if turn is None:
        return "The whole conversation"
    when = dateformat.format(timezone.localtime(turn.created_at), r"H:i \o\n j M")
    if turn.role == Turn.Role.ASSISTANT:
        tip = f"the reply from {turn.model} at {when}" if turn.model else f"the reply at {when}"
    else:
        tip = f"the message at {when}"
    return f"One branch, up to {tip}" + (", and what follows it" if link.with_subtree else "")


def link_state(link: ShareLink, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at is not None and link.expires_at <= now:
        return "expired"
    return "active"


@dataclass
class SharedTree:
    """The turns a link shows, as a tree in memory: branches and versions within the scope."""

    turns: dict[int, dict]
    children: dict[int | None, list[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, turns: list[dict]) -> SharedTree:
        by_id = {t["id"]: t for t in turns}
        children: dict[int | None, list[int]] = {}
        for turn in sorted(turns, key=lambda t: t["id"]):
            parent = turn["parent"] if turn["parent"] in by_id else None
            children.setdefault(parent, []).append(turn["id"])
        return cls(by_id, children)

    def siblings(self, turn_id: int) -> list[int]:
        parent = self.turns[turn_id]["parent"]
        return self.children.get(parent if parent in self.turns else None, [turn_id])

    def branch(self, turn_id: int) -> list[dict]:
        """Root → turn, then down through the newest child to a leaf."""
        path: list[int] = []
        current: int | None = turn_id
        while current is not None and current in self.turns and len(path) <= len(self.turns):
            path.append(current)
            parent = self.turns[current]["parent"]
            current = parent if parent in self.turns else None
        path.reverse()
        below = self.children.get(turn_id, [])
        while below:
            path.append(below[-1])
            below = self.children.get(below[-1], [])
        return [{**reader_payload(self.turns[i]), "siblings": self.siblings(i)} for i in path]


def shared_tree(link: ShareLink) -> SharedTree:
    if link.mode == ShareLink.Mode.SNAPSHOT:
        return SharedTree.build(link.snapshot)
    reasoning = link.include_reasoning
    turns = _scope_turns(link.conversation, link.turn_id, link.with_subtree, reasoning=reasoning)
    return SharedTree.build([reader_turn(t, reasoning=reasoning) for t in turns])


def opening_turn(link: ShareLink, tree: SharedTree) -> int | None:
    """Where a link opens: the shared turn, else the conversation's main line or latest reply."""
    for candidate in (link.turn_id, link.conversation.main_turn_id, link.conversation.current_turn_id):
        if candidate in tree.turns:
            return candidate
    return max(tree.turns) if tree.turns else None


def shared_fork(*, link: ShareLink, tree: SharedTree, turn_id: int, owner) -> Conversation:
    """A new conversation in the visitor's personal workspace holding the shared path root →
    `turn_id`: what the link shows, nothing more (no settings, usage or timing). The prompts
    become the visitor's own, attached files included: those count against the visitor's
    attachment quota from now on, though nothing new is stored and the copy is never refused
    for it."""
    if turn_id not in tree.turns:
        raise ServiceError("That turn is not part of what this link shares.", code="not_found")
    branch = tree.branch(turn_id)
    shown = branch[: [t["id"] for t in branch].index(turn_id) + 1]
    path = [
        {
            "id": turn["id"],
            **{name: turn[name] for name in ("role", "content", "status", "provider", "model", "error", "refused")},
            # The files the link shows come along (a snapshot made before attachments has none).
            "attachments": turn.get("attachments") or [],
            # The reasoning the link shows comes along; its signed blocks never leave through a link.
            **({"reasoning": turn["reasoning"], "reasoning_seconds": turn["reasoning_seconds"]}
               if "reasoning" in turn else {}),
            "author_id": owner.pk if turn["role"] == Turn.Role.USER else None,
        }
        for turn in shown
    ]
    return path_copy(path=path, owner=owner, title=f"Continued from {link.conversation}")
