"""Workspaces and their members: writes (one transaction each) and the reads that list them.

Everyone has a personal workspace, theirs alone. Team workspaces have owners, editors and viewers;
owners invite people by username or email, change roles and remove members. A workspace always
keeps at least one owner. Sockets of someone whose access changed are told at once, so an open
page loses what it may no longer see, and so are the sockets watching the links they made: a link
works only while its maker may write in the workspace (see `permissions.share_for`).
"""
from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery

from conversations.errors import ServiceError
from conversations.models import Membership, Workspace
from conversations.streaming.groups import user_group
from conversations.validation import clean_line
from conversations.workspaces import signals

ROLES = [choice.value for choice in Membership.Role]


def access_changed(user_id: int) -> None:
    """Tell the person's open sockets, and those watching the links they made, to check access
    again (after the commit)."""

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(user_group(user_id), {"type": "access.changed"})

    transaction.on_commit(send)
    signals.access_changed.send(sender=Membership, user_id=user_id)


def personal_workspace(user) -> Workspace:
    """The user's personal workspace, made on first use."""
    workspace = Workspace.objects.filter(personal_of=user).first()
    if workspace is not None:
        return workspace
    with transaction.atomic():
        workspace, created = Workspace.objects.get_or_create(personal_of=user, defaults={"name": "Personal"})
        if created:
            Membership.objects.create(workspace=workspace, user=user, role=Membership.Role.OWNER)
    return workspace


def workspaces_for(user):
    """The workspaces `user` belongs to, personal first, each with `role` and `member_count`."""
    personal_workspace(user)
    # A subquery, not Count("memberships"): that would reuse the join filtered to `user` and count 1.
    member_count = (
        Membership.objects.filter(workspace=OuterRef("pk"))
        .order_by()
        .values("workspace")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Workspace.objects.filter(memberships__user=user)
        .annotate(role=F("memberships__role"), member_count=Subquery(member_count))
        .order_by(F("personal_of").asc(nulls_last=True), "name", "id")
    )


def members_of(workspace: Workspace):
    return workspace.memberships.select_related("user").order_by("user__username")


def _name(value: str) -> str:
    """Raises ServiceError for a name that is too long or not valid Unicode: refused, never cut."""
    name = clean_line(value, field="The workspace name", limit=Workspace._meta.get_field("name").max_length)
    if not name:
        raise ServiceError("Give the workspace a name.", code="invalid")
    return name


def workspace_create(*, owner, name: str) -> Workspace:
    with transaction.atomic():
        workspace = Workspace.objects.create(name=_name(name))
        Membership.objects.create(workspace=workspace, user=owner, role=Membership.Role.OWNER)
    return workspace


def workspace_rename(*, workspace: Workspace, name: str) -> None:
    workspace.name = _name(name)
    workspace.save(update_fields=["name"])


# The longest username or email that can name an account (Django's email field holds 254).
MAX_WHO_CHARS = 254


def _check_role(role: str) -> None:
    if role not in ROLES:
        shown = role if len(role) <= 20 else role[:20] + "…"
        raise ServiceError(f"Role {shown!r} is not one of {', '.join(ROLES)}.", code="invalid")


def member_invite(*, workspace: Workspace, who: str, role: str) -> Membership:
    """Add the account with username or email `who` to the workspace with `role`."""
    _check_role(role)
    if workspace.personal_of_id is not None:
        raise ServiceError(
            "A personal workspace is yours alone: create a team workspace to invite people.", code="invalid"
        )
    who = who.strip()
    if not who:
        raise ServiceError("Name the person to invite: their username or email.", code="invalid")
    if len(who) > MAX_WHO_CHARS:
        # Longer than any username or email, and a LIKE pattern that long is an error on SQLite.
        raise ServiceError(
            f"That is {len(who):,} characters; a username or email has at most {MAX_WHO_CHARS}.", code="too_large"
        )
    users = get_user_model().objects.filter(Q(username__iexact=who) | Q(email__iexact=who))[:2]
    if len(users) != 1:
        raise ServiceError(
            f"No single account has the username or email {who[:100]!r}. Ask them to sign up "
            "first, then invite them by their username.",
            code="not_found",
        )
    user = users[0]
    with transaction.atomic():
        existing = Membership.objects.select_for_update().filter(workspace=workspace, user=user).first()
        if existing is not None:
            raise ServiceError(
                f"{user.username} is already {existing.role} here: change their role instead.", code="exists"
            )
        membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    access_changed(user.pk)
    return membership


def _keeps_an_owner(workspace: Workspace, membership: Membership, new_role: str | None) -> None:
    if membership.role != Membership.Role.OWNER or new_role == Membership.Role.OWNER:
        return
    owners = Membership.objects.filter(workspace=workspace, role=Membership.Role.OWNER).count()
    if owners <= 1:
        raise ServiceError(
            "A workspace needs at least one owner: make someone else an owner first.", code="last_owner"
        )


def _membership(workspace: Workspace, membership_id: int) -> Membership:
    membership = Membership.objects.select_for_update().filter(pk=membership_id, workspace=workspace).first()
    if membership is None:
        raise ServiceError("That person is not a member of this workspace.", code="not_found")
    return membership


def member_set_role(*, workspace: Workspace, membership_id: int, role: str) -> Membership:
    _check_role(role)
    with transaction.atomic():
        membership = _membership(workspace, membership_id)
        _keeps_an_owner(workspace, membership, role)
        membership.role = role
        membership.save(update_fields=["role"])
    access_changed(membership.user_id)
    return membership


def member_remove(*, workspace: Workspace, membership_id: int) -> None:
    with transaction.atomic():
        membership = _membership(workspace, membership_id)
        if workspace.personal_of_id == membership.user_id:
            raise ServiceError("Nobody can be removed from their own personal workspace.", code="invalid")
        _keeps_an_owner(workspace, membership, None)
        membership.delete()
    access_changed(membership.user_id)
