"""Values from a file, the database or the configuration never become code: "Get code" writes them as
Python literals, imports refuse names outside strict rules (and surrogates, and absurd nesting) with
the place named, and forks copy only names that pass the same rules."""
from __future__ import annotations

import ast
import html
import io
import json
import re
import tokenize
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from conversations import replay, services
from conversations.models import Conversation, ShareLink, Turn
from conversations.registry import registry
from conversations.replay import SentRequest
from conversations.sharing import services as sharing
from conversations.tokens import count_all
from tests.conftest import FAKE_MODELS, signed_in
from tests.test_context import run_snippet
from tests.test_exchange import as_bytes, chatgpt_conversation, turn, upload, workbench
from tests.wsclient import connect, next_frame

pytestmark = pytest.mark.django_db


def _tricks(run: str) -> list[str]:
    """`run` after each kind of line break (Python's and other tools'), after each kind of quote,
    after a backslash."""
    return [
        f"x\n{run}\n#", f"\r{run}\r#", f"\r\n{run}\r\n#", f"'''\n{run}\n'''", f'"""\n{run}\n"""',
        f"'\n{run}\n'", f'"\n{run}\n"', f"\\\n{run}\n", f"\u2028{run}\u2029#", f"\x0b\x0c\x1c\x85{run}", "\\",
    ]


def hostile(marker: Path) -> str:
    """A value that runs `touch marker` if it is pasted into code anywhere."""
    return "".join(_tricks(f"__import__('os').system('touch {marker}')"))


# The same attack in few characters, for columns with a length limit (provider 64, model 200), as
# stored data on PostgreSQL must fit them: it creates the file named by $WB_MARKER.
SHORT_RUN = "open(__import__('os').environ['WB_MARKER'],'w')"


def hostile_within(limit: int) -> str:
    """As many of the tricks as fit in `limit` characters (at least the first)."""
    value = ""
    for trick in _tricks(SHORT_RUN):
        if len(value) + len(trick) > limit:
            break
        value += trick
    assert value, "the first trick does not fit"
    return value


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "ran"


ALLOWED_IMPORTS = {"os", "openai", "anthropic"}
ALLOWED_CALLS = {
    "OpenAI", "anthropic.Anthropic", "os.environ.get", "print",
    "client.chat.completions.create", "client.responses.create", "client.messages.create",
}
CONSTANTS = {"PROVIDER", "LABEL", "BASE_URL", "API_KEY_VARIABLE"}


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return f"<{type(node).__name__}>"


def only_data(code: str, sent: SentRequest) -> dict:
    """Check the script does nothing but build a client and send `sent` (every value a literal,
    every call one of the few the script needs, every comment one printable line) and return its
    constants."""
    compile(code, "snippet.py", "exec")
    # No line break but \n anywhere: not in comments, not in strings (repr escapes the others).
    assert len(code.splitlines()) == code.count("\n")
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            assert re.fullmatch(r"#[ -~]*", token.string), token.string
    tree = ast.parse(code)
    constants, arguments = {}, None
    for statement in tree.body:
        assert isinstance(statement, (ast.Import, ast.ImportFrom, ast.Assign, ast.For, ast.Expr)), ast.dump(statement)
        if isinstance(statement, ast.Assign):
            (target,) = statement.targets
            assert isinstance(target, ast.Name)
            if target.id in CONSTANTS:
                constants[target.id] = ast.literal_eval(statement.value)
            else:
                assert target.id in ("client", "stream")
                if target.id == "stream":
                    assert isinstance(statement.value, ast.Call)
                    arguments = {k.arg: ast.literal_eval(k.value) for k in statement.value.keywords}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {alias.name for alias in node.names} <= ALLOWED_IMPORTS
        elif isinstance(node, ast.ImportFrom):
            assert node.module == "openai" and [alias.name for alias in node.names] == ["OpenAI"]
        elif isinstance(node, ast.Call):
            assert dotted(node.func) in ALLOWED_CALLS, dotted(node.func)
    body = dict(sent.body)
    if sent.api == "llama.cpp" and "repeat_penalty" in body:
        body["extra_body"] = {"repeat_penalty": body.pop("repeat_penalty")}
    assert arguments == body
    assert constants["PROVIDER"] == sent.provider and constants["LABEL"] == sent.label
    if "BASE_URL" in constants:
        assert constants["BASE_URL"] == sent.base_url
    return constants


