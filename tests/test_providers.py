"""Every provider, through its real SDK, against the fake upstream's real wire formats."""
from __future__ import annotations

import socket

import pytest

from conversations.providers.anthropic_messages import DEFAULT_MAX_TOKENS
from conversations.providers.base import (
    FailureKind,
    Finish,
    GenerationRequest,
    GenerationSettings,
    Message,
    ProviderError,
    ReasoningBlock,
    ReasoningDelta,
    RefusalDelta,
    ResponseId,
    TextDelta,
    Usage,
)
from conversations.providers.openai_chat import ThinkTagSplitter
from conversations.registry import build_registry
from tests.fake_upstream import REFUSAL_TEXT, reasoning_parts, reasoning_text, reply_text, thinking_signature

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
    ("fake-error-401", "rejected the API key (401)", FailureKind.AUTH),
    ("fake-error-403", "refused the request (403)", FailureKind.AUTH),
    ("fake-error-404", "does not know this model or endpoint (404)", FailureKind.MODEL_NOT_FOUND),
    ("fake-error-429", "rate limiting this key (429)", FailureKind.RATE_LIMITED),
    ("fake-error-500", "server error (500)", FailureKind.SERVER_ERROR),
    ("fake-error-529", "overloaded (529)", FailureKind.SERVER_ERROR),
    ("fake-error-context", "rejected the request (400)", FailureKind.CONTEXT_LENGTH),
    ("fake-error-filter", "rejected the request (400)", FailureKind.CONTENT_FILTER),
]


@pytest.mark.parametrize("name", CLOUD)
@pytest.mark.parametrize("model,message,kind", HTTP_FAULTS)
async def test_http_errors_are_classified_with_their_detail(providers, name, model, message, kind):
    events, error = await collect(providers.providers[name], model=model)
    assert events == []
    assert error is not None and message in error.message
    assert error.kind == kind and error.status == int(message[-4:-1])
    if "401" in model:
        assert KEY_SETTING[name] in error.message
    if "429" in model:
        assert "Retry after 1 s" in error.message and error.retry_after == 1
    else:
        assert error.retry_after is None


STREAM_FAULTS = [
    ("fake-midstream-error", "mid-stream", FailureKind.SERVER_ERROR),
    ("fake-stall", "stopped sending", FailureKind.TIMEOUT),
    ("fake-malformed", "malformed", FailureKind.INCOMPLETE),
]


@pytest.mark.parametrize("name", CLOUD)
@pytest.mark.parametrize("model,message,kind", STREAM_FAULTS)
async def test_stream_faults_keep_the_text_that_arrived(providers, name, model, message, kind):
    events, error = await collect(providers.providers[name], model=model)
    assert error is not None and message in error.message, error
    assert error.kind == kind
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
    assert error.kind == FailureKind.UNREACHABLE


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


# --- reasoning and refusals ---------------------------------------------------------------------


def kinds_of(events) -> list[str]:
    """The kinds of event in order, a run of one kind counted once."""
    kinds: list[str] = []
    for event in events:
        if not kinds or kinds[-1] != type(event).__name__:
            kinds.append(type(event).__name__)
    return kinds


def reasoning_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def refusal_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, RefusalDelta))


def split_all(pieces: list[str]) -> tuple[str, str, list[tuple[str, str]]]:
    """Feed pieces to a splitter: the whole reasoning, the whole text, and what each piece gave."""
    splitter = ThinkTagSplitter()
    outputs = [splitter.feed(piece) for piece in pieces]
    outputs.append(splitter.close())
    return "".join(r for r, _ in outputs), "".join(t for _, t in outputs), outputs


THINK_CONTENT = "\n<think>\nLet me think: 2+2 is 4.\n</think>\n\nThe answer is 4."


@pytest.mark.parametrize("cut", range(1, len(THINK_CONTENT)))
def test_think_tags_split_at_any_point(cut):
    reasoning, text, _ = split_all([THINK_CONTENT[:cut], THINK_CONTENT[cut:]])
    assert (reasoning, text) == ("\nLet me think: 2+2 is 4.\n", "The answer is 4.")


