"""The load generator: websocket clients that ask for replies the way the page does, a raw aiohttp
client streaming the upstream directly (the baseline), and the figures of one run.

Each client holds one websocket on its own conversation. Once every socket is open, and after a
stagger (client i of N waits i/N of `spread`, so the N streams overlap without all starting in the
same millisecond), it sends `replies` prompts one after another, each time reading frames until the
reply's `turn.finished`.
Deltas are applied by offset (UTF-16 code units, as the browser counts), so a gap, a repeat or a
reordering is seen, and the assembled text is compared with what the fake upstream sent.
"""
from __future__ import annotations

import asyncio
import bisect
import math
import statistics
import time
from dataclasses import dataclass, field

import aiohttp
import orjson

from bench.upstream import TOKENS, TimedUpstream
from tests.fake_upstream import reply_text

REPLY_TIMEOUT = 60.0
MODEL = "openai:fake-model"


@dataclass
class Stream:
    """What one client saw of one reply."""

    prompt: str
    t_send: float = 0.0
    t_first: float | None = None  # first delta (or, for the baseline, first content chunk)
    t_last: float | None = None
    t_done: float | None = None
    reply_id: int | None = None
    text: str = ""
    error: str = ""
    frames: int = 0
    delta_frames: int = 0
    bytes_by_type: dict[str, int] = field(default_factory=dict)  # uncompressed payload + frame header
    wire_bytes: int = 0  # what came over the socket for this reply (frames and headers)
    payloads: list[bytes] = field(default_factory=list)  # the frames, kept for two replies per run
    gaps: int = 0
    repeats: int = 0
    reorders: int = 0
    reported_length: int | None = None
    status: str = ""

    @property
    def expected(self) -> str:
        return reply_text(self.prompt, TOKENS)

    @property
    def complete(self) -> bool:
        return not self.error and self.status in ("complete", "stream-end") and self.text == self.expected


# English prose standing in for a model's reply when the fake's text (a 19-word cycle) is swapped
# out of a recorded reply's frames.
PROSE = (
    "A conversation with a language model rarely runs in a straight line. You ask for a plan, the "
    "model offers three, and the second one is almost right, so you go back to it and change one "
    "assumption to see what follows. Most chat tools make that awkward: editing a message throws "
    "away everything after it, and comparing two answers means copying them into another window. "
    "Treating the conversation as a tree keeps every attempt. Each prompt and each reply is a node, "
    "a branch is the path from the first prompt to any reply, and nothing is overwritten when you "
    "try something else. Streaming matters as much as structure. People read as the text arrives, "
    "so the delay before the first words appear is felt far more than the total time, and a server "
    "that batches tokens too eagerly makes a fast model look sluggish. Small frames sent often keep "
    "the page lively but cost bandwidth and processor time, which is why the frames are coalesced "
    "over a short window and compressed on the wire. Cost and context are the last part of the "
    "picture: every branch has its own token count, a long one may no longer fit the model's "
    "window, and the tool should say what was left out instead of failing quietly or trimming "
    "without a word. Good defaults, clear errors and a record of exactly what was sent make the "
    "difference between a toy and a tool that a team relies on every day. "
)


def prose_ratio(replies: list[list[bytes]]) -> float:
    """Wire bytes ÷ text of a recorded reply's frames with their delta text replaced by prose of
    the same length, sent as the server sends them (uncompressed: daphne accepts no websocket
    extension)."""
    by_type = prose_bytes(replies)
    text = by_type.pop("text", 0)
    return sum(by_type.values()) / text if text else math.nan


def prose_bytes(replies: list[list[bytes]]) -> dict[str, int]:
    """The wire bytes of each frame type of the last of a socket's recorded replies, their text
    replaced by prose (see prose_ratio), and the prose itself (`text`, in UTF-8). Frames go
    uncompressed, so the replies before it on the socket change nothing."""
    out: dict[str, int] = {}
    position = 0
    for raw in replies[-1] if replies else []:
        frame = orjson.loads(raw)
        kind = frame.get("type", "?")
        if kind == "delta":
            size = len(frame["text"])
            frame["text"] = (PROSE * 4)[position:position + size]
            position += size
            out["text"] = out.get("text", 0) + len(frame["text"].encode())
            raw = orjson.dumps(frame)
        out[kind] = out.get(kind, 0) + wire_size(len(raw))
    return out


