"""The Permissions-Policy header, which Django has no setting for."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin


def permissions_policy_header(policy: dict[str, list[str]]) -> str:
    """`{"camera": [], "fullscreen": ["self"]}` as `camera=(), fullscreen=(self)`."""
    return ", ".join(f"{feature}=({' '.join(allowed)})" for feature, allowed in policy.items())


class PermissionsPolicyMiddleware(MiddlewareMixin):
    """Sends settings.PERMISSIONS_POLICY on every response that does not set its own.
    MiddlewareMixin keeps the stack asynchronous under daphne."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        policy = getattr(settings, "PERMISSIONS_POLICY", None)
        if policy:
            response.headers.setdefault("Permissions-Policy", permissions_policy_header(policy))
        return response
