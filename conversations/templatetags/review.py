"""`{% inbox_unread as n %}`: the signed-in person's unread notifications, for the header's badge."""
from __future__ import annotations

import re

from django import template

from conversations.review.selectors import inbox_unread as unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_unread(context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    return unread_count(user) if user is not None and user.is_authenticated else 0


_MARKUP = re.compile(r"[*_`~]+|^#+\s*|^>\s*|\[([^\]]*)\]\([^)]*\)", re.MULTILINE)


@register.filter
def plain(text: str) -> str:
    """A comment's Markdown as a line of text, for an excerpt: no emphasis marks, links as their words."""
    return " ".join(_MARKUP.sub(lambda m: m.group(1) or "", text or "").split())
