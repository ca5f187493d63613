"""Anthropic Messages: the system prompt is a top-level parameter and roles must alternate.

With extended thinking (a thinking budget), the model thinks in `thinking` blocks, each closed by a
signature, or in `redacted_thinking` blocks whose content is encrypted. Their text streams as
reasoning; each finished block is kept as it came, because continuing the branch with thinking on
sends the blocks back, signatures included, and the API checks them. Blocks go back only to this
provider (another's signatures mean nothing here) and only while thinking is on.
"""
from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from conversations.providers import parts
from conversations.providers.base import (
    Event,
    Finish,
    GenerationRequest,
    Message,
    ProviderError,
    ReasoningBlock,
    ReasoningDelta,
    ResponseId,
    TextDelta,
    Usage,
    conversation_messages,
    system_prompt_of,
)
from conversations.providers.sdk import SDKProvider, anthropic_error_body, anthropic_stream_error, streamed_post
from conversations.providers.sse import ReadPacer, SSEDecoder, drain, loads

DEFAULT_MAX_TOKENS = 4096
# The content blocks of a reply that are its reasoning, as the API takes them back.
REASONING_BLOCK_TYPES = frozenset({"thinking", "redacted_thinking"})
# Between the texts of two thinking blocks of one reply.
BLOCK_SEPARATOR = "\n\n"


def prompt_content(message: Message) -> str | list[dict]:
    """A prompt's content: its text (text files' documents first), or, with images, one image
    block per image and then the text, as Anthropic documents them (docs.anthropic.com/en/docs/
    build-with-claude/vision: {"type": "image", "source": {"type": "base64", "media_type":
    "image/jpeg", "data": "..."}}; "Claude works best when images come before text"). No text
    block is sent for a prompt that is only images: the API refuses empty text blocks."""
    return parts.content(
        message,
        text_part=lambda text: {"type": "text", "text": text},
        image_part=lambda image: {
            "type": "image",
            "source": {"type": "base64", "media_type": image.media_type, "data": parts.base64_of(image)},
        },
        images_first=True,
    )


def _content(message: Message, *, blocks_from: str) -> str | list[dict]:
    """A message's content: a prompt's (see prompt_content), a reply's text, or (a reply of the
    provider `blocks_from` that kept its reasoning) that reasoning's blocks as they were stored,
    then its text."""
    if message.role != "assistant":
        return prompt_content(message)
    if not blocks_from or message.provider != blocks_from:
        return message.content
    blocks = [
        block for block in message.reasoning_blocks
        if isinstance(block, dict) and block.get("type") in REASONING_BLOCK_TYPES
    ]
    if not blocks:
        return message.content
    return [*blocks, {"type": "text", "text": message.content}]


def _as_blocks(content: str | list[dict]) -> list[dict]:
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def alternating_messages(request: GenerationRequest, *, blocks_from: str = "") -> list[dict]:
    """The branch as Anthropic wants it: user first, roles alternating, same-role turns merged.

    `blocks_from` names the provider whose replies go back with their reasoning blocks (thinking
    on); "" sends every reply as text alone."""
    merged: list[dict] = []
    for message in conversation_messages(request):
        if not message.content and not message.attachments:
            continue
        content = _content(message, blocks_from=blocks_from)
        if merged and merged[-1]["role"] == message.role:
            previous = merged[-1]["content"]
            if isinstance(previous, str) and isinstance(content, str):
                merged[-1]["content"] = previous + "\n\n" + content
            else:  # blocks on either side: the two turns' blocks, in order
                merged[-1]["content"] = _as_blocks(previous) + _as_blocks(content)
        else:
            merged.append({"role": message.role, "content": content})
    if merged and merged[0]["role"] == "assistant":
        # A branch that opens with a reply (an imported one, say) still needs a user turn first.
        merged.insert(0, {"role": "user", "content": "(continue)"})
    return merged


