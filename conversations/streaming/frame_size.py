"""How long a frame may be: what the consumers read, what daphne takes in, and a system check that
every frame within the limits fits under daphne's ceiling."""
from __future__ import annotations

from django.conf import settings as django_settings
from django.core import checks

from conversations.services import MAX_VARIANTS

# The longest websocket message daphne takes in: its default --websocket-max-message-size (and
# --websocket-max-frame-size). daphne fails a longer one by dropping the TCP connection, without a
# close frame, so nothing reaches the consumer and the page sees only a lost connection; daphne has
# no public setting to answer it with close code 1009 instead.
DAPHNE_MAX_MESSAGE_BYTES = 1024 * 1024
# What one character of a text takes in the frame the page sends, at most: JSON.stringify writes
# any UTF-16 code unit in 3 bytes of UTF-8 or fewer, escaped quotes and line breaks included (only
# the other C0 control characters, written as \u00XX, take more).
FRAME_BYTES_PER_CHARACTER = 3
# The JSON around the texts of a fan-out: action, ids, request id, and each variant's model and numbers.
FRAME_ENVELOPE_BYTES = 10_000


def frame_limit() -> int:
    """The longest frame read, in characters. A fan-out carries the system prompt once per
    variant, and JSON escaping can double text."""
    return (
        2 * (django_settings.MAX_MESSAGE_CHARS + MAX_VARIANTS * django_settings.MAX_SYSTEM_PROMPT_CHARS)
        + 10_000
    )


def frame_ceiling() -> int:
    """The longest frame the server takes in at all, in bytes: daphne's own ceiling. Anything
    longer never reaches the consumer (see DAPHNE_MAX_MESSAGE_BYTES)."""
    return DAPHNE_MAX_MESSAGE_BYTES


def largest_page_frame() -> int:
    """The most bytes a frame the page sends within the limits can take: the longest message and
    MAX_VARIANTS system prompts at their longest (the page repeats it in every variant)."""
    texts = django_settings.MAX_MESSAGE_CHARS + MAX_VARIANTS * django_settings.MAX_SYSTEM_PROMPT_CHARS
    return FRAME_BYTES_PER_CHARACTER * texts + FRAME_ENVELOPE_BYTES


def check_frames_fit(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A system check: every frame within the limits must fit under daphne's ceiling, so that the
    consumer reads it and answers it, instead of daphne dropping the connection without a word."""
    largest, ceiling = largest_page_frame(), frame_ceiling()
    if largest <= ceiling:
        return []
    return [
        checks.Warning(
            f"With WORKBENCH_MAX_MESSAGE_CHARS={django_settings.MAX_MESSAGE_CHARS} and "
            f"WORKBENCH_MAX_SYSTEM_PROMPT_CHARS={django_settings.MAX_SYSTEM_PROMPT_CHARS}, a send to "
            f"{MAX_VARIANTS} models can take {largest:,} bytes, more than the {ceiling:,} daphne takes in "
            "by default: daphne drops such a connection, and the page only says it was lost.",
            hint="Lower those limits, or run daphne with --websocket-max-message-size and "
            f"--websocket-max-frame-size of at least {largest} (this check cannot see daphne's options).",
            id="workbench.W001",
        )
    ]
