"""`{% inbox_unread as n %}`: the signed-in person's unread notifications, for the header's badge."""
from __future__ import annotations

from django import template

from conversations.review.selectors import inbox_unread as unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_unread(context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    return unread_count(user) if user is not None and user.is_authenticated else 0