# --- Get code -------------------------------------------------------------------------------------


@pytest.mark.parametrize("api, provider, base_url", [
    ("chat.completions", "ollama", "http://127.0.0.1:9/v1"),
    ("chat.completions", "openai", ""),
    ("responses", "openai-responses", ""),
    ("messages", "anthropic", ""),
    ("llama.cpp", "local", ""),
    ("", "chatgpt", ""),
])
def test_every_kind_of_script_holds_hostile_values_as_literals(api, provider, base_url, marker):
    bad = hostile(marker)
    reply = Turn(id=41, role="assistant", provider=provider, model=bad)
    body = {
        "model": bad, "messages": [{"role": "system", "content": bad}, {"role": "user", "content": bad}],
        "stream": True, "temperature": 0.5, "repeat_penalty": 1.1, "extra_body": {"top_p": 0.9, bad: bad},
    }
    for sent in (
        SentRequest(reply, provider, bad, api, base_url + ("'\"\\\n" + bad if base_url else ""), body, known=bool(api)),
        SentRequest(reply, bad, bad, api, base_url, body, known=False),
    ):
        code = replay.code_snippet(sent)
        only_data(code, sent)
        for line in code.splitlines():
            if line.lstrip().startswith("#"):
                assert "system" not in line and "touch" not in line


@pytest.fixture
def endpoint_with_a_hostile_label(settings, providers, marker):
    """The fake upstream as an OpenAI-compatible endpoint whose label (set by an administrator)
    is hostile."""
    settings.OPENAI_COMPATIBLE_ENDPOINTS = [
        {"name": "ollama", "label": hostile(marker), "base_url": providers.providers["ollama"].base_url,
         "models": FAKE_MODELS},
    ]
    registry.cache_clear()
    return registry()


def stored_reply(owner, *, provider: str, model: str, text: str) -> Turn:
    """A prompt and a reply written straight to the database, as data stored before imports were
    checked would be."""
    conversation = services.conversation_create(owner=owner, title="Stored")
    prompt = Turn.objects.append(conversation=conversation, role="user", content=text, token_counts=count_all(text))
    return Turn.objects.append(
        conversation=conversation, parent=prompt, role="assistant", content="Earlier answer.", provider=provider,
        model=model, settings={"system_prompt": text, "temperature": 0.5, "max_tokens": 64},
    )


@pytest.mark.parametrize("simple", [True, False], ids=["one line break", "every trick"])
@pytest.mark.parametrize("configured", [True, False], ids=["configured endpoint", "provider unknown here"])
def test_get_code_of_stored_hostile_values_sends_them_as_data_and_runs_nothing(
    alice, upstream, endpoint_with_a_hostile_label, marker, tmp_path, configured, simple
):
    bad = f"x\n{SHORT_RUN}\n#" if simple else hostile(marker)
    provider = "ollama" if configured else (bad if simple else hostile_within(64))
    model = "fake-model" + (bad if simple else hostile_within(190))
    reply = stored_reply(alice, provider=provider, model=model, text=bad)
    response = signed_in(alice).get(reverse("reply_code", args=[reply.conversation_id, reply.id]))
    assert response.status_code == 200
    code = response.content.decode()
    upstream.reset()
    result = run_snippet(code, upstream, tmp_path, WB_MARKER=str(marker))
    assert not marker.exists()
    assert result.returncode == 0, result.stderr
    sent = replay.sent_request(conversation_id=reply.conversation_id, turn_id=reply.id)
    assert sent.known is configured and sent.body["model"] == model
    assert upstream.requests[-1]["json"] == sent.body
    constants = only_data(code, sent)
    # The endpoint's label (hostile, from the fixture), or the unknown provider's name.
    assert constants["LABEL"] == (hostile(marker) if configured else provider)


