"""What a reply's request was, and code that sends it again.

A request is not stored: it is rebuilt from the branch, which never changes once written (turns are
only appended), from the reply's settings, and from the turns its context plan left out. The
provider's own `request_body` turns that into the body it sent.
"""
from __future__ import annotations

import ast
import keyword
import pprint
import re
from dataclasses import dataclass

from pydantic import ValidationError

from conversations.attachments import replay as files_replay
from conversations.context import sendable
from conversations.errors import TURN_GONE, ServiceError
from conversations.exchange.schema import TurnSettings
from conversations.fields import describe, is_provider_name
from conversations.models import Turn
from conversations.providers.base import GenerationRequest, GenerationSettings, Message, ProviderError
from conversations.providers.openai_chat import OpenAIChatProvider
from conversations.registry import registry
from conversations.services import messages_for


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
    # Earlier replies in the request that had reasoning, and how many of those the body carries
    # back (as signed blocks: only to the provider that made them, only with thinking on).
    reasoned: int = 0
    reasoning_sent: int = 0
    # The files the request carried (each once), and its messages, which place the text files.
    files: tuple[files_replay.SentFile, ...] = ()
    messages: tuple[Message, ...] = ()

    def as_json(self) -> dict:
        """The request as the page shows it: each image a short placeholder, not its base64."""
        return {
            "reply": self.reply.id,
            "provider": self.provider,
            "label": self.label,
            "api": self.api,
            "base_url": self.base_url,
            "known": self.known,
            "body": files_replay.shown_body(self.body, self.files),
            "context": self.reply.context,
            "reasoning": {"earlier_replies": self.reasoned, "sent_back": self.reasoning_sent},
            "files": files_replay.described(self.files),
        }


def _settings_of(reply: Turn) -> GenerationSettings:
    """The reply's stored settings, checked by the rules an import checks them by."""
    try:
        stored = TurnSettings.model_validate(reply.settings)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise ServiceError(
            "This reply's stored settings cannot be sent again: "
            + describe(error, "", ("settings", *error["loc"])),
            code="invalid",
        ) from None
    return GenerationSettings(**{name: value for name, value in stored.given().items() if value is not None})


def _reasoning_sent(body: dict) -> int:
    """The earlier replies whose reasoning blocks the body carries."""
    return sum(
        1 for message in body.get("messages") or ()
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        and any(isinstance(b, dict) and b.get("type") in ("thinking", "redacted_thinking") for b in message["content"])
    )


def _sent_turns(reply: Turn, path: list[Turn]) -> tuple[list[Turn], bool]:
    """The turns the reply's request carried, and whether its plan left some out."""
    omitted = reply.context.get("omitted") if isinstance(reply.context, dict) else None
    left_out = {i for i in omitted if isinstance(i, int)} if isinstance(omitted, list) else set()
    return [t for t in sendable(path) if t.id not in left_out], bool(left_out)


def _request_for(reply: Turn, turns: list[Turn], trimmed: bool) -> GenerationRequest:
    return GenerationRequest(
        model=reply.model,
        # A reply sent "text only" was sent without the branch's images.
        messages=messages_for(
            turns, images=not (isinstance(reply.context, dict) and reply.context.get("images_left_out"))
        ),
        settings=_settings_of(reply),
        chain=not trimmed,
        reasoning=registry().model_info(f"{reply.provider}:{reply.model}").reasoning,
    )


def sent_request(*, conversation_id: int, turn_id: int) -> SentRequest:
    """The request reply `turn_id` was generated from."""
    path = Turn.objects.path(conversation_id=conversation_id, turn_id=turn_id)
    if not path:
        raise ServiceError(TURN_GONE, code="not_found")
    reply = path[-1]
    if reply.role != Turn.Role.ASSISTANT:
        raise ServiceError("Only a reply has a request: pick a reply.", code="invalid")
    turns, trimmed = _sent_turns(reply, path[:-1])
    # Each prompt's files as the send gave them (messages_for: without images for a reply sent the
    # text only).
    request = _request_for(reply, turns, trimmed)
    files = files_replay.sent_files(request.messages, turns)
    reasoned = sum(1 for t in turns if t.role == Turn.Role.ASSISTANT and (t.reasoning or t.reasoning_blocks))
    provider = registry().providers.get(reply.provider)
    if provider is None:
        # Not configured here (or imported): the branch in Chat Completions form.
        generic = OpenAIChatProvider(
            name=reply.provider, label=reply.provider, api_key="", base_url="", models=[],
            key_setting="", timeouts=(1, 1), max_retries=0,
        )
        body = generic.request_body(request)
        return SentRequest(reply, reply.provider, reply.provider or "unknown", "", "", body, known=False,
                           reasoned=reasoned, files=files, messages=tuple(request.messages))
    try:
        body = provider.sent_body(request)
    except ProviderError as exc:  # a request the provider cannot take (images for the local model)
        raise ServiceError(f"This reply's request cannot be rebuilt: {exc.message}", code="invalid") from None
    return SentRequest(
        reply, reply.provider, provider.label, provider.api, provider.public_base_url, body, known=True,
        reasoned=reasoned, reasoning_sent=_reasoning_sent(body), files=files, messages=tuple(request.messages),
    )


