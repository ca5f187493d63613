"""Tests of the fake upstream server, driven by the real openai and anthropic SDKs."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anthropic
import httpx2
import openai
import pytest
from anthropic.types import RawMessageStreamEvent
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseCompletedEvent, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.fake_upstream import (
    FILLER_WORDS,
    LONG_TOKENS,
    MODEL_IDS,
    RECORDED_DIR,
    REFUSAL_TEXT,
    REFUSAL_TOKENS,
    FakeUpstream,
    count_input_tokens,
    parse_faults,
    reasoning_parts,
    reasoning_text,
    replay_path,
    reply_text,
    reply_tokens,
    thinking_signature,
)

ROOT = Path(__file__).resolve().parent.parent
USER_TEXT = "hello there fake world"


# --------------------------------------------------------------------------- fixtures & helpers


@pytest.fixture(scope="module")
def fake():
    with FakeUpstream(tokens=12) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake):
    fake.reset()
    fake.tokens = 12
    fake.interval = 0.0
    fake.first_token_delay = 0.0
    yield


@pytest.fixture
def oai(fake):
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0, timeout=10)
    yield client
    client.close()


@pytest.fixture
def anth(fake):
    client = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0, timeout=10)
    yield client
    client.close()


def raw_request(url: str, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP request (no SDK): status, lower-cased headers, body."""
    parts = urlsplit(url)
    assert parts.hostname
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=payload, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def sse_events(data: bytes) -> list[tuple[str | None, str]]:
    """Split an SSE body into (event, data) pairs; every event ends with a blank line."""
    assert data.endswith(b"\n\n")
    events = []
    for block in data.decode().split("\n\n")[:-1]:
        event, lines = None, []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            elif field == "data":
                lines.append(value)
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        events.append((event, "\n".join(lines)))
    return events


OPENAI_AUTH = {"Authorization": "Bearer k"}
ANTHROPIC_AUTH = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


