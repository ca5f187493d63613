"""Sending files with a prompt, on the real Channels stack against the fake upstream: what the
prompt stores, what reaches the provider, what is refused (with nothing written), vision, and the
tokens files count for."""
from __future__ import annotations

import base64
import io
import uuid

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse
from PIL import Image

from conversations import services
from conversations.attachments.models import Upload
from conversations.attachments.refs import TurnRef, UploadRef
from conversations.attachments.sending import with_image_bytes
from conversations.attachments.storage import blob_name, read
from conversations.context import attachment_tokens, branch_meter, documents_wrapper, plan_context
from conversations.errors import ServiceError
from conversations.models import Conversation, Turn
from conversations.registry import registry
from conversations.streaming import generation
from conversations.streaming.protocol import parse_action
from conversations.tokens import count, count_all
from conversations.workspaces.services import personal_workspace
from tests import attachment_files as files
from tests.conftest import signed_in
from tests.wsclient import WAIT, connect, finished, frames_until, router

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_leftover_generations")]

NOTES = "# Notes\n\nThe launch is on Tuesday; the budget is 4,000 euros.\n"


@pytest.fixture
def vision(settings, providers):
    """fake-model sees images (under every provider); the other fake models do not."""
    settings.MODEL_CATALOGUE = {"fake-model": {"vision": True}}
    registry.cache_clear()
    return registry()


@pytest.fixture
def sent_requests(monkeypatch):
    """The requests services build for each reply, with the images' bytes the generation reads just
    before it asks the provider (the wire format is the providers' to test)."""
    requests = []
    start = generation.generation_start

    def recording(prepared, **kwargs):
        requests.append(with_image_bytes(prepared.request))
        return start(prepared, **kwargs)

    monkeypatch.setattr(generation, "generation_start", recording)
    return requests


def image_upload(owner, name="diagram.png", width=64, height=48) -> Upload:
    return files.upload(owner, name, files.png((width, height)))


def text_upload(owner, name="notes.md", text=NOTES) -> Upload:
    return files.upload(owner, name, text.encode())


described = files.descriptor


def send_frame(content="What is in these?", parent=None, model="openai:fake-model", **extra) -> dict:
    return {"action": "send", "parent": parent, "content": content, "model": model, **extra}


def refs(*uploads: Upload) -> list[dict]:
    return [{"upload": str(u.pk)} for u in uploads]


@database_sync_to_async
def _db(function, *args, **kwargs):
    return function(*args, **kwargs)


def _prompt(conversation) -> Turn:
    return Turn.objects.filter(conversation=conversation, role="user").latest("id")


# --- sending ------------------------------------------------------------------------------------


async def test_a_prompt_carries_an_image_and_a_text_file_to_the_provider(alice, vision, sent_requests):
    conversation = await _db(services.conversation_create, owner=alice)
    image, notes = await _db(image_upload, alice), await _db(text_upload, alice)
    expected = [await _db(described, image), await _db(described, notes)]
    image_bytes = await _db(read, blob_name(image.blob.sha256))
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(attachments=refs(image, notes)))
    frames = await frames_until(ws, finished())
    created = [f["turn"] for f in frames if f["type"] == "turn.created"]
    # The page is told the prompt's files with the prompt.
    assert created[0]["attachments"] == expected
    prompt = await _db(_prompt, conversation)
    assert prompt.attachments == expected
    assert await _db(lambda: sorted(prompt.blobs.values_list("sha256", flat=True))) == sorted(
        d["sha256"] for d in expected
    )
    assert not await _db(lambda: Upload.objects.filter(pk__in=[image.pk, notes.pk]).exists())
    [request] = sent_requests
    message = request.messages[-1]
    assert (message.role, message.content) == ("user", "What is in these?")
    first, second = message.attachments
    assert (first.kind, first.name, first.media_type, first.data, first.width, first.height) == (
        "image", "diagram.png", "image/png", image_bytes, 64, 48
    )
    assert Image.open(io.BytesIO(first.data)).size == (64, 48)
    assert (second.kind, second.name, second.text, second.data) == ("text", "notes.md", NOTES, b"")
    await ws.disconnect()


