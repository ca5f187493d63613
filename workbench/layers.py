"""The channel layer of a single process (the embedded default).

channels' InMemoryChannelLayer sweeps every queue and every group membership for expired entries on
each receive. Every open socket receives after every frame it is sent, so with N sockets streaming
a sweep runs N times per frame over N channels: the cost grows with the square of the sockets.
Here the sweep runs at most once a second; an expired message (60 s old by default) or membership
lingers for up to a second more, which nothing can tell apart.
"""
from __future__ import annotations

from time import monotonic

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

SWEEP_SECONDS = 1.0


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _clean_expired(self) -> None:
        now = monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_SECONDS
        super()._clean_expired()