def test_a_valid_import_with_hostile_text_gives_code_that_sends_it_as_data(
    alice, providers, upstream, marker, tmp_path
):
    """Free text (prompts, replies, system prompts, errors, titles) may hold anything; it stays data."""
    bad = hostile(marker)
    document = workbench(
        turn(1, content=bad),
        turn(2, parent=1, role="assistant", content=bad, provider="openai", model="fake-model", error=bad,
             status="error", settings={"system_prompt": bad, "temperature": 0.5, "max_tokens": 64}),
        title=bad[:200], current_turn=2,
    )
    response = upload(signed_in(alice), as_bytes(document))
    assert response.status_code == 302
    reply = Turn.objects.get(conversation__owner=alice, role="assistant")
    assert reply.settings["system_prompt"] == bad and reply.error == bad
    code = signed_in(alice).get(reverse("reply_code", args=[reply.conversation_id, reply.id])).content.decode()
    sent = replay.sent_request(conversation_id=reply.conversation_id, turn_id=reply.id)
    only_data(code, sent)
    upstream.reset()
    result = run_snippet(code, upstream, tmp_path)
    assert result.returncode == 0, result.stderr
    assert upstream.requests[-1]["json"] == sent.body
    assert [m["content"] for m in sent.body["messages"]] == [bad, bad]
    assert not marker.exists()


def test_stored_settings_that_break_the_rules_are_refused_clearly(alice, providers):
    reply = stored_reply(alice, provider="openai", model="fake-model", text="hi")
    Turn.objects.filter(pk=reply.pk).update(settings={"temperature": "0.5\nimport os", "max_tokens": 64})
    for name in ("reply_code", "reply_request"):
        response = signed_in(alice).get(reverse(name, args=[reply.conversation_id, reply.id]))
        assert response.status_code == 400
        assert response.content.decode() == (
            "This reply's stored settings cannot be sent again: \"settings.temperature\" must be a number from "
            "0 to 2 or null, not '0.5\\nimport os'."
        )


# --- Import: names outside the rules --------------------------------------------------------------