@pytest.mark.parametrize("model", ["openai:fake-model", "openai-responses:fake-model", "anthropic:fake-model"])
async def test_a_sent_image_reaches_the_upstream_in_the_apis_own_part(alice, vision, upstream, model):
    """The whole way: the socket's send, the prompt written, the image's bytes read from storage as
    the reply starts, the real SDK's request as the fake upstream received it."""
    conversation = await _db(services.conversation_create, owner=alice)
    image = await _db(image_upload, alice)
    encoded = base64.b64encode(await _db(read, blob_name(image.blob.sha256))).decode()
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(attachments=refs(image), model=model))
    frames = await frames_until(ws, finished())
    assert frames[-1]["type"] == "turn.finished" and frames[-1]["turn"]["status"] == "complete", frames[-1]
    body = upstream.requests[-1]["json"]
    if model.startswith("anthropic"):
        [message] = body["messages"]
        assert message["content"] == [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": encoded}},
            {"type": "text", "text": "What is in these?"},
        ]
    elif model.startswith("openai-responses"):
        [message] = body["input"]
        assert message["content"] == [
            {"type": "input_text", "text": "What is in these?"},
            {"type": "input_image", "image_url": f"data:image/png;base64,{encoded}", "detail": "auto"},
        ]
    else:
        message = body["messages"][-1]
        assert message["content"] == [
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}},
        ]
    await ws.disconnect()


async def test_files_alone_make_a_message_and_a_title(alice, vision, sent_requests):
    conversation = await _db(services.conversation_create, owner=alice)
    notes = await _db(text_upload, alice)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(content="  ", attachments=refs(notes)))
    await frames_until(ws, finished())
    prompt = await _db(_prompt, conversation)
    assert (prompt.content, [d["name"] for d in prompt.attachments]) == ("  ", ["notes.md"])
    assert (await _db(Conversation.objects.get, pk=conversation.pk)).title == "notes.md"
    # Without files, a blank message is still refused.
    await ws.send_json_to(send_frame(content=" ", request_id="r2"))
    error = (await frames_until(ws, lambda f: f["type"] == "error"))[-1]
    assert (error["code"], error["error"]) == ("empty", "The message is empty.")
    await ws.disconnect()


async def test_every_reply_of_a_fan_out_gets_the_files(alice, vision, sent_requests):
    conversation = await _db(services.conversation_create, owner=alice)
    image = await _db(image_upload, alice)
    ws = await connect(alice, conversation.id)
    variants = [{"model": "openai:fake-model"}, {"model": "anthropic:fake-model"}]
    await ws.send_json_to({**send_frame(attachments=refs(image)), "variants": variants})
    finished: list[dict] = []

    def both_finished(frame: dict) -> bool:
        if frame["type"] == "turn.finished":
            finished.append(frame)
        return len(finished) == 2

    await frames_until(ws, both_finished)
    assert [[a.name for a in r.messages[-1].attachments] for r in sent_requests] == [["diagram.png"]] * 2
    assert sent_requests[0].messages[-1].attachments[0].data == sent_requests[1].messages[-1].attachments[0].data
    await ws.disconnect()


async def test_the_branch_keeps_sending_its_files_to_later_replies(alice, vision, sent_requests):
    conversation = await _db(services.conversation_create, owner=alice)
    notes = await _db(text_upload, alice)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(attachments=refs(notes)))
    frames = await frames_until(ws, finished())
    reply = frames[-1]["turn"]["id"]
    await ws.send_json_to(send_frame("And the date?", parent=reply))
    await frames_until(ws, finished())
    first, _, latest = sent_requests[1].messages
    assert [a.name for a in first.attachments] == ["notes.md"] and latest.attachments == ()
    await ws.disconnect()


async def test_an_edit_keeps_the_files_it_names_as_turn_refs(alice, vision, sent_requests):
    conversation = await _db(services.conversation_create, owner=alice)
    image, notes = await _db(image_upload, alice), await _db(text_upload, alice)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(attachments=refs(image, notes)))
    await frames_until(ws, finished())
    original = await _db(_prompt, conversation)
    await ws.send_json_to({"action": "edit", "turn": original.id, "content": "Only the notes, please.",
                           "model": "openai:fake-model", "attachments": [{"turn": original.id, "index": 1}]})
    await frames_until(ws, finished())
    edited = await _db(_prompt, conversation)
    assert edited.parent_id == original.parent_id and edited.id != original.id
    assert edited.attachments == [original.attachments[1]]
    assert await _db(lambda: list(edited.blobs.values_list("sha256", flat=True))) == [original.attachments[1]["sha256"]]
    assert [a.name for a in sent_requests[-1].messages[-1].attachments] == ["notes.md"]
    # The original keeps both.
    assert len((await _db(Turn.objects.get, pk=original.id)).attachments) == 2
    await ws.disconnect()


