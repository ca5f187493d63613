"""The embedded channel layer is channels' own in-memory layer: messages left on a socket that is
gone expire, and the socket leaves its groups, so nothing piles up for it."""
from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer


async def test_expired_messages_are_dropped_with_their_memberships(monkeypatch):
    layer = InMemoryChannelLayer(expiry=60)
    await layer.group_add("g", "gone")
    await layer.group_add("g", "here")
    await layer.group_send("g", {"type": "old"})
    await layer.receive("here")
    # An hour later: the message left on "gone" has expired, and it leaves the group.
    wall = time.time() + 3600
    monkeypatch.setattr("channels.layers.time.time", lambda: wall)
    await layer.send("here", {"type": "new"})
    assert (await layer.receive("here"))["type"] == "new"
    assert "gone" not in layer.channels and set(layer.groups["g"]) == {"here"}
