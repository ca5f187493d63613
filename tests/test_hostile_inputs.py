"""Hostile inputs where a clear error is promised: deeply nested JSON, unpaired surrogates, frames
over the transport's size, names and titles far over their limit. Each is answered with a clear
error, writes nothing, and leaves the socket usable where that is promised."""
from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from conversations import services
from conversations.models import Conversation, Turn, Workspace
from conversations.sharing import services as sharing
from conversations.validation import MAX_JSON_DEPTH
from tests.conftest import signed_in
from tests.wsclient import WAIT, connect, finished, frames_until

ws_db = pytest.mark.django_db(transaction=True)

DEEP = 2_000
TOO_DEEP = f"nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects."


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice)


def rows() -> tuple[int, int, int]:
    return Conversation.objects.count(), Turn.objects.count(), Workspace.objects.count()


async def still_serves(ws) -> None:
    """The socket answers the next frame as usual."""
    await ws.send_json_to({"action": "resume", "turn": 999_999, "offset": 0})
    answer = await ws.receive_json_from(timeout=WAIT)
    assert answer["code"] == "not_found", answer


# --- JSON nested thousands deep ------------------------------------------------------------------

NESTED = {
    "arrays": "[" * DEEP + "]" * DEEP,
    "objects": '{"a":' * DEEP + "1" + "}" * DEEP,
    "unclosed": "[" * DEEP,
    "in a field": '{"action": "send", "parent": null, "model": "openai:fake-model", "content": '
    + "[" * DEEP + "]" * DEEP + "}",
    "parsable but deep": "[" * (MAX_JSON_DEPTH + 2) + "]" * (MAX_JSON_DEPTH + 2),
}


@ws_db
@pytest.mark.parametrize("raw", NESTED.values(), ids=NESTED.keys())
async def test_deeply_nested_frames_are_refused_and_the_socket_stays(
    alice, conversation, providers, no_leftover_generations, raw
):
    before = await database_sync_to_async(rows)()
    ws = await connect(alice, conversation.id)
    await ws.send_to(text_data=raw)
    answer = await ws.receive_json_from(timeout=WAIT)
    assert answer == {"type": "error", "code": "bad_json", "request_id": "", "error": "The frame is " + TOO_DEEP}
    await still_serves(ws)
    assert await database_sync_to_async(rows)() == before
    await ws.disconnect()


