"""What teammates say about a conversation: comments in threads on its turns, verdicts on its
replies, the branch each prefers, and the notifications they cause. Registered with the
`conversations` app (conversations/models.py imports this module)."""
from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

MAX_COMMENT_CHARS = 10_000


class Comment(models.Model):
    """A comment on a turn. A thread is its first comment (`thread` empty) and the replies that
    name it: one level, as in a code review."""

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="comments")
    turn = models.ForeignKey("conversations.Turn", on_delete=models.CASCADE, related_name="comments")
    thread = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies", db_index=False
    )
    author = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The name an imported comment was written under when no account here has it (or an account
    # removed since): shown instead of an author.
    author_name = models.CharField(max_length=150, blank=True)
    body = models.TextField(blank=True)
    # A default, not auto_now_add: an import keeps the time a comment was written.
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    # Deleted by its author: the body is gone; the comment stays only to hold its thread's replies.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # A thread's state, on its first comment only.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            # Every count of a conversation (per turn, open threads) reads this index alone.
            models.Index(fields=["conversation", "turn"], name="comment_by_turn"),
            models.Index(fields=["thread", "id"], name="comment_replies"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(thread__isnull=True) | Q(resolved_at__isnull=True), name="comment_only_threads_resolve"
            ),
            models.CheckConstraint(condition=~Q(thread=models.F("id")), name="comment_not_own_thread"),
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on turn {self.turn_id}"


class Verdict(models.Model):
    """One member's 👍 (+1) or 👎 (-1) on a reply; clearing it deletes the row."""

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="verdicts")
    turn = models.ForeignKey("conversations.Turn", on_delete=models.CASCADE, related_name="verdicts")
    user = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")
    # An imported verdict whose person has no account here keeps their name.
    user_name = models.CharField(max_length=150, blank=True)
    value = models.SmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["conversation", "turn"], name="verdict_by_turn")]
        constraints = [
            models.CheckConstraint(condition=Q(value__in=[1, -1]), name="verdict_value_valid"),
            models.UniqueConstraint(fields=["turn", "user"], name="verdict_once", condition=Q(user__isnull=False)),
            models.UniqueConstraint(fields=["turn", "user_name"], name="verdict_once_by_name",
                                    condition=Q(user__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.value:+d} on turn {self.turn_id}"


class Preference(models.Model):
    """The branch one member prefers (root → `turn`): at most one per member per conversation;
    preferring another replaces it."""

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="preferences")
    turn = models.ForeignKey("conversations.Turn", on_delete=models.CASCADE, related_name="preferences")
    user = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")
    user_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="preference_once",
                                    condition=Q(user__isnull=False)),
            models.UniqueConstraint(fields=["conversation", "user_name"], name="preference_once_by_name",
                                    condition=Q(user__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"preferred branch to turn {self.turn_id}"


class Notification(models.Model):
    class Kind(models.TextChoices):
        MENTION = "mention", "mentioned you"
        REPLY = "reply", "replied in your thread"

    recipient = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="notifications", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="notifications")
    # The comment's conversation, kept here so the inbox keeps to what its reader may still read
    # without a join through the comment.
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="inbox")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["mention", "reply"]), name="notification_kind_valid"),
            # One notice per comment and person: a mention in a reply to your thread is a mention.
            models.UniqueConstraint(fields=["recipient", "comment"], name="notification_once"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.get_kind_display()}"
