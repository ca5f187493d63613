"""Review's writes, one transaction each; after the commit, one frame to every socket on the
conversation and the new inbox count to each person notified.

The caller has checked the action's need (`permissions.REVIEW_ACTION_NEEDS`) with
`conversation_for`; what is a person's own (editing, deleting, resolving) is checked here, by
`permissions.may_change_comment`, so no caller can skip it.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from conversations.errors import ServiceError
from conversations.models import Membership, Turn
from conversations.permissions import may_change_comment
from conversations.review import frames, selectors
from conversations.review.models import MAX_COMMENT_CHARS, Comment, Notification, Preference, Verdict
from conversations.streaming.groups import conversation_group, inbox_group
from conversations.validation import check_text

FORBIDDEN = "Your role in this workspace does not allow that."


def _send(group: str, message: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(group, message)


def _broadcast(conversation_id: int, frame: dict) -> None:
    """Every open socket on the conversation hears of it once the write is committed."""
    transaction.on_commit(lambda: _send(conversation_group(conversation_id), frames.event(frame)))


def _inbox_changed(user_ids: Iterable[int]) -> None:
    """Each person's own sockets get their new unread count once the write is committed."""
    ids = sorted(set(user_ids))
    if not ids:
        return

    def send() -> None:
        users = get_user_model().objects.filter(pk__in=ids)
        for user in users:
            _send(inbox_group(user.pk), frames.inbox_frame(selectors.inbox_unread(user)))

    transaction.on_commit(send)


def _clean_body(body) -> str:
    if not isinstance(body, str):
        raise ServiceError("A comment's text must be a string.", code="invalid")
    check_text(body, field="The comment")
    text = body.replace("\x00", "").strip()
    if not text:
        raise ServiceError("Write something: the comment is empty.", code="empty")
    if len(text) > MAX_COMMENT_CHARS:
        raise ServiceError(
            f"The comment is {len(text):,} characters; the limit is {MAX_COMMENT_CHARS:,}.", code="too_large"
        )
    return text


def _turn(conversation, turn_id) -> Turn:
    turn = Turn.objects.filter(pk=turn_id, conversation_id=conversation.id).only("id", "role", "content").first() \
        if isinstance(turn_id, int) and not isinstance(turn_id, bool) else None
    if turn is None:
        raise ServiceError(f"Turn {turn_id} does not exist in this conversation.", code="not_found")
    return turn


def _comment(conversation, comment_id, *, deleted: bool = False) -> Comment:
    """The comment, locked for the write; a deleted one only when `deleted` (a thread replied to)."""
    comment = None
    if isinstance(comment_id, int) and not isinstance(comment_id, bool):
        comment = (
            Comment.objects.select_for_update().filter(pk=comment_id, conversation_id=conversation.id).first()
        )
    if comment is None or (comment.deleted_at is not None and not deleted):
        raise ServiceError(f"Comment {comment_id} does not exist in this conversation.", code="not_found")
    return comment


def mentioned(text: str, names: Iterable[str]) -> set[str]:
    """The members' names `text` mentions as @name (not inside a word, an address or a longer name)."""
    found = set()
    for name in names:
        if re.search(rf"(?<![\w.@+-])@{re.escape(name)}(?![\w@+-]|\.[\w])", text):
            found.add(name)
    return found


def _notify(comment: Comment, *, workspace_id: int, author_id: int, also_replies: bool) -> set[int]:
    """Notifications for the members `comment` mentions and, for a reply, for everyone else in the
    thread; the ids of those newly notified."""
    members = dict(
        Membership.objects.filter(workspace_id=workspace_id).values_list("user__username", "user_id")
    )
    mentions = {members[name] for name in mentioned(comment.body, members)} - {author_id}
    participants: set[int] = set()
    if also_replies and comment.thread_id is not None:
        participants = set(
            Comment.objects.filter(pk=comment.thread_id).values_list("author_id", flat=True)
        ) | set(
            Comment.objects.filter(thread_id=comment.thread_id).values_list("author_id", flat=True)
        )
        # Only members: someone who has left the workspace hears nothing of it.
        participants = (participants & set(members.values())) - mentions - {author_id}
    already = set(Notification.objects.filter(comment=comment).values_list("recipient_id", flat=True))
    notices = [
        Notification(recipient_id=user_id, kind=kind, comment=comment, conversation_id=comment.conversation_id)
        for ids, kind in ((mentions, Notification.Kind.MENTION), (participants, Notification.Kind.REPLY))
        for user_id in sorted(ids - already)
    ]
    Notification.objects.bulk_create(notices, ignore_conflicts=True)
    return {notice.recipient_id for notice in notices}


def _comment_changed(conversation, comment: Comment) -> None:
    summary = selectors.turn_summary(conversation.id, comment.turn_id)
    fresh = Comment.objects.select_related("author", "resolved_by").get(pk=comment.pk)
    _broadcast(conversation.id, frames.comment_frame(fresh, summary))


def comment_create(*, conversation, user, turn_id, body, thread_id=None) -> Comment:
    """A new thread on a turn, or (with `thread_id`) a reply in one; a reply to a reply joins its
    thread. Notifies those it mentions and the thread's other participants."""
    text = _clean_body(body)
    with transaction.atomic():
        turn = _turn(conversation, turn_id)
        root = None
        if thread_id is not None:
            root = _comment(conversation, thread_id, deleted=True)
            if root.thread_id is not None:
                root = Comment.objects.get(pk=root.thread_id)
            if root.turn_id != turn.id:
                raise ServiceError(f"Thread {thread_id} is on another turn.", code="invalid")
        comment = Comment.objects.create(
            conversation_id=conversation.id, turn=turn, thread=root, author=user, body=text
        )
        if root is not None and root.resolved_at is not None:
            # Answering a resolved thread opens it again.
            Comment.objects.filter(pk=root.pk).update(resolved_at=None, resolved_by=None)
            _comment_changed(conversation, root)
        notified = _notify(comment, workspace_id=conversation.workspace_id, author_id=user.pk, also_replies=True)
        _comment_changed(conversation, comment)
        _inbox_changed(notified)
    return comment


