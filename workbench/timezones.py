"""The browser's time zone, for what a page shows by date (the conversation list's Today,
Yesterday, ...). Pages set it in a cookie from `Intl.DateTimeFormat().resolvedOptions().timeZone`
(static/js/sidebar.js); until they have, or when the cookie names no known zone, dates are in
settings.TIME_ZONE (UTC)."""
from __future__ import annotations

import re
import zoneinfo

from django.http import HttpRequest
from django.utils import timezone
from django.utils.deprecation import MiddlewareMixin

COOKIE = "workbench_tz"
# An IANA name ("Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC"): checked
# before it reaches zoneinfo, which reads files by that name.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


def zone_named(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone an IANA name names, or None for anything else."""
    if not name or len(name) > 64 or not _NAME.fullmatch(name):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


class TimeZoneMiddleware(MiddlewareMixin):
    """Activates the time zone the browser said it is in, for this request only."""

    def process_request(self, request: HttpRequest) -> None:
        zone = zone_named(request.COOKIES.get(COOKIE))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