async def test_a_new_conversation_starts_with_files(alice, vision, sent_requests):
    from channels.testing import WebsocketCommunicator

    workspace = await _db(personal_workspace, alice)
    notes = await _db(text_upload, alice)
    ws = WebsocketCommunicator(router, f"/ws/workspaces/{workspace.id}/conversations/new/")
    ws.scope["user"] = alice
    assert (await ws.connect(timeout=WAIT))[0]
    await ws.send_json_to(send_frame(content="", attachments=refs(notes), request_id="n1"))
    created = await ws.receive_json_from(timeout=WAIT)
    assert created["type"] == "conversation.created"
    prompt = await _db(_prompt, created["conversation"])
    assert prompt.attachments == [await _db(described, notes)]
    assert not await _db(lambda: Upload.objects.exists())
    assert [a.text for a in sent_requests[0].messages[-1].attachments] == [NOTES]
    await ws.disconnect()


# --- refused, with nothing written --------------------------------------------------------------


async def _refused(user, conversation, frame) -> dict:
    ws = await connect(user, conversation.id)
    turns_before = await _db(Turn.objects.count)
    await ws.send_json_to(frame)
    error = (await frames_until(ws, lambda f: f["type"] == "error"))[-1]
    assert await _db(Turn.objects.count) == turns_before
    await ws.disconnect()
    return error


async def test_another_persons_upload_is_refused_and_stays_theirs(alice, bob, vision):
    conversation = await _db(services.conversation_create, owner=alice)
    theirs = await _db(text_upload, bob)
    error = await _refused(alice, conversation, send_frame(attachments=refs(theirs)))
    assert (error["code"], error["error"]) == ("attachment_gone", (
        "A file attached is no longer waiting to be sent: it was sent with another message, removed, or is "
        "not one of your uploads. Attach it again."
    ))
    assert await _db(lambda: Upload.objects.filter(pk=theirs.pk, owner=bob).exists())


async def test_an_upload_is_sent_once(alice, vision):
    conversation = await _db(services.conversation_create, owner=alice)
    notes = await _db(text_upload, alice)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(attachments=refs(notes)))
    await frames_until(ws, finished())
    await ws.disconnect()
    error = await _refused(alice, conversation, send_frame(attachments=refs(notes)))
    assert error["code"] == "attachment_gone"


async def test_a_refused_send_leaves_its_uploads_waiting(alice, vision):
    conversation = await _db(services.conversation_create, owner=alice)
    notes = await _db(text_upload, alice)
    error = await _refused(alice, conversation, send_frame(model="openai:no-such-model", attachments=refs(notes)))
    assert error["code"] == "unknown_model"
    assert await _db(lambda: Upload.objects.filter(pk=notes.pk).exists())
    assert not await _db(lambda: Turn.blobs.through.objects.exists())


async def test_a_file_of_another_conversation_is_refused(alice, vision):
    first = await _db(services.conversation_create, owner=alice)
    other = await _db(services.conversation_create, owner=alice)
    notes = await _db(text_upload, alice)
    sent = await _db(services.turn_send, conversation=first, parent_id=None, content="x", author=alice,
                     variants=[services.Variant("openai:fake-model")], attachments=[UploadRef(upload=str(notes.pk))])
    for prepared in sent.replies:
        generation.generation_start(prepared)
    error = await _refused(alice, other, send_frame(attachments=[{"turn": sent.prompt.id, "index": 0}]))
    assert (error["code"], error["error"]) == (
        "not_found", f"An attached file names turn {sent.prompt.id}, which is not in this conversation."
    )
    error = await _refused(alice, first, send_frame(attachments=[{"turn": sent.prompt.id, "index": 1}]))
    assert error["error"] == (
        f"Turn {sent.prompt.id} has 1 attached file: there is none at index 1 (the first is 0)."
    )