class AnthropicProvider(SDKProvider):
    sdk, sdk_client, sdk_error = "anthropic", "AsyncAnthropic", "AnthropicError"
    api = "messages"

    def request_body(self, request: GenerationRequest) -> dict:
        settings = request.settings
        budget = settings.thinking_budget
        max_tokens = settings.max_tokens
        if not max_tokens:
            # The answer comes out of the same allowance as the thinking: leave it a whole default.
            max_tokens = DEFAULT_MAX_TOKENS + (budget or 0)
        body: dict = {
            "model": request.model,
            "messages": alternating_messages(request, blocks_from=self.name if budget else ""),
            "max_tokens": max_tokens,
            "stream": True,
        }
        system = system_prompt_of(request)
        if system:
            body["system"] = system
        if budget:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            # Thinking takes neither a temperature nor a top_p (the service refuses to set them).
            return body
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
        body = self.request_body(request)
        body.update(body.pop("extra_body", None) or {})  # what the typed create would merge in
        try:
            # The SDK sends the request, retries it and raises its typed errors on entering; the
            # body is read here, without a typed object per event. As the SDK's own stream does,
            # this skips pings and events without a name, and raises an `error` event.
            async with (
                streamed_post(client, "/v1/messages", body) as response,
                aclosing(response.aiter_bytes()) as chunks,
            ):
                decoder, pacer = SSEDecoder(), ReadPacer(self.read_interval)
                input_tokens: int | None = None
                output_tokens: int | None = None
                finish_reason = "stop"
                thinking: _ThinkingBlock | None = None  # the thinking block being streamed
                reasoned = False  # some reasoning text was yielded (the next block's is set apart)
                async for raw in chunks:
                    for name, data in decoder.feed(raw):
                        if name is None or name == b"ping":
                            continue
                        if name == b"error":
                            raise self.midstream(anthropic_stream_error(data), anthropic_error_body(data))
                        if not data:
                            continue
                        event = loads(data)
                        if type(event) is not dict:
                            continue
                        kind = event.get("type")
                        if kind == "content_block_delta":
                            delta = event["delta"]
                            delta_kind = delta.get("type")
                            if delta_kind == "text_delta":  # nearly every event
                                if delta.get("text"):
                                    pacer.flowing = True
                                    yield TextDelta(delta["text"])
                            elif delta_kind == "thinking_delta" and thinking is not None:
                                for reasoning in thinking.add(delta.get("thinking"), reasoned):
                                    reasoned = pacer.flowing = True
                                    yield reasoning
                            elif delta_kind == "signature_delta" and thinking is not None:
                                thinking.signature.append(delta.get("signature") or "")
                        elif kind == "content_block_start":
                            block = event.get("content_block") or {}
                            if block.get("type") == "thinking":
                                thinking = _ThinkingBlock(event.get("index"), block.get("signature"))
                                for reasoning in thinking.add(block.get("thinking"), reasoned):
                                    reasoned = pacer.flowing = True
                                    yield reasoning
                            elif block.get("type") == "redacted_thinking":
                                yield ReasoningBlock({"type": "redacted_thinking", "data": block.get("data")})
                        elif kind == "content_block_stop":
                            if thinking is not None and event.get("index") == thinking.index:
                                yield ReasoningBlock(thinking.finished())
                                thinking = None
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
                            # Anthropic counts thinking as output without telling it apart.
                            yield Usage(input_tokens, output_tokens)
                            yield Finish(finish_reason)
                            await drain(chunks)
                            return
                    await pacer.pause()
                raise self.ended()
        except ProviderError:
            raise
        except self.errors as exc:
            raise self.failure(exc) from exc


class _ThinkingBlock:
    """A thinking block as it streams: its text and its signature come in pieces."""

    __slots__ = ("index", "text", "signature")

    def __init__(self, index: object, signature: object) -> None:
        self.index = index
        self.text: list[str] = []
        self.signature: list[str] = [signature] if signature and isinstance(signature, str) else []

    def add(self, text: object, reasoned: bool) -> list[ReasoningDelta]:
        """The reasoning events for a piece of this block's text: the first piece of a block that
        follows other reasoning is set apart from it."""
        if not text or not isinstance(text, str):
            return []
        events = [ReasoningDelta(BLOCK_SEPARATOR)] if reasoned and not self.text else []
        self.text.append(text)
        events.append(ReasoningDelta(text))
        return events

    def finished(self) -> dict:
        return {"type": "thinking", "thinking": "".join(self.text), "signature": "".join(self.signature)}
