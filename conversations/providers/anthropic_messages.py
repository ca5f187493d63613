"""Anthropic Messages: the system prompt is a top-level parameter and roles must alternate."""
from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic

from conversations.providers.base import (
    Event,
    Finish,
    GenerationRequest,
    ProviderError,
    ResponseId,
    TextDelta,
    Usage,
    conversation_messages,
    system_prompt_of,
)
from conversations.providers.sdk import SDK_ERRORS, SDKProvider

DEFAULT_MAX_TOKENS = 4096


def alternating_messages(request: GenerationRequest) -> list[dict]:
    """The branch as Anthropic wants it: user first, roles alternating, same-role turns merged."""
    merged: list[dict] = []
    for message in conversation_messages(request):
        if not message.content:
            continue
        if merged and merged[-1]["role"] == message.role:
            merged[-1]["content"] += "\n\n" + message.content
        else:
            merged.append({"role": message.role, "content": message.content})
    if merged and merged[0]["role"] == "assistant":
        # A branch that opens with a reply (an imported one, say) still needs a user turn first.
        merged.insert(0, {"role": "user", "content": "(continue)"})
    return merged


class AnthropicProvider(SDKProvider):
    def make_client(self, **options):
        return anthropic.AsyncAnthropic(**options)

    def request_body(self, request: GenerationRequest) -> dict:
        settings = request.settings
        body: dict = {
            "model": request.model,
            "messages": alternating_messages(request),
            "max_tokens": settings.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        system = system_prompt_of(request)
        if system:
            body["system"] = system
        # The SDK no longer names the sampling parameters; the API still takes them for the
        # models that support them, so they travel in the request body as they are.
        sampling = {}
        if settings.temperature is not None:
            sampling["temperature"] = min(settings.temperature, 1.0)  # Anthropic's range is 0 to 1
        if settings.top_p is not None:
            sampling["top_p"] = settings.top_p
        if sampling:
            body["extra_body"] = sampling
        return body

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Event]:
        client = self.client()
        try:
            stream = await client.messages.create(**self.request_body(request))
            async with stream:
                input_tokens: int | None = None
                output_tokens: int | None = None
                finish_reason = "stop"
                async for event in stream:
                    kind = event.type
                    if kind == "content_block_delta":
                        if event.delta.type == "text_delta" and event.delta.text:
                            yield TextDelta(event.delta.text)
                    elif kind == "message_start":
                        yield ResponseId(event.message.id)
                        input_tokens = event.message.usage.input_tokens
                        output_tokens = event.message.usage.output_tokens
                    elif kind == "message_delta":
                        if event.usage.output_tokens is not None:
                            output_tokens = event.usage.output_tokens
                        if getattr(event.usage, "input_tokens", None):
                            input_tokens = event.usage.input_tokens
                        if event.delta.stop_reason:
                            finish_reason = event.delta.stop_reason
                    elif kind == "message_stop":
                        yield Usage(input_tokens, output_tokens)
                        yield Finish(finish_reason)
                        return
                raise ProviderError(f"{self.label} ended the stream before the message was complete.")
        except ProviderError:
            raise
        except SDK_ERRORS as exc:
            raise self.failure(exc) from exc
