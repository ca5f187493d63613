from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from workbench.icons import ICONS, sprite

register = template.Library()


@register.simple_tag
def icon(name: str) -> SafeString:
    """A decorative icon: the control it sits in carries the words (visible or aria-label)."""
    if name not in ICONS:
        raise template.TemplateSyntaxError(f"No icon named {name!r}: add it to workbench/icons.py")
    return format_html('<svg class="icon" aria-hidden="true" focusable="false"><use href="#i-{}"></use></svg>', name)


@register.simple_tag
def icon_sprite() -> SafeString:
    return mark_safe(sprite())  # noqa: S308 (built from the vendored, checksummed SVG files)
