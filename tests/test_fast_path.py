"""The providers' fast path (the SDK's raw streaming response, SSE read from bytes, orjson) against
the SDKs' own typed stream iterators: the same text, usage, response id, finish and error words."""
from __future__ import annotations

import asyncio
import itertools
import json
import time

import httpx2
import pytest
from openai._streaming import SSEDecoder as SDKDecoder

from conversations.providers.anthropic_messages import AnthropicProvider
from conversations.providers.base import (
    Finish,
    GenerationRequest,
    GenerationSettings,
    Message,
    ProviderError,
    ResponseId,
    TextDelta,
    Usage,
)
from conversations.providers.openai_chat import OpenAIChatProvider
from conversations.providers.openai_responses import OpenAIResponsesProvider
from conversations.providers.sse import SSEDecoder
from tests.fake_upstream import reply_text
from tests.wsclient import WAIT

CLOUD = ["openai", "openai-responses", "anthropic", "ollama"]
PATH = {"openai": "/v1/chat/completions", "openai-responses": "/v1/responses",
        "anthropic": "/v1/messages", "ollama": "/v1/chat/completions"}
EMOJI = "Grüße 🌳 naïve 日本語 👩‍👩‍👧 ok"


async def typed_events(provider, request):
    """What the providers did before the fast path: the SDK's typed stream, event by event."""
    client = provider.client()
    try:
        if isinstance(provider, AnthropicProvider):
            async with await client.messages.create(**provider.request_body(request)) as stream:
                tokens_in = tokens_out = None
                reason = "stop"
                async for event in stream:
                    if event.type == "content_block_delta":
                        if event.delta.type == "text_delta" and event.delta.text:
                            yield TextDelta(event.delta.text)
                    elif event.type == "message_start":
                        yield ResponseId(event.message.id)
                        tokens_in, tokens_out = event.message.usage.input_tokens, event.message.usage.output_tokens
                    elif event.type == "message_delta":
                        if event.usage.output_tokens is not None:
                            tokens_out = event.usage.output_tokens
                        tokens_in = getattr(event.usage, "input_tokens", None) or tokens_in
                        reason = event.delta.stop_reason or reason
                    elif event.type == "message_stop":
                        yield Usage(tokens_in, tokens_out)
                        yield Finish(reason)
                        return
                raise ProviderError(f"{provider.label} ended the stream before the message was complete.")
        elif isinstance(provider, OpenAIResponsesProvider):
            async with await client.responses.create(**provider.request_body(request)) as stream:
                async for event in stream:
                    if event.type == "response.output_text.delta" and event.delta:
                        yield TextDelta(event.delta)
                    elif event.type == "response.created":
                        yield ResponseId(event.response.id)
                    elif event.type in ("response.completed", "response.incomplete"):
                        response = event.response
                        if response.usage is not None:
                            details = response.usage.output_tokens_details
                            yield Usage(response.usage.input_tokens, response.usage.output_tokens,
                                        details.reasoning_tokens if details else None)
                        details = response.incomplete_details
                        incomplete = event.type == "response.incomplete" and details
                        yield Finish((details.reason or "incomplete") if incomplete else "stop")
                        return
                    elif event.type == "response.failed":
                        error = event.response.error
                        reason = error.message if error else "no reason given"
                        raise ProviderError(f"{provider.label} failed the response: {reason}")
                    elif event.type == "error":
                        raise ProviderError(f"{provider.label} reported an error mid-stream: {event.message}")
                raise ProviderError(f"{provider.label} ended the stream before the response completed.")
        else:
            async with await client.chat.completions.create(**provider.request_body(request)) as stream:
                reason, sent_id = "stop", False
                async for chunk in stream:
                    if not sent_id and chunk.id:
                        sent_id = True
                        yield ResponseId(chunk.id)
                    if chunk.usage is not None:
                        details = chunk.usage.completion_tokens_details
                        yield Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens,
                                    details.reasoning_tokens if details else None)
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        reason = choice.finish_reason or reason
                yield Finish(reason)
    except provider.errors as exc:
        raise provider.failure(exc) from exc


async def run(events):
    out = []
    try:
        async for event in events:
            out.append(event)
    except ProviderError as exc:
        return out, exc
    return out, None


def make_request(model="fake-model", text="Hello tree", max_tokens=None):
    return GenerationRequest(model, [Message("user", text)], GenerationSettings(max_tokens=max_tokens))


