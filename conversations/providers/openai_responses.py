"""OpenAI Responses API, chained per branch with previous_response_id.

Every assistant turn stores the response id it produced. Continuing a branch sends the id of that
branch's last reply from this provider plus only the messages that came after it, so each branch
chains from its own point. A stored id the server rejects (expired, another store) falls back to
sending the whole history, where a reply is its text alone: its reasoning stays with the stored
response.

A reasoning model's thinking arrives as summary text (one part after another, joined here with a
blank line) or as raw reasoning text, and its finished `reasoning` item is kept whole as a
ReasoningBlock.
"""
from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, aclosing
from typing import TYPE_CHECKING

from conversations.providers import parts
from conversations.providers.base import (
    Event,
    FailureKind,
    Finish,
    GenerationRequest,
    Message,
    ProviderError,
    ReasoningBlock,
    ReasoningDelta,
    RefusalDelta,
    ResponseId,
    TextDelta,
    Usage,
    conversation_messages,
    system_prompt_of,
)
from conversations.providers.sdk import (
    SDKProvider,
    error_type,
    failure_kind,
    openai_body,
    openai_stream_error,
    streamed_post,
)
from conversations.providers.sse import ReadPacer, SSEDecoder, drain, loads

if TYPE_CHECKING:  # the SDK is imported with the first client (see sdk.py)
    import openai

# The events that carry reasoning text: a summary of it, or (some models) the reasoning itself.
_REASONING_DELTAS = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_text.delta"})
# Between two parts of a reasoning summary, as the API's own reasoning items show them apart.
PART_SEPARATOR = "\n\n"


def _rejected_previous_response(exc: openai.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    return exc.status_code in (400, 404) and (
        getattr(exc, "param", None) == "previous_response_id"
        or (isinstance(error, dict) and error.get("param") == "previous_response_id")
        or "previous_response" in str(getattr(exc, "code", "") or "")
    )


def responses_content(message: Message) -> str | list[dict]:
    """A message's content for the Responses API: its text (text files' documents first), or, with
    images, an input_text part then one input_image part per image, as OpenAI documents them
    (platform.openai.com/docs/guides/images-vision, "Base64-encoded images": {"type": "input_image",
    "image_url": "data:image/jpeg;base64,..."}).

    "detail" is sent as "auto": the API reference marks it required on input_image (the SDK's
    ResponseInputImageParam has `detail: Required[...]`) and "auto", its documented default, is
    what Chat Completions uses when it is left out. No empty input_text is sent for a prompt that
    is only images. A chained request sends only the messages after the stored response, so the
    images of a new prompt go with it, and earlier ones stay with the stored response."""
    return parts.content(
        message,
        text_part=lambda text: {"type": "input_text", "text": text},
        image_part=lambda image: {"type": "input_image", "image_url": parts.data_url(image), "detail": "auto"},
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
            "input": [{"role": m.role, "content": responses_content(m)} for m in messages],
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
        if settings.reasoning_effort or request.reasoning == "effort":
            # A reasoning model shows its thinking only as summaries, and only when asked for them.
            body["reasoning"] = {"summary": "auto"}
            if settings.reasoning_effort:
                body["reasoning"] = {"effort": settings.reasoning_effort, "summary": "auto"}
        return body

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        import openai

        client = self.client()

        def create(body: dict):
            return streamed_post(client, "/responses", body)

        body = self.request_body(request)
        try:
            async with AsyncExitStack() as stack:
                # The SDK sends the request and raises its typed errors on entering; a rejected
                # previous_response_id is retried once with the whole history.
                try:
                    response = await stack.enter_async_context(create(body))
                except openai.APIStatusError as exc:
                    if "previous_response_id" not in body or not _rejected_previous_response(exc):
                        raise
                    fallback = self.request_body(request, chain=False)
                    response = await stack.enter_async_context(create(fallback))
                chunks = await stack.enter_async_context(aclosing(openai_body(response)))
                decoder, pacer = SSEDecoder(), ReadPacer(self.read_interval)
                reasoning_part: tuple | None = None  # the summary part or text the last reasoning came from
                async for raw in chunks:
                    for _name, data in decoder.feed(raw):
                        if data[:6] == b"[DONE]":
                            raise self.ended()
                        event = loads(data)
                        if type(event) is not dict:
                            continue
                        kind = event.get("type")
                        if kind == "response.output_text.delta":  # nearly every event
                            if event.get("delta"):
                                pacer.flowing = True
                                yield TextDelta(event["delta"])
                            continue
                        if event.get("error"):
                            raise self.midstream(openai_stream_error(event["error"]), event["error"])
                        if kind in _REASONING_DELTAS:
                            text = event.get("delta")
                            if not text or type(text) is not str:
                                continue
                            part = (event.get("item_id"), kind, event.get("summary_index"), event.get("content_index"))
                            if reasoning_part is not None and part != reasoning_part:
                                yield ReasoningDelta(PART_SEPARATOR)
                            reasoning_part = part
                            pacer.flowing = True
                            yield ReasoningDelta(text)
                        elif kind == "response.refusal.delta":
                            if event.get("delta"):
                                pacer.flowing = True
                                yield RefusalDelta(event["delta"])
                        elif kind == "response.output_item.done":
                            item = event.get("item")
                            if type(item) is dict and item.get("type") == "reasoning":
                                yield ReasoningBlock(item)
                        elif kind == "response.created":
                            yield ResponseId(event["response"]["id"])
                        elif kind in ("response.completed", "response.incomplete"):
                            for final in self._final_events(kind, event["response"]):
                                yield final
                            await drain(chunks)
                            return
                        elif kind == "response.failed":
                            error = event["response"].get("error")
                            detail = error.get("message") if error else "no reason given"
                            raise ProviderError(
                                f"{self.label} failed the response: {detail}",
                                kind=failure_kind(None, error, str(detail)), error_type=error_type(error),
                            )
                        elif kind == "error":
                            raise self.midstream(f"{event.get('message')}", event)
                    await pacer.pause()
                raise self.ended()
        except ProviderError:
            raise
        except self.errors as exc:
            raise self.failure(exc) from exc

    def ended(self, what: str = "response") -> ProviderError:
        return ProviderError(
            f"{self.label} ended the stream before the {what} completed.",
            kind=FailureKind.INCOMPLETE, error_type="stream_ended",
        )

    @staticmethod
    def _final_events(kind: str, response: dict) -> list[Event]:
        events: list[Event] = []
        usage = response.get("usage")
        if usage is not None:
            details = usage.get("output_tokens_details") or {}
            events.append(
                Usage(usage.get("input_tokens"), usage.get("output_tokens"), details.get("reasoning_tokens"))
            )
        reason = "stop"
        details = response.get("incomplete_details")
        if kind == "response.incomplete" and details:
            reason = details.get("reason") or "incomplete"
        events.append(Finish(reason))
        return events
