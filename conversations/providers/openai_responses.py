"""OpenAI Responses API, chained per branch with previous_response_id.

Every assistant turn stores the response id it produced. Continuing a branch sends the id of that
branch's last reply from this provider plus only the messages that came after it, so each branch
chains from its own point. A stored id the server rejects (expired, another store) falls back to
sending the whole history.
"""
from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, aclosing
from typing import TYPE_CHECKING

from conversations.providers.base import (
    Event,
    Finish,
    GenerationRequest,
    Message,
    ProviderError,
    ResponseId,
    TextDelta,
    Usage,
    conversation_messages,
    system_prompt_of,
)
from conversations.providers.sdk import SDKProvider, openai_body, openai_stream_error
from conversations.providers.sse import ReadPacer, SSEDecoder, drain, loads

if TYPE_CHECKING:  # the SDK is imported with the first client (see sdk.py)
    import openai


def _rejected_previous_response(exc: openai.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    return exc.status_code in (400, 404) and (
        getattr(exc, "param", None) == "previous_response_id"
        or (isinstance(error, dict) and error.get("param") == "previous_response_id")
        or "previous_response" in str(getattr(exc, "code", "") or "")
    )


class OpenAIResponsesProvider(SDKProvider):
    sdk, sdk_client, sdk_error = "openai", "AsyncOpenAI", "OpenAIError"
    api = "responses"

    def chained_input(self, request: GenerationRequest) -> tuple[str, list[Message]]:
        """The previous response id to chain from and the messages that follow it."""
        messages = conversation_messages(request)
        for index in range(len(messages) - 1, -1, -1):
            message = messages[index]
            if message.role == "assistant" and message.response_id and message.provider == self.name:
                return message.response_id, messages[index + 1 :]
        return "", messages

    def request_body(self, request: GenerationRequest, *, chain: bool = True) -> dict:
        chain = chain and request.chain
        previous_id, messages = self.chained_input(request) if chain else ("", None)
        if messages is None:
            messages = conversation_messages(request)
        body: dict = {
            "model": request.model,
            "input": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "store": True,
        }
        if previous_id:
            body["previous_response_id"] = previous_id
        system = system_prompt_of(request)
        if system:
            # Instructions are not carried over from a previous response: send them every time.
            body["instructions"] = system
        settings = request.settings
        if settings.temperature is not None:
            body["temperature"] = settings.temperature
        if settings.top_p is not None:
            body["top_p"] = settings.top_p
        if settings.max_tokens is not None:
            body["max_output_tokens"] = settings.max_tokens
        return body

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        import openai

        client = self.client()
        create = client.responses.with_streaming_response.create
        body = self.request_body(request)
        try:
            async with AsyncExitStack() as stack:
                # The SDK sends the request and raises its typed errors on entering; a rejected
                # previous_response_id is retried once with the whole history.
                try:
                    response = await stack.enter_async_context(create(**body))
                except openai.APIStatusError as exc:
                    if "previous_response_id" not in body or not _rejected_previous_response(exc):
                        raise
                    fallback = self.request_body(request, chain=False)
                    response = await stack.enter_async_context(create(**fallback))
                chunks = await stack.enter_async_context(aclosing(openai_body(response.http_response)))
                decoder, pacer = SSEDecoder(), ReadPacer(self.read_interval)
                async for raw in chunks:
                    for _name, data in decoder.feed(raw):
                        if data[:6] == b"[DONE]":
                            raise self.ended()
                        event = loads(data)
                        if type(event) is not dict:
                            continue
                        if event.get("error"):
                            raise self.midstream(openai_stream_error(event["error"]))
                        kind = event.get("type")
                        if kind == "response.output_text.delta":
                            if event.get("delta"):
                                pacer.flowing = True
                                yield TextDelta(event["delta"])
                        elif kind == "response.created":
                            yield ResponseId(event["response"]["id"])
                        elif kind in ("response.completed", "response.incomplete"):
                            for final in self._final_events(kind, event["response"]):
                                yield final
                            await drain(chunks)
                            return
                        elif kind == "response.failed":
                            error = event["response"].get("error")
                            raise ProviderError(
                                f"{self.label} failed the response: "
                                f"{error.get('message') if error else 'no reason given'}"
                            )
                        elif kind == "error":
                            raise self.midstream(f"{event.get('message')}")
                    await pacer.pause()
                raise self.ended()
        except ProviderError:
            raise
        except self.errors as exc:
            raise self.failure(exc) from exc

    def ended(self) -> ProviderError:
        return ProviderError(f"{self.label} ended the stream before the response completed.")

    @staticmethod
    def _final_events(kind: str, response: dict) -> list[Event]:
        events: list[Event] = []
        usage = response.get("usage")
        if usage is not None:
            events.append(Usage(usage.get("input_tokens"), usage.get("output_tokens")))
        reason = "stop"
        details = response.get("incomplete_details")
        if kind == "response.incomplete" and details:
            reason = details.get("reason") or "incomplete"
        events.append(Finish(reason))
        return events