async def test_bad_refs_are_refused_on_the_socket(alice, vision):
    conversation = await _db(services.conversation_create, owner=alice)
    error = await _refused(alice, conversation, send_frame(attachments=[{"file": "x"}]))
    assert (error["code"], error["error"]) == (
        "wrong_type", 'Each of "attachments" must be {"upload": "<id>"} or {"turn": <turn id>, "index": <n>}.'
    )


async def test_too_many_and_too_large_are_refused(alice, vision, settings):
    conversation = await _db(services.conversation_create, owner=alice)
    a, b = await _db(text_upload, alice), await _db(text_upload, alice, "b.md", "Another text.")
    settings.ATTACHMENT_MAX_FILES = 1
    error = await _refused(alice, conversation, send_frame(attachments=refs(a, b)))
    assert (error["code"], error["error"]) == ("too_many", "A message carries at most 1 file; this one has 2.")
    settings.ATTACHMENT_MAX_FILES = 10
    settings.ATTACHMENT_MAX_PROMPT_BYTES = a.blob.size + b.blob.size - 1
    error = await _refused(alice, conversation, send_frame(attachments=refs(a, b)))
    assert (error["code"], error["error"]) == (
        "too_large", f"The files attached come to {a.blob.size + b.blob.size} bytes; a message may carry at most "
        f"{a.blob.size + b.blob.size - 1} bytes. Send fewer or smaller files."
    )
    assert await _db(Upload.objects.count) == 2


def test_the_service_checks_the_count_itself(alice, settings, providers):
    conversation = services.conversation_create(owner=alice)
    a, b = text_upload(alice), text_upload(alice, "b.md", "Another.")
    settings.ATTACHMENT_MAX_FILES = 1
    with pytest.raises(ServiceError, match="at most 1 file; this one has 2"):
        services.turn_send(conversation=conversation, parent_id=None, content="x", author=alice,
                           variants=[services.Variant("openai:fake-model")],
                           attachments=[UploadRef(upload=str(a.pk)), UploadRef(upload=str(b.pk))])
    assert not Turn.objects.exists() and Upload.objects.count() == 2


BAD_REFS = {
    "not a list": ({"attachments": {"upload": "x"}}, '"attachments" must be a list of files, each '
                   '{"upload": "<id>"} or {"turn": <turn id>, "index": <n>}.'),
    "a number": ({"attachments": [3]}, 'Each of "attachments" must be {"upload": "<id>"} or '
                 '{"turn": <turn id>, "index": <n>}.'),
    "both kinds": ({"attachments": [{"upload": str(uuid.uuid4()), "turn": 1, "index": 0}]},
                   'Each of "attachments" must be {"upload": "<id>"} or {"turn": <turn id>, "index": <n>}.'),
    "an unknown key": ({"attachments": [{"turn": 1, "index": 0, "page": 2}]},
                       'Each of "attachments" must be {"upload": "<id>"} or {"turn": <turn id>, "index": <n>}.'),
    "not a uuid": ({"attachments": [{"upload": "abc"}]},
                   'An attachment\'s "upload" must be the id of a file you uploaded (a UUID string).'),
    "a number as upload": ({"attachments": [{"upload": 5}]},
                           'An attachment\'s "upload" must be the id of a file you uploaded (a UUID string).'),
    "turn 0": ({"attachments": [{"turn": 0, "index": 0}]},
               'An attachment\'s "turn" must be a turn id (a positive integer).'),
    "a negative index": ({"attachments": [{"turn": 1, "index": -1}]},
                         'An attachment\'s "index" must be the place of a file among its turn\'s, a whole number '
                         'from 0.'),
    "no index": ({"attachments": [{"turn": 1}]}, '"index" is missing.'),
    "twice the same": ({"attachments": [{"turn": 1, "index": 0}, {"turn": 1, "index": 0}]},
                       "The same file is attached twice: attach each file once."),
    "text_only not a boolean": ({"text_only": "yes"}, '"text_only" must be true or false.'),
}


