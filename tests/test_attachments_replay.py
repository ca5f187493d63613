"""A reply's attachments in "What the model saw" (each image a short placeholder, each text file in
full) and in "Get code" (a script that reads each file from its own folder and sends the very same
body, run here against the fake upstream through the real SDKs)."""
from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest
from django.urls import reverse

from conversations import replay, services
from conversations.attachments import replay as files_replay
from conversations.attachments import storage
from conversations.attachments.models import Blob
from conversations.attachments.services import link_blobs
from conversations.models import Turn
from conversations.providers.anthropic_messages import AnthropicProvider
from conversations.providers.base import Attachment, GenerationRequest, GenerationSettings, Message
from conversations.providers.local import LocalProvider
from conversations.providers.openai_chat import OpenAIChatProvider
from conversations.providers.openai_responses import OpenAIResponsesProvider
from conversations.replay import SentRequest
from conversations.tokens import count_all
from tests.conftest import signed_in
from tests.test_attachments_wire import DIAGRAM, JPEG, NOTES, PHOTO, PNG, documents
from tests.test_code_injection import hostile
from tests.test_context import run_snippet

REPORT = Attachment("text", "report.pdf", "text/plain", text="Quarterly report\n\nRevenue rose 4 %.")
# Names that try to leave the folder, close a string, start a statement, or hide.
HOSTILE_NAMES = [
    "../../outside.png", '"); __import__("os").system("touch ran") #.png', "a'b\"c\n\r\u2028.png", "..",
    ".bashrc", "x\\..\\y.md", "日本語 メモ.md", "-rf.png", "",
]


def descriptor(attachment: Attachment, *, pdf: bool = False) -> dict:
    data = attachment.data if attachment.kind == "image" else attachment.text.encode()
    described = {"sha256": storage.digest(data), "name": attachment.name, "kind": attachment.kind,
                 "media_type": "application/pdf" if pdf else attachment.media_type, "size": len(data)}
    if attachment.kind == "image":
        described.update(width=attachment.width, height=attachment.height)
    return described


def branch(images: bool = True) -> tuple[list[Message], list[Turn]]:
    """A system prompt, a prompt with an image, a text file and a PDF's text, a reply, and a prompt
    with another image and the same text file again."""
    first = (DIAGRAM, NOTES, REPORT) if images else (NOTES, REPORT)
    second = (PHOTO, NOTES) if images else (NOTES,)
    messages = [
        Message("system", "Be brief."),
        Message("user", "What is this?", attachments=first),
        Message("assistant", "A square."),
        Message("user", "And 'this'?\n\"\"\"\n", attachments=second),
    ]
    turns = [Turn(role=m.role, attachments=[descriptor(a, pdf=a is REPORT) for a in m.attachments]) for m in messages]
    return messages, turns


def sent_for(api: str, provider: str, messages: list[Message], turns: list[Turn], base_url: str = "") -> SentRequest:
    """The SentRequest sent_request builds for `messages` on `api`."""
    config: dict[str, Any] = dict(name=provider, label=provider, api_key="", base_url=base_url, models=[],
                                  key_setting="", timeouts=(1, 1), max_retries=0)
    request = GenerationRequest(model="fake-model", messages=messages, settings=GenerationSettings(max_tokens=64))
    if api == "llama.cpp":
        body = LocalProvider(model_path=None).sent_body(request)  # type: ignore[arg-type]
    else:
        maker = {"messages": AnthropicProvider, "responses": OpenAIResponsesProvider}.get(api, OpenAIChatProvider)
        body = maker(**config).request_body(request)
    reply = Turn(id=7, role="assistant", provider=provider, model="fake-model")
    files = files_replay.sent_files(messages, turns)
    return SentRequest(reply, provider, provider, api, base_url, body, known=bool(api), files=files,
                       messages=tuple(messages))


def write_files(sent: SentRequest, folder) -> list[str]:
    names = []
    for file in sent.files:
        if file.script_name:
            data = file.attachment.data if file.attachment.kind == "image" else file.attachment.text.encode()
            (folder / file.script_name).write_bytes(data)
            names.append(file.script_name)
    return names


SCRIPT_CALLS = {
    "OpenAI", "anthropic.Anthropic", "os.environ.get", "print", "client.chat.completions.create",
    "client.responses.create", "client.messages.create", "Path", "<call>.resolve",
    "base64_of", "data_url", "text_of",
}


def check_script(code: str) -> list[str]:
    """The script compiles, defines only the fixed helpers, calls only what sending needs, and reads
    only plain file names from its own folder: the names it reads."""
    compile(code, "snippet.py", "exec")
    assert len(code.splitlines()) == code.count("\n")  # no line break but \n, in strings or comments
    tree = ast.parse(code)
    read = []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef):
            assert f"{ast.get_source_segment(code, statement)}\n" == files_replay.FILE_HELPERS[statement.name]
            continue
        assert isinstance(statement, (ast.Import, ast.ImportFrom, ast.Assign, ast.For, ast.Expr)), ast.dump(statement)
        for node in ast.walk(statement):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = f"<call>.{func.attr}" if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call) \
                else ast.unparse(func)
            assert name in SCRIPT_CALLS, name
            if name in ("base64_of", "data_url", "text_of"):
                constants = [a.value for a in node.args if isinstance(a, ast.Constant)]
                assert len(constants) == len(node.args)
                file = constants[0]
                assert isinstance(file, str)
                assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", file) and ".." not in file, file
                read.append(file)
    return read


