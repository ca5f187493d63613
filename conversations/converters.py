"""Path converters shared by every feature's urls (imported by each, so each stands alone), and
the URL templates the pages' JavaScript fills in."""
from __future__ import annotations

import re

from django.urls import register_converter, reverse


class IdConverter:
    """A database id: 1 to 18 ASCII digits, so an absurd number is a 404, not a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")


def url_template(name: str, *slots: str, **known: object) -> str:
    """The URL `name` for the page's JavaScript, with the ids it cannot know yet as named slots.

    `url_template("branch_json", "turn_id", conversation_id=12)` is "/c/12/t/{turn_id}/branch.json";
    static/js/urls.js (`fillUrl`) fills the slots. Each slot is reversed with a sentinel that the id
    converter accepts but that no id is written as (18 digits with leading zeros: `str(int)` never
    has them), and that whole path segment becomes "{slot}". A reversed URL percent-encodes any
    brace of its own, so the page can read every "{...}" as a slot.
    """
    sentinels = {slot: f"{index:018d}" for index, slot in enumerate(slots)}
    url = reverse(name, kwargs={**known, **sentinels})
    for slot, sentinel in sentinels.items():
        segment = re.compile(rf"(?<=/){sentinel}(?=/|$)")
        url, found = segment.subn("{" + slot + "}", url)
        if found != 1:
            raise ValueError(f"{name}: the slot {slot} is not one path segment of {url}")
    return url