def wait_for(predicate, timeout: float = 30.0) -> bool:
    """Whether `predicate` holds within `timeout` seconds (generous: it returns once it holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def chat_stream_text(oai, model: str = "fake-model", text: str = USER_TEXT, **kwargs) -> tuple[str, list]:
    stream = oai.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], stream=True, **kwargs)
    chunks = []
    out = ""
    for chunk in stream:
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content:
            out += chunk.choices[0].delta.content
    return out, chunks


# --------------------------------------------------------------------------- pure functions


def test_reply_tokens_echo_then_filler():
    toks = reply_tokens("hello   world", 6)
    assert toks == ["Echo:", " hello", " world", " lorem", " ipsum", " dolor"]
    assert reply_text("hello   world", 6) == "Echo: hello world lorem ipsum dolor"
    assert reply_tokens("a b c d", 2) == ["Echo:", " a"]
    assert reply_tokens("anything", 0) == []


def test_reply_tokens_empty_user_is_filler_only_and_cycles():
    n = len(FILLER_WORDS) + 2
    toks = reply_tokens("", n)
    assert len(toks) == n
    assert toks[0] == FILLER_WORDS[0]
    assert toks[len(FILLER_WORDS)] == " " + FILLER_WORDS[0]
    assert reply_tokens("  \n ", 3) == reply_tokens("", 3)


def test_count_input_tokens_and_parse_faults():
    assert count_input_tokens(["one two", "", "three"]) == 2 + 1 + 0 + 1 + 1 + 1
    assert parse_faults("gpt-fake").status is None
    assert parse_faults("x-error-429").status == 429
    assert parse_faults("fake-midstream-error").stream == "midstream-error"
    assert parse_faults("fake-midstream-error").status is None
    f = parse_faults("fake-long-slow-stall")
    assert (f.stream, f.slow, f.long) == ("stall", True, True)


# --------------------------------------------------------------------------- OpenAI chat


def test_chat_stream_text_and_usage(fake, oai):
    text, chunks = chat_stream_text(oai, stream_options={"include_usage": True})
    assert text == reply_text(USER_TEXT, 12)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.id == chunks[0].id and c.id.startswith("chatcmpl-") for c in chunks)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage.completion_tokens == 12
    assert usage.prompt_tokens == count_input_tokens([USER_TEXT])
    assert usage.total_tokens == usage.prompt_tokens + 12
    rec = fake.requests[-1]
    assert rec["path"] == "/v1/chat/completions"
    assert rec["json"]["stream"] is True
    assert rec["headers"]["authorization"] == "Bearer k"
    assert rec["disconnected"] is False
    assert rec["output_tokens"] == 12


def test_chat_stream_raw_wire_format(fake):
    body = {"model": "fake-model", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": [{"type": "text", "text": "hi you"}]}]}
    status, headers, data = raw_request(fake.url, "POST", "/v1/chat/completions", body, OPENAI_AUTH)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    events = sse_events(data)
    assert all(event is None for event, _ in events)
    assert events[-1][1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(json.loads(d)) for _, d in events[:-1]]
    assert len(chunks) == 1 + 12 + 1 + 1
    assert chunks[0].choices[0].delta.content == ""
    assert [c.choices[0].delta.content for c in chunks[1:13]] == reply_tokens("hi you", 12)
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens == count_input_tokens(["be brief", "hi you"])


def test_chat_without_include_usage_has_no_usage_chunk(oai):
    text, chunks = chat_stream_text(oai)
    assert text == reply_text(USER_TEXT, 12)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_chat_max_tokens_gives_length(oai):
    text, chunks = chat_stream_text(oai, max_tokens=4, stream_options={"include_usage": True})
    assert text == reply_text(USER_TEXT, 4)
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 4
    done = oai.chat.completions.create(model="fake-model", max_completion_tokens=3,
                                       messages=[{"role": "user", "content": "x y"}])
    assert done.choices[0].finish_reason == "length"
    assert done.choices[0].message.content == reply_text("x y", 3)


def test_chat_non_stream(fake, oai):
    fake.tokens = 7
    done = oai.chat.completions.create(model="fake-model",
                                       messages=[{"role": "user", "content": "a b c"}])
    assert done.object == "chat.completion"
    assert done.choices[0].message.content == reply_text("a b c", 7)
    assert done.choices[0].finish_reason == "stop"
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (4, 7)


def test_chat_uses_last_user_message(oai):
    messages = [{"role": "user", "content": "first question"},
                {"role": "assistant", "content": "an answer"},
                {"role": "user", "content": "second one"}]
    done = oai.chat.completions.create(model="fake-model", messages=messages)
    assert done.choices[0].message.content == reply_text("second one", 12)
    assert done.usage.prompt_tokens == count_input_tokens(m["content"] for m in messages)


# --------------------------------------------------------------------------- OpenAI Responses


RESPONSE_EVENT_TYPES = [
    ("response.created", "ResponseCreatedEvent"),
    ("response.in_progress", "ResponseInProgressEvent"),
    ("response.output_item.added", "ResponseOutputItemAddedEvent"),
    ("response.content_part.added", "ResponseContentPartAddedEvent"),
    *[("response.output_text.delta", "ResponseTextDeltaEvent")] * 12,
    ("response.output_text.done", "ResponseTextDoneEvent"),
    ("response.content_part.done", "ResponseContentPartDoneEvent"),
    ("response.output_item.done", "ResponseOutputItemDoneEvent"),
    ("response.completed", "ResponseCompletedEvent"),
]


def test_responses_stream_typed_events(oai):
    events = list(oai.responses.create(model="fake-model", input=USER_TEXT, stream=True))
    assert [(e.type, type(e).__name__) for e in events] == RESPONSE_EVENT_TYPES
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert "".join(d.delta for d in deltas) == reply_text(USER_TEXT, 12)
    item_id = events[2].item.id
    assert all(d.item_id == item_id and d.logprobs == [] for d in deltas)
    completed = events[-1].response
    assert completed.id.startswith("resp_") and completed.id == events[0].response.id
    assert completed.status == "completed"
    assert completed.output_text == reply_text(USER_TEXT, 12)
    assert completed.usage.input_tokens == count_input_tokens([USER_TEXT])
    assert completed.usage.output_tokens == 12
    assert completed.usage.total_tokens == completed.usage.input_tokens + 12
    assert completed.usage.input_tokens_details.cached_tokens == 0
    assert completed.usage.output_tokens_details.reasoning_tokens == 0


def test_responses_raw_events_validate_strictly(fake):
    body = {"model": "fake-model", "stream": True, "input": "hey", "instructions": "be nice"}
    status, headers, data = raw_request(fake.url, "POST", "/v1/responses", body, OPENAI_AUTH)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    adapter = TypeAdapter(ResponseStreamEvent)
    events = sse_events(data)
    for event, payload in events:
        parsed = adapter.validate_python(json.loads(payload))
        assert parsed.type == event
    final = adapter.validate_python(json.loads(events[-1][1]))
    assert isinstance(final, ResponseCompletedEvent)
    assert final.response.instructions == "be nice"
    assert final.response.usage is not None
    assert final.response.usage.input_tokens == count_input_tokens(["hey", "be nice"])


def test_responses_stream_helper_final_response(oai):
    with oai.responses.stream(model="fake-model", input="stream helper") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == final.output_text == reply_text("stream helper", 12)


def test_responses_chaining_with_previous_response_id(fake, oai):
    first = oai.responses.create(model="fake-model", input="first question")
    assert first.output_text == reply_text("first question", 12)
    items = [{"role": "user", "content": [{"type": "input_text", "text": "follow up please"}]}]
    events = list(oai.responses.create(model="fake-model", input=items, stream=True,
                                       previous_response_id=first.id))
    second = events[-1].response
    assert second.previous_response_id == first.id
    assert second.output_text == reply_text("follow up please", 12)
    history = ["first question", reply_text("first question", 12), "follow up please"]
    assert second.usage.input_tokens == count_input_tokens(history)
    conversation = fake.stored_conversation(second.id)
    assert conversation[-1] == ("assistant", second.output_text)
    assert [role for role, _ in conversation] == ["user", "assistant", "user", "assistant"]
    # a third turn that only replays an assistant item still answers the last user turn
    third = oai.responses.create(model="fake-model", previous_response_id=second.id,
                                 input=[{"role": "assistant", "content": [
                                     {"type": "output_text", "text": "noted"}]}])
    assert third.output_text == reply_text("follow up please", 12)


def test_responses_unknown_previous_id_is_bad_request(oai):
    with pytest.raises(openai.BadRequestError) as info:
        oai.responses.create(model="fake-model", input="x", previous_response_id="resp_x", stream=True)
    assert info.value.status_code == 400
    assert info.value.body == {
        "message": "Previous response with id 'resp_x' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }
    assert info.value.code == "previous_response_not_found"


def test_responses_store_false_is_not_chainable(fake, oai):
    first = oai.responses.create(model="fake-model", input="forget me", store=False)
    assert fake.stored_conversation(first.id) is None
    with pytest.raises(openai.BadRequestError):
        oai.responses.create(model="fake-model", input="x", previous_response_id=first.id)
    kept = oai.responses.create(model="fake-model", input="keep me")
    fake.reset()
    with pytest.raises(openai.BadRequestError):
        oai.responses.create(model="fake-model", input="x", previous_response_id=kept.id)


def test_responses_max_output_tokens_is_incomplete(oai):
    events = list(oai.responses.create(model="fake-model", input="a b", stream=True,
                                       max_output_tokens=2))
    assert events[-1].type == "response.incomplete"
    assert type(events[-1]).__name__ == "ResponseIncompleteEvent"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert events[-1].response.output_text == reply_text("a b", 2)


# --------------------------------------------------------------------------- Anthropic


def test_anthropic_stream_text_and_usage(fake, anth):
    with anth.messages.stream(model="claude-fake", max_tokens=100, system="terse",
                              messages=[{"role": "user", "content": USER_TEXT}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == reply_text(USER_TEXT, 12)
    assert final.id.startswith("msg_")
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 12
    assert final.usage.input_tokens == count_input_tokens(["terse", USER_TEXT])
    rec = fake.requests[-1]
    assert rec["path"] == "/v1/messages" and "anthropic-version" in rec["headers"]


def test_anthropic_raw_events(fake):
    body = {"model": "claude-fake", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    status, headers, data = raw_request(fake.url, "POST", "/v1/messages", body, ANTHROPIC_AUTH)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = sse_events(data)
    names = [e for e, _ in events]
    assert names == (["message_start", "content_block_start", "ping"] + ["content_block_delta"] * 12
                     + ["content_block_stop", "message_delta", "message_stop"])
    adapter = TypeAdapter(RawMessageStreamEvent)
    for name, payload in events:
        if name != "ping":
            assert adapter.validate_python(json.loads(payload)).type == name
    delta = json.loads(events[-2][1])
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 12


def test_anthropic_max_tokens_and_non_stream(anth):
    msg = anth.messages.create(model="claude-fake", max_tokens=3,
                               messages=[{"role": "user", "content": "one two"},
                                         {"role": "assistant", "content": "ok"},
                                         {"role": "user", "content": "three four"}])
    assert msg.stop_reason == "max_tokens"
    assert msg.content[0].text == reply_text("three four", 3)
    assert msg.usage.output_tokens == 3


@pytest.mark.parametrize("messages, extra, fragment", [
    ([{"role": "user", "content": "hi"}], {"max_tokens": None}, "max_tokens: Field required"),
    ([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}], {}, 'role "system"'),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], {}, "alternate"),
    ([{"role": "assistant", "content": "a"}], {}, "first message"),
    ([], {}, "at least one message"),
])
def test_anthropic_validation(fake, messages, extra, fragment):
    body = {"model": "claude-fake", "max_tokens": 10, "messages": messages, **extra}
    body = {k: v for k, v in body.items() if v is not None}
    status, _, data = raw_request(fake.url, "POST", "/v1/messages", body, ANTHROPIC_AUTH)
    assert status == 400
    err = json.loads(data)
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert fragment in err["error"]["message"]


def test_anthropic_system_role_raises_bad_request(anth):
    with pytest.raises(anthropic.BadRequestError):
        anth.messages.create(model="claude-fake", max_tokens=10,
                             messages=[{"role": "system", "content": "s"},
                                       {"role": "user", "content": "hi"}])


def test_anthropic_headers_required(fake):
    body = {"model": "claude-fake", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    status, _, data = raw_request(fake.url, "POST", "/v1/messages", body,
                                  {"anthropic-version": "2023-06-01"})
    assert status == 401 and json.loads(data)["error"]["type"] == "authentication_error"
    status, _, data = raw_request(fake.url, "POST", "/v1/messages", body, {"x-api-key": "k"})
    assert status == 400 and "anthropic-version" in json.loads(data)["error"]["message"]


# --------------------------------------------------------------------------- auth and models


def test_bad_key_openai(fake):
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="bad-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "invalid_api_key"
    assert info.value.type == "invalid_request_error"
    assert isinstance(info.value.body, dict)
    assert info.value.body["message"].startswith("Incorrect API key provided")
    status, _, data = raw_request(fake.url, "GET", "/v1/models")
    assert status == 401 and "error" in json.loads(data)


def test_bad_key_anthropic(fake):
    client = anthropic.Anthropic(base_url=fake.url, api_key="bad-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        client.messages.create(model="claude-fake", max_tokens=5,
                               messages=[{"role": "user", "content": "x"}])
    assert info.value.body == {"type": "error", "error": {"type": "authentication_error",
                                                          "message": "invalid x-api-key"}}
    status, _, _ = raw_request(fake.url, "POST", "/v1/messages",
                               {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
                               {"x-api-key": "bad-key", "anthropic-version": "2023-06-01"})
    assert status == 401


def test_models_list(fake, oai, anth):
    assert [m.id for m in oai.models.list()] == list(MODEL_IDS)
    assert [m.id for m in anth.models.list()] == list(MODEL_IDS)


# --------------------------------------------------------------------------- HTTP faults


@pytest.mark.parametrize("code, exc", [
    (401, openai.AuthenticationError),
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (529, openai.APIStatusError),
])
def test_openai_http_faults(fake, oai, code, exc):
    with pytest.raises(exc) as info:
        chat_stream_text(oai, model=f"fake-error-{code}")
    assert info.value.status_code == code
    assert set(info.value.body) == {"message", "type", "param", "code"}
    if code == 429:
        assert info.value.response.headers["retry-after"] == "1"
        assert info.value.code == "rate_limit_exceeded"
    with pytest.raises(exc):
        oai.responses.create(model=f"fake-error-{code}", input="x", stream=True)


@pytest.mark.parametrize("code, exc, etype", [
    (401, anthropic.AuthenticationError, "authentication_error"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (529, getattr(anthropic, "OverloadedError", anthropic.InternalServerError), "overloaded_error"),
])
def test_anthropic_http_faults(anth, code, exc, etype):
    with pytest.raises(exc) as info:
        with anth.messages.stream(model=f"claude-error-{code}", max_tokens=10,
                                  messages=[{"role": "user", "content": "x"}]) as stream:
            list(stream.text_stream)
    assert info.value.status_code == code
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == etype
    if code == 429:
        assert info.value.response.headers["retry-after"] == "1"


def test_retries_are_counted_per_path(fake):
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=1)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="fake-error-500", messages=[{"role": "user", "content": "x"}])
    assert fake.request_count("/v1/chat/completions") == 2
    assert fake.counts == {"/v1/chat/completions": 2}
    assert [r["status"] for r in fake.requests] == [500, 500]


# --------------------------------------------------------------------------- in-stream faults


def test_midstream_error_openai_chat(fake, oai):
    seen = ""
    with pytest.raises(openai.APIError) as info:
        stream = oai.chat.completions.create(model="fake-midstream-error", stream=True,
                                             messages=[{"role": "user", "content": USER_TEXT}])
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen += chunk.choices[0].delta.content
    assert seen == reply_text(USER_TEXT, 3)
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "server_error"
    assert fake.requests[-1]["output_tokens"] == 3


def test_midstream_error_openai_responses(oai):
    events = list(oai.responses.create(model="fake-midstream-error", input=USER_TEXT, stream=True))
    assert [e.type for e in events[4:7]] == ["response.output_text.delta"] * 3
    last = events[-1]
    assert type(last).__name__ == "ResponseErrorEvent"
    assert last.type == "error" and last.code == "server_error" and last.message
    assert last.sequence_number == len(events) - 1
    assert not any(e.type == "response.completed" for e in events)


def test_midstream_error_anthropic(anth):
    seen = []
    with pytest.raises(anthropic.APIStatusError) as info:
        with anth.messages.stream(model="claude-midstream-error", max_tokens=100,
                                  messages=[{"role": "user", "content": USER_TEXT}]) as stream:
            for text in stream.text_stream:
                seen.append(text)
    assert "".join(seen) == reply_text(USER_TEXT, 3)
    assert info.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_stall_times_out_and_is_recorded_as_disconnect(fake):
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0, timeout=0.4)
    seen = ""
    # The stall lasts an hour: only the client's read timeout can have ended it.
    with pytest.raises(openai.APITimeoutError):
        for chunk in client.chat.completions.create(model="fake-stall", stream=True,
                                                    messages=[{"role": "user", "content": "x"}]):
            if chunk.choices and chunk.choices[0].delta.content:
                seen += chunk.choices[0].delta.content
    assert seen == reply_text("x", 3)
    client.close()
    assert wait_for(lambda: fake.requests[-1]["disconnected"])


def test_stall_anthropic_times_out(fake):
    client = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0, timeout=0.4)
    # the anthropic SDK surfaces a read timeout during iteration as the HTTP client's own error
    with pytest.raises((anthropic.APITimeoutError, httpx2.TimeoutException)):
        with client.messages.stream(model="claude-stall", max_tokens=100,
                                    messages=[{"role": "user", "content": "x"}]) as stream:
            list(stream.text_stream)
    client.close()
    assert wait_for(lambda: fake.requests[-1]["disconnected"])


def test_malformed_raises(oai, anth):
    with pytest.raises(ValueError):
        chat_stream_text(oai, model="fake-malformed")
    with pytest.raises(ValueError):
        list(oai.responses.create(model="fake-malformed", input="x", stream=True))
    with pytest.raises(ValueError):
        with anth.messages.stream(model="claude-malformed", max_tokens=100,
                                  messages=[{"role": "user", "content": "x"}]) as stream:
            list(stream.text_stream)


# --------------------------------------------------------------------------- pacing & size


def test_slow_and_long(fake, oai):
    fake.tokens = 4
    # A lower bound only, from before the request: the server's pauses lengthen the call, and a
    # slow machine can only lengthen it more (less a millisecond for timer rounding).
    started = time.monotonic()
    text, _ = chat_stream_text(oai, model="fake-slow")
    assert time.monotonic() - started >= 3 * 0.05 - 0.001
    assert text == reply_text(USER_TEXT, 4)
    text, _ = chat_stream_text(oai, model="fake-long")
    assert text == reply_text(USER_TEXT, LONG_TOKENS)
    assert fake.requests[-1]["output_tokens"] == LONG_TOKENS


def test_interval_and_first_token_delay(fake, oai):
    fake.tokens = 5
    fake.interval = 0.02
    fake.first_token_delay = 0.1
    # Lower bounds from a clock started before the request: the server waits the delay after
    # reading the request and then sends token i no earlier than i intervals later, so a slow
    # machine can only make the tokens later (a millisecond is allowed for the rounding of the
    # event loop's timers). The gaps between arrivals would prove nothing: a client that fell
    # behind reads several tokens at once.
    started = time.monotonic()
    stream = oai.chat.completions.create(model="fake-model", stream=True,
                                         messages=[{"role": "user", "content": "x"}])
    arrivals = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 5
    assert arrivals[0] >= 0.1 - 0.001
    assert arrivals[-1] >= 0.1 + 4 * 0.02 - 0.001


def test_client_disconnect_is_recorded_without_server_errors(fake, oai, caplog):
    fake.tokens = 200
    fake.interval = 0.005
    with caplog.at_level(logging.DEBUG, logger="aiohttp"):
        stream = oai.chat.completions.create(model="fake-model", stream=True,
                                             messages=[{"role": "user", "content": "x"}])
        for i, _ in enumerate(stream):
            if i == 5:
                break
        stream.close()
        assert wait_for(lambda: fake.requests[-1]["disconnected"])
        assert fake.requests[-1]["output_tokens"] < 200
        # the server keeps serving normally afterwards
        fake.interval = 0.0
        fake.tokens = 12
        assert chat_stream_text(oai)[0] == reply_text(USER_TEXT, 12)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == [], [r.getMessage() for r in errors]


def test_concurrent_async_streams(fake):
    fake.tokens = 30
    fake.interval = 0.002

    async def run() -> list[str]:
        client = openai.AsyncOpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0)
        aclient = anthropic.AsyncAnthropic(base_url=fake.url, api_key="k", max_retries=0)

        async def one_openai(i: int) -> str:
            stream = await client.chat.completions.create(
                model="fake-model", stream=True, messages=[{"role": "user", "content": f"n{i}"}])
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        async def one_anthropic(i: int) -> str:
            async with aclient.messages.stream(model="claude-fake", max_tokens=100,
                                               messages=[{"role": "user", "content": f"n{i}"}]) as s:
                return "".join([t async for t in s.text_stream])

        try:
            return await asyncio.gather(*[one_openai(i) for i in range(15)],
                                        *[one_anthropic(i) for i in range(15)])
        finally:
            await client.close()
            await aclient.close()

    texts = asyncio.run(run())
    assert texts == [reply_text(f"n{i}", 30) for i in range(15)] * 2
    assert fake.request_count() == 30


# --------------------------------------------------------------------------- recording & lifecycle


def test_requests_are_recorded_and_reset(fake, oai):
    oai.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "x"}],
                                extra_headers={"X-Custom-Thing": "Yes"})
    rec = fake.requests[-1]
    assert rec["headers"]["x-custom-thing"] == "Yes"
    assert rec["json"]["messages"] == [{"role": "user", "content": "x"}]
    assert rec["model"] == "fake-model" and rec["status"] == 200
    fake.reset()
    assert len(fake.requests) == 0 and fake.request_count() == 0


def test_start_stop_and_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        FakeUpstream(host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        FakeUpstream(host="example.com")
    server = FakeUpstream(host="localhost").start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        status, _, data = raw_request(server.url, "GET", "/v1/models", headers=OPENAI_AUTH)
        assert status == 200 and json.loads(data)["object"] == "list"
    finally:
        server.stop()
    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.url


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_cli_refuses_non_loopback_host():
    proc = subprocess.run([sys.executable, "-m", "tests.fake_upstream", "--host", "0.0.0.0", "--port", "0"],
                          cwd=ROOT, env=_cli_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "loopback" in proc.stderr


def test_cli_serves_and_stops_on_ctrl_c():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_upstream", "--host", "127.0.0.1", "--port", "0",
         "--tokens", "5", "--interval-ms", "0", "--first-token-ms", "0"],
        cwd=ROOT, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0, timeout=10)
        done = client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "q"}])
        assert done.choices[0].message.content == reply_text("q", 5)
        client.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# --------------------------------------------------------------------------- reasoning, refusals, replays


def test_parse_faults_reads_reasoning_and_refusal_words():
    assert parse_faults("fake-think-slow")[4:] == (True, False, False) and parse_faults("fake-think-slow").slow
    assert parse_faults("fake-thinktag")[4:] == (True, True, False)
    assert parse_faults("fake-refuse")[4:] == (False, False, True)
    assert parse_faults("fake-model")[4:] == (False, False, False)


def test_reasoning_parts_echo_the_user_then_conclude():
    assert reasoning_parts("a b") == [["Considering:", " a", " b"], ["Answering", " now."]]
    assert reasoning_text("") == "Considering the question.\n\nAnswering now."
    assert len(reasoning_parts(" ".join(["w"] * 50))[0]) == 13


def test_chat_think_streams_reasoning_content_then_text(fake, oai):
    text, chunks = chat_stream_text(oai, model="fake-think", stream_options={"include_usage": True})
    thought = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                      for c in chunks if c.choices)
    assert thought == reasoning_text(USER_TEXT)
    assert text == reply_text(USER_TEXT, 12)
    first_text = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    assert all(not (c.choices and (c.choices[0].delta.model_extra or {}).get("reasoning_content"))
               for c in chunks[first_text:])
    reasoning = sum(len(part) for part in reasoning_parts(USER_TEXT))
    usage = chunks[-1].usage
    assert usage.completion_tokens == 12 + reasoning
    assert usage.completion_tokens_details.reasoning_tokens == reasoning


def test_chat_thinktag_puts_the_reasoning_in_think_tags(oai):
    text, _ = chat_stream_text(oai, model="fake-thinktag")
    assert text == "<think>" + reasoning_text(USER_TEXT) + "</think>\n\n" + reply_text(USER_TEXT, 12)
    done = oai.chat.completions.create(model="fake-thinktag", messages=[{"role": "user", "content": "x"}])
    assert done.choices[0].message.content == "<think>" + reasoning_text("x") + "</think>\n\n" + reply_text("x", 12)


def test_chat_refuse_streams_delta_refusal(oai):
    text, chunks = chat_stream_text(oai, model="fake-refuse")
    assert text == ""
    assert chunks[0].choices[0].delta.refusal == "" and chunks[0].choices[0].delta.content is None
    assert "".join(c.choices[0].delta.refusal or "" for c in chunks if c.choices) == REFUSAL_TEXT
    done = oai.chat.completions.create(model="fake-refuse", messages=[{"role": "user", "content": "x"}])
    assert (done.choices[0].message.content, done.choices[0].message.refusal) == (None, REFUSAL_TEXT)


def test_chat_reasoning_effort_is_checked(fake):
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "max"}
    status, _, data = raw_request(fake.url, "POST", "/v1/chat/completions", body, OPENAI_AUTH)
    assert status == 400 and json.loads(data)["error"]["param"] == "reasoning_effort"


def test_responses_think_streams_a_reasoning_summary_then_the_message(fake, oai):
    events = list(oai.responses.create(model="fake-think", input=USER_TEXT, stream=True,
                                       reasoning={"effort": "low", "summary": "auto"},
                                       include=["reasoning.encrypted_content"]))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    types = [e.type for e in events]
    assert types.index("response.output_item.done") < types.index("response.output_text.delta")
    summary = [e for e in events if e.type == "response.reasoning_summary_text.delta"]
    assert [e.summary_index for e in summary] == [0] * len(reasoning_parts(USER_TEXT)[0]) + [1, 1]
    assert [e.delta for e in summary] == [d for part in reasoning_parts(USER_TEXT) for d in part]
    completed = events[-1].response
    assert [item.type for item in completed.output] == ["reasoning", "message"]
    assert [s.text for s in completed.output[0].summary] == ["".join(p) for p in reasoning_parts(USER_TEXT)]
    assert completed.output[0].encrypted_content
    assert completed.output_text == reply_text(USER_TEXT, 12)
    assert completed.reasoning.effort == "low"
    assert completed.usage.output_tokens_details.reasoning_tokens == sum(map(len, reasoning_parts(USER_TEXT)))


def test_responses_think_raw_events_validate_strictly(fake):
    body = {"model": "fake-think", "stream": True, "input": "hey"}
    status, _, data = raw_request(fake.url, "POST", "/v1/responses", body, OPENAI_AUTH)
    assert status == 200
    adapter = TypeAdapter(ResponseStreamEvent)
    for event, payload in sse_events(data):
        assert adapter.validate_python(json.loads(payload)).type == event


def test_responses_refuse_streams_refusal_events(oai):
    events = list(oai.responses.create(model="fake-refuse", input=USER_TEXT, stream=True))
    assert "".join(e.delta for e in events if e.type == "response.refusal.delta") == REFUSAL_TEXT
    assert not [e for e in events if e.type == "response.output_text.delta"]
    message = events[-1].response.output[0]
    assert message.content[0].type == "refusal" and message.content[0].refusal == REFUSAL_TEXT


def test_responses_reasoning_setting_is_checked(fake):
    body = {"model": "fake-model", "input": "x", "reasoning": {"effort": "extreme"}}
    status, _, data = raw_request(fake.url, "POST", "/v1/responses", body, OPENAI_AUTH)
    assert status == 400 and json.loads(data)["error"]["param"] == "reasoning"


def test_anthropic_think_streams_signed_thinking_blocks(anth):
    with anth.messages.stream(model="claude-think", max_tokens=2000,
                              thinking={"type": "enabled", "budget_tokens": 1024},
                              messages=[{"role": "user", "content": USER_TEXT}]) as stream:
        final = stream.get_final_message()
    parts = ["".join(p) for p in reasoning_parts(USER_TEXT)]
    assert [(b.type, b.thinking, b.signature) for b in final.content[:2]] == [
        ("thinking", part, thinking_signature(part)) for part in parts]
    assert final.content[2].type == "text" and final.content[2].text == reply_text(USER_TEXT, 12)
    assert final.usage.output_tokens == 12 + sum(map(len, reasoning_parts(USER_TEXT)))
    again = anth.messages.create(model="claude-think", max_tokens=2000,
                                 thinking={"type": "enabled", "budget_tokens": 1024},
                                 messages=[{"role": "user", "content": USER_TEXT},
                                           {"role": "assistant", "content": [b.model_dump() for b in final.content]},
                                           {"role": "user", "content": "more"}])
    assert [b.type for b in again.content] == ["thinking", "thinking", "text"]


def test_anthropic_refuse_stops_for_refusal(anth):
    with anth.messages.stream(model="claude-refuse", max_tokens=100,
                              messages=[{"role": "user", "content": "x"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == REFUSAL_TEXT and final.stop_reason == "refusal"
    assert len(REFUSAL_TOKENS) == final.usage.output_tokens


SIGNED = {"type": "thinking", "thinking": "t", "signature": thinking_signature("t")}


@pytest.mark.parametrize("extra, messages, fragment", [
    ({"thinking": {"type": "enabled", "budget_tokens": 1000}}, None, "greater than or equal to 1024"),
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 1024}, None,
     "`max_tokens` must be greater than `thinking.budget_tokens`"),
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}, "temperature": 0.5}, None,
     "`temperature` may only be set to 1 when thinking is enabled"),
    ({"thinking": {"type": "on"}}, None, "expected tags"),
    ({}, [{"role": "user", "content": [SIGNED]}], "messages.0.content.0: `thinking` blocks can only appear"),
    ({}, [{"role": "user", "content": "q"}, {"role": "assistant", "content": [{**SIGNED, "thinking": "u"}]},
          {"role": "user", "content": "r"}], "messages.1.content.0: Invalid `signature` in `thinking` block"),
])
def test_anthropic_extended_thinking_is_checked(fake, extra, messages, fragment):
    body = {"model": "claude-fake", "max_tokens": 2000, "messages": messages or [{"role": "user", "content": "x"}],
            **extra}
    status, _, data = raw_request(fake.url, "POST", "/v1/messages", body, ANTHROPIC_AUTH)
    assert status == 400, data
    assert fragment in json.loads(data)["error"]["message"]


def test_anthropic_signed_blocks_are_taken_back(fake):
    body = {"model": "claude-fake", "max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "q"},
                         {"role": "assistant", "content": [SIGNED, {"type": "redacted_thinking", "data": "x"},
                                                           {"type": "text", "text": "a"}]},
                         {"role": "user", "content": "r"}]}
    status, _, data = raw_request(fake.url, "POST", "/v1/messages", body, ANTHROPIC_AUTH)
    assert status == 200, data


@pytest.mark.parametrize("path, model, headers", [
    ("/v1/chat/completions", "replay:chat/refusal_gpt_4o", OPENAI_AUTH),
    ("/v1/responses", "replay:responses/reasoning_text_openrouter_gpt_oss", OPENAI_AUTH),
    ("/v1/messages", "replay:messages/thinking_claude_sonnet_4", ANTHROPIC_AUTH),
])
def test_replay_serves_the_recording_verbatim(fake, path, model, headers):
    body = {"model": model, "stream": True, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
            "input": "x"}
    status, response_headers, data = raw_request(fake.url, "POST", path, body, headers)
    assert status == 200
    assert response_headers["content-type"] == "text/event-stream; charset=utf-8"
    recording = replay_path(model)
    assert recording is not None and data == recording.read_bytes()
    assert fake.requests[-1]["replay"] == recording.relative_to(RECORDED_DIR).as_posix()


@pytest.mark.parametrize("path, model, headers, status, fragment", [
    ("/v1/chat/completions", "replay:chat/missing", OPENAI_AUTH, 404, "names no recording"),
    ("/v1/chat/completions", "replay:../../etc/passwd", OPENAI_AUTH, 404, "names no recording"),
    ("/v1/messages", "replay:messages/missing", ANTHROPIC_AUTH, 404, "names no recording"),
    ("/v1/responses", "replay:chat/refusal_gpt_4o", OPENAI_AUTH, 400, "is a recording of the chat API"),
    ("/v1/messages", "replay:responses/refusal_synthetic", ANTHROPIC_AUTH, 400, "recording of the responses API"),
])
def test_replay_of_no_recording_or_another_api_is_refused(fake, path, model, headers, status, fragment):
    body = {"model": model, "stream": True, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
            "input": "x"}
    got, _, data = raw_request(fake.url, "POST", path, body, headers)
    assert got == status
    assert fragment in json.loads(data)["error"]["message"]


def test_replay_path_names_only_files_under_the_recordings():
    assert replay_path("replay:chat/refusal_gpt_4o") == RECORDED_DIR / "chat" / "refusal_gpt_4o.sse"
    for model in ("replay:chat/../x", "replay:chat", "fake-model", "replay:/etc/passwd", "replay:Chat/x"):
        assert replay_path(model) is None