def summary(events):
    """Text, usage, finish and the shape of the response id: what two live replies share."""
    ids = [e.id.split("_")[0].split("-")[0] for e in events if isinstance(e, ResponseId)]
    return ("".join(e.text for e in events if isinstance(e, TextDelta)),
            [e for e in events if isinstance(e, (Usage, Finish))], ids)


@pytest.mark.parametrize("name", CLOUD)
@pytest.mark.parametrize("tokens,text,max_tokens", [
    (1, "Hello tree", None), (12, "Hello tree", None), (300, "Hello tree", None),
    (12, EMOJI, None), (40, "Hello tree", 5),
])
async def test_live_replies_match_the_typed_iterator(providers, upstream, name, tokens, text, max_tokens):
    upstream.tokens = tokens
    provider = providers.providers[name]
    request = make_request(text=text, max_tokens=max_tokens)
    fast, fast_error = await run(provider.stream(request))
    typed, typed_error = await run(typed_events(provider, request))
    assert fast_error is None and typed_error is None
    assert summary(fast) == summary(typed)
    assert summary(fast)[0] == reply_text(text, min(tokens, max_tokens or tokens))
    assert [type(e) for e in fast] == [type(e) for e in typed]
    if name == "openai-responses":
        assert fast[0] == ResponseId(upstream.requests[-2]["response_id"])


SORRY = "The server had an error while processing your request. Sorry about that!"
# The providers' words for each fault before the fast path: (lead, Anthropic's detail, OpenAI's detail).
FAULTS = {
    "fake-midstream-error": ("{label} reported an error mid-stream: ", "Overloaded", SORRY),
    "fake-stall": ("{label} stopped sending at {where}: no data arrived within the stall timeout "
                   "(WORKBENCH_STALL_TIMEOUT). The text received so far is kept.", "", ""),
    "fake-malformed": ("{label} sent a malformed event that could not be read: ",
                       "Expecting value: line 1 column 49 (char 48).", "{malformed}."),
    "fake-error-401": ("{label} rejected the API key (401): ", "invalid x-api-key Check {setting}.",
                       "Incorrect API key provided: {key}. You can find your API key at "
                       "https://platform.openai.com/account/api-keys. Check {setting}."),
    "fake-error-429": ("{label} is rate limiting this key (429): ", "This request would exceed the rate "
                       "limit for your organization of 50 requests per minute. Please try again later. "
                       "Retry after 1 s.", "Rate limit reached for fake-error-429 in organization "
                       "org-fakeupstream on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try "
                       "again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more. "
                       "Retry after 1 s."),
    "fake-error-500": ("{label} had a server error (500): ", "Internal server error Try again in a moment.",
                       SORRY + " Try again in a moment."),
    "fake-error-529": ("{label} is overloaded (529): ", "Overloaded Try again in a moment.",
                       "The engine is currently overloaded, please try again later. Try again in a moment."),
}


def expected_fault(name, provider, where, model):
    lead, anthropic, openai = FAULTS[model]
    malformed = ("Expecting value: line 1 column 68 (char 67)" if name == "openai-responses" else
                 "Expecting property name enclosed in double quotes: line 1 column 96 (char 95)")
    return (lead + (anthropic if name == "anthropic" else openai)).format(
        label=provider.label, where=where, setting=provider.key_setting, malformed=malformed,
        key="none" if name == "ollama" else "test-key")


@pytest.mark.parametrize("name", CLOUD)
@pytest.mark.parametrize("model", ["fake-midstream-error", "fake-malformed", "fake-stall", "fake-error-401",
                                   "fake-error-429", "fake-error-500", "fake-error-529"])
async def test_faults_give_the_same_words_as_the_typed_iterator(providers, upstream, name, model):
    provider = providers.providers[name]
    fast, fast_error = await run(provider.stream(make_request(model)))
    typed, typed_error = await run(typed_events(provider, make_request(model)))
    assert fast_error and typed_error
    assert (fast_error.message, fast_error.status) == (typed_error.message, typed_error.status)
    assert summary(fast) == summary(typed)
    where = upstream.url + ("" if name == "anthropic" else "/v1")
    assert fast_error.message == expected_fault(name, provider, where, model)
    assert fast_error.status == (int(model[-3:]) if "error-" in model else None)


# Replays: the very same bytes to both paths, through a mock transport, cut at awkward places.

