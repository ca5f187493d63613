"""Anthropic Messages: the system prompt is a top-level parameter and roles must alternate."""
from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

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
from conversations.providers.sdk import SDKProvider, anthropic_stream_error
from conversations.providers.sse import ReadPacer, SSEDecoder, drain, loads

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
    sdk, sdk_client, sdk_error = "anthropic", "AsyncAnthropic", "AnthropicError"
    api = "messages"

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

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        client = self.client()
        create = client.messages.with_streaming_response.create
        try:
            # The SDK sends the request, retries it and raises its typed errors on entering; the
            # body is read here, without a typed object per event. As the SDK's own stream does,
            # this skips pings and events without a name, and raises an `error` event.
            async with (
                create(**self.request_body(request)) as response,
                aclosing(response.http_response.aiter_bytes()) as chunks,
            ):
                decoder, pacer = SSEDecoder(), ReadPacer(self.read_interval)
                input_tokens: int | None = None
                output_tokens: int | None = None
                finish_reason = "stop"
                async for raw in chunks:
                    for name, data in decoder.feed(raw):
                        if name is None or name == b"ping":
                            continue
                        if name == b"error":
                            raise self.midstream(anthropic_stream_error(data))
                        if not data:
                            continue
                        event = loads(data)
                        if type(event) is not dict:
                            continue
                        kind = event.get("type")
                        if kind == "content_block_delta":
                            delta = event["delta"]
                            if delta.get("type") == "text_delta" and delta.get("text"):
                                pacer.flowing = True
                                yield TextDelta(delta["text"])
                        elif kind == "message_start":
                            message = event["message"]
                            yield ResponseId(message["id"])
                            usage = message.get("usage") or {}
                            input_tokens = usage.get("input_tokens")
                            output_tokens = usage.get("output_tokens")
                        elif kind == "message_delta":
                            usage = event.get("usage") or {}
                            if usage.get("output_tokens") is not None:
                                output_tokens = usage["output_tokens"]
                            if usage.get("input_tokens"):
                                input_tokens = usage["input_tokens"]
                            if (event.get("delta") or {}).get("stop_reason"):
                                finish_reason = event["delta"]["stop_reason"]
                        elif kind == "message_stop":
                            yield Usage(input_tokens, output_tokens)
                            yield Finish(finish_reason)
                            await drain(chunks)
                            return
                    await pacer.pause()
                raise ProviderError(f"{self.label} ended the stream before the message was complete.")
        except ProviderError:
            raise
        except self.errors as exc:
            raise self.failure(exc) from exc
