"""The fake upstream, run on the load generator's own event loop, stamping each reply's first token.

tests/fake_upstream.py is used as it is: a subclass records, on the same clock as the clients
(`time.perf_counter`), when each request arrived and when its first content token was written,
keyed by the request's last user message (every benchmark prompt is unique).
"""
from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.fake_upstream import FakeUpstream

TOKENS = 200
INTERVAL = 0.005
FIRST_TOKEN_DELAY = 0.050


class _Stamped:
    """An encoder that notes the moment its first delta is made (just before it is written)."""

    def __init__(self, encoder: Any, record: dict) -> None:
        self._encoder = encoder
        self._record = record

    def delta(self, token: str) -> bytes:
        if "t_first_token" not in self._record:
            self._record["t_first_token"] = time.perf_counter()
        return self._encoder.delta(token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)


def _last_user(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


class TimedUpstream(FakeUpstream):
    """FakeUpstream served from the calling event loop, with per-request timestamps."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("tokens", TOKENS)
        kwargs.setdefault("interval", INTERVAL)
        kwargs.setdefault("first_token_delay", FIRST_TOKEN_DELAY)
        super().__init__(**kwargs)
        self.by_prompt: dict[str, dict] = {}
        self._runner: web.AppRunner | None = None

    def _record(self, request: web.Request) -> dict[str, Any]:
        record = super()._record(request)
        record["t_arrival"] = time.perf_counter()
        return record

    async def _stream(self, request, rec, plan, enc, headers):
        self.by_prompt[_last_user(rec.get("json"))] = rec
        return await super()._stream(request, rec, plan, _Stamped(enc, rec), headers)

    async def serve(self) -> str:
        """Serve on the running loop; returns the base URL."""
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._bind, self.port, backlog=4096)
        await site.start()
        self._bound_port = self._runner.addresses[0][1]
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._bound_port = None

    def forget(self) -> None:
        self.by_prompt.clear()
        self.reset()