def received(sent: SentRequest) -> dict:
    """What the API receives for sent.body: the SDKs send extra_body's keys at the top."""
    body = dict(sent.body)
    body.update(body.pop("extra_body", {}))
    return body


KINDS = [
    ("chat.completions", "openai", False),
    ("chat.completions", "ollama", True),
    ("responses", "openai-responses", False),
    ("messages", "anthropic", False),
    ("", "chatgpt", False),  # not configured here: the branch in Chat Completions form
]


@pytest.mark.parametrize("api, provider, own_url", KINDS)
def test_get_code_reads_the_files_beside_it_and_sends_the_same_body(upstream, tmp_path, api, provider, own_url):
    messages, turns = branch()
    sent = sent_for(api, provider, messages, turns, base_url=upstream.url + "/v1" if own_url else "")
    code = replay.code_snippet(sent)
    read = check_script(code)
    # Each image and the text file once (the same file twice is one file); the PDF's text is written out.
    assert sorted(set(read)) == sorted(write_files(sent, tmp_path)) == ["diagram.png", "notes.md", "photo.jpg"]
    assert "#   diagram.png\n#   notes.md\n#   photo.jpg\n" in code
    assert repr(REPORT.text)[1:-1] in code and "# The text of report.pdf (as extracted from the PDF)" in code
    assert storage_free(code)
    result = run_snippet(code, upstream, tmp_path, OLLAMA_API_KEY="test-key")
    assert result.returncode == 0, result.stderr
    assert upstream.requests[-1]["json"] == received(sent)


def storage_free(code: str) -> bool:
    """No image's base64 in the script: it reads the images."""
    return all(s not in code for s in (PNG.hex()[:40], repr(JPEG)[:40], files_replay.parts.base64_of(DIAGRAM)[:60]))


def test_get_code_for_the_local_model_reads_its_text_files(upstream, tmp_path):
    messages, turns = branch(images=False)
    sent = sent_for("llama.cpp", "local", messages, turns)
    code = replay.code_snippet(sent)
    assert check_script(code) == ["notes.md", "notes.md"]
    write_files(sent, tmp_path)
    result = run_snippet(code, upstream, tmp_path, LLAMA_SERVER_URL=upstream.url + "/v1")
    assert result.returncode == 0, result.stderr
    assert upstream.requests[-1]["json"] == received(sent)
    assert "import base64\nimport os\nfrom pathlib import Path\n\nfrom openai import OpenAI\n" in code


def test_a_script_without_files_is_as_before():
    messages = [Message("user", "Hi")]
    sent = sent_for("messages", "anthropic", messages, [Turn(role="user", attachments=[])])
    code = replay.code_snippet(sent)
    assert "FOLDER" not in code and "base64" not in code and code.count("import") == 1


@pytest.mark.parametrize("api, provider", [("chat.completions", "openai"), ("messages", "anthropic")])
def test_hostile_file_names_become_plain_names_in_the_folder_and_run_nothing(upstream, tmp_path, api, provider):
    marker = tmp_path / "ran"
    images = [Attachment("image", name, "image/png", data=PNG + bytes([i]), width=40, height=30)
              for i, name in enumerate(HOSTILE_NAMES)]
    texts = [Attachment("text", name, "text/plain", text=f"file {i} {hostile(marker)}")
             for i, name in enumerate(HOSTILE_NAMES)]
    messages = [Message("user", hostile(marker), attachments=(*images, *texts))]
    turns = [Turn(role="user", attachments=[descriptor(a) for a in messages[0].attachments])]
    sent = sent_for(api, provider, messages, turns)
    code = replay.code_snippet(sent)
    read = check_script(code)
    names = write_files(sent, tmp_path)
    assert sorted(set(read)) == sorted(names) and len(names) == 2 * len(HOSTILE_NAMES)
    assert all((tmp_path / name).parent == tmp_path for name in names)
    result = run_snippet(code, upstream, tmp_path, WB_MARKER=str(marker))
    assert result.returncode == 0, result.stderr
    assert upstream.requests[-1]["json"] == received(sent)
    assert not marker.exists() and not (tmp_path.parent / "outside.png").exists()


@pytest.mark.parametrize("name, expected", [
    ("diagram.png", "diagram.png"), ("../../etc/passwd", "passwd"), ("..", "file.txt"), (".env", "env"),
    ("a b/c d.md", "c_d.md"), ("x\\..\\y.md", "y.md"), ("", "file.png"), ("日本.png", "file.png"),
    ("---.png", "file.png"), ("Makefile", "Makefile"), ("a.tar.gz", "a.tar.gz"), ("x.p/y", "y"),
])
def test_script_names_are_plain(name, expected):
    media_type = "image/png" if name.endswith(".png") or not name else "text/plain"
    assert files_replay.script_name(name, media_type) == expected