def test_think_tags_split_into_single_characters():
    reasoning, text, _ = split_all(list(THINK_CONTENT))
    assert (reasoning, text) == ("\nLet me think: 2+2 is 4.\n", "The answer is 4.")


@pytest.mark.parametrize("content", ["Hello <think>not reasoning</think> there", "<thinking>x</thinking>", "4"])
@pytest.mark.parametrize("cut", range(1, 8))
def test_content_without_a_think_opening_is_text_at_once(content, cut):
    first, rest = content[:cut], content[cut:]
    reasoning, text, outputs = split_all([first, rest])
    assert (reasoning, text) == ("", content)
    # Only what could still become "<think>" waits for the next piece.
    could_be_tag = "<think>".startswith(first.lstrip()) and len(first.lstrip()) < len("<think>")
    assert outputs[0] == ("", "" if could_be_tag else first)


def test_an_unclosed_think_is_reasoning_and_whitespace_alone_is_text():
    assert split_all(["<think>still thinking </th"])[:2] == ("still thinking </th", "")
    assert split_all(["  \n", " "])[:2] == ("", "  \n ")
    assert split_all(["<think></think>", "Hi"])[:2] == ("", "Hi")
    assert split_all(["<think>a</think>", "\n\n", "  ", "b c"])[:2] == ("a", "b c")


def test_reasoning_streams_as_it_comes_and_only_a_possible_closing_tag_waits():
    _, _, outputs = split_all(["<think>one ", "two </", "thi", "nk>", "text"])
    assert outputs == [("one ", ""), ("two ", ""), ("", ""), ("", ""), ("", "text"), ("", "")]


@pytest.mark.parametrize("name", ["openai", "ollama"])
async def test_chat_think_model_streams_reasoning_content_before_the_reply(providers, upstream, name):
    events, error = await collect(providers.providers[name], model="fake-think")
    assert error is None
    assert reasoning_of(events) == reasoning_text("Hello tree") == "Considering: Hello tree\n\nAnswering now."
    assert text_of(events) == reply_text("Hello tree", 12)
    assert kinds_of(events) == ["ResponseId", "ReasoningDelta", "TextDelta", "Usage", "Finish"]
    reasoning_count = sum(len(part) for part in reasoning_parts("Hello tree"))
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert (usage.output_tokens, usage.reasoning_tokens) == (12 + reasoning_count, reasoning_count)


async def test_chat_thinktag_model_has_its_reasoning_split_from_the_content(providers, upstream):
    events, error = await collect(providers.providers["ollama"], model="fake-thinktag")
    assert error is None
    assert reasoning_of(events) == reasoning_text("Hello tree")
    assert text_of(events) == reply_text("Hello tree", 12)
    assert kinds_of(events) == ["ResponseId", "ReasoningDelta", "TextDelta", "Usage", "Finish"]


async def test_responses_think_model_streams_its_summary_and_keeps_the_item(providers, upstream):
    events, error = await collect(providers.providers["openai-responses"], model="fake-think")
    assert error is None
    assert reasoning_of(events) == reasoning_text("Hello tree")
    assert text_of(events) == reply_text("Hello tree", 12)
    blocks = [e.block for e in events if isinstance(e, ReasoningBlock)]
    assert len(blocks) == 1 and blocks[0]["type"] == "reasoning" and blocks[0]["id"].startswith("rs_")
    assert blocks[0]["summary"] == [
        {"type": "summary_text", "text": "".join(part)} for part in reasoning_parts("Hello tree")]
    assert kinds_of(events) == ["ResponseId", "ReasoningDelta", "ReasoningBlock", "TextDelta", "Usage", "Finish"]
    reasoning_count = sum(len(part) for part in reasoning_parts("Hello tree"))
    assert [e for e in events if isinstance(e, Usage)][-1].reasoning_tokens == reasoning_count


