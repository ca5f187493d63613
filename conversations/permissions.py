"""The one permission check, used by every HTTP view, every websocket connect and every websocket
action, each time: nothing is cached from a connect, so a removed member or a revoked link loses
access at once.

Access to a conversation comes from a role in its workspace:

| need   | what it allows                                                  | roles                 |
|--------|-----------------------------------------------------------------|-----------------------|
| READ   | open, watch, resume a stream, export, fork into your workspace, | owner, editor, viewer |
|        | pin it to the top of your own list                              |                       |
| WRITE  | send, edit, regenerate, stop, star the main line, rename, share | owner, editor         |
|        | (in a workspace: start a conversation there)                    |                       |
| MANAGE | delete turns and conversations, manage members                  | owner                 |
| REVIEW | comment, vote 👍/👎 on replies, prefer a branch                  | owner, editor; viewer |
|        |                                                                 | unless the workspace  |
|        |                                                                 | turned that off       |

Within REVIEW, some actions are a person's own (see `may_change_comment`): editing a comment is
its author's, deleting it its author's or a workspace owner's (moderation), resolving a thread its
author's, the conversation's owner's or a workspace owner's.

A share link grants READ on what it shares and nothing else (see `share_for`); its comments only when
its maker included them.
"""
from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, TypedDict

from django.db.models import F
from django.http import Http404
from django.utils import timezone

from conversations.models import Conversation, Membership, ShareLink, Workspace

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class Need(Enum):
    READ = "read"
    WRITE = "write"
    MANAGE = "manage"
    REVIEW = "review"


GRANTS: dict[str, set[Need]] = {
    Membership.Role.OWNER: {Need.READ, Need.WRITE, Need.MANAGE, Need.REVIEW},
    Membership.Role.EDITOR: {Need.READ, Need.WRITE, Need.REVIEW},
    Membership.Role.VIEWER: {Need.READ},
}


def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated


def allows(role: str | None, need: Need, *, viewers_may_review: bool = False) -> bool:
    """Whether `role` may do what `need` says; REVIEW also depends on the workspace's setting."""
    if need is Need.REVIEW and role == Membership.Role.VIEWER:
        return viewers_may_review
    return role is not None and need in GRANTS.get(role, set())


def _role(user_id: int, workspace_id: int) -> str | None:
    return (
        Membership.objects.filter(workspace_id=workspace_id, user_id=user_id)
        .values_list("role", flat=True)
        .first()
    )


def role_in(user, workspace_id: int) -> str | None:
    """The user's role in a workspace, or None."""
    return _role(user.pk, workspace_id) if _signed_in(user) else None


class Role(TypedDict):
    """What `conversation_for` and `workspace_for` add to the row they return."""

    role: str
    viewers_may_review: bool


def _with_role(rows, pk, user, need: Need, memberships: str):
    """Row `pk` annotated with the user's `role` through `memberships` and its workspace's
    `viewers_may_review`, if that role allows `need`."""
    if not _signed_in(user):
        return None
    through = memberships.removesuffix("memberships")  # "workspace__", or "" for a workspace itself
    annotations = {"role": F(f"{memberships}__role")}
    if through:  # a workspace has the field itself
        annotations["viewers_may_review"] = F(f"{through}viewers_may_review")
    try:
        row = rows.filter(pk=pk, **{f"{memberships}__user": user}).annotate(**annotations).first()
    except (ValueError, TypeError):
        return None
    if row is None or not allows(row.role, need, viewers_may_review=row.viewers_may_review):
        return None
    return row


def conversation_for(user, conversation_id: int, *, need: Need) -> WithAnnotations[Conversation, Role] | None:
    """The conversation if `user` may do what `need` says with it, else None. One query.

    Callers answer None with 404 (HTTP) or a not-found close/error (websocket), never 403: an id
    that is not yours reveals nothing, not even that it exists. The conversation carries the
    user's role as `role`.
    """
    return _with_role(Conversation.objects, conversation_id, user, need, "workspace__memberships")


def workspace_for(user, workspace_id: int, *, need: Need) -> WithAnnotations[Workspace, Role] | None:
    """The workspace if `user` may do what `need` says in it (MANAGE: members), else None."""
    return _with_role(Workspace.objects, workspace_id, user, need, "memberships")


def share_for(user, token: str) -> ShareLink | None:
    """The share link behind `token` if it is live for this visitor, else None (answered 404).

    A link stops working when it is revoked, when it expires, when its maker can no longer write
    in the workspace, and, for a members-only link, for anyone not signed in as a member.
    """
    link, refusal = share_checked(user, token)
    return None if refusal else link


def share_checked(user, token: str) -> tuple[ShareLink | None, str]:
    """The link behind `token` and why it does not open for this visitor ("" when it does):
    "unknown", "revoked", "expired", "withdrawn" (its maker may no longer write), "members" (for
    members, and the visitor is not signed in) or "not_member". The page words each reason."""
    if not isinstance(token, str) or not 20 <= len(token) <= 64:
        return None, "unknown"
    link = ShareLink.objects.select_related("conversation").filter(token=token).first()
    if link is None:
        return None, "unknown"
    if link.revoked_at is not None:
        return link, "revoked"
    if link.expires_at is not None and link.expires_at <= timezone.now():
        return link, "expired"
    workspace_id = link.conversation.workspace_id
    if not allows(_role(link.created_by_id, workspace_id), Need.WRITE):
        return link, "withdrawn"
    if link.audience == ShareLink.Audience.MEMBERS and role_in(user, workspace_id) is None:
        return link, "members" if not getattr(user, "is_authenticated", False) else "not_member"
    return link, ""


# What each action needs on the conversation socket: reading may resume, writing may send and stop,
# only owners delete.
SOCKET_ACTION_NEEDS = {
    "resume": Need.READ,
    "send": Need.WRITE,
    "edit": Need.WRITE,
    "regenerate": Need.WRITE,
    "stop": Need.WRITE,
    "main": Need.WRITE,
    "delete": Need.MANAGE,
}


# What each review action needs (HTTP endpoints in conversations/review/views.py), before the
# checks of `may_change_comment` for the actions that are a person's own.
REVIEW_ACTION_NEEDS = {
    "read": Need.READ,
    "comment": Need.REVIEW,
    "edit": Need.REVIEW,
    "delete": Need.REVIEW,
    "resolve": Need.REVIEW,
    "vote": Need.REVIEW,
    "prefer": Need.REVIEW,
}


def may_change_comment(user, conversation, comment, action: str) -> bool:
    """Whether `user`, whose role in the conversation's workspace is `conversation.role` (as
    `conversation_for` returns it), may `action` ("edit", "delete", "resolve") this comment."""
    own = comment.author_id is not None and comment.author_id == user.pk
    if action == "edit":
        return own
    owner = getattr(conversation, "role", None) == Membership.Role.OWNER
    if action == "delete":
        return own or owner
    if action == "resolve":
        return own or owner or conversation.owner_id == user.pk
    return False


def revocable_link(user, link_id: int) -> ShareLink | None:
    """The link if this person may revoke it (its maker, or an owner of its workspace), else None."""
    link = ShareLink.objects.select_related("conversation").filter(pk=link_id).first()
    if link is None:
        return None
    if link.created_by_id == user.pk or allows(role_in(user, link.conversation.workspace_id), Need.MANAGE):
        return link
    return None


def conversation_or_404(request, conversation_id: int, need: Need):
    """The conversation if the user may do what `need` says with it; 404 otherwise."""
    conversation = conversation_for(request.user, conversation_id, need=need)
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation
