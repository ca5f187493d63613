"""daphne's websocket factory, configured for the workbench: permessage-deflate (RFC 7692), and a
frame ceiling that matches the conversation protocol's own limit.

A streamed reply is many small JSON frames whose keys repeat; compressed with the context kept
from frame to frame, their envelopes cost a few bytes each. Every current browser offers the
extension, so this only needs the server to accept it. daphne has no setting for it, so its
websocket factory is given autobahn's `perMessageCompressionAccept` option before it starts.

The window is small on purpose: a socket's compressor (made on its first frame) keeps
`2 ** (window + 2) + 2 ** (memory + 9)` bytes, 32 KiB here instead of zlib's default 256 KiB, and a
reply's frames repeat within a few kilobytes.

daphne refuses websocket messages over 1 MiB (`--websocket-max-message-size`) by dropping the TCP
connection: the page saw a connection lost, with no reason, for a frame the consumer would have
answered with `too_large` — and a frame within the protocol's limit in characters can exceed 1 MiB
in UTF-8. The factory raises the ceiling to `protocol.frame_ceiling()` bytes, the most a frame within
the limit can take, so every frame up to it reaches the consumer (which answers `too_large` and keeps
the socket); a longer one is never buffered whole: it is refused with close code 1009 (Message Too
Big) and a reason, which the page shows.
"""
from __future__ import annotations

from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)
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
    """Install the workbench's websocket factory in daphne, for the server about to start: the frame
    ceiling always, permessage-deflate unless WORKBENCH_WS_COMPRESSION=false."""
    from daphne import server

    # Imported here, at server start: the protocol module needs Django's apps ready, and the
    # compression constants above are read without Django (the benchmark's byte model).
    from conversations.streaming.protocol import frame_ceiling

    if getattr(server.WebSocketFactory, "workbench_factory", False):
        return

    class WorkbenchWebSocketFactory(server.WebSocketFactory):
        workbench_factory = True

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            # A connection is failed with a close frame (code and reason), not by dropping it.
            self.setProtocolOptions(
                failByDrop=False, maxMessagePayloadSize=frame_ceiling(), maxFramePayloadSize=frame_ceiling()
            )
            if settings.WS_COMPRESSION:
                self.setProtocolOptions(perMessageCompressionAccept=accept_deflate)

        def setProtocolOptions(self, **options) -> None:
            # daphne passes its own payload limits when it starts; never below the ceiling (a
            # deployment may ask for more). 0 would mean no limit at all: never that either.
            for name in ("maxMessagePayloadSize", "maxFramePayloadSize"):
                if name in options:
                    options[name] = max(options[name] or 0, frame_ceiling())
            super().setProtocolOptions(**options)

    server.WebSocketFactory = WorkbenchWebSocketFactory
