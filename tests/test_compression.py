"""Websocket frames go uncompressed: daphne accepts no websocket extension, so a client that offers
permessage-deflate (as every browser does) gets plain frames. A whole reply through real daphne."""
from __future__ import annotations

import asyncio
import json

from tests.fake_upstream import reply_text
from tests.live import LiveServer
from tests.test_scale_out import SEED


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


def test_a_reply_streams_uncompressed_to_a_client_that_offers_deflate(workbench_server, upstream):
    from tests.test_liveness import run_async

    upstream.tokens, upstream.interval = 200, 0.002  # a reply over several frames

    conversation_id, session_key = seed(workbench_server, "deflater")
    extension, wire, payload, frames = run_async(
        stream_one_reply(workbench_server, session_key, conversation_id, compress=15)
    )
    assert extension == ""  # the offer is declined
    assert wire > payload  # every frame as it is, plus its header

    # Frames about a turn leave out its empty fields; the page fills them in.
    created = [f["turn"] for f in frames if f["type"] == "turn.created"]
    prompt, reply = created
    assert prompt["parent"] is None and reply["parent"] == prompt["id"]  # parent always stays
    assert {"cost", "first_token_at", "finished_at", "error", "input_tokens", "context"}.isdisjoint(reply)
    assert "request_id" not in frames[0] and frames[0]["title"] == "compress me naïve 😀"  # a new title
    assert reply["length"] == 0 and reply["usage_estimated"] is False and reply["status"] == "streaming"
    finished = frames[-1]["turn"]
    assert "error" not in finished and finished["status"] == "complete" and finished["output_tokens"] == 200
