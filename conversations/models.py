"""Conversations are trees of turns: an adjacency list on Turn.parent, only ever appended to."""
from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q

from conversations.tree import TurnQuerySet


class Conversation(models.Model):
    class TitleSource(models.TextChoices):
        """Where the title came from, which decides whether the model may still replace it."""

        OTHER = "", "given when it was made (a fork, an import)"
        USER = "user", "typed by a person: never replaced"
        PROMPT = "prompt", "the first prompt, for good (automatic titles off, or the model made none)"
        PENDING = "pending", "the first prompt, until the model's title comes after the first reply"
        TITLING = "titling", "the first prompt, while the model is asked for a title"
        MODEL = "model", "made by the conversation's model from the first prompt"

    # The workspace it lives in decides who may see and change it.
    workspace = models.ForeignKey("Workspace", on_delete=models.CASCADE, related_name="conversations")
    # Who created it.
    owner = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    title_source = models.CharField(max_length=16, choices=TitleSource.choices, blank=True, default="")
    # The latest reply anyone asked for: where the conversation opens unless a main line is set.
    current_turn = models.ForeignKey(
        "Turn", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The tip of the branch starred as the main line: the conversation opens on it.
    main_turn = models.ForeignKey(
        "Turn", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The turn of another conversation this one was forked from (its path was copied).
    forked_from = models.ForeignKey(
        "Turn", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="conversation_recent"),
            # A workspace's list, newest activity first, read page by page from a (updated_at, id)
            # cursor: the id breaks ties, so no conversation is skipped or shown twice.
            models.Index(fields=["workspace", "-updated_at", "-id"], name="conversation_list"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(title_source__in=["", "user", "prompt", "pending", "titling", "model"]),
                name="conversation_title_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class Turn(models.Model):
    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        COMPLETE = "complete"
        STREAMING = "streaming"
        STOPPED = "stopped"
        INTERRUPTED = "interrupted"
        ERROR = "error"

    objects = TurnQuerySet.as_manager()

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    # Indexed by turn_children below, together with id.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        db_index=False,
    )
    # Where the turn sits in its tree (see lineage.py): its distance from the root, and the first
    # turn of its chain (empty for a turn that starts one).
    depth = models.PositiveIntegerField(default=0)
    chain = models.BigIntegerField(null=True, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    # The model's reasoning for a reply (its thinking, or the summary its API gives), never part of
    # `content`: shown apart, and never sent to a model as text.
    reasoning = models.TextField(blank=True)
    # The reasoning as the API must get it back to continue the branch (see providers/base.py:
    # ReasoningBlock), in the order it came; sent only to the provider that made it.
    reasoning_blocks = models.JSONField(default=list, blank=True)
    # Output tokens spent on reasoning, when the API reports them apart (included in output_tokens).
    reasoning_tokens = models.PositiveIntegerField(null=True, blank=True)
    # Seconds from the request to the answer's first text, for a reply that reasoned first.
    reasoning_seconds = models.FloatField(null=True, blank=True)
    # The model refused: `content` is its refusal.
    refused = models.BooleanField(default=False)
    # A prompt's attached files, in the order given, as conversations/attachments/ describes them
    # ({"sha256", "name", "kind", "media_type", "size", ...}); set when the turn is made, never
    # changed. `blobs` holds the stored files they name (see attachments/services.py: link_blobs).
    attachments = models.JSONField(default=list, blank=True)
    blobs: models.ManyToManyField = models.ManyToManyField("Blob", related_name="turns", blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    provider = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=200, blank=True)
    # The generation settings the reply was made with: system prompt, temperature, max tokens.
    settings = models.JSONField(default=dict, blank=True)
    # Tokens of `content` in each offline encoding, counted once when the text is final:
    # {"o200k_base": n, "cl100k_base": m}. Empty while a reply streams.
    token_counts = models.JSONField(default=dict, blank=True)
    # Usage of a reply: reported by the provider, or counted here when it reported none (a stopped
    # or failed reply) and then flagged as estimated.
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    usage_estimated = models.BooleanField(default=False)
    # What the reply cost in US dollars at the catalogue's prices when it finished; null when the
    # model has no price.
    cost = models.DecimalField(max_digits=16, decimal_places=10, null=True, blank=True)
    # How a reply's request was fitted into the model's window: the turns of the branch that were
    # left out, the estimated input tokens, the window and the reply budget.
    context = models.JSONField(default=dict, blank=True)
    response_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    # The server process streaming this reply (see streaming/liveness.py); a reply is only marked
    # interrupted once that process is gone.
    owner_process = models.CharField(max_length=32, blank=True)
    author = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    first_token_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Children of a turn in creation order: siblings, and the walk down to a leaf.
            models.Index(fields=["parent", "id"], name="turn_children"),
            models.Index(
                fields=["conversation", "id"], condition=Q(parent__isnull=True), name="turn_roots"
            ),
            models.Index(
                fields=["status"], condition=Q(status="streaming"), name="turn_streaming"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["system", "user", "assistant"]), name="turn_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["complete", "streaming", "stopped", "interrupted", "error"]
                ),
                name="turn_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(role="assistant") | Q(status="complete"),
                name="turn_only_replies_stream",
            ),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="turn_not_own_parent"
            ),
            # A chain is a line: one turn per depth. Its index serves the path query.
            models.UniqueConstraint(fields=["chain", "depth"], name="turn_chain_depth"),
        ]

    def __str__(self) -> str:
        return f"{self.role} turn {self.pk}"

    def save(self, *args, **kwargs) -> None:
        if self._state.adding and self.parent_id is not None and not self.depth:
            # A child at depth 0 would read as a root and break every path through it.
            raise ValueError("A turn with a parent is placed in its tree: create it with Turn.objects.append().")
        super().save(*args, **kwargs)


