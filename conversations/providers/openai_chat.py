"""OpenAI Chat Completions, and any server that speaks it (Ollama, vLLM, llama.cpp, LM Studio)."""
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
from conversations.providers.sdk import SDKProvider, openai_body, openai_stream_error
from conversations.providers.sse import ReadPacer, SSEDecoder, drain, loads


class OpenAIChatProvider(SDKProvider):
    sdk, sdk_client, sdk_error = "openai", "AsyncOpenAI", "OpenAIError"
    api = "chat.completions"

    def __init__(self, *, max_tokens_param: str = "max_completion_tokens", **config) -> None:
        super().__init__(**config)
        self._max_tokens_param = max_tokens_param

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

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        client = self.client()
        create = client.chat.completions.with_streaming_response.create
        try:
            # The SDK sends the request, retries it and raises its typed errors on entering; the
            # body is read here, without a typed object per chunk.
            async with (
                create(**self.request_body(request)) as response,
                aclosing(openai_body(response.http_response)) as body,
            ):
                decoder, pacer = SSEDecoder(), ReadPacer(self.read_interval)
                finish_reason = "stop"
                response_id_sent = False
                done = False
                async for raw in body:
                    for _name, data in decoder.feed(raw):
                        if data[:6] == b"[DONE]":
                            done = True
                            break
                        chunk = loads(data)
                        if type(chunk) is not dict:
                            continue
                        error = chunk.get("error")
                        if error:
                            raise self.midstream(openai_stream_error(error))
                        if not response_id_sent and chunk.get("id"):
                            response_id_sent = True
                            yield ResponseId(chunk["id"])
                        usage = chunk.get("usage")
                        if usage is not None:
                            yield Usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
                        for choice in chunk.get("choices") or ():
                            delta = choice.get("delta")
                            if delta and delta.get("content"):
                                pacer.flowing = True
                                yield TextDelta(delta["content"])
                            if choice.get("finish_reason"):
                                finish_reason = choice["finish_reason"]
                    if done:
                        break
                    await pacer.pause()
                yield Finish(finish_reason)
                if done:
                    await drain(body)
        except ProviderError:
            raise
        except self.errors as exc:
            raise self.failure(exc) from exc