def comment_edit(*, conversation, user, comment_id, body) -> Comment:
    """The author changes their comment; someone newly mentioned in it is notified."""
    text = _clean_body(body)
    with transaction.atomic():
        comment = _comment(conversation, comment_id)
        if not may_change_comment(user, conversation, comment, "edit"):
            raise ServiceError("Only its author may edit a comment.", code="forbidden")
        comment.body = text
        comment.edited_at = timezone.now()
        comment.save(update_fields=["body", "edited_at"])
        notified = _notify(comment, workspace_id=conversation.workspace_id, author_id=user.pk, also_replies=False)
        _comment_changed(conversation, comment)
        _inbox_changed(notified)
    return comment


def comment_delete(*, conversation, user, comment_id) -> Comment:
    """Its author (or a workspace owner) deletes a comment: its text is gone for good; a thread's
    first comment stays, marked deleted, while replies hold it. Its notifications go with it."""
    with transaction.atomic():
        comment = _comment(conversation, comment_id)
        if not may_change_comment(user, conversation, comment, "delete"):
            raise ServiceError("Only its author or a workspace owner may delete a comment.", code="forbidden")
        comment.body = ""
        comment.deleted_at = timezone.now()
        comment.save(update_fields=["body", "deleted_at"])
        notices = Notification.objects.filter(comment=comment)
        told = set(notices.values_list("recipient_id", flat=True))
        notices.delete()
        _comment_changed(conversation, comment)
        _inbox_changed(told)
    return comment


def thread_resolve(*, conversation, user, comment_id, resolved: bool) -> Comment:
    """Resolve a thread, or open it again: its author, the conversation's owner or a workspace owner."""
    if not isinstance(resolved, bool):
        raise ServiceError('Say "resolved": true or false.', code="invalid")
    with transaction.atomic():
        comment = _comment(conversation, comment_id)
        if comment.thread_id is not None:
            raise ServiceError("Resolve a thread by its first comment.", code="invalid")
        if not may_change_comment(user, conversation, comment, "resolve"):
            raise ServiceError(
                "Only the thread's author, the conversation's owner or a workspace owner may resolve it.",
                code="forbidden",
            )
        comment.resolved_at = timezone.now() if resolved else None
        comment.resolved_by = user if resolved else None
        comment.save(update_fields=["resolved_at", "resolved_by"])
        _comment_changed(conversation, comment)
    return comment


def verdict_set(*, conversation, user, turn_id, value) -> dict:
    """A member's 👍 (1) or 👎 (-1) on a reply, or none (0). Returns the reply's verdicts."""
    if value not in (1, -1, 0) or isinstance(value, bool):
        raise ServiceError('A verdict is 1 (👍), -1 (👎) or 0 (none).', code="invalid")
    with transaction.atomic():
        turn = _turn(conversation, turn_id)
        if turn.role != Turn.Role.ASSISTANT:
            raise ServiceError("Only a reply can be marked 👍 or 👎.", code="invalid")
        if value == 0:
            Verdict.objects.filter(turn=turn, user=user).delete()
        else:
            Verdict.objects.update_or_create(
                turn=turn, user=user, defaults={"value": value, "conversation_id": conversation.id}
            )
        verdicts = selectors.verdicts_of(conversation.id, [turn.id]).get(turn.id, {"up": [], "down": []})
        _broadcast(conversation.id, frames.verdicts_frame(turn.id, verdicts))
    return verdicts


def preference_set(*, conversation, user, turn_id) -> Preference | None:
    """The branch (root → `turn_id`) this member prefers, replacing any other; None clears it."""
    with transaction.atomic():
        if turn_id is None:
            Preference.objects.filter(conversation_id=conversation.id, user=user).delete()
            preference = None
        else:
            turn = _turn(conversation, turn_id)
            preference, _ = Preference.objects.update_or_create(
                conversation_id=conversation.id, user=user, defaults={"turn": turn, "created_at": timezone.now()}
            )
        frame = frames.preference_frame(
            user.get_username(),
            preference.turn_id if preference else None,
            preference.created_at if preference else None,
            selectors.excerpt(turn.content, selectors.PREFERENCE_CHARS) if preference else "",
        )
        _broadcast(conversation.id, frame)
    return preference


def workspace_review_setting(*, workspace, viewers_may_review: bool) -> None:
    """Whether the workspace's viewers may comment, vote and prefer; their next action is checked
    against it (nothing is cached)."""
    type(workspace).objects.filter(pk=workspace.pk).update(viewers_may_review=viewers_may_review)
    workspace.viewers_may_review = viewers_may_review


# --- the inbox ------------------------------------------------------------------------------------


def notification_open(*, user, notification_id: int) -> Notification:
    """A notification opened by its reader: read from now on."""
    notice = selectors._readable(user).filter(pk=notification_id).select_related("comment").first()
    if notice is None:
        raise ServiceError("No such notification.", code="not_found")
    if notice.read_at is None:
        notice.read_at = timezone.now()
        notice.save(update_fields=["read_at"])
        _inbox_changed([user.pk])
    return notice


def notifications_read_all(*, user) -> int:
    with transaction.atomic():
        count = Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
        _inbox_changed([user.pk])
    return count
