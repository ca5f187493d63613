"""permessage-deflate (RFC 7692) on the server's websockets.

A streamed reply is many small JSON frames whose keys repeat; compressed with the context kept
from frame to frame, their envelopes cost a few bytes each. Every current browser offers the
extension, so this only needs the server to accept it. daphne has no setting for it, so its
websocket factory is given autobahn's `perMessageCompressionAccept` option before it starts.

The window is small on purpose: a socket's compressor (made on its first frame) keeps
`2 ** (window + 2) + 2 ** (memory + 9)` bytes, 32 KiB here instead of zlib's default 256 KiB, and a
reply's frames repeat within a few kilobytes.
"""
from __future__ import annotations

from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from django.conf import settings

SERVER_WINDOW_BITS = 12  # what the server compresses with
CLIENT_WINDOW_BITS = 12  # what it asks clients to compress with, when they let it choose
MEMORY_LEVEL = 5


def accept_deflate(offers: list) -> PerMessageDeflateOfferAccept | None:
    """autobahn's accept hook: the first permessage-deflate offer, with a small window."""
    for offer in offers:
        if not isinstance(offer, PerMessageDeflateOffer):
            continue
        window = SERVER_WINDOW_BITS
        if offer.request_max_window_bits:  # the client caps the server's window
            window = min(window, offer.request_max_window_bits)
        return PerMessageDeflateOfferAccept(
            offer,
            request_max_window_bits=CLIENT_WINDOW_BITS if offer.accept_max_window_bits else 0,
            window_bits=window,
            mem_level=MEMORY_LEVEL,
        )
    return None


def enable() -> None:
    """Make daphne accept permessage-deflate on the sockets of the server about to start
    (WORKBENCH_WS_COMPRESSION=false leaves frames uncompressed)."""
    if not settings.WS_COMPRESSION:
        return
    from daphne import server

    if getattr(server.WebSocketFactory, "accepts_deflate", False):
        return

    class DeflatingWebSocketFactory(server.WebSocketFactory):
        accepts_deflate = True

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.setProtocolOptions(perMessageCompressionAccept=accept_deflate)

    server.WebSocketFactory = DeflatingWebSocketFactory