class ConversationPin(models.Model):
    """A conversation one person keeps at the top of their list.

    Per person, not per conversation: a team workspace is shared, and one member pinning what they
    work on must not rearrange everyone else's list. A viewer may pin too: it changes nothing
    anyone else sees."""

    # Indexed by pin_once below, together with the conversation.
    user = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_pins", db_index=False
    )
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="pins")
    pinned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Its index also serves "is this conversation pinned by this person?".
            models.UniqueConstraint(fields=["user", "conversation"], name="pin_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} pinned {self.conversation}"


class Workspace(models.Model):
    """Where conversations live. Everyone has a personal one; teams share others."""

    name = models.CharField(max_length=100)
    # The user whose personal workspace this is (None for a team workspace).
    personal_of = models.OneToOneField(
        django_settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="personal_workspace",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Whether viewers may comment, vote and prefer a branch (owners and editors always may).
    viewers_may_review = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"  # everything, including members, sharing and deleting
        EDITOR = "editor"  # read, branch, send
        VIEWER = "viewer"  # read, fork into their own workspace

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_once"),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "editor", "viewer"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.workspace}"


class ShareLink(models.Model):
    """A link to a conversation or a branch of it: a frozen snapshot or live, for anyone with the
    link or for signed-in members of the workspace only."""

    class Mode(models.TextChoices):
        SNAPSHOT = "snapshot"
        LIVE = "live"

    class Audience(models.TextChoices):
        ANYONE = "anyone"
        MEMBERS = "members"

    class CommentNames(models.TextChoices):
        USERNAMES = "usernames", "their usernames"
        TEAMMATES = "teammates", "Teammate 1, Teammate 2, …"

    # From `secrets`, 256 bits, unrelated to any id.
    token = models.CharField(max_length=64, unique=True)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="share_links")
    # The branch root → turn, or None for the whole conversation.
    turn = models.ForeignKey(Turn, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    with_subtree = models.BooleanField(default=False)
    # Whether readers see the replies' reasoning; the sharer chooses, and it is off by default.
    include_reasoning = models.BooleanField(default=False)
    # Whether readers see the comments (read-only), and under which names; off by default.
    include_comments = models.BooleanField(default=False)
    comment_names = models.CharField(max_length=16, choices=CommentNames.choices, default=CommentNames.TEAMMATES)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    audience = models.CharField(max_length=16, choices=Audience.choices)
    # A snapshot's turns as they were when the link was made; empty for a live link.
    snapshot = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    views = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["created_by", "-created_at"], name="share_links_of_user")]
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=["snapshot", "live"]), name="share_mode_valid"),
            models.CheckConstraint(
                condition=Q(audience__in=["anyone", "members"]), name="share_audience_valid"
            ),
            models.CheckConstraint(
                condition=Q(comment_names__in=["usernames", "teammates"]), name="share_comment_names_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mode} link to {self.conversation}"


class ServerProcess(models.Model):
    """A running server process, known by the heartbeat it writes (see streaming/liveness.py)."""

    id = models.CharField(max_length=32, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"process {self.pid} on {self.hostname}"


class SignupWindow(models.Model):
    """Accounts created from one client address since `started`: the sign-up limit's count
    (see accounts/throttling.py). One row per address that ever created an account; a window that has
    ended is started again in place by that address's next sign-up."""

    client = models.GenericIPAddressField(unique=True)
    started = models.DateTimeField()
    accounts = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.accounts} sign-ups from {self.client} since {self.started}"


# Review's and attachments' models live with their features and belong to this app.
from conversations.attachments.models import Blob, Upload  # noqa: E402
from conversations.review.models import Comment, Notification, Preference, Verdict  # noqa: E402

__all__ = [
    "Blob", "Comment", "Conversation", "ConversationPin", "Membership", "Notification", "Preference",
    "ServerProcess", "ShareLink", "SignupWindow", "Turn", "Upload", "Verdict", "Workspace",
]
