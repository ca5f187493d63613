"""How often one client may fail to sign in.

Failed sign-ins are counted and locked out by django-axes (configured in settings: AXES_*); this
module gives it the client's address and the page a locked-out person sees.
"""
from __future__ import annotations

import ipaddress
import math
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the lockout counts it (AXES_CLIENT_IP_CALLABLE).

    From the header named by CLIENT_IP_HEADER when the workbench is behind a proxy that sets it,
    else the connection's own address. An IPv6 address stands for its /64: one subscriber is
    usually given a whole /64, and could otherwise take a fresh address for every attempt.
    """
    address = None
    if settings.CLIENT_IP_HEADER:
        header = request.META.get("HTTP_" + settings.CLIENT_IP_HEADER.upper().replace("-", "_"), "")
        # A proxy that appends to the header (X-Forwarded-For) adds the address it saw last;
        # whatever comes before it was sent by the client and proves nothing.
        address = _address(header.rsplit(",", 1)[-1])
    if address is None:
        address = _address(request.META.get("REMOTE_ADDR") or "")
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False).network_address)
    return str(address)


def _minutes(duration: timedelta) -> str:
    minutes = max(1, math.ceil(duration.total_seconds() / 60))
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def login_lockout_response(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The sign-in page with the reason it refused, answered 429 (AXES_LOCKOUT_CALLABLE).

    Each attempt while locked out starts the cool-off again, so the whole cool-off is the wait.
    `response` and `credentials` are axes' arguments; the page needs neither.
    """
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    locked = render(
        request,
        "registration/login.html",
        {
            "form": form,
            "next": request.POST.get("next", ""),
            "lockout": f"Too many failed sign-in attempts. Try again in {_minutes(cool_off)}.",
        },
        status=429,
    )
    locked["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return locked