@ws_db
async def test_nesting_up_to_the_limit_is_read(alice, conversation, providers, no_leftover_generations):
    ws = await connect(alice, conversation.id)
    await ws.send_to(text_data="[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    answer = await ws.receive_json_from(timeout=WAIT)
    assert (answer["code"], answer["error"]) == ("wrong_type", "A frame must be a JSON object.")
    await ws.disconnect()


@ws_db
async def test_deeply_nested_frames_on_a_live_share_socket_are_refused(alice, conversation, no_leftover_generations):
    from channels.testing import WebsocketCommunicator

    from tests.wsclient import router

    prompt = await database_sync_to_async(Turn.objects.create)(conversation=conversation, role="user", content="q")
    link = await database_sync_to_async(sharing.share_create)(
        conversation=conversation, by=alice, turn_id=None, with_subtree=False, mode="live",
        audience="anyone", expires_at=None,
    )
    ws = WebsocketCommunicator(router, f"/ws/share/{link.token}/")
    ws.scope["user"] = AnonymousUser()
    assert (await ws.connect(timeout=WAIT))[0]
    # The share socket reads frames of up to 1,000 characters: that is deep enough to overflow.
    await ws.send_to(text_data="[" * 999)
    answer = await ws.receive_json_from(timeout=WAIT)
    assert answer == {"type": "error", "code": "bad_json", "error": "The frame is " + TOO_DEEP}
    await ws.send_json_to({"action": "resume", "turn": prompt.id, "offset": 0})
    frames = await frames_until(ws, finished(prompt.id))
    assert frames[0] == {"type": "delta", "turn": prompt.id, "offset": 0, "text": "q"}
    await ws.disconnect()


SHARE_FRAMES: list[tuple[dict[str, Any], str, str]] = [
    ({"action": "resume", "turn": "TURN", "offset": -1}, "wrong_type",
     '"offset" must be a whole number of characters, 0 or more.'),
    ({"action": "resume", "offset": 0}, "missing_field", '"turn" is missing.'),
    ({"action": "resume", "turn": 2**63}, "wrong_type", '"turn" must be a turn id (a positive integer).'),
    ({"action": "stop"}, "missing_field", '"turn" is missing.'),
    ({"action": "dance"}, "unknown_action",
     "Unknown action 'dance'; expected one of: send, edit, regenerate, stop, resume, delete, main."),
    ({"action": "send", "parent": None, "content": "hi", "model": "openai:fake-model"}, "read_only",
     "A shared page is read-only."),
]


@ws_db
async def test_a_live_share_socket_reads_frames_by_the_same_rules(alice, conversation, no_leftover_generations):
    from channels.testing import WebsocketCommunicator

    from tests.wsclient import router

    prompt = await database_sync_to_async(Turn.objects.create)(conversation=conversation, role="user", content="q")
    link = await database_sync_to_async(sharing.share_create)(
        conversation=conversation, by=alice, turn_id=None, with_subtree=False, mode="live",
        audience="anyone", expires_at=None,
    )
    ws = WebsocketCommunicator(router, f"/ws/share/{link.token}/")
    ws.scope["user"] = AnonymousUser()
    assert (await ws.connect())[0]
    for frame, code, message in SHARE_FRAMES:
        frame = {key: prompt.id if value == "TURN" else value for key, value in frame.items()}
        await ws.send_json_to(frame)
        answer = await ws.receive_json_from(timeout=5)
        assert answer == {"type": "error", "code": code, "error": message}
    await ws.send_json_to({"action": "resume", "turn": prompt.id, "offset": 0, "unread": True})
    frames = await frames_until(ws, finished(prompt.id))
    assert frames[0] == {"type": "delta", "turn": prompt.id, "offset": 0, "text": "q"}
    assert await database_sync_to_async(Turn.objects.count)() == 1
    await ws.disconnect()


@pytest.mark.django_db
def test_a_count_body_over_the_upload_limit_gets_a_json_400(alice, providers, settings):
    body = json.dumps({"model": "openai:fake-model", "texts": ["x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)]})
    response = signed_in(alice).post(reverse("tokens_count"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "error": f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes: count shorter texts."
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [NESTED["arrays"], NESTED["objects"], '{"model": "openai:gpt-4", "texts": [' + NESTED["arrays"] + "]}"]
)
def test_deeply_nested_bodies_get_a_400_naming_the_problem(alice, providers, body):
    response = signed_in(alice).post(reverse("tokens_count"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "error": 'The body must be JSON: {"model": ..., "texts": [...]}. The body is ' + TOO_DEEP
    }


# --- unpaired UTF-16 surrogates ------------------------------------------------------------------

SEND = '{"action": "send", "parent": null, "model": "openai:fake-model", "content": "hello"'


def surrogate_message(field: str, char: str = "\\ud800", at: int = 1) -> str:
    return f"{field} holds an unpaired surrogate ({char}) at character {at}; send valid Unicode."


# Raw JSON text, as a client would send it: the escapes stay unpaired.
SURROGATE_FRAMES = {
    "send content": (SEND.replace('"hello"', '"a\\ud800b"') + "}", '"content"'),
    "edit content": (
        '{"action": "edit", "turn": TURN, "model": "openai:fake-model", "content": "a\\ud800b"}',
        '"content"',
    ),
    "a low surrogate alone": (SEND.replace('"hello"', '"a\\udc00"') + "}", surrogate_message('"content"', "\\udc00")),
    "system prompt": (SEND + ', "settings": {"system_prompt": "a\\ud800b"}}', '"settings.system_prompt"'),
    "request_id": (SEND + ', "request_id": "a\\ud800"}', '"request_id"'),
    "model": (SEND.replace('"openai:fake-model"', '"openai:a\\ud800"', 1) + "}", surrogate_message('"model"', at=8)),
    "a fan-out's model": (
        SEND.replace(', "model": "openai:fake-model"', "")
        + ', "variants": [{"model": "openai:fake-model"}, {"model": "a\\ud800"}]}',
        '"variants[1].model"',
    ),
    "a setting's name": (SEND + ', "settings": {"a\\ud800": 1}}', surrogate_message('A key in "settings"')),
    "an unknown field": (SEND + ', "note": "a\\ud800"}', '"note"'),
    "a field's name": (SEND + ', "a\\ud800": 1}', surrogate_message("A key in the frame")),
    "resume": (
        '{"action": "resume", "turn": 1, "offset": 0, "request_id": "\\udfff"}',
        surrogate_message('"request_id"', "\\udfff", 0),
    ),
}


@ws_db
@pytest.mark.parametrize("raw,expected", SURROGATE_FRAMES.values(), ids=SURROGATE_FRAMES.keys())
async def test_unpaired_surrogates_are_refused_naming_the_field(
    alice, conversation, providers, no_leftover_generations, raw, expected
):
    prompt = await database_sync_to_async(Turn.objects.create)(conversation=conversation, role="user", content="q")
    before = await database_sync_to_async(rows)()
    ws = await connect(alice, conversation.id)
    await ws.send_to(text_data=raw.replace("TURN", str(prompt.id)))
    answer = await ws.receive_json_from(timeout=WAIT)
    message = expected if expected.endswith("Unicode.") else surrogate_message(expected)
    assert answer["code"] == "bad_text" and answer["error"] == message, answer
    assert answer["request_id"] == ""  # an invalid request_id is not echoed; a valid one is below
    assert await database_sync_to_async(rows)() == before
    # The socket still sends.
    await ws.send_json_to({"action": "send", "parent": None, "content": "fine 😀", "model": "openai:fake-model",
                           "request_id": "after"})
    frames = await frames_until(ws, finished())
    assert frames[0]["request_id"] == "after" and frames[-1]["turn"]["status"] == "complete"
    await ws.disconnect()


@ws_db
async def test_a_surrogate_pair_is_text_like_any_other(alice, conversation, providers, no_leftover_generations):
    ws = await connect(alice, conversation.id)
    await ws.send_to(text_data=SEND.replace('"hello"', '"pair \\ud83d\\ude00"') + "}")
    frames = await frames_until(ws, finished())
    assert frames[-1]["turn"]["status"] == "complete"
    assert await database_sync_to_async(lambda: Turn.objects.filter(content="pair 😀").count())() == 1
    await ws.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,field",
    [
        ('{"model": "openai:gpt-4", "texts": ["ok", "a\\ud800b"]}', '"texts[1]"'),
        ('{"model": "openai:a\\ud800", "texts": ["ok"]}', None),
    ],
)
def test_unpaired_surrogates_in_a_count_request_get_a_400(alice, providers, body, field):
    response = signed_in(alice).post(reverse("tokens_count"), body, content_type="application/json")
    assert response.status_code == 400
    expected = surrogate_message(field) if field else surrogate_message('"model"', at=8)
    assert response.json() == {"error": expected}


# --- names and titles far over their limit ----------------------------------------------------------

MEGABYTE = "x" * 1_000_000


@pytest.mark.django_db
def test_a_title_over_the_limit_is_refused_not_cut(alice, conversation):
    client = signed_in(alice)
    url = reverse("conversation_rename", args=[conversation.id])
    before = rows()
    for title, length in ((MEGABYTE, "1,000,000"), ("y" * 201, "201")):
        response = client.post(url, {"title": title})
        assert response.status_code == 400
        assert response.content.decode() == f"The title is {length} characters; the limit is 200."
    conversation.refresh_from_db()
    assert conversation.title == "" and rows() == before
    # At the limit, and with the whitespace that is folded away, it is taken as it is.
    assert client.post(url, {"title": "  " + "z" * 200 + "\t"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.title == "z" * 200


@pytest.mark.django_db
def test_a_workspace_name_over_the_limit_is_refused_not_cut(alice):
    from conversations.workspaces import services as workspaces

    client = signed_in(alice)
    team = workspaces.workspace_create(owner=alice, name="Team")
    workspaces.personal_workspace(alice)  # made by the first page shown, whatever was posted
    before = rows()
    message = "The workspace name is 1,000,000 characters; the limit is 100."
    created = client.post(reverse("workspace_create"), {"name": MEGABYTE})
    assert created.status_code == 400 and message in created.content.decode()
    renamed = client.post(reverse("workspace_rename", args=[team.id]), {"name": MEGABYTE})
    assert renamed.status_code == 400 and message in renamed.content.decode()
    assert rows() == before
    team.refresh_from_db()
    assert team.name == "Team"
    assert client.post(reverse("workspace_rename", args=[team.id]), {"name": "w" * 100}).status_code == 302
    team.refresh_from_db()
    assert team.name == "w" * 100


@ws_db
async def test_an_auto_title_from_a_long_first_prompt_is_still_shortened(
    alice, conversation, providers, no_leftover_generations
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to({"action": "send", "parent": None, "content": "word " * 1_000, "model": "openai:fake-model"})
    frames = await frames_until(ws, finished())
    assert frames[0]["title"].endswith("…") and len(frames[0]["title"]) == services.TITLE_LENGTH
    await ws.disconnect()


# --- frames over the transport's size, through real daphne --------------------------------------


def test_the_transport_takes_in_every_frame_the_protocol_could_accept():
    from daphne import server

    from conversations.streaming.protocol import frame_ceiling, frame_limit
    from workbench import compression

    compression.enable()
    factory = server.WebSocketFactory(object(), server="Daphne")
    assert frame_ceiling() == 4 * frame_limit()  # 4 bytes at most to a character in UTF-8
    assert (factory.maxMessagePayloadSize, factory.maxFramePayloadSize) == (frame_ceiling(), frame_ceiling())
    assert factory.failByDrop is False  # refused with a close frame that says why
    # What daphne passes when it starts (1 MiB unless told otherwise) never lowers it; more is kept.
    factory.setProtocolOptions(maxMessagePayloadSize=1024 * 1024, maxFramePayloadSize=0)
    assert (factory.maxMessagePayloadSize, factory.maxFramePayloadSize) == (frame_ceiling(), frame_ceiling())
    factory.setProtocolOptions(maxMessagePayloadSize=10 * frame_ceiling())
    assert factory.maxMessagePayloadSize == 10 * frame_ceiling()


async def _send_over_the_wire(server, name: str, frames: list[str]) -> list:
    """Send each frame on one socket to the live server; what came back after each."""
    import aiohttp

    from tests.test_compression import seed

    conversation_id, session_key = seed(server, name)
    answers = []
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(
            server.url.replace("http", "ws") + f"/ws/conversations/{conversation_id}/",
            headers={"Cookie": f"sessionid={session_key}"}, origin=server.url,
        ) as ws:
            for frame in frames:
                await ws.send_str(frame)
                answers.append(await ws.receive(timeout=30))
    return answers


def resume_frame(pad: str = "") -> str:
    return json.dumps({"action": "resume", "turn": 999_999, "offset": 0, "pad": pad}, ensure_ascii=False)


def test_frames_over_a_megabyte_are_answered_too_large_and_the_socket_stays(workbench_server):
    from aiohttp import WSMsgType

    from conversations.streaming.protocol import frame_limit
    from tests.test_liveness import run_async

    two_megabytes = SEND.replace('"hello"', json.dumps("x" * 2_000_000)) + "}"
    # Within the protocol's limit in characters, over daphne's 1 MiB in UTF-8: it is read.
    emoji = resume_frame("😀" * 300_000)
    assert len(emoji) < frame_limit() < len(emoji.encode())
    answers = run_async(_send_over_the_wire(workbench_server, "large", [two_megabytes, emoji, resume_frame()]))
    assert [a.type for a in answers] == [WSMsgType.TEXT] * 3
    too_large, *rest = (json.loads(a.data) for a in answers)
    assert too_large == {
        "type": "error", "code": "too_large", "request_id": "",
        "error": f"The frame is {len(two_megabytes):,} characters; the limit is {frame_limit():,}.",
    }
    assert [a["code"] for a in rest] == ["not_found", "not_found"]


def test_a_frame_over_the_ceiling_closes_the_socket_with_1009_and_a_reason(workbench_server):
    from aiohttp import WSMsgType

    from conversations.streaming.protocol import frame_ceiling
    from tests.test_liveness import run_async

    ten_megabytes = SEND.replace('"hello"', json.dumps("x" * 10_000_000)) + "}"
    [answer] = run_async(_send_over_the_wire(workbench_server, "huge", [ten_megabytes]))
    assert (answer.type, answer.data) == (WSMsgType.CLOSE, 1009)
    assert answer.extra == (
        f"received WebSocket message size {len(ten_megabytes)} exceeds payload limit of {frame_ceiling()} octets"
    )
    # The server goes on serving.
    answers = run_async(_send_over_the_wire(workbench_server, "after-huge", [resume_frame()]))
    assert json.loads(answers[0].data)["code"] == "not_found"


async def _watch_a_socket_fail_while_another_joins(server) -> tuple[str, list[dict]]:
    """W watches the conversation; X joins, sends a frame over the ceiling and never answers the
    close (so the server waits out its closing handshake); Y joins meanwhile, which makes the
    server send X a presence frame on a closing connection. What W sees afterwards."""
    import aiohttp

    from tests.test_compression import seed

    conversation_id, session_key = seed(server, "closing")
    url = server.url.replace("http", "ws") + f"/ws/conversations/{conversation_id}/"
    options = {"headers": {"Cookie": f"sessionid={session_key}"}, "origin": server.url}

    async def presence(ws, kind: str) -> dict:
        while True:
            frame = json.loads((await ws.receive(timeout=15)).data)
            if frame["type"] == kind:
                return frame

    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, **options) as w:
            async with http.ws_connect(url, autoclose=False, **options) as x:
                x_id = (await presence(w, "presence.join"))["id"]
                await x.send_str("x" * 4_000_000)
                while (answer := await x.receive(timeout=15)).type != aiohttp.WSMsgType.CLOSE:
                    pass  # W's "here"
                assert answer.data == 1009
                async with http.ws_connect(url, **options):
                    await presence(w, "presence.join")
                    seen: list[dict] = []
                    while not any(f["type"] == "presence.leave" and f["id"] == x_id for f in seen):
                        seen.append(await presence(w, "presence.leave"))
    return x_id, seen


def test_a_socket_closed_for_a_huge_frame_still_leaves_cleanly(workbench_server):
    """The server may still send to a socket whose connection it is closing (1009 above): the
    consumer must live on to handle its disconnect, leave its groups and say it left, instead of
    crashing and staying a ghost in everyone's "Also here"."""
    from tests.test_liveness import run_async

    x_id, seen = run_async(_watch_a_socket_fail_while_another_joins(workbench_server))
    assert seen[-1] == {"type": "presence.leave", "id": x_id}


# Last in the module: Playwright's sync API holds this thread's event loop while the browser lives.
@pytest.mark.browser
def test_the_page_says_when_the_server_refused_a_frame_as_too_big(page, live_server_url):
    from playwright.sync_api import expect

    from conversations.streaming.protocol import frame_ceiling
    from tests.test_browser import send, sign_up, start_conversation

    sign_up(page, live_server_url)
    start_conversation(page)
    # Six replies of one prompt, each with a 600,000-character system prompt: a 3.6 MB frame.
    page.evaluate("""() => {
        for (let i = 0; i < 5; i++) document.getElementById('add-variant').click();
        document.getElementById('system-prompt').value = 'x'.repeat(600000);
    }""")
    send(page, "hello")
    error = page.locator("#composer-error")
    # Chromium compresses the frame: the server measures it as it inflates, and stops at the ceiling.
    expect(error).to_contain_text("The server refused a message that large and closed the connection")
    expect(error).to_contain_text(f"exceeds payload limit of {frame_ceiling()} octets")
    expect(error).to_contain_text("It was not sent: shorten it, then send it again.")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")  # reconnected
    expect(page.locator("#prompt")).to_have_value("hello")
    assert page.errors == []
