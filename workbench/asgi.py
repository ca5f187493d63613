"""ASGI entry point: HTTP goes to Django, websockets to Channels behind auth and an Origin check."""
from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from conversations.streaming.liveness import ensure_heartbeat  # noqa: E402
from workbench.origins import SameOriginValidator  # noqa: E402
from workbench.routing import websocket_urlpatterns  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Only pages on the very origin the socket was reached on (scheme, host and port) may open one.
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


async def application(scope, receive, send):
    # A serving process says it is alive (and ends the replies of processes that are gone) from
    # its first request on; see conversations/streaming/liveness.py.
    ensure_heartbeat()
    return await router(scope, receive, send)