REPLY = dict(role="assistant", provider="openai", model="gpt-4.1-mini")
INJECTION = "x\nimport os; os.system('touch /tmp/pwned')\n#"
HOSTILE_FILES: dict[str, tuple[Any, str]] = {
    "provider": (
        workbench(turn(1), turn(2, parent=1, **{**REPLY, "provider": INJECTION})),
        'turns[1] (id 2): "provider" must be a provider name: lower-case letters, digits, ".", "_" or "-", '
        'beginning with a letter or digit, at most 64 characters (like "openai" or "ollama"), not '
        '"x\\nimport os; os.system(\'touch /tmp/pw….',
    ),
    "provider in capitals": (
        workbench(turn(1, **{**REPLY, "provider": "OpenAI"})), 'turns[0] (id 1): "provider" must be a provider name'
    ),
    "model": (
        workbench(turn(1, **{**REPLY, "model": "gpt-4o\r#"})),
        'turns[0] (id 1): "model" must be a model name: letters, digits, ".", "_", ":", "/", "@", "+" or "-", '
        "beginning with a letter, digit or \"@\", at most 200 characters (like \"gpt-4.1-mini\", "
        "\"llama3.2:latest\" or \"org/model\"), not 'gpt-4o\\r#'.",
    ),
    "model with a line separator": (
        workbench(turn(1, **{**REPLY, "model": "gpt\u2028x"})), 'turns[0] (id 1): "model" must be a model name'
    ),
    "model ending in a newline": (
        workbench(turn(1, **{**REPLY, "model": "gpt-4o\n"})), 'turns[0] (id 1): "model" must be a model name'
    ),
    "response id": (
        workbench(turn(1, **REPLY, response_id="resp_1'\nimport os")),
        'turns[0] (id 1): "response_id" must be a response id',
    ),
    "turn id": (
        workbench(turn("a'\nb")), "turns[0]: \"id\" must be a turn id: a number, or a string of letters, digits"
    ),
    "omitted turn id": (
        workbench(turn(1), turn(2, parent=1, **REPLY, context={"omitted": ["1\n"]})),
        'turns[1] (id 2): "context.omitted[0]" must be a turn id',
    ),
    "encoding in the context": (
        workbench(turn(1, **REPLY, context={"encoding": "o200k_base\n#"})),
        'turns[0] (id 1): "context.encoding" must be an encoding name',
    ),
    "token count key": (
        workbench(turn(1, token_counts={"o200k_base\nimport os": 3})),
        'turns[0] (id 1): "token_counts" has the key \'o200k_base\\nimport os\', which must be an encoding name',
    ),
    "unknown setting": (
        workbench(turn(1, **REPLY, settings={"temperature\nimport os": 1})),
        "turns[0] (id 1): \"settings['temperature\\nimport os']\" is not a field this workbench knows; remove it.",
    ),
    "unknown field": (
        workbench(turn(1, **REPLY, code="import os")),
        'turns[0] (id 1): "code" is not a field this workbench knows; remove it.',
    ),
    "temperature out of range": (
        workbench(turn(1, **REPLY, settings={"temperature": 2.5})),
        'turns[0] (id 1): "settings.temperature" must be a number from 0 to 2 or null, not 2.5.',
    ),
    "max tokens as text": (
        workbench(turn(1, **REPLY, settings={"max_tokens": "64"})),
        "turns[0] (id 1): \"settings.max_tokens\" must be a whole number from 1 to 2,147,483,647 or null, not '64'.",
    ),
    "system prompt not text": (
        workbench(turn(1, **REPLY, settings={"system_prompt": ["be", "terse"]})),
        'turns[0] (id 1): "settings.system_prompt" must be a string, not a list.',
    ),
    "context window as text": (
        workbench(turn(1, **REPLY, context={"window": "128k"})),
        "turns[0] (id 1): \"context.window\" must be a whole number from 0 to 2,147,483,647 or null, not '128k'.",
    ),
    "author": (
        workbench(turn(1, author="alice\n<b>")), 'turns[0] (id 1): "author" must be a username',
    ),
    "export time": (
        {**workbench(turn(1)), "exported_at": "now\n"}, '"exported_at" must be a date and time like',
    ),
    "ChatGPT model slug": (
        [chatgpt_conversation("Chat", a=("root", "user", "hi"), b=("a", "assistant", "hello"))],
        'conversations[0] ("Chat") node b: "message.metadata.model_slug" must be a model name',
    ),
    "ChatGPT default model": (
        [{**chatgpt_conversation("Chat", a=("root", "user", "hi")), "default_model_slug": INJECTION}],
        'conversations[0] ("Chat"): "default_model_slug" must be a model name',
    ),
    "ChatGPT node id": (
        [chatgpt_conversation("Chat", **{"a\nimport os": ("root", "user", "hi")})],
        "conversations[0] (\"Chat\"): \"mapping\" has the key 'a\\nimport os', which must be a node id",
    ),
    "ChatGPT message status": (
        [chatgpt_conversation("Chat", a=("root", "user", "hi"))],
        'conversations[0] ("Chat") node a: "message.status" must be a name of lower-case letters',
    ),
}
# The two ChatGPT files above that need a field set on a message.
HOSTILE_FILES["ChatGPT model slug"][0][0]["mapping"]["b"]["message"]["metadata"]["model_slug"] = INJECTION
HOSTILE_FILES["ChatGPT message status"][0][0]["mapping"]["a"]["message"]["status"] = "done\nimport os"


def counts() -> tuple[int, int]:
    return Conversation.objects.count(), Turn.objects.count()


def refused(response) -> str:
    assert response.status_code == 400
    text = html.unescape(response.content.decode())
    found = re.search(r"Nothing was imported\.</strong> upload\.json: (.*?)</div>", text, re.S)
    assert found, text
    return found.group(1)


@pytest.fixture
def existing(alice):
    conversation = services.conversation_create(owner=alice, title="Already here")
    Turn.objects.append(conversation=conversation, role="user", content="keep me")
    return conversation


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_a_name_outside_its_rule_is_refused_with_its_place_and_nothing_is_written(name, alice, existing):
    document, expected = HOSTILE_FILES[name]
    before = counts()
    message = refused(upload(signed_in(alice), as_bytes(document), name="upload.json"))
    assert message.startswith(expected)
    assert counts() == before


def test_the_names_the_workbench_and_chatgpt_use_import(alice):
    models = ["claude-sonnet-4-5", "llama3.2:latest", "Qwen/Qwen2.5-7B-Instruct", "hf.co/org/m-GGUF:Q4_K_M",
              "ft:gpt-4o-mini:org::abc123", "@cf/meta/llama-3-8b-instruct", "gpt-4.1-mini", "smollm2-135m-instruct"]
    providers = ["openai", "openai-responses", "anthropic", "local", "chatgpt", "ollama", "lm_studio", "v-llm.2"]
    turns = [turn(1)]
    for index, (provider, model) in enumerate(zip(providers, models, strict=True), start=2):
        turns.append(turn(index, parent=1, role="assistant", provider=provider, model=model,
                          response_id="chatcmpl-9x_Y.z:1/2+3=4@5"))
    response = upload(signed_in(alice), as_bytes(workbench(*turns, current_turn=2)))
    assert response.status_code == 302
    stored = set(Turn.objects.filter(role="assistant").values_list("provider", "model"))
    assert stored == set(zip(providers, models, strict=True))


