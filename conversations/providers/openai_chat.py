"""OpenAI Chat Completions, and any server that speaks it (Ollama, vLLM, llama.cpp, LM Studio)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import openai

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


class OpenAIChatProvider(SDKProvider):
    def __init__(self, *, max_tokens_param: str = "max_completion_tokens", **config) -> None:
        super().__init__(**config)
        self._max_tokens_param = max_tokens_param

    def make_client(self, **options):
        return openai.AsyncOpenAI(**options)

    def request_body(self, request: GenerationRequest) -> dict:
        messages = []
        system = system_prompt_of(request)
        if system:
            messages.append({"role": "system", "content": system})
        messages.extend(
            {"role": m.role, "content": m.content} for m in conversation_messages(request)
        )
        body: dict = {
            "model": request.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        settings = request.settings
        if settings.temperature is not None:
            body["temperature"] = settings.temperature
        if settings.top_p is not None:
            body["top_p"] = settings.top_p
        if settings.max_tokens is not None:
            body[self._max_tokens_param] = settings.max_tokens
        return body

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Event]:
        client = self.client()
        try:
            stream = await client.chat.completions.create(**self.request_body(request))
            async with stream:
                finish_reason = "stop"
                response_id_sent = False
                async for chunk in stream:
                    if not response_id_sent and chunk.id:
                        response_id_sent = True
                        yield ResponseId(chunk.id)
                    if chunk.usage is not None:
                        yield Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
                yield Finish(finish_reason)
        except ProviderError:
            raise
        except SDK_ERRORS as exc:
            raise self.failure(exc) from exc
