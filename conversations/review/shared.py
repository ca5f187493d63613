"""What a share link's reader sees of review: the comments on the turns it shares, read-only, when
its maker included them, under the names the maker chose (usernames, or Teammate 1, 2, … in the
order they first commented). Verdicts, preferences and mentions are for members only. The comments
are as they are when the page is opened, also for a snapshot; a live link's page does not receive
new ones as they are written (its socket carries turns only)."""
from __future__ import annotations

from collections.abc import Iterable

from conversations.models import ShareLink
from conversations.review.frames import author_name
from conversations.review.models import Comment
from conversations.review.selectors import threads_by_turn


def _teammates():
    numbers: dict[str, int] = {}

    def name(comment: Comment) -> str:
        own = comment.author_id and not comment.author_name
        key = f"user:{comment.author_id}" if own else f"name:{author_name(comment)}"
        numbers.setdefault(key, len(numbers) + 1)
        return f"Teammate {numbers[key]}"

    return name


def shared_comments(link: ShareLink, turn_ids: Iterable[int]) -> dict[int, list[dict]] | None:
    """The shared turns' threads for the reader, or None when the link does not include comments."""
    if not link.include_comments:
        return None
    names = _teammates() if link.comment_names == ShareLink.CommentNames.TEAMMATES else None
    threads = threads_by_turn(conversation_id=link.conversation_id, turn_ids=turn_ids, names=names)
    for turn_threads in threads.values():
        for thread in turn_threads:
            if names is not None:
                thread["resolved_by"] = None
            thread.pop("imported", None)
            for reply in thread["replies"]:
                reply.pop("imported", None)
    return threads