# Printable ASCII: no character that ends a line for Python (\n, \r) or for any other tool
# (\x0b, \x0c, \x1c-\x1e, \x85, U+2028, U+2029).
_COMMENT_TEXT = re.compile(r"[ -~]*")


def _comment(text: str) -> str:
    """One comment line. Only fixed text and names that passed a strict rule get here, and this
    refuses anything else: no value can end the comment and start a statement."""
    if _COMMENT_TEXT.fullmatch(text) is None:
        raise ValueError(f"Not a one-line comment: {text!r}")
    return f"# {text}\n"


def _literal(value: object) -> str:
    """`value` (plain data: strings, numbers, lists, dicts) as a Python literal, proved by parsing it
    back: whatever a stored value holds, in the script it is data and nothing else."""
    text = pprint.pformat(value, indent=1, width=96, sort_dicts=False)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        same = False
    # repr escapes every line break but \n, and pformat puts \n between items only.
    if not same or len(text.splitlines()) != text.count("\n") + 1:
        raise ServiceError("This reply's request holds a value that cannot be written as Python data.", code="invalid")
    return text


def _arguments(body: dict, indent: str = "    ") -> str:
    lines = []
    for name, value in body.items():
        if not (isinstance(name, str) and name.isascii() and name.isidentifier()) or keyword.iskeyword(name):
            raise ServiceError(
                f"This reply's request has a field that is not a Python name: {name!r:.40}.", code="invalid"
            )
        text = _literal(value).replace("\n", "\n" + indent + " " * (len(name) + 1))
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
_OPENAI_IMPORT = "from openai import OpenAI\n"
_OPENAI_CLIENT = "client = OpenAI()  # reads OPENAI_API_KEY and OPENAI_BASE_URL\n"


def code_snippet(sent: SentRequest) -> str:
    """A runnable Python script (openai or anthropic SDK) that sends the request again.

    Safe by construction, whatever the reply or the configuration holds: every value from them is
    a Python literal (`_literal`), assigned to a name or passed as an argument, and comments are
    fixed text or names that pass the provider-name rule (`_comment`).
    """
    files = files_replay.script_files(sent.body, sent.files, sent.messages) if sent.files else None
    body = dict(files.body if files else sent.body)
    header = _comment("Sends this reply's request again, as the workbench rebuilt it.")
    constants = {"PROVIDER": sent.provider, "LABEL": sent.label}
    imports = _OPENAI_IMPORT
    if sent.api == "messages":
        imports = "import anthropic\n"
        client = "client = anthropic.Anthropic()  # reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL\n"
        call, printer = "client.messages.create", _ANTHROPIC_PRINT
    elif sent.api == "responses":
        client = _OPENAI_CLIENT
        call, printer = "client.responses.create", _RESPONSES_PRINT
    else:
        call, printer = "client.chat.completions.create", _OPENAI_PRINT
        if sent.api == "llama.cpp":
            header += _comment("The bundled model, served by llama.cpp's OpenAI-compatible server:")
            header += _comment("  llama-server -m SmolLM2-135M-Instruct.Q4_1.gguf --port 8080")
            extra = {k: body.pop(k) for k in ("repeat_penalty",) if k in body}
            if extra:
                body["extra_body"] = extra
            imports = "import os\n\n" + _OPENAI_IMPORT
            client = (
                'client = OpenAI(base_url=os.environ.get("LLAMA_SERVER_URL", "http://127.0.0.1:8080/v1"), '
                'api_key="none")\n'
            )
        elif sent.provider in ("openai", "") or not sent.base_url:
            if not sent.known:
                name = sent.provider if is_provider_name(sent.provider) else "This provider"
                header += _comment(f"{name} is not configured here: this is the branch in Chat Completions form.")
            client = _OPENAI_CLIENT
        else:
            constants["BASE_URL"] = sent.base_url
            constants["API_KEY_VARIABLE"] = sent.provider.upper().replace("-", "_") + "_API_KEY"
            imports = "import os\n\n" + _OPENAI_IMPORT
            client = 'client = OpenAI(base_url=BASE_URL, api_key=os.environ.get(API_KEY_VARIABLE, "none"))\n'
    assignments = "".join(f"{name} = {_literal(value)}\n" for name, value in constants.items())
    arguments = _arguments(body)
    reading = ""
    if files is not None:
        # Reading files needs base64 and pathlib, before the other imports.
        uses_os = imports.startswith("import os\n")
        imports = ("import base64\nimport os\n" if uses_os else "import base64\n") + "from pathlib import Path\n\n" + (
            imports.removeprefix("import os\n\n"))
        reading = files_replay.file_section(sent.files, files.used, _comment) + "\n\n"
        try:
            arguments = files.substitute(arguments)
        except ValueError:
            raise ServiceError("This reply's files cannot be written into a script.", code="invalid") from None
    return (
        f"{header}\n{imports}\n"
        f"{_comment('The provider and its label as the workbench names them.')}{assignments}\n"
        f"{reading}{client}\nstream = {call}(\n{arguments}\n)\n{printer}"
    )
