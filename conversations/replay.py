"""What a reply's request was, and code that sends it again.

A request is not stored: it is rebuilt from the branch, which never changes once written (turns are
only appended), from the reply's settings, and from the turns its context plan left out. The
provider's own `request_body` turns that into the body it sent.
"""
from __future__ import annotations

import keyword
import pprint
from dataclasses import dataclass

from conversations.context import sendable
from conversations.models import Turn
from conversations.providers import registry
from conversations.providers.anthropic_messages import AnthropicProvider
from conversations.providers.base import GenerationRequest, GenerationSettings
from conversations.providers.local import LocalProvider
from conversations.providers.openai_chat import OpenAIChatProvider
from conversations.providers.openai_responses import OpenAIResponsesProvider
from conversations.providers.sdk import public_url
from conversations.selectors import turn_path
from conversations.services import ServiceError, messages_for

_SETTINGS = ("system_prompt", "temperature", "max_tokens", "top_p")


@dataclass(frozen=True)
class SentRequest:
    reply: Turn
    provider: str
    label: str
    api: str  # "chat.completions", "responses", "messages", "llama.cpp", or "" when unknown
    base_url: str
    body: dict
    # False when the provider is not configured here (or the reply was imported): `body` is then
    # the branch in Chat Completions form, not the bytes that were sent.
    known: bool

    def as_json(self) -> dict:
        return {
            "reply": self.reply.id,
            "provider": self.provider,
            "label": self.label,
            "api": self.api,
            "base_url": self.base_url,
            "known": self.known,
            "body": self.body,
            "context": self.reply.context,
        }


def _request_for(reply: Turn, path: list[Turn]) -> GenerationRequest:
    omitted = set(reply.context.get("omitted", []))
    turns = [t for t in sendable(path) if t.id not in omitted]
    values = {name: reply.settings[name] for name in _SETTINGS if name in reply.settings}
    return GenerationRequest(
        model=reply.model,
        messages=messages_for(turns),
        settings=GenerationSettings(**values),
        chain=not omitted,
    )


def sent_request(*, conversation_id: int, turn_id: int) -> SentRequest:
    """The request reply `turn_id` was generated from."""
    path = turn_path(conversation_id=conversation_id, turn_id=turn_id)
    if not path:
        raise ServiceError(f"Turn {turn_id} does not exist in this conversation.", code="not_found")
    reply = path[-1]
    if reply.role != Turn.Role.ASSISTANT:
        raise ServiceError("Only a reply has a request: pick a reply.", code="invalid")
    request = _request_for(reply, path[:-1])
    provider = registry().providers.get(reply.provider)
    if isinstance(provider, OpenAIResponsesProvider):
        api, body = "responses", provider.request_body(request)
    elif isinstance(provider, OpenAIChatProvider):
        api, body = "chat.completions", provider.request_body(request)
    elif isinstance(provider, AnthropicProvider):
        api, body = "messages", provider.request_body(request)
    elif isinstance(provider, LocalProvider):
        body = {"model": reply.model, **provider.request_body(request)}
        return SentRequest(reply, reply.provider, provider.label, "llama.cpp", "", body, known=True)
    else:
        generic = OpenAIChatProvider(
            name=reply.provider, label=reply.provider, api_key="", base_url="", models=[],
            key_setting="", timeouts=(1, 1), max_retries=0,
        )
        body = generic.request_body(request)
        return SentRequest(reply, reply.provider, reply.provider or "unknown", "", "", body, known=False)
    return SentRequest(
        reply, reply.provider, provider.label, api, public_url(provider.base_url), body, known=True
    )


def _arguments(body: dict, indent: str = "    ") -> str:
    lines = []
    for name, value in body.items():
        if not name.isidentifier() or keyword.iskeyword(name):
            continue
        text = pprint.pformat(value, indent=1, width=96, sort_dicts=False)
        text = text.replace("\n", "\n" + indent + " " * (len(name) + 1))
        lines.append(f"{indent}{name}={text},")
    return "\n".join(lines)


_OPENAI_PRINT = """for chunk in stream:
    for choice in chunk.choices:
        print(choice.delta.content or "", end="", flush=True)
print()
"""
_RESPONSES_PRINT = """for event in stream:
    if event.type == "response.output_text.delta":
        print(event.delta, end="", flush=True)
print()
"""
_ANTHROPIC_PRINT = """for event in stream:
    if event.type == "content_block_delta" and event.delta.type == "text_delta":
        print(event.delta.text, end="", flush=True)
print()
"""


def code_snippet(sent: SentRequest) -> str:
    """A runnable Python script (openai or anthropic SDK) that sends the request again."""
    body = dict(sent.body)
    header = f"# Sends reply {sent.reply.id}'s request again ({sent.label}).\n"
    if sent.api == "messages":
        client = (
            "import anthropic\n\n"
            "client = anthropic.Anthropic()  # reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL\n"
        )
        call, printer = "client.messages.create", _ANTHROPIC_PRINT
    elif sent.api == "responses":
        client = "from openai import OpenAI\n\nclient = OpenAI()  # reads OPENAI_API_KEY and OPENAI_BASE_URL\n"
        call, printer = "client.responses.create", _RESPONSES_PRINT
    else:
        call, printer = "client.chat.completions.create", _OPENAI_PRINT
        if sent.api == "llama.cpp":
            header += (
                "# The bundled model, served by llama.cpp's OpenAI-compatible server:\n"
                "#   llama-server -m SmolLM2-135M-Instruct.Q4_1.gguf --port 8080\n"
            )
            extra = {k: body.pop(k) for k in ("repeat_penalty",) if k in body}
            if extra:
                body["extra_body"] = extra
            client = (
                "import os\n\nfrom openai import OpenAI\n\n"
                'client = OpenAI(base_url=os.environ.get("LLAMA_SERVER_URL", "http://127.0.0.1:8080/v1"), '
                'api_key="none")\n'
            )
        elif sent.provider in ("openai", "") or not sent.base_url:
            if not sent.known:
                header += f"# {sent.provider or 'This provider'} is not configured here: this is the branch in Chat Completions form.\n"
            client = "from openai import OpenAI\n\nclient = OpenAI()  # reads OPENAI_API_KEY and OPENAI_BASE_URL\n"
        else:
            key_name = sent.provider.upper().replace("-", "_") + "_API_KEY"
            client = (
                "import os\n\nfrom openai import OpenAI\n\n"
                f"client = OpenAI(base_url={sent.base_url!r}, "
                f'api_key=os.environ.get("{key_name}", "none"))\n'
            )
    return f"{header}{client}\nstream = {call}(\n{_arguments(body)}\n)\n{printer}"
