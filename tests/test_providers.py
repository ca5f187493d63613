"""Every provider, through its real SDK, against the fake upstream's real wire formats."""
from __future__ import annotations

import socket

import pytest

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
from conversations.registry import build_registry
from tests.fake_upstream import reply_text

CLOUD = ["openai", "openai-responses", "anthropic", "ollama"]
KEY_SETTING = {
    "openai": "OPENAI_API_KEY",
    "openai-responses": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "ollama": "OPENAI_COMPATIBLE_ENDPOINTS[0].api_key",
}
PATH = {
    "openai": "/v1/chat/completions",
    "openai-responses": "/v1/responses",
    "anthropic": "/v1/messages",
    "ollama": "/v1/chat/completions",
}


async def collect(provider, model="fake-model", messages=None, settings=None):
    request = GenerationRequest(
        model=model,
        messages=messages or [Message("user", "Hello tree")],
        settings=settings or GenerationSettings(),
    )
    events = []
    try:
        async for event in provider.stream(request):
            events.append(event)
    except ProviderError as exc:
        return events, exc
    return events, None


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("name", CLOUD)
async def test_stream_text_usage_and_response_id(providers, upstream, name):
    events, error = await collect(providers.providers[name])
    assert error is None
    assert text_of(events) == reply_text("Hello tree", 12)
    usage = [e for e in events if isinstance(e, Usage)]
    assert usage and usage[-1].output_tokens == 12 and (usage[-1].input_tokens or 0) > 0
    assert any(isinstance(e, ResponseId) and e.id for e in events)
    assert events[-1] == Finish("stop") or isinstance(events[-1], Finish)
    assert upstream.requests[-1]["path"] == PATH[name]


async def test_chat_completions_request_shape(providers, upstream):
    await collect(
        providers.providers["openai"],
        messages=[Message("system", "From the branch"), Message("user", "Hi")],
        settings=GenerationSettings(system_prompt="Be brief", temperature=0.3, max_tokens=40, top_p=0.9),
    )
    body = upstream.requests[-1]["json"]
    assert body["messages"][0] == {"role": "system", "content": "From the branch\n\nBe brief"}
    assert body["messages"][1:] == [{"role": "user", "content": "Hi"}]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["top_p"], body["max_completion_tokens"]) == (0.3, 0.9, 40)
    assert upstream.requests[-1]["headers"]["authorization"] == "Bearer test-key"


async def test_openai_compatible_endpoint_sends_max_tokens(providers, upstream):
    await collect(providers.providers["ollama"], settings=GenerationSettings(max_tokens=5))
    body = upstream.requests[-1]["json"]
    assert body["max_tokens"] == 5 and "max_completion_tokens" not in body


async def test_max_tokens_cuts_the_reply_with_finish_reason_length(providers, upstream):
    events, _ = await collect(providers.providers["ollama"], settings=GenerationSettings(max_tokens=5))
    assert [e for e in events if isinstance(e, Usage)][-1].output_tokens == 5
    assert events[-1] == Finish("length")


async def test_anthropic_system_is_top_level_and_roles_alternate(providers, upstream):
    events, error = await collect(
        providers.providers["anthropic"],
        messages=[
            Message("system", "Rules"),
            Message("user", "one"),
            Message("user", "two"),
            Message("assistant", ""),
            Message("assistant", "reply"),
            Message("user", "three"),
        ],
        settings=GenerationSettings(temperature=1.7),
    )
    assert error is None
    body = upstream.requests[-1]["json"]
    assert body["system"] == "Rules"
    assert body["messages"] == [
        {"role": "user", "content": "one\n\ntwo"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "three"},
    ]
    assert body["max_tokens"] == 4096 and body["temperature"] == 1.0
    headers = upstream.requests[-1]["headers"]
    assert "test-key" in (headers.get("x-api-key", ""), headers.get("authorization", "").removeprefix("Bearer "))
    assert text_of(events) == reply_text("three", 12)


