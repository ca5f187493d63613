"""A fake upstream LLM server that speaks the vendors' real streaming wire formats.

The real ``openai`` and ``anthropic`` Python SDKs can be pointed at it:

* OpenAI Chat Completions   ``POST /v1/chat/completions``  (``OpenAI(base_url=url + "/v1")``)
* OpenAI Responses          ``POST /v1/responses``         (with stored responses / chaining)
* Anthropic Messages        ``POST /v1/messages``          (``Anthropic(base_url=url)``)
* Model list                ``GET  /v1/models``            (OpenAI shape; Anthropic shape when
                                                            the request carries ``anthropic-version``
                                                            or ``x-api-key``)

Replies are deterministic: see :func:`reply_tokens` and :func:`reply_text`.

Faults and behaviours are chosen by the requested model name, so they can be triggered from any
client (several combine: ``fake-think-slow``):

====================  ======================================================================
``error-401``         HTTP 401 before streaming (vendor's authentication error body)
``error-403``         HTTP 403 (vendor's permission error body)
``error-404``         HTTP 404 (vendor's unknown-model error body)
``error-429``         HTTP 429 with ``retry-after: 1`` (vendor's rate-limit error body)
``error-context``     HTTP 400: the vendor's "prompt longer than the context window" body
``error-filter``      HTTP 400: the vendor's content-filter body (Azure OpenAI's; Anthropic's
                      "Output blocked by content filtering policy")
``error-500``         HTTP 500 (vendor's server error body)
``error-529``         HTTP 529 (Anthropic ``overloaded_error``; OpenAI server_error body)
``midstream-error``  after 3 deltas, the vendor's in-stream error event, then the stream ends
``stall``             after 3 deltas, nothing more; the connection stays open (max. 1 hour)
``malformed``         after 3 deltas, a data line that is not valid JSON, then the stream ends
``slow``              deltas every 50 ms whatever ``interval`` is (reasoning deltas too)
``long``              400 deltas instead of ``tokens``
``think``             reasoning before the reply, paced as the reply is: ``Considering:`` and
                      the first words of the last user message, then ``Answering now.``
                      (:func:`reasoning_parts`, :func:`reasoning_text`). Chat Completions:
                      ``delta.reasoning_content``; Responses: a ``reasoning`` item whose two
                      summary parts stream as ``reasoning_summary_text`` deltas; Anthropic: two
                      ``thinking`` blocks, each closed by a signature (:func:`thinking_signature`).
                      Usage counts the reasoning deltas as output (and apart, on OpenAI's APIs).
``thinktag``          Chat Completions: the reasoning inside ``<think>…</think>`` at the start
                      of the content instead (DeepSeek-R1 or Qwen without a reasoning parser)
``refuse``            a refusal (:data:`REFUSAL_TEXT`) instead of the reply: ``delta.refusal``,
                      ``response.refusal.delta``; Anthropic has none, so its text streams as
                      usual and the message stops with ``stop_reason: "refusal"``
``replay:<api>/<n>``  the recorded vendor stream ``tests/data/recorded/<api>/<n>.sse`` (``chat``,
                      ``responses`` or ``messages``), byte for byte, in small pieces of 1 to 48
                      bytes chosen by a generator seeded with the model name (so events, lines,
                      characters and tags arrive split, the same way every time). No fault word
                      applies to it. See ``tests/data/recorded/SOURCES.md`` for the recordings.
====================  ======================================================================

The Messages endpoint checks what the real API checks of extended thinking: ``thinking`` with a
budget of at least 1024 tokens below ``max_tokens``, no temperature but 1, and every ``thinking``
block sent back with the signature the fake gave it (not checked for a ``replay:`` model, whose
blocks a vendor signed).

Image and text parts of a message are checked as each API checks them (:func:`chat_parts_problem`,
:func:`responses_parts_problem`, the Messages endpoint's block check): the part types each takes,
an image as a base64 data URL (OpenAI) or a base64 source (Anthropic) of one of the four image
types whose bytes are that type, and no empty text block (Anthropic).

The API key ``bad-key`` is always refused with the vendor's 401 body.

In-process use (tests, benchmarks)::

    with FakeUpstream(tokens=12) as fake:
        client = openai.OpenAI(base_url=fake.url + "/v1", api_key="k")
        ...
        fake.requests[-1]["json"]          # recorded request bodies
        fake.request_count("/v1/chat/completions")

Command line::

    python -m tests.fake_upstream --host 127.0.0.1 --port 8765 --tokens 200 \\
        --interval-ms 5 --first-token-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import web

try:  # orjson is much faster on the hot path; the standard library is the fallback.
    import orjson

    _dumps: Callable[[Any], bytes] = orjson.dumps
    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def _loads(raw: bytes) -> Any:
        return json.loads(raw)


__all__ = [
    "BAD_KEY",
    "FILLER_WORDS",
    "FakeUpstream",
    "Faults",
    "LONG_TOKENS",
    "MODEL_IDS",
    "RECORDED_DIR",
    "REFUSAL_TEXT",
    "REFUSAL_TOKENS",
    "REPLAY_PREFIX",
    "RequestLog",
    "count_input_tokens",
    "main",
    "parse_faults",
    "reasoning_parts",
    "reasoning_text",
    "replay_chunks",
    "replay_path",
    "reply_text",
    "reply_tokens",
    "thinking_signature",
]

log = logging.getLogger("fake_upstream")

#: Filler words cycled through after the echo of the last user message.
FILLER_WORDS: tuple[str, ...] = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
    "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore",
    "magna", "aliqua",
)
#: The API key that every endpoint refuses with a 401.
BAD_KEY = "bad-key"
#: Number of deltas for a model whose name contains ``long``.
LONG_TOKENS = 400
#: Seconds between deltas for a model whose name contains ``slow``.
SLOW_INTERVAL = 0.05
#: Deltas sent before a ``midstream-error`` / ``stall`` / ``malformed`` fault.
FAULT_AFTER = 3
#: Upper bound on how long a ``stall`` keeps a connection open.
STALL_LIMIT = 3600.0
#: Poll period used while stalling to notice a client disconnect.
_STALL_POLL = 0.05

#: Model ids listed by ``GET /v1/models``: a normal model and one per fault keyword.
MODEL_IDS: tuple[str, ...] = (
    "fake-model",
    "fake-model-long",
    "fake-model-slow",
    "fake-model-midstream-error",
    "fake-model-stall",
    "fake-model-malformed",
    "fake-model-error-401",
    "fake-model-error-429",
    "fake-model-error-500",
    "fake-model-error-529",
    "fake-model-think",
    "fake-model-think-slow",
    "fake-model-thinktag",
    "fake-model-refuse",
)

_FILLER_TOKENS: tuple[str, ...] = tuple(" " + w for w in FILLER_WORDS)
_MAX_BODY = 64 * 1024 * 1024


# --------------------------------------------------------------------------- replies


def reply_tokens(last_user_text: str, tokens: int) -> list[str]:
    """The deltas of a normal reply, given the last user message text and a token count.

    The reply echoes the words of the last user message after ``"Echo:"`` (each word
    with its leading space is one delta), then cycles through :data:`FILLER_WORDS`
    until exactly ``tokens`` deltas exist. With no words to echo the reply is filler
    only, its first word without a leading space.
    """
    if tokens <= 0:
        return []
    words = last_user_text.split() if last_user_text else []
    out: list[str] = []
    if words:
        out.append("Echo:")
        out.extend(" " + w for w in words)
        if len(out) >= tokens:
            return out[:tokens]
    filler = _FILLER_TOKENS
    k = len(filler)
    out.extend(filler[i % k] for i in range(tokens - len(out)))
    if not words:
        out[0] = out[0][1:]
    return out


def reply_text(last_user_text: str, tokens: int) -> str:
    """The full text of a normal reply (the concatenation of :func:`reply_tokens`)."""
    return "".join(reply_tokens(last_user_text, tokens))


def count_input_tokens(texts: Iterable[str]) -> int:
    """Input token count reported in usage: words across all messages + 1 per message."""
    return sum(len(t.split()) + 1 for t in texts)


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or a list of parts that carry ``text``."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
        return "\n".join(parts)
    return ""


# --------------------------------------------------------------------------- faults


class Faults(NamedTuple):
    """Faults and behaviours selected by a model name (see the module docstring)."""

    status: int | None  # HTTP error answered before any streaming
    stream: str | None  # "midstream-error" | "stall" | "malformed"
    slow: bool
    long: bool
    think: bool = False  # reasoning streams before the reply
    thinktag: bool = False  # Chat Completions: the reasoning as <think>…</think> in the content
    refuse: bool = False  # a refusal instead of the reply


_HTTP_FAULTS = (("error-401", 401), ("error-403", 403), ("error-404", 404), ("error-429", 429), ("error-500", 500),
                ("error-529", 529), ("error-context", 400), ("error-filter", 400))
_STREAM_FAULTS = ("midstream-error", "stall", "malformed")
_NO_FAULTS = Faults(None, None, False, False)
_KEYWORDS = ("error", "stall", "malformed", "slow", "long", "think", "refuse")


def parse_faults(model: str) -> Faults:
    """Which faults and behaviours the model name asks for."""
    name = model.lower()
    if not any(word in name for word in _KEYWORDS):
        return _NO_FAULTS
    status = next((code for word, code in _HTTP_FAULTS if word in name), None)
    stream = next((word for word in _STREAM_FAULTS if word in name), None)
    return Faults(status, stream, "slow" in name, "long" in name, "think" in name, "thinktag" in name,
                  "refuse" in name)


# --------------------------------------------------------------------------- reasoning & refusals

#: Words of the user's message a ``think`` model's reasoning echoes, at most.
THINK_WORDS = 12
#: The second part of a ``think`` model's reasoning (the first echoes the user).
REASONING_CONCLUSION: tuple[str, ...] = ("Answering", " now.")
#: Between two parts of the reasoning, as the joined reasoning text shows them.
REASONING_SEPARATOR = "\n\n"
#: The deltas of a ``refuse`` model's answer.
REFUSAL_TOKENS: tuple[str, ...] = ("I'm", " sorry", ",", " but", " I", " can't", " help", " with", " that", ".")
REFUSAL_TEXT = "".join(REFUSAL_TOKENS)
_SIGNING_KEY = b"fake-upstream-thinking"


def reasoning_parts(last_user_text: str) -> list[list[str]]:
    """The deltas of a ``think`` model's reasoning, in two parts (summary parts on the Responses
    API, thinking blocks on Anthropic's): ``Considering:`` and the first words of the last user
    message, then :data:`REASONING_CONCLUSION`."""
    words = last_user_text.split()[:THINK_WORDS]
    first = ["Considering:", *(" " + w for w in words)] if words else ["Considering", " the", " question."]
    return [first, list(REASONING_CONCLUSION)]


def reasoning_text(last_user_text: str) -> str:
    """The whole reasoning of a ``think`` model, its parts joined by a blank line."""
    return REASONING_SEPARATOR.join("".join(part) for part in reasoning_parts(last_user_text))


def thinking_signature(thinking: str) -> str:
    """The signature the fake gives an Anthropic thinking block, and checks when one comes back."""
    digest = hmac.new(_SIGNING_KEY, thinking.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(b"\x12\x20" + digest).decode()


# --------------------------------------------------------------------------- error bodies


def _mask_key(key: str) -> str:
    if len(key) <= 8:
        return key
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def openai_error_body(status: int, *, model: str = "", key: str = "") -> dict[str, Any]:
    """OpenAI's error body for an HTTP fault."""
    if status == 401:
        err = {
            "message": f"Incorrect API key provided: {_mask_key(key)}. You can find your API key "
                       "at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    elif status == 403:
        err = {
            "message": "You are not allowed to sample from this model",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    elif status == 404:
        err = {
            "message": f"The model `{model}` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    elif status == 400 and "filter" in model:
        err = {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
                       "policy. Please modify your prompt and retry.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
        }
    elif status == 400:
        err = {
            "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                       "131072 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    elif status == 429:
        err = {
            "message": f"Rate limit reached for {model} in organization org-fakeupstream on "
                       "requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again "
                       "in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    elif status == 529:
        err = {
            "message": "The engine is currently overloaded, please try again later.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    else:
        err = {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    return {"error": err}


_ANTHROPIC_ERRORS = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found"),
    429: ("rate_limit_error", "This request would exceed the rate limit for your organization "
                              "of 50 requests per minute. Please try again later."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def anthropic_error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """Anthropic's error body for an HTTP status."""
    etype, default = _ANTHROPIC_ERRORS.get(status, _ANTHROPIC_ERRORS[500])
    return {"type": "error", "error": {"type": etype, "message": message or default}}


def _anthropic_fault_message(status: int, model: str) -> str | None:
    """What the Messages API says for the fault a model name asks for (None: the status's default)."""
    if status == 404:
        return f"model: {model}"
    if status == 400 and "filter" in model:
        return "Output blocked by content filtering policy"
    if status == 400:
        return "prompt is too long: 210000 tokens > 200000 maximum"
    return None


_OPENAI_MIDSTREAM_ERROR = {
    "message": "The server had an error while processing your request. Sorry about that!",
    "type": "server_error",
    "param": None,
    "code": None,
}


# --------------------------------------------------------------------------- request log


class RequestLog(list):
    """A list of recorded request dicts whose mutations are guarded by a lock.

    Each record has ``path``, ``method``, ``headers`` (lower-cased keys), ``json``
    (the parsed body, or None), ``model``, ``status`` (HTTP status answered),
    ``disconnected`` (the client went away mid-response), ``output_tokens``
    (deltas sent, for generation requests), ``time`` and, for ``/v1/responses``,
    ``response_id``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, item: dict) -> None:
        with self._lock:
            super().append(item)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self)


# --------------------------------------------------------------------------- plans & encoders


class _Plan(NamedTuple):
    tokens: list[str]
    truncated: bool  # stopped by the request's max tokens
    interval: float
    first_delay: float
    fault: str | None
    reasoning: list[list[str]] = []  # the parts of the reasoning streamed before the reply
    refuse: bool = False  # the reply is a refusal
    thinktag: bool = False  # Chat Completions: the reasoning goes in the content, in <think> tags


def _new_id(n: int = 24) -> str:
    return uuid.uuid4().hex[:n]


def _reasoning_count(plan: _Plan) -> int:
    return sum(len(part) for part in plan.reasoning)


class _ChatEncoder:
    """OpenAI Chat Completions chunks (``data: {...}`` lines)."""

    __slots__ = ("_head", "_pre", "_usage_head", "include_usage", "input_tokens", "cid", "created", "model",
                 "plan")

    _POST = b'},"logprobs":null,"finish_reason":null}]}\n\n'

    def __init__(self, model: str, include_usage: bool, input_tokens: int, plan: _Plan) -> None:
        self.cid = "chatcmpl-" + uuid.uuid4().hex
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self.input_tokens = input_tokens
        self.plan = plan
        head = (b'data: {"id":"' + self.cid.encode() + b'","object":"chat.completion.chunk","created":'
                + str(self.created).encode() + b',"model":' + _dumps(model)
                + b',"service_tier":"default","system_fingerprint":null,')
        self._usage_head = head
        if include_usage:
            head += b'"usage":null,'
        self._head = head
        field = b'"refusal":' if plan.refuse else b'"content":'
        self._pre = head + b'"choices":[{"index":0,"delta":{' + field

    def _chunk(self, delta: dict[str, Any]) -> bytes:
        return (self._head + b'"choices":[{"index":0,"delta":' + _dumps(delta)
                + b',"logprobs":null,"finish_reason":null}]}\n\n')

    def start(self) -> bytes:
        if self.plan.refuse:
            return self._chunk({"role": "assistant", "content": None, "refusal": ""})
        return (self._head + b'"choices":[{"index":0,"delta":{"role":"assistant","content":"",'
                b'"refusal":null},"logprobs":null,"finish_reason":null}]}\n\n')

    def delta(self, token: str) -> bytes:
        return self._pre + _dumps(token) + self._POST

    # The reasoning: DeepSeek's reasoning_content deltas, or <think> tags opening the content.
    def reasoning_start(self, part: int) -> bytes:
        if self.plan.thinktag:
            return self._chunk({"content": "<think>" if part == 0 else REASONING_SEPARATOR})
        return b"" if part == 0 else self._chunk({"content": None, "reasoning_content": REASONING_SEPARATOR})

    def reasoning_delta(self, token: str) -> bytes:
        if self.plan.thinktag:
            return self._chunk({"content": token})
        return self._chunk({"content": None, "reasoning_content": token})

    def reasoning_end(self, part: int, text: str) -> bytes:
        return b""

    def reasoning_done(self) -> bytes:
        return self._chunk({"content": "</think>"}) + self._chunk({"content": "\n\n"}) if self.plan.thinktag else b""

    def text_start(self) -> bytes:
        return b""

    def usage(self, sent: int) -> dict[str, Any]:
        reasoning = _reasoning_count(self.plan)
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": sent + reasoning,
            "total_tokens": self.input_tokens + sent + reasoning,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            },
        }

    def finish(self, sent: list[str], truncated: bool) -> bytes:
        reason = b'"length"' if truncated else b'"stop"'
        out = (self._head + b'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":'
               + reason + b'}]}\n\n')
        if self.include_usage:
            out += self._usage_head + b'"choices":[],"usage":' + _dumps(self.usage(len(sent))) + b'}\n\n'
        return out + b"data: [DONE]\n\n"

    def completion(self, sent: list[str], truncated: bool) -> dict[str, Any]:
        text = "".join(sent)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        if self.plan.refuse:
            message.update(content=None, refusal=text)
        if self.plan.reasoning:
            thought = REASONING_SEPARATOR.join("".join(part) for part in self.plan.reasoning)
            if self.plan.thinktag:
                message["content"] = "<think>" + thought + "</think>\n\n" + (message["content"] or "")
            else:
                message["reasoning_content"] = thought
        return {
            "id": self.cid,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "length" if truncated else "stop",
            }],
            "usage": self.usage(len(sent)),
            "service_tier": "default",
            "system_fingerprint": None,
        }

    def error(self) -> bytes:
        return b"data: " + _dumps({"error": _OPENAI_MIDSTREAM_ERROR}) + b"\n\n"

    def malformed(self) -> bytes:
        return b'data: {"id":"' + self.cid.encode() + b'","object":"chat.completion.chunk","choices":[{\n\n'


class _ResponsesEncoder:
    """OpenAI Responses API events (``event: <type>`` + ``data: {...}``)."""

    _POST = b',"logprobs":[]}\n\n'

    def __init__(self, *, body: dict, model: str, input_tokens: int, instructions: Any,
                 previous_response_id: str | None, store: bool, plan: _Plan,
                 on_complete: Callable[[str, str], None]) -> None:
        self.rid = "resp_" + uuid.uuid4().hex + uuid.uuid4().hex[:16]
        self.msg_id = "msg_" + uuid.uuid4().hex + uuid.uuid4().hex[:16]
        self.rs_id = "rs_" + uuid.uuid4().hex + uuid.uuid4().hex[:16]
        self.created = int(time.time())
        self.seq = 0
        self.model = model
        self.input_tokens = input_tokens
        self.on_complete = on_complete
        self.plan = plan
        self.part = 0  # the summary part being streamed
        # The message comes after the reasoning item when there is one.
        self.msg_index = 1 if plan.reasoning else 0
        include = body.get("include")
        self.encrypted = isinstance(include, list) and "reasoning.encrypted_content" in include
        temperature = body.get("temperature")
        top_p = body.get("top_p")
        metadata = body.get("metadata")
        reasoning = body.get("reasoning")
        self._base = {
            "id": self.rid,
            "object": "response",
            "created_at": self.created,
            "status": "in_progress",
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": instructions,
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": model,
            "output": [],
            "parallel_tool_calls": True,
            "previous_response_id": previous_response_id,
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")}
            if isinstance(reasoning, dict) else {"effort": None, "summary": None},
            "service_tier": "default",
            "store": store,
            "temperature": temperature if isinstance(temperature, (int, float)) else 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_logprobs": 0,
            "top_p": top_p if isinstance(top_p, (int, float)) else 1.0,
            "truncation": "disabled",
            "usage": None,
            "user": None,
            "metadata": metadata if isinstance(metadata, dict) else {},
        }
        self._pre = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":'
        self._mid = (b',"item_id":"' + self.msg_id.encode() + b'","output_index":'
                     + str(self.msg_index).encode() + b',"content_index":0,"delta":')

    def _event(self, type_: str, payload: dict[str, Any]) -> bytes:
        data = {"type": type_, "sequence_number": self.seq}
        data.update(payload)
        self.seq += 1
        return b"event: " + type_.encode() + b"\ndata: " + _dumps(data) + b"\n\n"

    def _item(self, status: str, content: list) -> dict[str, Any]:
        return {"id": self.msg_id, "type": "message", "status": status, "content": content,
                "role": "assistant"}

    def _part(self, text: str) -> dict[str, Any]:
        if self.plan.refuse:
            return {"type": "refusal", "refusal": text}
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def _reasoning_item(self) -> dict[str, Any]:
        summary = [{"type": "summary_text", "text": "".join(part)} for part in self.plan.reasoning]
        item: dict[str, Any] = {"id": self.rs_id, "type": "reasoning", "summary": summary}
        if self.encrypted:
            item["encrypted_content"] = "fake-encrypted:" + base64.b64encode(
                REASONING_SEPARATOR.join(s["text"] for s in summary).encode()).decode()
        return item

    def start(self) -> bytes:
        response = self._base
        out = (self._event("response.created", {"response": response})
               + self._event("response.in_progress", {"response": response}))
        return out if self.plan.reasoning else out + self.text_start()

    def text_start(self) -> bytes:
        return (self._event("response.output_item.added",
                            {"output_index": self.msg_index, "item": self._item("in_progress", [])})
                + self._event("response.content_part.added", {
                    "item_id": self.msg_id, "output_index": self.msg_index, "content_index": 0,
                    "part": self._part("")}))

    def delta(self, token: str) -> bytes:
        if self.plan.refuse:
            return self._event("response.refusal.delta", {
                "item_id": self.msg_id, "output_index": self.msg_index, "content_index": 0, "delta": token})
        seq = self.seq
        self.seq = seq + 1
        return self._pre + str(seq).encode() + self._mid + _dumps(token) + self._POST

    # The reasoning: one reasoning item whose summary streams part by part.
    def reasoning_start(self, part: int) -> bytes:
        self.part = part
        out = b""
        if part == 0:
            out = self._event("response.output_item.added", {
                "output_index": 0, "item": {"id": self.rs_id, "type": "reasoning", "summary": []}})
        return out + self._event("response.reasoning_summary_part.added", {
            "item_id": self.rs_id, "output_index": 0, "summary_index": part,
            "part": {"type": "summary_text", "text": ""}})

    def reasoning_delta(self, token: str) -> bytes:
        return self._event("response.reasoning_summary_text.delta", {
            "item_id": self.rs_id, "output_index": 0, "summary_index": self.part, "delta": token})

    def reasoning_end(self, part: int, text: str) -> bytes:
        where = {"item_id": self.rs_id, "output_index": 0, "summary_index": part}
        return (self._event("response.reasoning_summary_text.done", {**where, "text": text})
                + self._event("response.reasoning_summary_part.done",
                              {**where, "part": {"type": "summary_text", "text": text}}))

    def reasoning_done(self) -> bytes:
        return self._event("response.output_item.done", {"output_index": 0, "item": self._reasoning_item()})

    def final_response(self, sent: list[str], truncated: bool) -> dict[str, Any]:
        """The finished response object; stores the conversation (when asked) first."""
        text = "".join(sent)
        status = "incomplete" if truncated else "completed"
        reasoning = _reasoning_count(self.plan)
        output = [self._item(status, [self._part(text)])]
        if self.plan.reasoning:
            output.insert(0, self._reasoning_item())
        response = dict(self._base)
        response.update(
            status=status,
            output=output,
            usage={
                "input_tokens": self.input_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": len(sent) + reasoning,
                "output_tokens_details": {"reasoning_tokens": reasoning},
                "total_tokens": self.input_tokens + len(sent) + reasoning,
            },
        )
        if truncated:
            response["incomplete_details"] = {"reason": "max_output_tokens"}
        else:
            response["completed_at"] = int(time.time())
        self.on_complete(self.rid, text)
        return response

    def finish(self, sent: list[str], truncated: bool) -> bytes:
        response = self.final_response(sent, truncated)
        message = response["output"][self.msg_index]
        part = message["content"][0]
        where = {"item_id": self.msg_id, "output_index": self.msg_index, "content_index": 0}
        if self.plan.refuse:
            done = self._event("response.refusal.done", {**where, "refusal": part["refusal"]})
        else:
            done = self._event("response.output_text.done", {**where, "text": part["text"], "logprobs": []})
        return (done
                + self._event("response.content_part.done", {**where, "part": part})
                + self._event("response.output_item.done", {"output_index": self.msg_index, "item": message})
                + self._event("response.incomplete" if truncated else "response.completed",
                              {"response": response}))

    def error(self) -> bytes:
        return self._event("error", {
            "code": "server_error",
            "message": "The server had an error while processing your request. Sorry about that!",
            "param": None,
        })

    def malformed(self) -> bytes:
        return self._pre + str(self.seq).encode() + b',"item_id":\n\n'


class _AnthropicEncoder:
    """Anthropic Messages stream events."""

    _POST = b"}}\n\n"

    def __init__(self, model: str, input_tokens: int, plan: _Plan) -> None:
        self.msg_id = "msg_01" + uuid.uuid4().hex[:22]
        self.model = model
        self.input_tokens = input_tokens
        self.plan = plan
        # Thinking blocks come first, one per part of the reasoning; the text block after them.
        self.text_index = len(plan.reasoning)
        self.block = 0  # the thinking block being streamed
        self._pre = (b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                     + str(self.text_index).encode() + b',"delta":{"type":"text_delta","text":')

    def _usage(self, output_tokens: int) -> dict[str, Any]:
        return {"input_tokens": self.input_tokens, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": output_tokens,
                "service_tier": "standard"}

    @staticmethod
    def _event(name: str, data: dict[str, Any]) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + _dumps(data) + b"\n\n"

    def _stop_reason(self, truncated: bool) -> str:
        return "max_tokens" if truncated else ("refusal" if self.plan.refuse else "end_turn")

    def start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self.msg_id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": self._usage(1),
        }
        out = b"event: message_start\ndata: " + _dumps({"type": "message_start", "message": message}) + b"\n\n"
        if self.plan.reasoning:
            return out + b'event: ping\ndata: {"type": "ping"}\n\n'
        return out + self.text_start() + b'event: ping\ndata: {"type": "ping"}\n\n'

    def text_start(self) -> bytes:
        return self._event("content_block_start", {"type": "content_block_start", "index": self.text_index,
                                                   "content_block": {"type": "text", "text": ""}})

    def delta(self, token: str) -> bytes:
        return self._pre + _dumps(token) + self._POST

    # The reasoning: a thinking block per part, each closed by its signature.
    def reasoning_start(self, part: int) -> bytes:
        self.block = part
        return self._event("content_block_start", {"type": "content_block_start", "index": part,
                                                   "content_block": {"type": "thinking", "thinking": "",
                                                                     "signature": ""}})

    def reasoning_delta(self, token: str) -> bytes:
        return self._event("content_block_delta", {"type": "content_block_delta", "index": self.block,
                                                   "delta": {"type": "thinking_delta", "thinking": token}})

    def reasoning_end(self, part: int, text: str) -> bytes:
        return (self._event("content_block_delta", {
                    "type": "content_block_delta", "index": part,
                    "delta": {"type": "signature_delta", "signature": thinking_signature(text)}})
                + self._event("content_block_stop", {"type": "content_block_stop", "index": part}))

    def reasoning_done(self) -> bytes:
        return b""

    def finish(self, sent: list[str], truncated: bool) -> bytes:
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self._stop_reason(truncated), "stop_sequence": None},
            "usage": {"input_tokens": self.input_tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": len(sent) + _reasoning_count(self.plan)},
        }
        return (self._event("content_block_stop", {"type": "content_block_stop", "index": self.text_index})
                + b"event: message_delta\ndata: " + _dumps(delta) + b"\n\n"
                b'event: message_stop\ndata: {"type":"message_stop"}\n\n')

    def message(self, sent: list[str], truncated: bool) -> dict[str, Any]:
        usage = self._usage(len(sent) + _reasoning_count(self.plan))
        content: list[dict[str, Any]] = []
        for part in self.plan.reasoning:
            text = "".join(part)
            content.append({"type": "thinking", "thinking": text, "signature": thinking_signature(text)})
        content.append({"type": "text", "text": "".join(sent)})
        return {
            "id": self.msg_id, "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": self._stop_reason(truncated), "stop_sequence": None,
            "usage": usage,
        }

    def error(self) -> bytes:
        return (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
                b'"message":"Overloaded"}}\n\n')

    def malformed(self) -> bytes:
        return (b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                + str(self.text_index).encode() + b',"delta":\n\n')


# --------------------------------------------------------------------------- replays

#: Where the recorded vendor streams live (see ``tests/data/recorded/SOURCES.md``).
RECORDED_DIR = Path(__file__).resolve().parent / "data" / "recorded"
#: A model named ``replay:<api>/<name>`` answers with the recording ``<api>/<name>.sse``.
REPLAY_PREFIX = "replay:"
#: The recordings' folder for each endpoint.
_REPLAY_APIS = {"/v1/chat/completions": "chat", "/v1/responses": "responses", "/v1/messages": "messages"}
_REPLAY_NAME = re.compile(r"([a-z]+)/([a-z0-9_]+)")


def replay_path(model: str) -> Path | None:
    """The recording a ``replay:`` model names, or None when the name is not one."""
    match = _REPLAY_NAME.fullmatch(model[len(REPLAY_PREFIX):]) if model.startswith(REPLAY_PREFIX) else None
    return RECORDED_DIR / match[1] / f"{match[2]}.sse" if match else None


def replay_chunks(data: bytes, seed: str) -> list[bytes]:
    """The bytes of a recording in small pieces of 1 to 48 bytes, the same for the same seed: events,
    lines, multi-byte characters and ``<think>`` tags end up split anywhere."""
    pieces = []
    rng = random.Random(seed)
    at = 0
    while at < len(data):
        size = rng.randint(1, 48)
        pieces.append(data[at:at + size])
        at += size
    return pieces


# --------------------------------------------------------------------------- host checks


def check_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address or ``localhost``."""
    name = host.strip("[]")
    if name.lower() in ("localhost", "localhost."):
        return
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"refusing to bind to {host!r}: the fake upstream only serves on a loopback "
            "address (127.0.0.0/8, ::1 or localhost)"
        )


def _bind_host(host: str) -> str:
    name = host.strip("[]")
    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        return "127.0.0.1"  # a name such as "localhost": bind one address so port 0 is one port


# --------------------------------------------------------------------------- the server


_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


class FakeUpstream:
    """The fake upstream server; ``start()`` runs it in a background thread.

    ``tokens``, ``interval`` (seconds between deltas) and ``first_token_delay``
    (seconds before the first content delta) are plain attributes read on every
    request, so tests may change them between requests.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, tokens: int = 12,
                 interval: float = 0.0, first_token_delay: float = 0.0) -> None:
        check_loopback(host)
        self.host = host
        self.port = port
        self.tokens = tokens
        self.interval = interval
        self.first_token_delay = first_token_delay
        self.access_log = False
        self.requests: RequestLog = RequestLog()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._stored: dict[str, list[tuple[str, str]]] = {}
        self._bind = _bind_host(host)
        self._bound_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_event: asyncio.Event | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (add ``/v1`` for OpenAI clients)."""
        if self._bound_port is None:
            raise RuntimeError("FakeUpstream is not running; call start() first")
        host = f"[{self._bind}]" if ":" in self._bind else self._bind
        return f"http://{host}:{self._bound_port}"

    def start(self) -> FakeUpstream:
        """Serve in a background thread with its own event loop; returns self."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(ready.set))
            except BaseException as exc:  # reported to start() when it happens during startup
                errors.append(exc)
            finally:
                ready.set()
                try:
                    pending = asyncio.all_tasks(loop)
                    for task in pending:
                        task.cancel()
                    if pending:
                        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()

        thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread = thread
        thread.start()
        ready.wait(30)
        if errors or self._bound_port is None:
            thread.join(5)
            self._thread = None
            self._loop = None
            if errors:
                raise errors[0]
            raise RuntimeError("fake upstream did not start")
        return self

    def stop(self) -> None:
        """Stop serving and join the background thread (idempotent)."""
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(event.set)
        thread.join(30)
        self._thread = None
        self._loop = None
        self._stop_event = None
        self._bound_port = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve on the calling thread until KeyboardInterrupt (used by the CLI)."""

        def ready() -> None:
            if on_ready is not None:
                on_ready(self.url)

        try:
            asyncio.run(self._serve(ready))
        finally:
            self._bound_port = None

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _serve(self, ready: Callable[[], None]) -> None:
        self._stop_event = asyncio.Event()
        if threading.current_thread() is threading.main_thread():
            # Serving from the command line: SIGTERM stops as cleanly as Ctrl-C does.
            with contextlib.suppress(NotImplementedError, RuntimeError):  # pragma: no cover - platform dependent
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._stop_event.set)
        kwargs: dict[str, Any] = {"shutdown_timeout": 1.0}
        if not self.access_log:
            kwargs["access_log"] = None
        runner = web.AppRunner(self.make_app(), **kwargs)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._bind, self.port, backlog=1024)
            await site.start()
            self._bound_port = runner.addresses[0][1]
            ready()
            await self._stop_event.wait()
        finally:
            await runner.cleanup()

    # ----------------------------------------------------------------- recording

    def reset(self) -> None:
        """Forget recorded requests, per-path counts and stored responses."""
        self.requests.clear()
        with self._lock:
            self._counts.clear()
            self._stored.clear()

    def request_count(self, path: str | None = None) -> int:
        """Requests received on ``path`` (all paths when None) since the last reset."""
        with self._lock:
            if path is None:
                return sum(self._counts.values())
            return self._counts.get(path, 0)

    @property
    def counts(self) -> dict[str, int]:
        """Requests received per path since the last reset."""
        with self._lock:
            return dict(self._counts)

    def stored_conversation(self, response_id: str) -> list[tuple[str, str]] | None:
        """The stored (role, text) conversation behind a Responses API id."""
        with self._lock:
            conv = self._stored.get(response_id)
            return list(conv) if conv is not None else None

    def _record(self, request: web.Request) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "path": request.path,
            "method": request.method,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "json": None,
            "model": None,
            "status": None,
            "disconnected": False,
            "output_tokens": None,
            "time": time.time(),
            # The client's address and port: requests with the same came on one connection.
            "peer": request.transport.get_extra_info("peername") if request.transport else None,
        }
        with self._lock:
            self._counts[request.path] += 1
        self.requests.append(rec)
        return rec

    @staticmethod
    async def _read_json(request: web.Request, rec: dict[str, Any]) -> Any:
        raw = await request.read()
        try:
            data = _loads(raw)
        except ValueError:
            return _INVALID
        rec["json"] = data
        if isinstance(data, dict) and isinstance(data.get("model"), str):
            rec["model"] = data["model"]
        return data

    # ----------------------------------------------------------------- responses

    @staticmethod
    def _json(rec: dict[str, Any], status: int, body: Any, headers: dict[str, str] | None = None,
              reason: str | None = None) -> web.Response:
        rec["status"] = status
        if status == 529 and reason is None:
            reason = "Site Overloaded"
        return web.Response(status=status, reason=reason, body=_dumps(body),
                            content_type="application/json", headers=headers)

    def _openai_error(self, rec: dict[str, Any], status: int, body: dict[str, Any]) -> web.Response:
        headers = {"x-request-id": "req_" + uuid.uuid4().hex}
        if status == 429:
            headers["retry-after"] = "1"
        return self._json(rec, status, body, headers)

    def _openai_invalid(self, rec: dict[str, Any], message: str, param: str | None = None,
                        code: str | None = None) -> web.Response:
        return self._openai_error(rec, 400, {"error": {
            "message": message, "type": "invalid_request_error", "param": param, "code": code}})

    def _anthropic_error(self, rec: dict[str, Any], status: int, message: str | None = None) -> web.Response:
        headers = {"request-id": "req_" + uuid.uuid4().hex}
        if status == 429:
            headers["retry-after"] = "1"
        if status == 529:
            headers["x-should-retry"] = "true"
        return self._json(rec, status, anthropic_error_body(status, message), headers)

    def _check_openai_auth(self, request: web.Request, rec: dict[str, Any]) -> web.Response | None:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return self._openai_error(rec, 401, {"error": {
                "message": "You didn't provide an API key. You need to provide your API key in an "
                           "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                           "YOUR_KEY).",
                "type": "invalid_request_error", "param": None, "code": None}})
        if key == BAD_KEY:
            return self._openai_error(rec, 401, openai_error_body(401, key=key))
        return None

    def _check_anthropic_auth(self, request: web.Request, rec: dict[str, Any]) -> web.Response | None:
        """The key comes in ``x-api-key``, or as ``Authorization: Bearer`` (what the 2.x SDK sends)."""
        key = request.headers.get("x-api-key", "").strip()
        if not key:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                key = token.strip()
        if not key:
            return self._anthropic_error(rec, 401, "x-api-key header is required")
        if key == BAD_KEY:
            return self._anthropic_error(rec, 401, "invalid x-api-key")
        return None

    def _plan(self, faults: Faults, last_user: str, max_tokens: Any) -> _Plan:
        count = LONG_TOKENS if faults.long else int(self.tokens)
        toks = list(REFUSAL_TOKENS) if faults.refuse else reply_tokens(last_user, count)
        truncated = False
        if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and 0 <= max_tokens < len(toks):
            toks = toks[:max_tokens]
            truncated = True
        interval = SLOW_INTERVAL if faults.slow else float(self.interval or 0.0)
        return _Plan(toks, truncated, interval, float(self.first_token_delay or 0.0), faults.stream,
                     reasoning_parts(last_user) if faults.think else [], faults.refuse, faults.thinktag)

    async def _stall(self, request: web.Request, rec: dict[str, Any]) -> None:
        """Keep the connection open, sending nothing, until the client leaves (max. 1 hour)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STALL_LIMIT
        stop = self._stop_event
        while loop.time() < deadline and not (stop is not None and stop.is_set()):
            transport = request.transport
            if transport is None or transport.is_closing():
                rec["disconnected"] = True
                return
            await asyncio.sleep(_STALL_POLL)

    async def _stream(self, request: web.Request, rec: dict[str, Any], plan: _Plan, enc: Any,
                      headers: dict[str, str]) -> web.StreamResponse:
        """Drive one streamed reply: preamble, deltas (paced), then finish or a fault."""
        resp = web.StreamResponse(status=200, headers=headers)
        rec["status"] = 200
        toks = plan.tokens
        fault = plan.fault
        limit = len(toks) if fault is None else min(FAULT_AFTER, len(toks))
        sent = 0
        try:
            await resp.prepare(request)
            write = resp.write
            await write(enc.start())
            if plan.first_delay > 0:
                await asyncio.sleep(plan.first_delay)
            delta = enc.delta
            interval = plan.interval
            loop = asyncio.get_running_loop()
            due = loop.time()
            paced = False  # a delta was written: the next waits its interval
            if plan.reasoning:
                # The reasoning streams first, paced as the reply is.
                for part, pieces in enumerate(plan.reasoning):
                    await write(enc.reasoning_start(part))
                    for piece in pieces:
                        if paced and interval > 0:
                            due += interval
                            wait = due - loop.time()
                            await asyncio.sleep(wait if wait > 0 else 0)
                        await write(enc.reasoning_delta(piece))
                        paced = True
                    await write(enc.reasoning_end(part, "".join(pieces)))
                await write(enc.reasoning_done() + enc.text_start())
            if interval > 0:
                for i in range(limit):
                    if i or paced:
                        due += interval
                        wait = due - loop.time()
                        await asyncio.sleep(wait if wait > 0 else 0)
                    await write(delta(toks[i]))
                    sent = i + 1
            else:
                for i in range(limit):
                    await write(delta(toks[i]))
                sent = limit
            rec["output_tokens"] = sent
            if fault is None:
                await write(enc.finish(toks, plan.truncated))
            elif fault == "midstream-error":
                await write(enc.error())
            elif fault == "malformed":
                await write(enc.malformed())
            else:
                await self._stall(request, rec)
                if rec["disconnected"]:
                    return resp
            await resp.write_eof()
        except ConnectionError:
            rec["output_tokens"] = sent
            rec["disconnected"] = True
        return resp

    async def _nonstream_delay(self, plan: _Plan) -> None:
        total = plan.first_delay + plan.interval * max(len(plan.tokens) + _reasoning_count(plan) - 1, 0)
        if total > 0:
            await asyncio.sleep(total)

    # ----------------------------------------------------------------- endpoints

    async def _openai_request(self, request: web.Request):
        """Record, authenticate and read an OpenAI request: (record, body, model, refusal)."""
        rec = self._record(request)
        denied = self._check_openai_auth(request, rec)
        if denied is not None:
            return rec, None, None, denied
        body = await self._read_json(request, rec)
        if not isinstance(body, dict):
            return rec, None, None, self._openai_invalid(rec, _OPENAI_BAD_JSON)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return rec, None, None, self._openai_invalid(
                rec, "Missing required parameter: 'model'.", "model", "missing_required_parameter")
        return rec, body, model, None

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        rec, body, model, refusal = await self._openai_request(request)
        if refusal is not None:
            return refusal
        messages = body.get("messages")
        if messages is None:
            return self._openai_invalid(rec, "Missing required parameter: 'messages'.", "messages",
                                        "missing_required_parameter")
        if not isinstance(messages, list):
            return self._openai_invalid(rec, "Invalid type for 'messages': expected an array.",
                                        "messages", "invalid_type")
        if not messages:
            return self._openai_invalid(
                rec, "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                     "but got an empty array instead.", "messages", "empty_array")
        texts: list[str] = []
        last_user = ""
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
                return self._openai_invalid(rec, f"Invalid type for 'messages[{i}]': expected an object "
                                                 "with a 'role'.", f"messages[{i}]", "invalid_type")
            problem = chat_parts_problem(i, msg.get("content"))
            if problem:
                return self._openai_invalid(rec, problem[0], problem[1], "invalid_value")
            text = _content_text(msg.get("content"))
            texts.append(text)
            if msg["role"] == "user":
                last_user = text
        if model.startswith(REPLAY_PREFIX):
            return await self._replay(request, rec, model, "openai")
        if body.get("reasoning_effort") not in _EFFORTS:
            return self._openai_invalid(rec, "Invalid value for 'reasoning_effort': expected one of 'minimal', "
                                             "'low', 'medium' or 'high'.", "reasoning_effort", "invalid_value")

        faults = parse_faults(model)
        if faults.status is not None:
            return self._openai_error(rec, faults.status, openai_error_body(
                faults.status, model=model, key=request.headers.get("Authorization", "")[7:]))

        max_tokens = body.get("max_completion_tokens")
        if max_tokens is None:
            max_tokens = body.get("max_tokens")
        plan = self._plan(faults, last_user, max_tokens)
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
        enc = _ChatEncoder(model, include_usage, count_input_tokens(texts), plan)
        req_headers = {"x-request-id": "req_" + uuid.uuid4().hex}

        if body.get("stream"):
            return await self._stream(request, rec, plan, enc, {**_SSE_HEADERS, **req_headers})
        return await self._nonstream(request, rec, plan, "openai",
                                     lambda: enc.completion(plan.tokens, plan.truncated), req_headers)

    async def _replay(self, request: web.Request, rec: dict[str, Any], model: str, vendor: str) -> web.StreamResponse:
        """Answer with a recorded stream, byte for byte, in small pieces (see :func:`replay_chunks`)."""
        path = replay_path(model)
        if path is None or not path.is_file():
            message = (f"{model} names no recording: replay:<api>/<name> answers with "
                       f"tests/data/recorded/<api>/<name>.sse, <api> being one of "
                       f"{', '.join(sorted(set(_REPLAY_APIS.values())))}.")
            if vendor == "anthropic":
                return self._anthropic_error(rec, 404, f"model: {message}")
            return self._openai_error(rec, 404, {"error": {
                "message": message, "type": "invalid_request_error", "param": "model", "code": "model_not_found"}})
        api = path.parent.name
        if _REPLAY_APIS[request.path] != api:
            message = f"{model} is a recording of the {api} API; it cannot answer on {request.path}."
            if vendor == "anthropic":
                return self._anthropic_error(rec, 400, message)
            return self._openai_invalid(rec, message, "model", "invalid_value")
        pieces = replay_chunks(path.read_bytes(), model)
        rec["status"] = 200
        rec["replay"] = f"{api}/{path.name}"
        resp = web.StreamResponse(status=200, headers={**_SSE_HEADERS, "x-request-id": "req_" + uuid.uuid4().hex})
        try:
            await resp.prepare(request)
            for piece in pieces:
                await resp.write(piece)
            await resp.write_eof()
        except ConnectionError:
            rec["disconnected"] = True
        return resp

    async def _nonstream(self, request: web.Request, rec: dict[str, Any], plan: _Plan, vendor: str,
                         build: Callable[[], dict[str, Any]], headers: dict[str, str]) -> web.StreamResponse:
        """A non-streamed reply, honouring the same pacing and faults where they apply."""
        if plan.fault == "stall":
            rec["status"] = 200
            await self._stall(request, rec)
            return web.Response(status=200, body=b"", headers=headers)
        if plan.fault == "midstream-error":
            if vendor == "anthropic":
                return self._anthropic_error(rec, 529)
            return self._openai_error(rec, 500, openai_error_body(500))
        await self._nonstream_delay(plan)
        if plan.fault == "malformed":
            rec["status"] = 200
            return web.Response(status=200, body=b'{"id": "malformed", "choices": [', headers=headers,
                                content_type="application/json")
        rec["output_tokens"] = len(plan.tokens)
        return self._json(rec, 200, build(), headers)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        rec, body, model, refusal = await self._openai_request(request)
        if refusal is not None:
            return refusal
        items = _responses_input(body.get("input"))
        if items is None:
            return self._openai_invalid(rec, "Invalid value for 'input': expected a string or an array "
                                             "of input items.", "input", "invalid_value")
        problem = responses_parts_problem(body.get("input"))
        if problem:
            return self._openai_invalid(rec, problem[0], problem[1], "invalid_value")
        if model.startswith(REPLAY_PREFIX):
            return await self._replay(request, rec, model, "openai")
        reasoning = body.get("reasoning")
        if reasoning is not None and not (
                isinstance(reasoning, dict) and reasoning.get("effort") in _EFFORTS
                and reasoning.get("summary") in (None, "auto", "concise", "detailed")):
            return self._openai_invalid(rec, "Invalid value for 'reasoning': expected an object with an "
                                             "'effort' of 'minimal', 'low', 'medium' or 'high' and a 'summary' "
                                             "of 'auto', 'concise' or 'detailed'.", "reasoning", "invalid_value")
        previous_id = body.get("previous_response_id")
        history: list[tuple[str, str]] = []
        if previous_id is not None:
            stored = self.stored_conversation(previous_id) if isinstance(previous_id, str) else None
            if stored is None:
                return self._openai_error(rec, 400, {"error": {
                    "message": f"Previous response with id '{previous_id}' not found.",
                    "type": "invalid_request_error",
                    "param": "previous_response_id",
                    "code": "previous_response_not_found",
                }})
            history = stored

        faults = parse_faults(model)
        if faults.status is not None:
            return self._openai_error(rec, faults.status, openai_error_body(
                faults.status, model=model, key=request.headers.get("Authorization", "")[7:]))

        instructions = body.get("instructions")
        conversation = history + items
        last_user = next((t for r, t in reversed(items) if r == "user"), None)
        if last_user is None:
            last_user = next((t for r, t in reversed(conversation) if r == "user"), "")
        texts = [t for _, t in conversation]
        if isinstance(instructions, str) and instructions:
            texts.append(instructions)
        store = body.get("store") is not False

        def on_complete(response_id: str, text: str) -> None:
            if store:
                with self._lock:
                    self._stored[response_id] = conversation + [("assistant", text)]

        plan = self._plan(faults, last_user, body.get("max_output_tokens"))
        enc = _ResponsesEncoder(body=body, model=model, input_tokens=count_input_tokens(texts),
                                instructions=instructions if isinstance(instructions, str) else None,
                                previous_response_id=previous_id, store=store, plan=plan,
                                on_complete=on_complete)
        rec["response_id"] = enc.rid
        req_headers = {"x-request-id": "req_" + uuid.uuid4().hex}
        if body.get("stream"):
            return await self._stream(request, rec, plan, enc, {**_SSE_HEADERS, **req_headers})
        return await self._nonstream(request, rec, plan, "openai",
                                     lambda: enc.final_response(plan.tokens, plan.truncated), req_headers)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        rec = self._record(request)
        denied = self._check_anthropic_auth(request, rec)
        if denied is not None:
            return denied
        if not request.headers.get("anthropic-version"):
            return self._anthropic_error(rec, 400, "anthropic-version: header is required")
        body = await self._read_json(request, rec)
        if not isinstance(body, dict):
            return self._anthropic_error(rec, 400, "There was an error parsing the body of your "
                                                   "request. Please check that it is valid JSON.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._anthropic_error(rec, 400, "model: Field required")
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            return self._anthropic_error(rec, 400, "max_tokens: Field required")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return self._anthropic_error(rec, 400, "max_tokens: Input should be greater than or equal to 1")
        messages = body.get("messages")
        if messages is None:
            return self._anthropic_error(rec, 400, "messages: Field required")
        if not isinstance(messages, list):
            return self._anthropic_error(rec, 400, "messages: Input should be a valid list")
        if not messages:
            return self._anthropic_error(rec, 400, "messages: at least one message is required")
        texts: list[str] = []
        system = body.get("system")
        if system:
            texts.append(_content_text(system))
        last_user = ""
        previous = None
        # A recording's thinking blocks were signed by the vendor: the fake cannot check them.
        replay = model.startswith(REPLAY_PREFIX)
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                return self._anthropic_error(rec, 400, f"messages.{i}: Input should be a valid dictionary")
            role = msg.get("role")
            if role == "system":
                return self._anthropic_error(
                    rec, 400, 'messages: Unexpected role "system". The Messages API accepts a '
                              'top-level `system` parameter, not "system" as an input message role.')
            if role not in ("user", "assistant"):
                return self._anthropic_error(rec, 400, f"messages.{i}.role: Input should be 'user' or 'assistant'")
            if i == 0 and role != "user":
                return self._anthropic_error(rec, 400, 'messages: first message must use the "user" role')
            if role == previous:
                return self._anthropic_error(
                    rec, 400, f'messages: roles must alternate between "user" and "assistant", '
                              f'but found multiple "{role}" roles in a row')
            previous = role
            if "content" not in msg:
                return self._anthropic_error(rec, 400, f"messages.{i}.content: Field required")
            problem = _anthropic_blocks_problem(i, role, msg["content"], check_signatures=not replay)
            if problem:
                return self._anthropic_error(rec, 400, problem)
            text = _content_text(msg.get("content"))
            texts.append(text)
            if role == "user":
                last_user = text
        problem = _anthropic_thinking_problem(body, max_tokens)
        if problem:
            return self._anthropic_error(rec, 400, problem)
        if replay:
            return await self._replay(request, rec, model, "anthropic")

        faults = parse_faults(model)
        if faults.status is not None:
            return self._anthropic_error(rec, faults.status, _anthropic_fault_message(faults.status, model))

        plan = self._plan(faults, last_user, max_tokens)
        enc = _AnthropicEncoder(model, count_input_tokens(texts), plan)
        req_headers = {"request-id": "req_" + uuid.uuid4().hex}
        if body.get("stream"):
            return await self._stream(request, rec, plan, enc, {**_SSE_HEADERS, **req_headers})
        return await self._nonstream(request, rec, plan, "anthropic",
                                     lambda: enc.message(plan.tokens, plan.truncated), req_headers)

    async def _models(self, request: web.Request) -> web.Response:
        rec = self._record(request)
        if "anthropic-version" in request.headers or "x-api-key" in request.headers:
            denied = self._check_anthropic_auth(request, rec)
            if denied is not None:
                return denied
            data = [{"type": "model", "id": m, "display_name": m.replace("-", " ").title(),
                     "created_at": "2025-01-01T00:00:00Z", "lifecycle": "active"} for m in MODEL_IDS]
            return self._json(rec, 200, {"data": data, "has_more": False,
                                         "first_id": MODEL_IDS[0], "last_id": MODEL_IDS[-1]})
        denied = self._check_openai_auth(request, rec)
        if denied is not None:
            return denied
        return self._json(rec, 200, {"object": "list", "data": [
            {"id": m, "object": "model", "created": 1735689600, "owned_by": "fake-upstream"}
            for m in MODEL_IDS]})


_INVALID = object()
_EFFORTS = (None, "minimal", "low", "medium", "high")
_OPENAI_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was "
    "not valid JSON.)"
)


_THINKING_DOCS = "Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


def _anthropic_thinking_problem(body: dict[str, Any], max_tokens: int) -> str | None:
    """What the Messages API says of a request's ``thinking`` settings, or None when it takes them."""
    thinking = body.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
        return "thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled'"
    if thinking["type"] == "disabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool):
        return "thinking.enabled.budget_tokens: Field required"
    if budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if max_tokens <= budget:
        return f"`max_tokens` must be greater than `thinking.budget_tokens`. {_THINKING_DOCS}"
    if body.get("temperature", 1) != 1:
        return f"`temperature` may only be set to 1 when thinking is enabled. {_THINKING_DOCS}"
    top_p = body.get("top_p")
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0.95 <= top_p <= 1):
        return f"`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. {_THINKING_DOCS}"
    return None


def _anthropic_blocks_problem(index: int, role: str, content: Any, *, check_signatures: bool) -> str | None:
    """What the Messages API says of a message's content blocks, or None when it takes them: thinking
    blocks only in replies, each with the signature the fake gave it."""
    if not isinstance(content, list):
        return None
    for j, block in enumerate(content):
        where = f"messages.{index}.content.{j}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"{where}: Input should be a valid dictionary or object to extract fields from"
        kind = block["type"]
        if kind == "text" and block.get("text") == "":
            return "messages: text content blocks must be non-empty"
        if kind == "image":
            if role != "user":
                return f"{where}: `image` blocks can only appear in `user` messages"
            source = block.get("source")
            if not isinstance(source, dict) or source.get("type") != "base64":
                return f"{where}.image.source: Input tag does not match any of the expected tags: 'base64', 'url'"
            problem = _image_problem(source.get("media_type"), source.get("data"))
            if problem:
                return f"{where}.image.source.base64: {problem}"
        if kind not in ("thinking", "redacted_thinking"):
            continue
        if role != "assistant":
            return f"{where}: `{kind}` blocks can only appear in `assistant` messages"
        if kind == "redacted_thinking":
            if not isinstance(block.get("data"), str):
                return f"{where}.redacted_thinking.data: Field required"
            continue
        thinking, signature = block.get("thinking"), block.get("signature")
        if not isinstance(thinking, str) or not isinstance(signature, str):
            return f"{where}.thinking: `thinking` and `signature` are required"
        if check_signatures and not hmac.compare_digest(signature, thinking_signature(thinking)):
            return f"{where}: Invalid `signature` in `thinking` block"
    return None


# The first bytes of each image type the APIs take.
_IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF8",
                "image/webp": b"RIFF"}
_DATA_URL = re.compile(r"data:([^;,]*);base64,(.*)", re.S)


def _image_problem(media_type: Any, data: Any) -> str | None:
    """What the APIs say of base64 image data, or None when they take it."""
    if media_type not in _IMAGE_MAGIC:
        return f"Unsupported image type {media_type!r}: expected image/jpeg, image/png, image/gif or image/webp."
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except (ValueError, binascii.Error):
        raw = None
    if not raw:
        return "The image data is not valid base64."
    if not raw.startswith(_IMAGE_MAGIC[media_type]) or (media_type == "image/webp" and raw[8:12] != b"WEBP"):
        return f"Image does not match the provided media type {media_type}."
    return None


def _image_url_problem(url: Any) -> str | None:
    if not isinstance(url, str):
        return f"expected an image URL, but got {type(url).__name__} instead."
    if url.startswith(("https://", "http://")):
        return None
    match = _DATA_URL.fullmatch(url)
    if match is None:
        return "expected a URL or a base64-encoded data URL with an image MIME type (data:image/png;base64,...)."
    return _image_problem(match[1], match[2])


def chat_parts_problem(index: int, content: Any) -> tuple[str, str] | None:
    """What Chat Completions says of a message's content parts (and the param), or None."""
    if content is None or isinstance(content, str):
        return None
    if not isinstance(content, list):
        return (f"Invalid type for 'messages[{index}].content': expected one of a string or array of objects.",
                f"messages[{index}].content")
    for j, part in enumerate(content):
        where = f"messages[{index}].content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if not isinstance(part.get("text"), str):
                return f"Invalid type for '{where}.text': expected a string.", f"{where}.text"
        elif kind == "image_url":
            image = part.get("image_url")
            problem = _image_url_problem(image.get("url") if isinstance(image, dict) else None)
            if problem:
                return f"Invalid '{where}.image_url.url': {problem}", f"{where}.image_url.url"
            if image.get("detail", "auto") not in ("auto", "low", "high", "original"):
                return f"Invalid value for '{where}.image_url.detail'.", f"{where}.image_url.detail"
        else:
            return (f"Invalid value: {kind!r}. Supported values are: 'text', 'image_url', 'input_audio', "
                    "'refusal', and 'file'.", f"{where}.type")
    return None


def responses_parts_problem(value: Any) -> tuple[str, str] | None:
    """What the Responses API says of its input items' content parts (and the param), or None."""
    for i, item in enumerate(value if isinstance(value, list) else ()):
        content = item.get("content") if isinstance(item, dict) else None
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            where = f"input[{i}].content[{j}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in ("input_text", "output_text"):
                if not isinstance(part.get("text"), str):
                    return f"Invalid type for '{where}.text': expected a string.", f"{where}.text"
            elif kind == "input_image":
                problem = _image_url_problem(part.get("image_url"))
                if problem:
                    return f"Invalid '{where}.image_url': {problem}", f"{where}.image_url"
                if part.get("detail", "auto") not in ("auto", "low", "high", "original"):
                    return f"Invalid value for '{where}.detail'.", f"{where}.detail"
            elif kind not in ("input_file", "refusal"):
                return (f"Invalid value: {kind!r}. Supported values are: 'input_text', 'input_image', "
                        "'output_text', 'refusal', 'input_file'.", f"{where}.type")
    return None


def _responses_input(value: Any) -> list[tuple[str, str]] | None:
    """(role, text) pairs of a Responses API ``input``; None when it has the wrong shape."""
    if value is None:
        return []
    if isinstance(value, str):
        return [("user", value)]
    if not isinstance(value, list):
        return None
    out: list[tuple[str, str]] = []
    for item in value:
        if isinstance(item, str):
            out.append(("user", item))
            continue
        if not isinstance(item, dict):
            return None
        role = item.get("role")
        if isinstance(role, str):
            out.append((role, _content_text(item.get("content"))))
        else:  # tool call items and their outputs take part in counting only
            text = item.get("output", item.get("arguments", ""))
            out.append(("tool", text if isinstance(text, str) else ""))
    return out


# --------------------------------------------------------------------------- command line


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_upstream",
        description="Fake OpenAI / Anthropic upstream speaking the real streaming wire formats. "
                    "Faults and behaviours are chosen by model name: error-401, error-429, error-500, "
                    "error-529, midstream-error, stall, malformed, slow, long, think, thinktag, refuse; "
                    "replay:<api>/<name> replays a recorded stream from tests/data/recorded.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--tokens", type=int, default=200, help="deltas per reply (default 200)")
    parser.add_argument("--interval-ms", type=float, default=5.0, help="ms between deltas (default 5)")
    parser.add_argument("--first-token-ms", type=float, default=50.0,
                        help="ms before the first content delta (default 50)")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        check_loopback(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    if args.tokens < 0 or args.interval_ms < 0 or args.first_token_ms < 0:
        parser.error("--tokens, --interval-ms and --first-token-ms must not be negative")
    if args.access_log:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    fake = FakeUpstream(host=args.host, port=args.port, tokens=args.tokens,
                        interval=args.interval_ms / 1000.0, first_token_delay=args.first_token_ms / 1000.0)
    fake.access_log = args.access_log

    def ready(url: str) -> None:
        print(url, flush=True)
        print(f"OpenAI base_url: {url}/v1   Anthropic base_url: {url}   (Ctrl-C to stop)",
              file=sys.stderr, flush=True)

    try:
        fake.serve_forever(ready)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr, flush=True)
        return 1
    print("stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
