"""Path converters shared by every feature's urls (imported by each, so each stands alone)."""
from __future__ import annotations

from django.urls import register_converter


class IdConverter:
    """A database id: 1 to 18 ASCII digits, so an absurd number is a 404, not a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
