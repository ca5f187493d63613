"""Reads for the conversation list: a workspace's conversations by last activity (updated_at),
grouped by date in the reader's time zone (Today, Yesterday, Previous 7 days, Previous 30 days,
then by month), read page by page, with the reader's own pins in a group of their own on top.

Pages are read from a keyset cursor on (updated_at, id), never by offset: page 50 of a long list
costs what page 1 does (the conversation_list index serves the order and the cursor's range), and
a conversation that moves while someone pages is neither skipped nor shown twice within a page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from conversations.models import Conversation, ConversationPin

PAGE_SIZE = 50
# Pins are few by nature; the list shows at most this many of them.
PINNED_LIMIT = 100
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR = re.compile(r"(\d{1,18})-(\d{1,19})")


class BadCursor(ValueError):
    """A cursor this list never gave out."""


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's (updated_at, id). Written `<microseconds since 1970>-<id>`:
    exact, unlike a float timestamp."""

    updated_at: datetime
    id: int

    def __str__(self) -> str:
        return f"{(self.updated_at - _EPOCH) // _MICROSECOND}-{self.id}"

    @classmethod
    def parse(cls, raw: str) -> Cursor:
        match = _CURSOR.fullmatch(raw)
        if match is None:
            raise BadCursor(
                f"{raw[:40]!r} is not a list position: ?before= takes the one a \"Load more\" link gives "
                "(<microseconds>-<conversation id>)."
            )
        try:
            moment = _EPOCH + int(match[1]) * _MICROSECOND
        except OverflowError:
            raise BadCursor(f"{raw[:40]!r} is past any date this list can hold.") from None
        return cls(moment, int(match[2]))


@dataclass(frozen=True)
class Row:
    id: int
    title: str
    updated_at: datetime
    pinned: bool = False


@dataclass
class Group:
    key: str  # "pinned", "today", "yesterday", "week", "month", or "2026-11"
    label: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class ConversationList:
    workspace_id: int
    groups: list[Group]
    more: Cursor | None  # where the next page starts, if there is one
    time_zone: str  # the IANA name the dates were grouped in
    first_page: bool
    can_write: bool  # rename
    can_manage: bool  # delete


def now() -> datetime:
    """The list's clock (tests set it)."""
    return timezone.now()


def date_group(moment: datetime, *, today: date, zone) -> tuple[str, str]:
    """The group of a conversation last active at `moment`, seen on `today` in `zone`:
    (key, label). Days are calendar days in `zone`; a moment ahead of the clock is Today."""
    day = moment.astimezone(zone).date()
    age = (today - day).days
    if age <= 0:
        return "today", "Today"
    if age == 1:
        return "yesterday", "Yesterday"
    if age <= 7:
        return "week", "Previous 7 days"
    if age <= 30:
        return "month", "Previous 30 days"
    return f"{day.year:04d}-{day.month:02d}", f"{MONTHS[day.month - 1]} {day.year}"


def _grouped(rows: list[Row], *, today: date, zone) -> list[Group]:
    groups: list[Group] = []
    for row in rows:
        key, label = date_group(row.updated_at, today=today, zone=zone)
        if not groups or groups[-1].key != key:
            groups.append(Group(key, label))
        groups[-1].rows.append(row)
    return groups


def conversation_page(*, user, workspace_id: int, before: Cursor | None = None, limit: int = PAGE_SIZE):
    """One page of the workspace's conversations that `user` has not pinned, newest activity first,
    after `before`; and the cursor of the next page (None on the last). The caller has checked
    that `user` may read the workspace."""
    rows = Conversation.objects.filter(workspace_id=workspace_id).exclude(pins__user=user)
    if before is not None:
        # The first condition alone is a range the index seeks to; the second settles ties.
        rows = rows.filter(updated_at__lte=before.updated_at).filter(
            Q(updated_at__lt=before.updated_at) | Q(id__lt=before.id)
        )
    found = [
        Row(id=pk, title=title, updated_at=updated_at)
        for pk, title, updated_at in rows.order_by("-updated_at", "-id").values_list("id", "title", "updated_at")[
            : limit + 1
        ]
    ]
    more = Cursor(found[limit - 1].updated_at, found[limit - 1].id) if len(found) > limit else None
    return found[:limit], more


def pinned_rows(*, user, workspace_id: int) -> list[Row]:
    """The conversations of the workspace `user` pinned, latest pin first."""
    pins = (
        ConversationPin.objects.filter(user=user, conversation__workspace_id=workspace_id)
        .order_by("-pinned_at", "-id")
        .values_list("conversation_id", "conversation__title", "conversation__updated_at")[:PINNED_LIMIT]
    )
    return [Row(id=pk, title=title, updated_at=updated_at, pinned=True) for pk, title, updated_at in pins]


def conversation_list(
    *, user, workspace_id: int, can_write: bool, can_manage: bool, before: Cursor | None = None
) -> ConversationList:
    """What the list shows: on the first page the pins, then a page of conversations grouped by
    date in the time zone active for this request (see workbench/timezones.py)."""
    zone = timezone.get_current_timezone()
    today = timezone.localtime(now(), zone).date()
    rows, more = conversation_page(user=user, workspace_id=workspace_id, before=before)
    groups = _grouped(rows, today=today, zone=zone)
    if before is None:
        pinned = pinned_rows(user=user, workspace_id=workspace_id)
        if pinned:
            groups.insert(0, Group("pinned", "Pinned", pinned))
    return ConversationList(
        workspace_id=workspace_id,
        groups=groups,
        more=more,
        time_zone=getattr(zone, "key", str(zone)),
        first_page=before is None,
        can_write=can_write,
        can_manage=can_manage,
    )
