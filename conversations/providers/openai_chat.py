"""OpenAI Chat Completions, and any server that speaks it (Ollama, vLLM, llama.cpp, LM Studio).

A reasoning model's thinking reaches the reply in one of three ways, all read here: the
`reasoning_content` field of a delta (DeepSeek, vLLM, llama.cpp), its `reasoning` field (Ollama,
OpenRouter, newer vLLM), or a `<think>…</think>` opening of the content itself (DeepSeek-R1 or
Qwen served without a reasoning parser). Chat Completions has no place for reasoning in the
messages it is sent, so none goes back.
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
    ReasoningDelta,
    RefusalDelta,
    ResponseId,
    TextDelta,
    Usage,
    conversation_messages,
    system_prompt_of,
)
from conversations.providers.sdk import SDKProvider, openai_body, openai_stream_error, streamed_post
from conversations.providers.sse import ReadPacer, SSEDecoder, drain, loads

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_START, _THINKING, _AFTER, _TEXT = range(4)


def _partial_tag(text: str, tag: str) -> int:
    """How many characters at the end of `text` could begin `tag` (and so must wait for more)."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkTagSplitter:
    """Splits a `<think>…</think>` opening off a reply's content, chunk by chunk.

    The tags may arrive split anywhere ("<thi" + "nk>"), so a chunk that could still be the start
    of one is held until the next decides; nothing else is held. Content that does not open with
    `<think>` (after optional whitespace) is text from its first character on; the whitespace run
    after `</think>` is dropped, as models put "\\n\\n" there; a `<think>` never closed is reasoning.
    """

    __slots__ = ("_state", "_held")

    def __init__(self) -> None:
        self._state = _START
        self._held = ""

    @property
    def passthrough(self) -> bool:
        """Whether every further chunk is text as it is (the splitter can be dropped)."""
        return self._state == _TEXT

    def feed(self, chunk: str) -> tuple[str, str]:
        """The (reasoning, text) this chunk completes."""
        state = self._state
        if state == _TEXT:
            return "", chunk
        pending = self._held + chunk
        self._held = ""
        if state == _START:
            opening = pending.lstrip()
            if not THINK_OPEN.startswith(opening[: len(THINK_OPEN)]):
                self._state = _TEXT
                return "", pending
            if len(opening) < len(THINK_OPEN):  # could still be the tag: wait for more
                self._held = pending
                return "", ""
            pending = opening[len(THINK_OPEN) :]
            state = self._state = _THINKING
        reasoning = ""
        if state == _THINKING:
            end = pending.find(THINK_CLOSE)
            if end < 0:
                keep = _partial_tag(pending, THINK_CLOSE)
                if keep:
                    self._held = pending[-keep:]
                    return pending[:-keep], ""
                return pending, ""
            reasoning, pending = pending[:end], pending[end + len(THINK_CLOSE) :]
            self._state = _AFTER
        text = pending.lstrip()
        if text:
            self._state = _TEXT
        return reasoning, text

    def close(self) -> tuple[str, str]:
        """What is still held when the content ends: an unclosed `<think>`'s text is reasoning."""
        held, self._held = self._held, ""
        if self._state == _START:
            return "", held
        if self._state == _THINKING:
            return held, ""
        return "", ""


def chat_content(message: Message) -> str | list[dict]:
    """A message's content for Chat Completions: its text (text files' documents first), or, with
    images, a text part then one image part per image, as OpenAI documents them
    (platform.openai.com/docs/guides/images-vision, "Base64-encoded images":
    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,..."}}).

    No "detail" is sent: it is optional and defaults to "auto" (the API reference of
    ChatCompletionContentPartImage), which servers that only copy the shape (Ollama, vLLM,
    llama.cpp) may not know. No empty text part is sent for a prompt that is only images."""
    return parts.content(
        message,
        text_part=lambda text: {"type": "text", "text": text},
        image_part=lambda image: {"type": "image_url", "image_url": {"url": parts.data_url(image)}},
    )


class OpenAIChatProvider(SDKProvider):
    sdk, sdk_client, sdk_error = "openai", "AsyncOpenAI", "OpenAIError"
    api = "chat.completions"

    def __init__(self, *, max_tokens_param: str = "max_completion_tokens", **config) -> None:
        super().__init__(**config)
        self._max_tokens_param = max_tokens_param

    def request_body(self, request: GenerationRequest) -> dict:
        messages: list[dict] = []
        system = system_prompt_of(request)
        if system:
            messages.append({"role": "system", "content": system})
        messages.extend(
            {"role": m.role, "content": chat_content(m)} for m in conversation_messages(request)
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
        if settings.reasoning_effort:
            body["reasoning_effort"] = settings.reasoning_effort
        return body

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        client = self.client()
        try:
            # The SDK sends the request, retries it and raises its typed errors on entering; the
            # body is read here, without a typed object per chunk.
            async with (
                streamed_post(client, "/chat/completions", self.request_body(request)) as response,
                aclosing(openai_body(response)) as body,
            ):
                decoder, pacer = SSEDecoder(), ReadPacer(self.read_interval)
                split: ThinkTagSplitter | None = ThinkTagSplitter()
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
                            raise self.midstream(openai_stream_error(error), error)
                        if not response_id_sent and chunk.get("id"):
                            response_id_sent = True
                            yield ResponseId(chunk["id"])
                        usage = chunk.get("usage")
                        if usage is not None:
                            details = usage.get("completion_tokens_details") or {}
                            yield Usage(
                                usage.get("prompt_tokens"),
                                usage.get("completion_tokens"),
                                details.get("reasoning_tokens"),
                            )
                        for choice in chunk.get("choices") or ():
                            delta = choice.get("delta")
                            if delta:
                                content = delta.get("content")
                                if content and split is None:  # nearly every chunk
                                    pacer.flowing = True
                                    yield TextDelta(content)
                                else:
                                    for event in self._rarer_deltas(delta, content, split):
                                        pacer.flowing = True
                                        yield event
                                    if split is not None and split.passthrough:
                                        split = None
                            if choice.get("finish_reason"):
                                finish_reason = choice["finish_reason"]
                    if done:
                        break
                    await pacer.pause()
                if split is not None:
                    for event in _events(*split.close()):
                        yield event
                yield Finish(finish_reason)
                if done:
                    await drain(body)
        except ProviderError:
            raise
        except self.errors as exc:
            raise self.failure(exc) from exc

    @staticmethod
    def _rarer_deltas(delta: dict, content: str | None, split: ThinkTagSplitter | None) -> list[Event]:
        """The events of a delta that is not plain text: reasoning, content that may open with
        `<think>`, a refusal."""
        events: list[Event] = []
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        if thought and type(thought) is str:
            events.append(ReasoningDelta(thought))
        if content:
            if split is None:
                events.append(TextDelta(content))
            else:
                events.extend(_events(*split.feed(content)))
        elif delta.get("refusal"):
            events.append(RefusalDelta(delta["refusal"]))
        return events


def _events(reasoning: str, text: str) -> list[Event]:
    events: list[Event] = []
    if reasoning:
        events.append(ReasoningDelta(reasoning))
    if text:
        events.append(TextDelta(text))
    return events