# --- Import: surrogates and nesting ---------------------------------------------------------------

SURROGATES = {
    "in a turn's content": (
        b'{"format": "workbench.conversation", "version": 1, "conversation": {}, '
        b'"turns": [{"id": 1, "role": "user", "content": "a\\ud800b"}]}',
        "turns[0].content: the text holds a lone UTF-16 surrogate (\\ud800), half of a character whose other half "
        "is missing, so it cannot be stored.",
    ),
    "in the title": (
        b'{"format": "workbench.conversation", "version": 1, "conversation": {"title": "\\udfff"}, "turns": []}',
        "conversation.title: the text holds a lone UTF-16 surrogate (\\udfff)",
    ),
    "in a key": (
        b'{"format": "workbench.conversation", "version": 1, "conversation": {}, '
        b'"turns": [{"id": 1, "role": "user", "content": "a", "settings": {"k\\udc00": 1}}]}',
        "turns[0].settings: the text in the key 'k\\udc00' holds a lone UTF-16 surrogate (\\udc00)",
    ),
    "the wrong way round": (
        b'{"format": "workbench.conversation", "version": 1, "conversation": {}, '
        b'"turns": [{"id": 1, "role": "user", "content": "\\udf33\\ud83c"}]}',
        "turns[0].content: the text holds a lone UTF-16 surrogate (\\udf33)",
    ),
    "in a ChatGPT message": (
        b'[{"title": "Chat", "mapping": {"a": {"id": "a", "parent": null, "message": {"author": {"role": "user"}, '
        b'"content": {"content_type": "text", "parts": ["hi \\ud83d"]}}}}}]',
        "conversations[0].mapping.a.message.content.parts[0]: the text holds a lone UTF-16 surrogate (\\ud83d)",
    ),
}


@pytest.mark.parametrize("name", list(SURROGATES))
def test_a_lone_surrogate_is_refused_with_its_place_and_nothing_is_written(name, alice, existing):
    data, expected = SURROGATES[name]
    before = counts()
    assert refused(upload(signed_in(alice), data, name="upload.json")).startswith(expected)
    assert counts() == before


def test_a_surrogate_pair_is_one_character_and_imports(alice):
    data = (b'{"format": "workbench.conversation", "version": 1, "conversation": {"title": "\\ud83c\\udf33"}, '
            b'"turns": [{"id": 1, "role": "user", "content": "tree \\ud83c\\udf33"}]}')
    assert upload(signed_in(alice), data).status_code == 302
    assert Turn.objects.get(conversation__owner=alice).content == "tree 🌳"
    assert Conversation.objects.get(owner=alice).title == "🌳"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("data, where", [
    (nested(2_000).encode(), "line 1, column 101"),
    (('{"format": "workbench.conversation", "version": 1, "conversation": {},\n"turns": [{"id": 1, '
      '"role": "user", "content": "a", "settings": {"x": ' + nested(2_000) + "}}]}").encode(), "line 2, column 167"),
    (as_bytes(workbench(turn(1, settings={"x": json.loads(nested(150))}))), "line 1, column"),
    (("[" + '{"a": ' * 120 + "1" + "}" * 120 + "]").encode(), "line 1, column 596"),
])
def test_a_file_nested_too_deep_is_refused_and_nothing_is_written(data, where, alice, existing):
    before = counts()
    message = refused(upload(signed_in(alice), data, name="upload.json"))
    assert message.startswith(f"The file is not usable JSON: it is nested more than 100 levels deep at {where}")
    assert counts() == before


def test_a_number_too_long_to_read_is_refused_and_nothing_is_written(alice, existing):
    before = counts()
    data = as_bytes(workbench(turn(1))).replace(b'"id": 1', b'"id": ' + b"7" * 5_000)
    message = refused(upload(signed_in(alice), data, name="upload.json"))
    assert message.startswith("The file is not usable JSON: it holds a whole number longer than 4,300 digits.")
    assert counts() == before


