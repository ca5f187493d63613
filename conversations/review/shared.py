"""What a share link's reader sees of review: the comments on the turns it shares, read-only, when
its maker included them, under the names the maker chose (usernames, or Teammate 1, 2, … in the
order they first commented on what the link shares). Verdicts, preferences and mentions are for
members only.

The page holds the comments as they are when it is opened (also for a snapshot). A live link's
socket then relays each comment made, edited, deleted, resolved or reopened on a shared turn, built
here with the same names as the page, for as long as the link works and includes comments."""
from __future__ import annotations

from collections.abc import Iterable

from conversations.models import ShareLink
from conversations.review.frames import author_name, comment_frame
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


def _for_reader(payload: dict, *, teammates: bool) -> dict:
    """A comment as a reader may see it: no word of imports, and no real name of who resolved its
    thread when authors are Teammate N."""
    payload.pop("imported", None)
    if teammates:
        payload["resolved_by"] = None
    return payload


def shared_comments(link: ShareLink, turn_ids: Iterable[int]) -> dict[int, list[dict]] | None:
    """The shared turns' threads for the reader, or None when the link does not include comments."""
    if not link.include_comments:
        return None
    teammates = link.comment_names == ShareLink.CommentNames.TEAMMATES
    threads = threads_by_turn(
        conversation_id=link.conversation_id, turn_ids=turn_ids, names=_teammates() if teammates else None
    )
    for turn_threads in threads.values():
        for thread in turn_threads:
            _for_reader(thread, teammates=teammates)
            for reply in thread["replies"]:
                _for_reader(reply, teammates=teammates)
    return threads


def shared_comment_frame(link: ShareLink, comment_id: int, turn_ids: set[int] | None, turn: dict) -> dict | None:
    """The `review.comment` frame a live link's reader gets for a comment that changed on one of
    `turn_ids` (None: the whole conversation), named as on the page; None when the link does not
    include comments or the comment is not on a shared turn. `turn` is the members' frame's counts."""
    if not link.include_comments:
        return None
    rows = Comment.objects.filter(conversation_id=link.conversation_id)
    if turn_ids is not None:
        rows = rows.filter(turn_id__in=list(turn_ids))
    comment = rows.select_related("author", "resolved_by").filter(pk=comment_id).first()
    if comment is None:
        return None
    teammates = link.comment_names == ShareLink.CommentNames.TEAMMATES
    name = None
    if teammates:
        # Numbered as the page numbers them: every comment on the shared turns, oldest first.
        names = _teammates()
        for earlier in rows.filter(pk__lt=comment.pk).only("id", "author_id", "author_name").order_by("id"):
            names(earlier)
        name = names(comment)
    frame = comment_frame(comment, {"id": turn["id"], "comments": turn["comments"], "open": turn["open"]}, name=name)
    _for_reader(frame["comment"], teammates=teammates)
    return frame
