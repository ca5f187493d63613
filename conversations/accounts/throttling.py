"""How often one client may fail to sign in and create accounts.

Failed sign-ins are counted and locked out by django-axes (configured in settings: AXES_*); this
module gives it the client's address and the page a locked-out person sees. Sign-ups are counted
here, in the database, so the limit holds across server processes.
"""
from __future__ import annotations

import ipaddress
import math
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from conversations.models import SignupWindow

# Sign-ups from a client whose address is unknown (a server on a UNIX socket with no proxy header
# configured) are counted together, under the unspecified address, rather than not at all.
UNKNOWN_CLIENT = "::"


class SignupLimitReached(Exception):
    """Refused: the client has created as many accounts as the window allows."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        super().__init__(
            "Too many accounts have been created from your network. "
            f"Try again in {_minutes(retry_after)}."
        )


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the limits count it (AXES_CLIENT_IP_CALLABLE, and sign-ups).

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


def account_create(*, user: AbstractBaseUser, client: str | None) -> None:
    """Save a new account, unless its client has created SIGNUP_LIMIT already in this window.

    One transaction: the client's window row is locked while it is counted, so sign-ups racing on
    several processes cannot all see room for one more; refused, nothing is written.
    Raises SignupLimitReached.
    """
    with transaction.atomic():
        if settings.SIGNUP_LIMIT:
            _signup_count(client or UNKNOWN_CLIENT)
        user.save()


def _signup_count(client: str) -> None:
    now = timezone.now()
    window = timedelta(minutes=settings.SIGNUP_WINDOW_MINUTES)
    counted, _ = SignupWindow.objects.select_for_update().get_or_create(
        client=client, defaults={"started": now}
    )
    if counted.started <= now - window:
        # Reset in place: one row per address, and a sign-up locks no row but its own.
        counted.started, counted.accounts = now, 0
    if counted.accounts >= settings.SIGNUP_LIMIT:
        raise SignupLimitReached(counted.started + window - now)
    counted.accounts += 1
    counted.save(update_fields=["started", "accounts"])