# --- through the pages, from stored turns -------------------------------------------------------


@pytest.fixture
def stored(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "files")}}}


def store(attachment: Attachment, *, pdf: bool = False) -> dict:
    described = descriptor(attachment, pdf=pdf)
    data = attachment.data if attachment.kind == "image" else attachment.text.encode()
    storage.write(storage.blob_name(described["sha256"]), data)
    Blob.objects.get_or_create(sha256=described["sha256"], defaults={
        "size": len(data), "kind": attachment.kind, "media_type": described["media_type"],
        "width": attachment.width or None, "height": attachment.height or None, "text": attachment.text,
        "token_counts": count_all(attachment.text) if attachment.text else {},
    })
    return described


def stored_reply(owner, provider: str, *, context: dict | None = None) -> Turn:
    conversation = services.conversation_create(owner=owner, title="Files")
    prompt = Turn.objects.append(
        conversation=conversation, role="user", content="What is this?", token_counts=count_all("What is this?"),
        attachments=[store(DIAGRAM), store(NOTES), store(REPORT, pdf=True)],
    )
    reply = Turn.objects.append(
        conversation=conversation, parent=prompt, role="assistant", content="A square.", provider=provider,
        model="fake-model",
    )
    again = Turn.objects.append(
        conversation=conversation, parent=reply, role="user", content="", token_counts=count_all(""),
        attachments=[store(PHOTO)],
    )
    link_blobs([prompt, again])
    return Turn.objects.append(
        conversation=conversation, parent=again, role="assistant", content="Orange.", provider=provider,
        model="fake-model", settings={"max_tokens": 64}, context=context or {},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["openai", "openai-responses", "anthropic", "ollama"])
def test_what_the_model_saw_shows_images_as_placeholders_and_text_in_full(alice, providers, stored, provider):
    reply = stored_reply(alice, provider)
    response = signed_in(alice).get(reverse("reply_request", args=[reply.conversation_id, reply.id]))
    assert response.status_code == 200
    page = response.content.decode()
    assert files_replay.parts.base64_of(DIAGRAM)[:40] not in page
    assert files_replay.parts.base64_of(PHOTO)[:40] not in page
    data = json.loads(page)
    shown = json.dumps(data["body"], ensure_ascii=False)
    assert "<image: diagram.png, image/png, 40×30, " in shown and "<image: photo.jpg, image/jpeg, 64×48, " in shown
    assert json.dumps(documents(("notes.md", NOTES.text), ("report.pdf", REPORT.text)) + "\n\nWhat is this?") in shown
    assert [(f["name"], f["kind"], f["media_type"]) for f in data["files"]] == [
        ("diagram.png", "image", "image/png"), ("notes.md", "text", "text/plain"),
        ("report.pdf", "text", "application/pdf"), ("photo.jpg", "image", "image/jpeg"),
    ]
    # Only the data changed: the request as sent holds each image's base64 in that place.
    sent = replay.sent_request(conversation_id=reply.conversation_id, turn_id=reply.id)
    assert files_replay.parts.base64_of(PHOTO) in json.dumps(sent.body)


@pytest.mark.django_db
def test_a_reply_sent_the_text_only_is_rebuilt_without_images(alice, providers, stored):
    reply = stored_reply(alice, "openai", context={"images_left_out": 2})
    data = signed_in(alice).get(reverse("reply_request", args=[reply.conversation_id, reply.id])).json()
    assert data["context"]["images_left_out"] == 2
    assert "image" not in json.dumps(data["body"]) and [f["kind"] for f in data["files"]] == ["text", "text"]
    # The prompt that had only an image is sent as an empty prompt, as the send sent it.
    assert data["body"]["messages"][-1] == {"role": "user", "content": ""}


@pytest.mark.django_db
def test_get_code_from_stored_turns_sends_the_same_request(alice, providers, stored, upstream, tmp_path):
    reply = stored_reply(alice, "anthropic")
    code = signed_in(alice).get(reverse("reply_code", args=[reply.conversation_id, reply.id])).content.decode()
    sent = replay.sent_request(conversation_id=reply.conversation_id, turn_id=reply.id)
    assert sorted(check_script(code)) == ["diagram.png", "notes.md", "photo.jpg"]
    write_files(sent, tmp_path)
    upstream.reset()
    result = run_snippet(code, upstream, tmp_path)
    assert result.returncode == 0, result.stderr
    assert upstream.requests[-1]["json"] == received(sent)
    assert [b["type"] for b in upstream.requests[-1]["json"]["messages"][-1]["content"]] == ["image"]


@pytest.mark.django_db
def test_a_local_reply_with_images_not_left_out_cannot_be_rebuilt_and_says_why(alice, providers, stored, settings):
    reply = stored_reply(alice, "local")
    settings.LOCAL_MODEL_ENABLED = True
    from conversations.registry import registry

    registry.cache_clear()
    if "local" not in registry().providers:
        pytest.skip("the local model is not installed here")
    response = signed_in(alice).get(reverse("reply_request", args=[reply.conversation_id, reply.id]))
    assert response.status_code == 400 and "cannot see images" in response.content.decode()