def wire_size(payload_bytes: int) -> int:
    """A server-to-client websocket frame: payload plus its unmasked header."""
    return payload_bytes + (2 if payload_bytes < 126 else 4 if payload_bytes < 65536 else 10)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 < share ≤ 1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))]


def prompt_for(tag: str, client: int, reply: int) -> str:
    # Non-ASCII and an astral character, so offsets in UTF-16 units are really exercised.
    return f"bench {tag} client {client} reply {reply} naïve 😀 text"


class WireCounter:
    """Counts the bytes a websocket receives from the network, before they are decompressed."""

    def __init__(self, ws) -> None:
        self.total = 0
        protocol = ws._conn.protocol
        received = protocol.data_received

        def counted(data: bytes) -> None:
            self.total += len(data)
            received(data)

        protocol.data_received = counted


async def _reply_over_socket(ws, prompt: str, wire: WireCounter, *, keep_frames: bool = False) -> Stream:
    stream = Stream(prompt)
    wire_at_send = wire.total
    units = bytearray()  # the text as UTF-16-LE: offset n is byte 2n
    waiting: list[dict] = []  # deltas of a turn not yet announced
    stream.t_send = time.perf_counter()
    await ws.send_str(orjson.dumps({"action": "send", "parent": None, "content": prompt, "model": MODEL}).decode())

    holes: list[tuple[int, int]] = []  # byte ranges skipped by a delta that came early

    def apply(frame: dict) -> None:
        encoded = frame["text"].encode("utf-16-le")
        at = frame["offset"] * 2
        if at > len(units):
            stream.gaps += 1
            holes.append((len(units), at))
            units.extend(b"\0" * (at - len(units)))
        elif at < len(units):
            if any(start <= at < end for start, end in holes):
                stream.reorders += 1  # fills a hole: it came late
            else:
                stream.repeats += 1  # text already had
        units[at:at + len(encoded)] = encoded

    async with asyncio.timeout(REPLY_TIMEOUT):
        while True:
            message = await ws.receive()
            now = time.perf_counter()
            if message.type != aiohttp.WSMsgType.TEXT:
                stream.error = f"socket {message.type.name.lower()} {message.data!r}"
                return stream
            raw = message.data.encode()
            if keep_frames:
                stream.payloads.append(raw)
            frame = orjson.loads(raw)
            kind = frame.get("type", "?")
            stream.frames += 1
            stream.bytes_by_type[kind] = stream.bytes_by_type.get(kind, 0) + wire_size(len(raw))
            if kind == "delta":
                stream.delta_frames += 1
                if stream.reply_id is None:
                    waiting.append(frame)
                    continue
                if frame["turn"] != stream.reply_id:
                    continue
                if stream.t_first is None:
                    stream.t_first = now
                stream.t_last = now
                apply(frame)
            elif kind == "turn.created" and frame["turn"]["role"] == "assistant":
                stream.reply_id = frame["turn"]["id"]
                for early in waiting:
                    if early["turn"] == stream.reply_id:
                        stream.t_first = stream.t_first or now
                        apply(early)
                waiting.clear()
            elif kind == "turn.finished" and frame["turn"]["id"] == stream.reply_id:
                stream.t_done = now
                stream.wire_bytes = wire.total - wire_at_send
                stream.status = frame["turn"]["status"]
                stream.reported_length = frame["turn"].get("length")
                stream.text = units.decode("utf-16-le", errors="replace")
                return stream
            elif kind == "error":
                stream.error = f"{frame.get('code')}: {frame.get('error')}"
                return stream


class _Start:
    """Opens at most `at_once` sockets at a time (daphne listens with Twisted's default backlog of
    50: a larger burst of connections can overflow it, and the kernel then has the rest retry a
    second or more later), and starts every client's stagger from the moment the last socket is open, so the
    sends follow the stagger and not the order in which connections happened to be accepted."""

    def __init__(self, count: int, at_once: int = 50) -> None:
        self.connecting = asyncio.Semaphore(at_once)
        self.ready = asyncio.Event()
        self._waiting = count

    def arrived(self) -> None:
        self._waiting -= 1
        if self._waiting <= 0:
            self.ready.set()