def replay_provider(name, body: bytes, cut: int):
    def respond(request):
        async def chunks():
            for start in range(0, len(body), cut):
                yield body[start:start + cut]
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=chunks())

    cls = {"openai": OpenAIChatProvider, "ollama": OpenAIChatProvider,
           "openai-responses": OpenAIResponsesProvider, "anthropic": AnthropicProvider}[name]
    provider = cls(name=name, label="Vendor", api_key="k", base_url="http://replay.test/v1", models=["m"],
                   key_setting="KEY", timeouts=(5.0, 5.0), max_retries=0)
    make_client = provider.make_client
    transport = httpx2.MockTransport(respond)
    provider.make_client = lambda **options: make_client(
        **{**options, "http_client": httpx2.AsyncClient(transport=transport)})
    return provider


async def recorded(providers, upstream, name, text="Hello tree") -> bytes:
    body = providers.providers[name].request_body(make_request(text=text))
    headers = {"authorization": "Bearer test-key", "anthropic-version": "2023-06-01"}
    async with httpx2.AsyncClient(timeout=5) as client:
        return (await client.post(upstream.url + PATH[name], json=body, headers=headers)).content


def odd_wire(body: bytes) -> bytes:
    """Line ends, comments and characters that trip line readers, all of which SSE allows."""
    body = body.replace(b'" ipsum"', '" ip\u2028s\x85um\u2029 🌳"'.encode())
    return b": hello\r\n\r\n" + body.replace(b"\n\n", b"\r\n: keep-alive\r\n\r\n")