async def test_anthropic_think_model_streams_signed_thinking_blocks(providers, upstream):
    events, error = await collect(providers.providers["anthropic"], model="fake-think",
                                  settings=GenerationSettings(thinking_budget=1024))
    assert error is None
    assert reasoning_of(events) == reasoning_text("Hello tree")
    assert text_of(events) == reply_text("Hello tree", 12)
    parts = ["".join(part) for part in reasoning_parts("Hello tree")]
    assert [e.block for e in events if isinstance(e, ReasoningBlock)] == [
        {"type": "thinking", "thinking": part, "signature": thinking_signature(part)} for part in parts]
    assert kinds_of(events) == [
        "ResponseId", "ReasoningDelta", "ReasoningBlock", "ReasoningDelta", "ReasoningBlock", "TextDelta",
        "Usage", "Finish"]
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert usage.reasoning_tokens is None  # Anthropic does not count it apart


@pytest.mark.parametrize("name", ["openai", "openai-responses"])
async def test_openai_refuse_model_refuses(providers, upstream, name):
    events, error = await collect(providers.providers[name], model="fake-refuse")
    assert error is None
    assert refusal_of(events) == REFUSAL_TEXT
    assert text_of(events) == "" and reasoning_of(events) == ""
    assert events[-1] == Finish("stop")


async def test_anthropic_refuse_model_stops_for_refusal(providers, upstream):
    events, error = await collect(providers.providers["anthropic"], model="fake-refuse")
    assert error is None
    assert text_of(events) == REFUSAL_TEXT and refusal_of(events) == ""
    assert events[-1] == Finish("refusal")


# --- what goes upstream -------------------------------------------------------------------------


async def test_chat_sends_reasoning_effort_and_never_reasoning(providers, upstream):
    branch = [
        Message("user", "q"),
        Message("assistant", "a", provider="openai", reasoning_blocks=({"type": "reasoning", "id": "rs_1"},)),
        Message("user", "r"),
    ]
    await collect(providers.providers["openai"], messages=branch, settings=GenerationSettings(reasoning_effort="low"))
    body = upstream.requests[-1]["json"]
    assert body["reasoning_effort"] == "low"
    assert body["messages"] == [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "r"}]
    await collect(providers.providers["openai"])
    assert "reasoning_effort" not in upstream.requests[-1]["json"]


async def test_responses_sends_reasoning_effort_with_a_summary_and_history_as_text(providers, upstream):
    branch = [
        Message("user", "q"),
        Message("assistant", "a", provider="openai", reasoning_blocks=({"type": "reasoning", "id": "rs_1"},)),
        Message("user", "r"),
    ]
    events, error = await collect(providers.providers["openai-responses"], messages=branch,
                                  settings=GenerationSettings(reasoning_effort="high"))
    assert error is None
    body = upstream.requests[-1]["json"]
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["input"] == [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "r"}]
    await collect(providers.providers["openai-responses"])
    assert "reasoning" not in upstream.requests[-1]["json"]


async def test_anthropic_thinking_budget_leaves_room_for_the_answer_and_drops_sampling(providers, upstream):
    provider = providers.providers["anthropic"]
    events, error = await collect(provider, settings=GenerationSettings(thinking_budget=2048, temperature=1.0,
                                                                         top_p=0.5))
    assert error is None
    body = upstream.requests[-1]["json"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 2048 + DEFAULT_MAX_TOKENS
    assert "temperature" not in body and "top_p" not in body
    await collect(provider, settings=GenerationSettings(thinking_budget=2048, max_tokens=3000))
    assert upstream.requests[-1]["json"]["max_tokens"] == 3000
    await collect(provider, settings=GenerationSettings(max_tokens=300, temperature=0.5))
    body = upstream.requests[-1]["json"]
    assert "thinking" not in body and body["max_tokens"] == 300 and body["temperature"] == 0.5


async def test_anthropic_budget_the_answer_cannot_fit_is_the_apis_clear_refusal(providers, upstream):
    _, error = await collect(providers.providers["anthropic"],
                             settings=GenerationSettings(thinking_budget=2048, max_tokens=2048))
    assert error is not None and error.status == 400
    assert "`max_tokens` must be greater than `thinking.budget_tokens`" in error.message


def signed(text: str) -> dict:
    return {"type": "thinking", "thinking": text, "signature": thinking_signature(text)}


REDACTED_BLOCK = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}