async def _socket_client(http, target, index: int, count: int, start: _Start, *, replies: int, spread: float,
                         tag: str, origin: str) -> list[Stream]:
    ws_base, conversation_id, session_key = target
    out: list[Stream] = []
    try:
        async with start.connecting:
            # compress: permessage-deflate, offered as browsers do (the server declines it)
            ws = await http.ws_connect(f"{ws_base}/ws/conversations/{conversation_id}/",
                                       headers={"Cookie": f"sessionid={session_key}"}, origin=origin,
                                       max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=2), compress=15)
        wire = WireCounter(ws)
    except (aiohttp.ClientError, OSError) as exc:
        return [Stream(prompt_for(tag, index, r), error=f"connect: {exc}") for r in range(replies)]
    finally:
        start.arrived()
    try:
        await start.ready.wait()
        await asyncio.sleep(spread * index / count)
        for reply in range(replies):
            prompt = prompt_for(tag, index, reply)
            try:
                out.append(await _reply_over_socket(ws, prompt, wire, keep_frames=index == 0 and reply < 2))
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                out.append(Stream(prompt, error=f"{type(exc).__name__}: {exc}"))
                break
    finally:
        await ws.close()
    return out


async def _upstream_client(http, upstream_url: str, index: int, count: int, *, replies: int, spread: float,
                           tag: str) -> list[Stream]:
    out: list[Stream] = []
    await asyncio.sleep(spread * index / count)
    for reply in range(replies):
        stream = Stream(prompt_for(tag, index, reply))
        body = {"model": "fake-model", "messages": [{"role": "user", "content": stream.prompt}],
                "stream": True, "stream_options": {"include_usage": True}}
        parts: list[str] = []
        stream.t_send = time.perf_counter()
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                async with http.post(upstream_url + "/v1/chat/completions", data=orjson.dumps(body),
                                     headers={"Authorization": "Bearer bench-key",
                                              "Content-Type": "application/json"}) as response:
                    async for line in response.content:
                        if not line.startswith(b"data: {"):
                            continue
                        chunk = orjson.loads(line[6:])
                        stream.frames += 1
                        for choice in chunk.get("choices") or ():
                            text = (choice.get("delta") or {}).get("content")
                            if text:
                                now = time.perf_counter()
                                stream.t_first = stream.t_first or now
                                stream.t_last = now
                                parts.append(text)
            stream.t_done = time.perf_counter()
            stream.status = "stream-end"
            stream.text = "".join(parts)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            stream.error = f"{type(exc).__name__}: {exc}"
        out.append(stream)
    return out


async def run_sockets(targets: list[tuple[str, int, str]], *, replies: int, spread: float, tag: str,
                      origins: dict[str, str]) -> list[Stream]:
    """One websocket client per target (ws base URL, conversation id, session key), all at once."""
    connector = aiohttp.TCPConnector(limit=0)
    start = _Start(len(targets))
    async with aiohttp.ClientSession(connector=connector) as http:
        async with asyncio.timeout(spread + replies * REPLY_TIMEOUT + 30):
            groups = await asyncio.gather(*(
                _socket_client(http, target, i, len(targets), start, replies=replies, spread=spread, tag=tag,
                               origin=origins[target[0]])
                for i, target in enumerate(targets)))
    return [stream for group in groups for stream in group]


async def run_baseline(upstream_url: str, clients: int, *, replies: int, spread: float, tag: str) -> list[Stream]:
    """The same streams read straight from the upstream by a raw aiohttp client."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with asyncio.timeout(spread + replies * REPLY_TIMEOUT + 30):
            groups = await asyncio.gather(*(
                _upstream_client(http, upstream_url, i, clients, replies=replies, spread=spread, tag=tag)
                for i in range(clients)))
    return [stream for group in groups for stream in group]


def open_at_send(streams: list[Stream]) -> list[float]:
    """For each prompt sent, how many replies of the run were streaming at that moment (its own
    included): the concurrency a send actually met, lower while the clients' stagger ramps up."""
    starts = sorted(s.t_send for s in streams if s.t_send)
    ends = sorted(s.t_done or s.t_last or s.t_send for s in streams if s.t_send)
    return [float(bisect.bisect_right(starts, t) - bisect.bisect_right(ends, t)) for t in starts]


