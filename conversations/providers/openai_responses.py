"""OpenAI Responses API, chained per branch with previous_response_id.

Every assistant turn stores the response id it produced. Continuing a branch sends the id of that
branch's last reply from this provider plus only the messages that came after it, so each branch
chains from its own point. A stored id the server rejects (expired, another store) falls back to
sending the whole history.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

import openai

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
from conversations.providers.sdk import SDK_ERRORS, SDKProvider


def _rejected_previous_response(exc: openai.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    return exc.status_code in (400, 404) and (
        getattr(exc, "param", None) == "previous_response_id"
        or (isinstance(error, dict) and error.get("param") == "previous_response_id")
        or "previous_response" in str(getattr(exc, "code", "") or "")
    )


class OpenAIResponsesProvider(SDKProvider):
    def make_client(self, **options):
        return openai.AsyncOpenAI(**options)

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

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Event]:
        client = self.client()
        body = self.request_body(request)
        try:
            try:
                stream = await client.responses.create(**body)
            except openai.APIStatusError as exc:
                if "previous_response_id" not in body or not _rejected_previous_response(exc):
                    raise
                stream = await client.responses.create(**self.request_body(request, chain=False))
            async with stream:
                async for event in stream:
                    kind = event.type
                    if kind == "response.output_text.delta":
                        if event.delta:
                            yield TextDelta(event.delta)
                    elif kind == "response.created":
                        yield ResponseId(event.response.id)
                    elif kind in ("response.completed", "response.incomplete"):
                        response = event.response
                        if response.usage is not None:
                            yield Usage(response.usage.input_tokens, response.usage.output_tokens)
                        reason = "stop"
                        if kind == "response.incomplete" and response.incomplete_details:
                            reason = response.incomplete_details.reason or "incomplete"
                        yield Finish(reason)
                        return
                    elif kind == "response.failed":
                        error = event.response.error
                        raise ProviderError(
                            f"{self.label} failed the response: "
                            f"{error.message if error else 'no reason given'}"
                        )
                    elif kind == "error":
                        raise ProviderError(
                            f"{self.label} reported an error mid-stream: {event.message}"
                        )
                raise ProviderError(f"{self.label} ended the stream before the response completed.")
        except ProviderError:
            raise
        except SDK_ERRORS as exc:
            raise self.failure(exc) from exc
