"""The channel-layer groups every live page joins, named in one place so that whoever sends to
a group and whoever listens agree."""
from __future__ import annotations


def conversation_group(conversation_id: int) -> str:
    """Every open socket on one conversation: its pages and its live share links."""
    return f"conversation.{conversation_id}"


def user_group(user_id: int) -> str:
    """The channel-layer group of one person's open sockets."""
    return f"user.{user_id}"


def share_group(link_id: int) -> str:
    """The channel-layer group of the sockets watching one link."""
    return f"share.{link_id}"


def maker_group(user_id: int) -> str:
    """The channel-layer group of the sockets watching any link one person made: a link works only
    while its maker may write where it points, so their access changing means checking again."""
    return f"share.by.{user_id}"


def inbox_group(user_id: int) -> str:
    """The channel-layer group of one person's own socket (/ws/me/, on every page): their inbox
    count. Apart from `user_group`, whose every member must handle every message sent to it."""
    return f"inbox.{user_id}"