def summarize(streams: list[Stream], upstream: TimedUpstream) -> dict:
    """The latency, integrity and efficiency figures of one run (times in ms)."""
    added, relay, to_upstream, own, client_ttft = [], [], [], [], []
    rates, ratios, payload_ratios = [], [], []
    by_type: dict[str, int] = {}
    missing_stamp = 0
    for s in streams:
        record = upstream.by_prompt.get(s.prompt)
        if record is None or "t_first_token" not in record:
            missing_stamp += 1
        elif s.t_first is not None:
            # What the client waited beyond what the model itself took: the send's way to the
            # upstream plus the first token's way back (the two sum to it for every stream).
            upstream_ttft = record["t_first_token"] - record["t_arrival"]
            added.append((s.t_first - s.t_send - upstream_ttft) * 1000)
            relay.append((s.t_first - record["t_first_token"]) * 1000)
            to_upstream.append((record["t_arrival"] - s.t_send) * 1000)
            own.append(upstream_ttft * 1000)
            client_ttft.append((s.t_first - s.t_send) * 1000)
        if s.complete and s.bytes_by_type:
            ratios.append(s.wire_bytes / len(s.expected.encode()))
            payload_ratios.append(sum(s.bytes_by_type.values()) / len(s.expected.encode()))
            for kind, size in s.bytes_by_type.items():
                by_type[kind] = by_type.get(kind, 0) + size
        if s.delta_frames > 1 and s.t_last and s.t_first and s.t_last > s.t_first:
            rates.append((s.delta_frames - 1) / (s.t_last - s.t_first))
    complete = [s for s in streams if s.complete]
    # A complete reply had deltas, so both times are set.
    spans = [s.t_last - s.t_first for s in complete if s.t_first is not None and s.t_last is not None]
    text_bytes = sum(len(s.expected.encode()) for s in complete)
    recorded = [s.payloads for s in streams if s.payloads]  # the first two replies of one socket
    return {
        "streams": len(streams),
        "complete": len(complete),
        "failed": sum(1 for s in streams if s.error),
        "errors": sorted({s.error for s in streams if s.error})[:5],
        "wrong_text": sum(1 for s in streams if not s.error and s.text != s.expected),
        "gaps": sum(s.gaps for s in streams),
        "repeats": sum(s.repeats for s in streams),
        "reorders": sum(s.reorders for s in streams),
        "length_mismatch": sum(
            1 for s in streams if s.reported_length not in (None, len(s.expected.encode("utf-16-le")) // 2)
        ),
        "missing_upstream_stamp": missing_stamp,
        "tokens": TOKENS * len(complete),
        "frames_total": sum(s.frames for s in streams),
        "replies_total": len(complete),
        "open_at_send_p50": percentile(open_at_send(streams), 0.5),
        "added_p50": percentile(added, 0.5), "added_p95": percentile(added, 0.95),
        "relay_p50": percentile(relay, 0.5), "relay_p95": percentile(relay, 0.95),
        "to_upstream_p50": percentile(to_upstream, 0.5), "to_upstream_p95": percentile(to_upstream, 0.95),
        "upstream_ttft_p50": percentile(own, 0.5),
        "client_ttft_p50": percentile(client_ttft, 0.5), "client_ttft_p95": percentile(client_ttft, 0.95),
        "frames_per_s_p50": percentile(rates, 0.5), "frames_per_s_max": max(rates) if rates else math.nan,
        "frames_per_reply": statistics.mean(s.frames for s in complete) if complete else math.nan,
        "delta_frames_per_reply": statistics.mean(s.delta_frames for s in complete) if complete else math.nan,
        "stream_s": statistics.median(spans) if spans else math.nan,
        "bytes_ratio": statistics.median(ratios) if ratios else math.nan,
        "payload_ratio": statistics.median(payload_ratios) if payload_ratios else math.nan,
        "prose_ratio": prose_ratio(recorded),
        "prose_first_ratio": prose_ratio(recorded[:1]),
        "prose_bytes": prose_bytes(recorded),
        "bytes_per_reply": {k: v / len(complete) for k, v in by_type.items()} if complete else {},
        "text_bytes_per_reply": text_bytes / len(complete) if complete else math.nan,
    }