# --- Other ways in: the registry, the socket, forks -----------------------------------------------


@pytest.mark.parametrize("setting, value", [
    ("OPENAI_MODELS", ["gpt-4.1", "gpt\nimport os"]),
    ("ANTHROPIC_MODELS", ["claude sonnet"]),
    ("OPENAI_COMPATIBLE_ENDPOINTS", [{"name": "ollama", "base_url": "http://127.0.0.1:1/v1", "models": ["llama3'"]}]),
])
def test_a_configured_model_name_follows_the_rule_imports_follow(settings, providers, setting, value):
    setattr(settings, setting, value)
    registry.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="is not a model name: letters, digits"):
        registry()


@pytest.mark.django_db(transaction=True)
async def test_a_hostile_model_id_on_the_socket_is_refused_and_nothing_is_written(alice, providers):
    conversation = await database_sync_to_async(services.conversation_create)(owner=alice, title="Socket")
    communicator = await connect(alice, conversation.id)
    await communicator.send_json_to({"action": "send", "parent": None, "content": "hi",
                                     "model": "ollama:fake-model\nimport os"})
    frame = await next_frame(communicator)
    assert frame["type"] == "error" and frame["code"] == "unknown_model"
    assert await database_sync_to_async(Turn.objects.filter(conversation=conversation).count)() == 0
    await communicator.disconnect()


def shared_link(owner, reply: Turn, mode: str) -> ShareLink:
    return sharing.share_create(
        conversation=reply.conversation, by=owner, turn_id=reply.id, with_subtree=False, mode=mode,
        audience=ShareLink.Audience.ANYONE, expires_at=None,
    )


@pytest.mark.parametrize("mode", ["snapshot", "live"])
def test_continue_in_my_workspace_copies_clean_names_and_refuses_unchecked_ones(mode, alice, charlie, providers):
    clean = stored_reply(alice, provider="ollama", model="llama3.2:latest", text="hi")
    link = shared_link(alice, clean, mode)
    response = signed_in(charlie).post(reverse("shared_fork", args=[link.token]), {"turn": clean.id})
    assert response.status_code == 302
    copy = Turn.objects.get(conversation__owner=charlie, role="assistant")
    assert (copy.provider, copy.model) == ("ollama", "llama3.2:latest")

    bad = stored_reply(alice, provider="ollama", model=INJECTION + "<script>", text="hi")
    link = shared_link(alice, bad, mode)
    before = counts()
    response = signed_in(charlie).post(reverse("shared_fork", args=[link.token]), {"turn": bad.id})
    assert response.status_code == 400
    text = response.content.decode()
    assert text.startswith('A reply on this branch cannot be copied: its "model" is not a model name')
    assert "import" not in text and "<script>" not in text  # the stored value is not repeated
    assert counts() == before


def test_a_fork_refuses_unchecked_names_and_writes_nothing(alice):
    bad = stored_reply(alice, provider=INJECTION, model="gpt-4o", text="hi")
    before = counts()
    response = signed_in(alice).post(reverse("conversation_fork", args=[bad.conversation_id, bad.id]))
    assert response.status_code == 400
    message = response.content.decode()
    assert message.startswith('A reply on this branch cannot be copied: its "provider" is not a provider name')
    assert counts() == before


def test_an_imported_conversation_forks_and_continues_with_the_names_it_was_checked_with(alice, charlie, providers):
    answer = turn(2, parent=1, role="assistant", content="hello", provider="ollama", model="Qwen/Qwen2.5-7B-Instruct")
    document = workbench(turn(1, content="hi"), answer, current_turn=2)
    assert upload(signed_in(alice), as_bytes(document)).status_code == 302
    reply = Turn.objects.get(conversation__owner=alice, role="assistant")
    fork = signed_in(alice).post(reverse("conversation_fork", args=[reply.conversation_id, reply.id]))
    assert fork.status_code == 302
    link = shared_link(alice, reply, "snapshot")
    assert signed_in(charlie).post(reverse("shared_fork", args=[link.token]), {"turn": reply.id}).status_code == 302
    copies = Turn.objects.filter(role="assistant").exclude(pk=reply.pk)
    assert sorted(copies.values_list("provider", "model")) == [("ollama", "Qwen/Qwen2.5-7B-Instruct")] * 2
