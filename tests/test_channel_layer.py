"""The in-memory channel layer sweeps expired messages and memberships at most once a second."""
from __future__ import annotations

import time

import pytest

from workbench import layers


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(layers, "monotonic", lambda: now[0])
    return now


async def test_expired_messages_are_swept_at_most_once_a_second(clock, monkeypatch):
    layer = layers.InMemoryChannelLayer(expiry=60)
    sweeps = []
    original = layers.ChannelsInMemoryChannelLayer._clean_expired

    def counted_sweep(self):
        sweeps.append(clock[0])
        return original(self)

    monkeypatch.setattr(layers.ChannelsInMemoryChannelLayer, "_clean_expired", counted_sweep)
    await layer.send("a", {"type": "x"})
    for _ in range(5):
        await layer.send("b", {"type": "y"})
        await layer.receive("b")
    assert sweeps == [1000.0]  # five receives, one sweep
    clock[0] += layers.SWEEP_SECONDS
    await layer.send("b", {"type": "y"})
    await layer.receive("b")
    assert sweeps == [1000.0, 1001.0]


async def test_a_sweep_still_drops_expired_messages_and_their_memberships(clock, monkeypatch):
    layer = layers.InMemoryChannelLayer(expiry=60)
    await layer.group_add("g", "gone")
    await layer.group_add("g", "here")
    await layer.group_send("g", {"type": "old"})
    await layer.receive("here")
    # An hour later (both clocks): the message left on "gone" has expired, and it leaves the group.
    wall = time.time() + 3600
    monkeypatch.setattr("channels.layers.time.time", lambda: wall)
    clock[0] += 3600
    await layer.send("here", {"type": "new"})
    assert (await layer.receive("here"))["type"] == "new"
    assert "gone" not in layer.channels and set(layer.groups["g"]) == {"here"}
