"""Websocket frames are compressed (permessage-deflate) for clients that offer it: the accept hook's
choices, and a whole reply streamed through real daphne with and without the extension."""
from __future__ import annotations

import asyncio
import json

from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)

from tests.fake_upstream import reply_text
from tests.live import LiveServer, fake_upstream_env
from tests.test_scale_out import SEED
from workbench import compression


def offer(**params: list) -> PerMessageDeflateOffer:
    return PerMessageDeflateOffer.parse({name: values for name, values in params.items()})


def test_a_browser_offer_is_accepted_with_small_windows():
    # What Chromium sends: "permessage-deflate; client_max_window_bits".
    accepted = compression.accept_deflate([offer(client_max_window_bits=[True])])
    assert isinstance(accepted, PerMessageDeflateOfferAccept)
    assert accepted.window_bits == compression.SERVER_WINDOW_BITS == 12
    assert accepted.mem_level == compression.MEMORY_LEVEL
    assert accepted.get_extension_string() == "permessage-deflate; client_max_window_bits=12"


def test_a_client_that_caps_the_server_window_is_obeyed():
    accepted = compression.accept_deflate([offer(server_max_window_bits=["10"])])
    assert accepted is not None and accepted.window_bits == 10
    # Without client_max_window_bits in the offer the client's window cannot be asked for.
    assert accepted.get_extension_string() == "permessage-deflate; server_max_window_bits=10"
    capped = compression.accept_deflate([offer(server_max_window_bits=["15"])])
    assert capped is not None and capped.window_bits == 12


def test_only_deflate_offers_are_accepted():
    assert compression.accept_deflate([]) is None
    assert compression.accept_deflate([object()]) is None
    chosen = offer(server_no_context_takeover=[True])
    accepted = compression.accept_deflate([object(), chosen])
    assert accepted is not None and accepted.offer is chosen
    assert "server_no_context_takeover" in accepted.get_extension_string()


def test_enable_installs_the_factory_once_and_it_deflates_only_when_configured(settings, monkeypatch):
    from daphne import server

    original = server.WebSocketFactory
    while getattr(original, "workbench_factory", False):  # asgi.py may have run in this process
        original = original.__mro__[1]
    monkeypatch.setattr(server, "WebSocketFactory", original)

    compression.enable()
    installed = server.WebSocketFactory
    assert installed.workbench_factory and installed.__mro__[1] is original
    compression.enable()
    assert server.WebSocketFactory is installed  # not wrapped twice

    settings.WS_COMPRESSION = True
    assert installed(object(), server="Daphne").perMessageCompressionAccept is compression.accept_deflate
    settings.WS_COMPRESSION = False
    assert installed(object(), server="Daphne").perMessageCompressionAccept([offer()]) is None


# --- Through real daphne ------------------------------------------------------------------------


def seed(server: LiveServer, name: str) -> tuple[str, str]:
    code = SEED.replace('"scaler"', repr(name))
    conversation_id, session_key = server.run_python(code).strip().splitlines()[-1].split()
    return conversation_id, session_key


async def stream_one_reply(server: LiveServer, session_key: str, conversation_id: str, *, compress: int):
    """Send a prompt and read to the end of its reply; the frames, the negotiated extension and the
    bytes that came over the wire."""
    import aiohttp

    prompt = "compress me naïve 😀"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(
            server.url.replace("http", "ws") + f"/ws/conversations/{conversation_id}/",
            headers={"Cookie": f"sessionid={session_key}"}, origin=server.url, compress=compress,
        ) as ws:
            wire = [0]
            assert ws._conn is not None and ws._conn.protocol is not None
            protocol = ws._conn.protocol
            received = protocol.data_received

            def counted(data: bytes) -> None:
                wire[0] += len(data)
                received(data)

            protocol.data_received = counted  # type: ignore[method-assign]  # counts what came over the wire
            await ws.send_json({"action": "send", "parent": None, "content": prompt, "model": "openai:fake-model"})
            frames, payload, reply = [], 0, None
            async with asyncio.timeout(15):
                while True:
                    message = await ws.receive()
                    payload += len(message.data.encode())
                    frame = json.loads(message.data)
                    frames.append(frame)
                    if frame["type"] == "turn.created" and frame["turn"]["role"] == "assistant":
                        reply = frame["turn"]["id"]
                    if frame["type"] == "turn.finished" and frame["turn"]["id"] == reply:
                        break
            extension = ws._response.headers.get("Sec-WebSocket-Extensions", "")
    text = "".join(f["text"] for f in frames if f["type"] == "delta")
    assert text == reply_text(prompt, 200)
    return extension, wire[0], payload, frames


def test_a_reply_streams_compressed_to_a_client_that_offers_it(workbench_server, upstream):
    from tests.test_liveness import run_async

    upstream.tokens, upstream.interval = 200, 0.002  # a reply over several frames

    conversation_id, session_key = seed(workbench_server, "deflater")
    extension, wire, payload, frames = run_async(
        stream_one_reply(workbench_server, session_key, conversation_id, compress=15)
    )
    assert extension.startswith("permessage-deflate")
    assert wire < payload * 0.6  # the envelopes and the repeated words shrink

    # Frames about a turn leave out its empty fields; the page fills them in.
    created = [f["turn"] for f in frames if f["type"] == "turn.created"]
    prompt, reply = created
    assert prompt["parent"] is None and reply["parent"] == prompt["id"]  # parent always stays
    assert {"cost", "first_token_at", "finished_at", "error", "input_tokens", "context"}.isdisjoint(reply)
    assert "request_id" not in frames[0] and frames[0]["title"] == "compress me naïve 😀"  # a new title
    assert reply["length"] == 0 and reply["usage_estimated"] is False and reply["status"] == "streaming"
    finished = frames[-1]["turn"]
    assert "error" not in finished and finished["status"] == "complete" and finished["output_tokens"] == 200

    extension, wire, payload, _ = run_async(
        stream_one_reply(workbench_server, session_key, conversation_id, compress=0)
    )
    assert extension == ""
    assert wire > payload  # every frame as it is, plus its header


def test_compression_can_be_turned_off(upstream, tmp_path):
    from tests.test_liveness import run_async

    upstream.tokens, upstream.interval = 200, 0.002
    env = fake_upstream_env(upstream.url, ["fake-model"])
    env["WORKBENCH_WS_COMPRESSION"] = "false"
    server = LiveServer(tmp_path, env).start()
    try:
        conversation_id, session_key = seed(server, "plain")
        extension, wire, payload, _ = run_async(stream_one_reply(server, session_key, conversation_id, compress=15))
    finally:
        server.stop()
    assert extension == ""
    assert wire > payload