@pytest.mark.parametrize("extra,message", BAD_REFS.values(), ids=BAD_REFS.keys())
@pytest.mark.parametrize("action", ["send", "edit", "send variants", "edit variants"])
def test_each_bad_ref_is_refused_with_its_message(action, extra, message):
    name, _, variants = action.partition(" ")
    frame = {"action": name, "content": "hi", "parent": None, "turn": 1, "model": "openai:m", **extra}
    if variants:
        frame["variants"] = [{"model": "openai:a"}, {"model": "openai:b"}]
    with pytest.raises(ServiceError) as caught:
        parse_action(frame)
    assert caught.value.message == message


def test_refs_are_read_in_order_with_text_only():
    upload = str(uuid.uuid4())
    action = parse_action(send_frame(content="", attachments=[{"turn": 7, "index": 2}, {"upload": upload.upper()}],
                                     text_only=True))
    assert action.attachments == (TurnRef(turn=7, index=2), UploadRef(upload=upload))
    assert (action.content, action.text_only) == ("", True)
    assert parse_action(send_frame()).attachments == ()


# --- vision -------------------------------------------------------------------------------------


async def test_images_to_a_model_without_vision_are_refused(alice, vision):
    conversation = await _db(services.conversation_create, owner=alice)
    image = await _db(image_upload, alice)
    error = await _refused(alice, conversation, send_frame(model="openai:fake-think", attachments=refs(image)))
    assert (error["code"], error["error"]) == (
        "no_vision", "openai:fake-think cannot see images: choose a model that can, or send the text only."
    )
    assert await _db(lambda: Upload.objects.filter(pk=image.pk).exists())


async def test_text_only_leaves_the_images_out_and_says_so(alice, vision, sent_requests):
    conversation = await _db(services.conversation_create, owner=alice)
    image, notes = await _db(image_upload, alice), await _db(text_upload, alice)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="openai:fake-think", attachments=refs(image, notes), text_only=True))
    frames = await frames_until(ws, finished())
    # The prompt keeps its image; the request leaves it out, and the reply's context says so.
    assert len((await _db(_prompt, conversation)).attachments) == 2
    assert [a.kind for a in sent_requests[0].messages[-1].attachments] == ["text"]
    reply = await _db(Turn.objects.get, pk=frames[-1]["turn"]["id"])
    assert reply.context["images_left_out"] == 1
    # A later turn on that branch to the same model is refused unless it is text only too.
    error = await _refused(alice, conversation, send_frame("More?", parent=reply.id, model="openai:fake-think"))
    assert error["code"] == "no_vision"
    regenerate = {"action": "regenerate", "turn": reply.id, "model": "openai:fake-think"}
    assert (await _refused(alice, conversation, regenerate))["code"] == "no_vision"
    await ws.send_json_to({**regenerate, "text_only": True})
    again = (await frames_until(ws, finished()))[-1]["turn"]["id"]
    assert (await _db(Turn.objects.get, pk=again)).context["images_left_out"] == 1
    assert [a.kind for a in sent_requests[-1].messages[-1].attachments] == ["text"]
    await ws.disconnect()


async def test_the_request_shown_later_leaves_out_what_text_only_left_out(alice, vision):
    from conversations.replay import sent_request

    conversation = await _db(services.conversation_create, owner=alice)
    image = await _db(image_upload, alice)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame(model="openai:fake-think", attachments=refs(image), text_only=True))
    reply = (await frames_until(ws, finished()))[-1]["turn"]["id"]
    await ws.disconnect()
    sent = await _db(sent_request, conversation_id=conversation.id, turn_id=reply)
    assert sent.body["messages"][-1]["content"] == "What is in these?"
    assert sent.as_json()["context"]["images_left_out"] == 1


def test_vision_is_in_the_catalogue_and_can_be_given_to_any_model(settings, providers):
    catalogue = registry().catalogue
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-nano", "o3", "o4-mini",
                  "claude-sonnet-4-5", "claude-haiku-4-5"):
        assert catalogue.info(f"openai:{model}").vision, model
    assert not catalogue.info("local:smollm2-135m-instruct").vision
    assert not catalogue.info("ollama:llama3.2").vision
    settings.MODEL_CATALOGUE = {"ollama:llava": {"vision": True}}
    registry.cache_clear()
    llava = registry().model_info("ollama:llava")
    assert llava.vision and llava.image_tokens.as_json() == {"rule": "tiles", "base": 85, "tile": 170}
    assert llava.as_json()["vision"] is True