async def test_responses_chain_per_branch_from_the_last_reply(providers, upstream):
    provider = providers.providers["openai-responses"]
    first, _ = await collect(provider, messages=[Message("user", "first question")])
    first_id = next(e.id for e in first if isinstance(e, ResponseId))
    branch = [
        Message("user", "first question"),
        Message("assistant", text_of(first), response_id=first_id, provider="openai-responses"),
        Message("user", "follow up"),
    ]
    events, error = await collect(provider, messages=branch, settings=GenerationSettings(system_prompt="S"))
    assert error is None
    body = upstream.requests[-1]["json"]
    assert body["previous_response_id"] == first_id
    assert body["input"] == [{"role": "user", "content": "follow up"}]
    assert body["instructions"] == "S"
    assert text_of(events) == reply_text("follow up", 12)


async def test_responses_ignore_ids_from_other_providers(providers, upstream):
    branch = [
        Message("user", "q"),
        Message("assistant", "a", response_id="chatcmpl-123", provider="openai"),
        Message("user", "r"),
    ]
    await collect(providers.providers["openai-responses"], messages=branch)
    body = upstream.requests[-1]["json"]
    assert "previous_response_id" not in body
    assert [item["content"] for item in body["input"]] == ["q", "a", "r"]


async def test_responses_fall_back_to_full_history_when_the_id_is_rejected(providers, upstream):
    branch = [
        Message("user", "q"),
        Message("assistant", "a", response_id="resp_expired", provider="openai-responses"),
        Message("user", "r"),
    ]
    events, error = await collect(providers.providers["openai-responses"], messages=branch)
    assert error is None
    first, second = [r["json"] for r in upstream.requests[-2:]]
    assert first["previous_response_id"] == "resp_expired"
    assert "previous_response_id" not in second
    assert [item["content"] for item in second["input"]] == ["q", "a", "r"]
    assert text_of(events) == reply_text("r", 12)


HTTP_FAULTS = [
    ("fake-error-401", "rejected the API key (401)"),
    ("fake-error-429", "rate limiting this key (429)"),
    ("fake-error-500", "server error (500)"),
    ("fake-error-529", "overloaded (529)"),
]


@pytest.mark.parametrize("name", CLOUD)
@pytest.mark.parametrize("model,message", HTTP_FAULTS)
async def test_http_errors_become_clear_messages(providers, name, model, message):
    events, error = await collect(providers.providers[name], model=model)
    assert events == []
    assert error is not None and message in error.message
    if "401" in model:
        assert KEY_SETTING[name] in error.message
    if "429" in model:
        assert "Retry after 1 s" in error.message


STREAM_FAULTS = [
    ("fake-midstream-error", "mid-stream"),
    ("fake-stall", "stopped sending"),
    ("fake-malformed", "malformed"),
]


@pytest.mark.parametrize("name", CLOUD)
@pytest.mark.parametrize("model,message", STREAM_FAULTS)
async def test_stream_faults_keep_the_text_that_arrived(providers, name, model, message):
    events, error = await collect(providers.providers[name], model=model)
    assert error is not None and message in error.message, error
    assert text_of(events) == reply_text("Hello tree", 12)[: len(text_of(events))]
    assert len([e for e in events if isinstance(e, TextDelta)]) == 3


@pytest.mark.parametrize("name", CLOUD)
async def test_connection_refused(providers, settings, name):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}"
    settings.OPENAI_BASE_URL = url + "/v1"
    settings.ANTHROPIC_BASE_URL = url
    settings.OPENAI_COMPATIBLE_ENDPOINTS = [{"name": "ollama", "base_url": url + "/v1", "models": ["fake-model"]}]
    events, error = await collect(build_registry().providers[name])
    assert events == []
    assert error is not None and "Could not reach" in error.message and url in error.message


async def test_retries_happen_before_the_first_token_only(providers, settings, upstream):
    settings.PROVIDER_MAX_RETRIES = 2
    provider = build_registry().providers["openai"]
    _, error = await collect(provider, model="fake-error-500")
    assert error is not None
    assert upstream.request_count("/v1/chat/completions") == 3
    upstream.reset()
    _, error = await collect(provider, model="fake-midstream-error")
    assert error is not None
    assert upstream.request_count("/v1/chat/completions") == 1
