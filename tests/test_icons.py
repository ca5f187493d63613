"""The icon sprite: every listed icon is a vendored Lucide SVG, drawn once per page."""
from __future__ import annotations

import re

import pytest
from django.template import Context, Template, TemplateSyntaxError

from workbench.icons import ICONS, sprite


def test_the_sprite_has_a_symbol_for_every_listed_icon():
    symbols = re.findall(r'<symbol id="i-([a-z0-9-]+)" viewBox="0 0 24 24">', sprite())
    assert symbols == list(ICONS)
    assert "<script" not in sprite() and "license" not in sprite().lower()


def test_the_icon_tag_points_at_the_sprite_and_hides_itself_from_screen_readers():
    html = Template('{% load icons %}{% icon "copy" %}').render(Context())
    assert html == '<svg class="icon" aria-hidden="true" focusable="false"><use href="#i-copy"></use></svg>'


def test_an_unknown_icon_is_a_template_error_that_names_it():
    with pytest.raises(TemplateSyntaxError, match="'no-such-icon'"):
        Template('{% load icons %}{% icon "no-such-icon" %}').render(Context())


@pytest.mark.django_db
def test_every_page_carries_the_sprite_once(client):
    html = client.get("/accounts/login/").content.decode()
    assert html.count('class="icon-sprite"') == 1
    assert 'id="i-menu"' in html
