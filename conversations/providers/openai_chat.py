"""OpenAI Chat Completions, and any server that speaks it (Ollama, vLLM, llama.cpp, LM Studio)."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx2
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
from conversations.providers.clients import ClientsPerLoop
from conversations.providers.sdk_errors import provider_error


class OpenAIChatProvider:
    def __init__(
        self,
        *,
        name: str,
        label: str,
        api_key: str,
        base_url: str,
        models: list[str],
        key_setting: str,
        timeouts: tuple[float, float],
        max_retries: int,
        max_tokens_param: str = "max_completion_tokens",
    ) -> None:
        self.name = name
        self.label = label
        self.base_url = base_url
        self.key_setting = key_setting
        self._models = list(models)
        self._max_tokens_param = max_tokens_param
        connect, stall = timeouts
        self._clients = ClientsPerLoop(
            lambda: openai.AsyncOpenAI(
                api_key=api_key or "none",
                base_url=base_url or None,
                timeout=openai.Timeout(stall, connect=connect),
                max_retries=max_retries,
            )
        )

    def models(self) -> list[str]:
        return list(self._models)

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
        client = self._clients.get()
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
        except (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError) as exc:
            raise provider_error(
                exc, label=self.label, key_setting=self.key_setting, base_url=self.base_url
            ) from exc