@pytest.mark.parametrize("name", CLOUD)
@pytest.mark.parametrize("variant", ["as sent", "odd wire", "cut short", "malformed after emoji"])
async def test_the_same_bytes_give_the_same_events(providers, upstream, name, variant):
    body = await recorded(providers, upstream, name, text=EMOJI)
    if variant == "odd wire":
        body = odd_wire(body)
    elif variant == "cut short":
        body = body[: len(body) * 2 // 3]
    elif variant == "malformed after emoji":
        body = body[: body.index("naïve".encode())] + b'\xf0\x9f\x8c\xb3 , "x": }\n\n'
    for cut in (len(body), 1, 7, 64):
        results = []
        for events in (typed_events, lambda p, r: p.stream(r)):
            provider = replay_provider(name, body, cut)
            results.append(await run(events(provider, make_request(text=EMOJI))))
        (fast, fast_error), (typed, typed_error) = results[1], results[0]
        assert fast == typed and len(fast) > 2
        assert (fast_error and fast_error.message) == (typed_error and typed_error.message)
    expected = {"cut short": None if "chat" in PATH[name] else "ended the stream",
                "malformed after emoji": "malformed"}.get(variant)
    assert (expected in fast_error.message) if expected else fast_error is None
    if variant == "odd wire":
        assert "\u2028" in summary(fast)[0] and "\x85" in summary(fast)[0]


def failed_response(body: bytes) -> bytes:
    created = next(line for line in body.split(b"\n") if line.startswith(b'data: {"type":"response.created"'))
    event = json.loads(created[6:])
    event["type"] = "response.failed"
    event["response"].update(status="failed", error={"code": "server_error", "message": "boom"})
    return b"event: response.failed\ndata: " + json.dumps(event).encode() + b"\n\n"


MIDSTREAM = "Vendor reported an error mid-stream: "


@pytest.mark.parametrize("name,event,message", [
    ("openai", b'data: {"error": "plain words"}\n\n', MIDSTREAM + "An error occurred during streaming"),
    ("openai", b'data: {"error": {"code": 1}}\n\n', MIDSTREAM + "An error occurred during streaming"),
    ("openai-responses", b'data: {"error": {"message": "nested"}}\n\n', MIDSTREAM + "nested"),
    ("openai-responses", failed_response, "Vendor failed the response: boom"),
    ("anthropic", b"event: error\ndata: not json\n\n", MIDSTREAM + "not json"),
    ("anthropic", b'event: error\ndata: {"type": "error"}\n\n', MIDSTREAM + "{'type': 'error'}"),
])
async def test_unusual_error_events_give_the_same_words(providers, upstream, name, event, message):
    body = await recorded(providers, upstream, name)
    event = event(body) if callable(event) else event
    body = body[: len(body) // 2].rsplit(b"\n\n", 1)[0] + b"\n\n" + event
    errors = []
    for events in (typed_events, lambda p, r: p.stream(r)):
        errors.append((await run(events(replay_provider(name, body, 50), make_request())))[1])
    assert errors[0].message == errors[1].message == message


def test_the_decoder_splits_events_as_the_sdk_does():
    wire = (b': comment\n\nevent: a\ndata: 1\ndata:2\r\n\r\nid: 7\ndata\n\nevent:\ndata: \xe2\x80\xa8x\r'
            b'\rdata: {"t": "\xc2\x85"}\n\nretry: 5\n\nevent: b\n\ndata: cut off')
    sdk = [(e.event, e.data) for e in SDKDecoder().iter_bytes(iter([wire]))]
    for a, b in itertools.combinations(range(1, len(wire)), 2):
        decoder = SSEDecoder()
        ours = [event for chunk in (wire[:a], wire[a:b], wire[b:]) for event in decoder.feed(chunk)]
        assert [(n and n.decode(), d.decode()) for n, d in ours] == sdk, (a, b)


@pytest.mark.parametrize("name", ["openai", "anthropic", "openai-responses"])
async def test_cpu_per_chunk(providers, upstream, capsys, name):
    """Printed, not asserted: CPU per relayed chunk, fast path against the SDK's typed iterator."""
    provider = providers.providers[name]
    paths = {"fast": provider.stream, "typed": lambda request: typed_events(provider, request)}
    for events in paths.values():  # first use: clients, lazy imports, models built
        await run(events(make_request()))
    upstream.tokens = 20_000
    timings = {}
    for label, events in paths.items():
        start_thread, start_process = time.thread_time(), time.process_time()
        received, error = await run(events(make_request(max_tokens=20_000)))
        assert error is None and len([e for e in received if isinstance(e, TextDelta)]) == 20_000
        timings[label] = ((time.thread_time() - start_thread) / 20_000 * 1e6,
                          (time.process_time() - start_process) / 20_000 * 1e6)
    with capsys.disabled():
        print(f"\n{name}: µs CPU per chunk, client thread (whole process with the fake upstream): "
              + ", ".join(f"{label} {t:.1f} ({p:.1f})" for label, (t, p) in timings.items()))


async def test_reads_are_spaced_once_text_flows_and_not_before(providers, upstream, settings, monkeypatch):
    """After the first token, the reader waits between reads, so one read takes every token that
    came meanwhile; the text is the same, and nothing waits before the first token."""
    from conversations.providers import sse
    from conversations.registry import registry

    upstream.tokens, upstream.interval = 100, 0.005
    reads, asked = [], []
    feed, sleep = sse.SSEDecoder.feed, sse.asyncio.sleep

    def counted_feed(self, chunk):
        reads.append(chunk)
        return feed(self, chunk)

    monkeypatch.setattr(sse.SSEDecoder, "feed", counted_feed)

    class PausedUntilSent:
        """The reader's asyncio, but a pause lasts until the fake upstream has sent the whole
        reply rather than for the interval asked: how many tokens a read then takes does not
        depend on how busy the machine is."""

        def __getattr__(self, name):
            return getattr(asyncio, name)

        async def sleep(self, seconds: float) -> None:
            asked.append(seconds)
            async with asyncio.timeout(WAIT):
                while upstream.requests[-1]["output_tokens"] is None:
                    await asyncio.sleep(0.005)

    monkeypatch.setattr(sse, "asyncio", PausedUntilSent())
    texts = {}
    for interval in (0.0, 0.02):
        settings.STREAM_READ_INTERVAL_SECONDS = interval
        reads.clear()
        events, error = await run(registry().providers["openai"].stream(make_request()))
        assert error is None
        texts[interval] = "".join(e.text for e in events if isinstance(e, TextDelta))
        if not interval:
            assert asked == []  # no interval, no pause
    assert texts[0.0] == texts[0.02] == reply_text("Hello tree", 100)
    assert asked and set(asked) == {0.02}
    # The prompt's first token, then (after the pause) the other 99 and the end in one read or two.
    assert len(reads) <= 5, reads
    monkeypatch.undo()

    # Only reads after the first token wait: the order of the pauses and of the first text.
    order, paused = itertools.count(), []
    first_text: list[int] = []

    async def pause(self):
        paused.append((next(order), self.flowing))
        await sleep(self.interval) if self.flowing and self.interval else None

    monkeypatch.setattr(sse.ReadPacer, "pause", pause)
    async for event in registry().providers["openai"].stream(make_request()):
        if isinstance(event, TextDelta) and not first_text:
            first_text.append(next(order))
    assert paused and all(flowing == (at > first_text[0]) for at, flowing in paused)