# --- tokens -------------------------------------------------------------------------------------


def _turn_with(alice, *uploads: Upload) -> list[Turn]:
    conversation = services.conversation_create(owner=alice)
    prompt = Turn.objects.append(conversation=conversation, role="user", content="Compare them.",
                                 token_counts=count_all("Compare them."), author=alice,
                                 attachments=[described(u) for u in uploads])
    return [prompt]


def test_the_meter_counts_files_by_the_models_rules(alice, settings, providers):
    image, notes = image_upload(alice, width=1024, height=1024), text_upload(alice)
    path = _turn_with(alice, image, notes)
    bare = _turn_with(alice)
    gpt4o = registry().model_info("openai:gpt-4o")
    delimiters = count(documents_wrapper(["notes.md"]), "o200k_base")
    files = 765 + count_all(NOTES)["o200k_base"] + delimiters
    assert attachment_tokens(path[0].attachments, gpt4o) == files
    assert branch_meter(path, gpt4o).used == branch_meter(bare, gpt4o).used + files
    # Left out ("text only"), the image counts nothing; the text file still does.
    plan = plan_context(path=path, info=gpt4o, images=False)
    assert plan.input_tokens == plan_context(path=bare, info=gpt4o).input_tokens + files - 765
    claude = registry().model_info("anthropic:claude-sonnet-4-5")
    assert attachment_tokens([described(image)], claude) == 1399  # 1024 × 1024 / 750, rounded up
    # A model that takes no image counts none.
    assert attachment_tokens([described(image)], registry().model_info("openai:fake-model")) == 0


async def test_a_replys_recorded_input_counts_its_files(alice, providers, settings):
    settings.MODEL_CATALOGUE = {"fake-model": {"context_window": 4000, "max_output": 100, "vision": True,
                                               "input_per_million": 2.0, "output_per_million": 8.0}}
    registry.cache_clear()
    conversation = await _db(services.conversation_create, owner=alice)
    image = await _db(image_upload, alice, width=1024, height=1024)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(send_frame("Hello socket"))
    bare = (await frames_until(ws, finished()))[-1]["turn"]["id"]
    await ws.send_json_to(send_frame("Hello socket", attachments=refs(image)))
    with_image = (await frames_until(ws, finished()))[-1]["turn"]["id"]
    await ws.disconnect()
    before = (await _db(Turn.objects.get, pk=bare)).context["input_tokens"]
    after = (await _db(Turn.objects.get, pk=with_image)).context["input_tokens"]
    assert after == before + 765


def test_the_draft_count_includes_uploads(alice, bob, providers):
    image, notes = image_upload(alice, width=1024, height=1024), text_upload(alice)
    theirs = text_upload(bob)
    client = signed_in(alice)
    url = reverse("tokens_count")
    body = {"model": "openai:gpt-4o", "texts": ["Compare them."], "uploads": [str(image.pk), str(notes.pk)]}
    data = client.post(url, body, content_type="application/json").json()
    text_tokens = count_all(NOTES)["o200k_base"]
    assert (data["uploads"], data["vision"]) == ([765, text_tokens], True)
    assert data["uploads_total"] == 765 + text_tokens + count(documents_wrapper(["notes.md"]), "o200k_base")
    assert data["counts"] == [count("Compare them.", "o200k_base")]
    for ids, message in (
        ([str(theirs.pk)], f"No upload of yours waiting to be sent has the id {theirs.pk}: it was sent, removed, "
                           "or never yours."),
        (["nope"], '"uploads" must be a list of up to 10 ids of files you uploaded (UUID strings).'),
        ("x", '"uploads" must be a list of up to 10 ids of files you uploaded (UUID strings).'),
    ):
        response = client.post(url, {**body, "uploads": ids}, content_type="application/json")
        assert (response.status_code, response.json()) == (400, {"error": message})
    # Without "uploads", the answer is as before: no word of files.
    data = client.post(url, {"model": "openai:gpt-4o", "texts": ["a"]}, content_type="application/json").json()
    assert "uploads" not in data and "vision" not in data
    data = client.post(url, {**body, "uploads": []}, content_type="application/json").json()
    assert (data["uploads"], data["uploads_total"]) == ([], 0)