def thinking_branch(provider: str = "anthropic", blocks: tuple = (signed("Considering: q"), REDACTED_BLOCK)):
    return [
        Message("user", "q"),
        Message("assistant", "a", provider=provider, reasoning_blocks=blocks),
        Message("user", "r"),
    ]


async def test_anthropic_sends_its_own_blocks_back_with_thinking_on(providers, upstream):
    events, error = await collect(providers.providers["anthropic"], messages=thinking_branch(),
                                  settings=GenerationSettings(thinking_budget=1024))
    assert error is None, error
    assert upstream.requests[-1]["json"]["messages"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [signed("Considering: q"), REDACTED_BLOCK, {"type": "text", "text": "a"}]},
        {"role": "user", "content": "r"},
    ]


@pytest.mark.parametrize("provider,generation", [
    ("anthropic", GenerationSettings()),  # thinking off
    ("anthropic-eu", GenerationSettings(thinking_budget=1024)),  # another provider's blocks
])
async def test_anthropic_sends_a_reply_as_text_otherwise(providers, upstream, provider, generation):
    events, error = await collect(providers.providers["anthropic"], messages=thinking_branch(provider),
                                  settings=generation)
    assert error is None
    assert upstream.requests[-1]["json"]["messages"][1] == {"role": "assistant", "content": "a"}


async def test_anthropic_sends_back_only_thinking_blocks(providers, upstream):
    blocks = ({"type": "reasoning", "id": "rs_1", "summary": []}, signed("kept"))
    await collect(providers.providers["anthropic"], messages=thinking_branch(blocks=blocks),
                  settings=GenerationSettings(thinking_budget=1024))
    assert upstream.requests[-1]["json"]["messages"][1]["content"] == [signed("kept"), {"type": "text", "text": "a"}]
    await collect(providers.providers["anthropic"], messages=thinking_branch(blocks=blocks[:1]),
                  settings=GenerationSettings(thinking_budget=1024))
    assert upstream.requests[-1]["json"]["messages"][1]["content"] == "a"


async def test_anthropic_merges_same_role_turns_with_blocks(providers, upstream):
    branch = [
        Message("user", "q"),
        Message("assistant", "first", provider="anthropic", reasoning_blocks=(signed("one"),)),
        Message("assistant", "second"),
        Message("assistant", "third", provider="anthropic", reasoning_blocks=(signed("two"),)),
        Message("user", "r"),
        Message("user", "s"),
    ]
    events, error = await collect(providers.providers["anthropic"], messages=branch,
                                  settings=GenerationSettings(thinking_budget=1024))
    assert error is None, error
    assert upstream.requests[-1]["json"]["messages"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            signed("one"), {"type": "text", "text": "first"}, {"type": "text", "text": "second"},
            signed("two"), {"type": "text", "text": "third"}]},
        {"role": "user", "content": "r\n\ns"},
    ]


async def test_a_thinking_block_whose_signature_does_not_match_is_refused_upstream(providers, upstream):
    tampered = {**signed("Considering: q"), "thinking": "Considering: something else"}
    _, error = await collect(providers.providers["anthropic"], messages=thinking_branch(blocks=(tampered,)),
                             settings=GenerationSettings(thinking_budget=1024))
    assert error is not None and error.status == 400
    assert "messages.1.content.0: Invalid `signature` in `thinking` block" in error.message


async def test_anthropic_think_reply_continues_the_branch(providers, upstream):
    provider = providers.providers["anthropic"]
    thinking = GenerationSettings(thinking_budget=1024)
    first, error = await collect(provider, model="fake-think", settings=thinking)
    assert error is None
    blocks = tuple(e.block for e in first if isinstance(e, ReasoningBlock))
    branch = [Message("user", "Hello tree"),
              Message("assistant", text_of(first), provider="anthropic", reasoning_blocks=blocks),
              Message("user", "and then")]
    events, error = await collect(provider, model="fake-think", messages=branch, settings=thinking)
    assert error is None, error
    assert reasoning_of(events) == reasoning_text("and then")
    assert upstream.requests[-1]["json"]["messages"][1]["content"][:2] == list(blocks)
