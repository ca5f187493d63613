"""The one interface every provider implements: an async generator of typed events.

Providers receive the messages of one branch (root to the new reply's parent) and the settings of
the request; they never touch the database. Failures are raised as ProviderError: what kind of
failure it was (the page words each kind once, in streaming/failures.py) and the technical detail,
for the server's log.
"""
from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a prompt, as a provider sends it."""

    kind: str  # "image" or "text"
    name: str
    media_type: str  # an image's ("image/png", ...); "text/plain" for text (a PDF's text too)
    data: bytes = b""  # an image's bytes
    text: str = ""  # a text file's text
    width: int = 0
    height: int = 0
    # The stored file's SHA-256: an image is described first and its bytes read just before the
    # request goes out (streaming/generation.py), outside the transaction that wrote the prompt.
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system", "user" or "assistant"
    content: str
    # The provider's id for the reply this assistant message was, when it reported one.
    response_id: str = ""
    provider: str = ""
    # The reply's reasoning as its API gave it back (Anthropic's signed thinking blocks, a
    # Responses reasoning item): sent again only to the provider that made it, which checks them.
    reasoning_blocks: tuple[dict, ...] = ()
    # Files attached to a user message, in the order given.
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    system_prompt: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    # How hard a reasoning model thinks: "low", "medium" or "high" (OpenAI's reasoning effort).
    reasoning_effort: str | None = None
    # Tokens an Anthropic model may think with before it answers (extended thinking).
    thinking_budget: int | None = None

    def as_dict(self) -> dict:
        values = {
            "system_prompt": self.system_prompt,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "reasoning_effort": self.reasoning_effort,
            "thinking_budget": self.thinking_budget,
        }
        return {key: value for key, value in values.items() if value not in (None, "")}


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    model: str
    messages: list[Message]
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    # Whether a provider that stores conversations may continue from its stored copy; off when the
    # history was trimmed to fit the window (the stored copy holds what was left out).
    chain: bool = True
    # The reasoning setting the model takes, as the model catalogue declares it: "effort" (a
    # reasoning model, whose reasoning summaries are asked for), "budget", or "" for none.
    reasoning: str = ""


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Text of the model's reasoning (its thinking, or a summary of it), kept apart from the reply."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningBlock:
    """A finished piece of reasoning as the API must get it back to continue the branch: an
    Anthropic `thinking` block with its signature or a `redacted_thinking` block, a Responses
    `reasoning` item. Its readable text, if any, came as ReasoningDelta events."""

    block: dict


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    """Text of a refusal: the reply's text, marked as the model refusing."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None = None
    # Every token the reply was billed for as output, its reasoning included.
    output_tokens: int | None = None
    # Of those, the reasoning's, when the API reports them apart.
    reasoning_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ResponseId:
    id: str


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str = "stop"


Event = TextDelta | ReasoningDelta | ReasoningBlock | RefusalDelta | Usage | ResponseId | Finish


class FailureKind(StrEnum):
    """What went wrong, as far as a person can act on it: the page words each kind once."""

    UNREACHABLE = "unreachable"  # no connection: server down, wrong address, TLS, proxy
    TIMEOUT = "timeout"  # connected (or trying to) but nothing came in time
    AUTH = "auth"  # the key was refused (401) or lacks a permission (403)
    RATE_LIMITED = "rate_limited"  # 429: too many requests for now
    QUOTA = "quota"  # the account is out of credit: waiting does not help
    MODEL_NOT_FOUND = "model_not_found"  # 404: no such model (or no access to it)
    CONTEXT_LENGTH = "context_length"  # the conversation is longer than the model's window
    CONTENT_FILTER = "content_filter"  # the provider's content policy blocked it
    BAD_REQUEST = "bad_request"  # any other 4xx: the provider rejected the request
    SERVER_ERROR = "server_error"  # 5xx, overloaded
    INCOMPLETE = "incomplete"  # the stream broke off or could not be read
    UNKNOWN = "unknown"


class ProviderError(Exception):
    """A failure talking to a model: its kind, and the technical detail (the upstream's own words,
    the network error) that belongs in the server's log, never in front of a reader: it may name
    hosts, ports or a masked key."""

    def __init__(
        self,
        message: str,
        *,
        kind: FailureKind = FailureKind.UNKNOWN,
        status: int | None = None,
        retry_after: float | None = None,
        error_type: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        # Seconds the provider asked to wait before trying again (a 429's retry-after).
        self.retry_after = retry_after
        # The provider's own name for the error ("rate_limit_error", "context_length_exceeded").
        self.error_type = error_type


class Provider(Protocol):
    name: str
    label: str
    api: str  # the API it speaks: "chat.completions", "responses", "messages" or "llama.cpp"

    @property
    def public_base_url(self) -> str:
        """Where it sends requests, with no credentials in it ("" for an in-process model)."""
        ...

    def models(self) -> list[str]: ...

    def sent_body(self, request: GenerationRequest) -> dict:
        """The body of the request `stream` sends for `request`, as the API documents it."""
        ...

    def stream(self, request: GenerationRequest) -> AsyncGenerator[Event, None]: ...


def system_prompt_of(request: GenerationRequest) -> str:
    """The system prompt for a request: system turns on the branch, then the request's own."""
    parts = [m.content for m in request.messages if m.role == "system" and m.content]
    if request.settings.system_prompt:
        parts.append(request.settings.system_prompt)
    return "\n\n".join(parts)


def conversation_messages(request: GenerationRequest) -> list[Message]:
    """The branch's user and assistant messages, without system turns."""
    return [m for m in request.messages if m.role != "system"]
