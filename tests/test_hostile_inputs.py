"""Hostile inputs where a clear error is promised: deeply nested JSON, unpaired surrogates, frames
over the transport's size, names and titles far over their limit. Each is answered with a clear
error, writes nothing, and leaves the socket usable where that is promised."""
from __future__ import annotations

import contextlib
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


async def _live_share_socket(alice, conversation):
    """An anonymous reader's socket on a live link to `conversation`, which holds one prompt."""
    from channels.testing import WebsocketCommunicator

    from tests.wsclient import router

    prompt = await database_sync_to_async(Turn.objects.create)(conversation=conversation, role="user", content="q")
    link = await database_sync_to_async(sharing.share_create)(
        conversation=conversation, by=alice, turn_id=None, with_subtree=False, mode="live",
        audience="anyone", expires_at=None,
    )
    ws = WebsocketCommunicator(router, f"/ws/share/{link.token}/")
    ws.scope["user"] = AnonymousUser()
    return ws, prompt


@ws_db
async def test_deeply_nested_frames_on_a_live_share_socket_are_refused(alice, conversation, no_leftover_generations):
    ws, prompt = await _live_share_socket(alice, conversation)
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
    ws, prompt = await _live_share_socket(alice, conversation)
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


def test_every_frame_within_the_limits_fits_under_daphnes_ceiling(settings):
    import inspect

    from daphne.server import Server

    from conversations.streaming.protocol import (
        check_frames_fit,
        frame_ceiling,
        frame_limit,
        largest_page_frame,
    )

    # The ceiling the protocol is sized for is daphne's own default, for messages and frames alike.
    defaults = inspect.signature(Server).parameters
    assert defaults["websocket_max_message_size"].default == frame_ceiling() == 1024 * 1024
    assert defaults["websocket_max_frame_size"].default == frame_ceiling()
    # With the default limits, a send to six models with the longest message and system prompt, in
    # 3-byte characters, fits: daphne passes it to the consumer, which reads it whole.
    assert largest_page_frame() <= frame_ceiling() and frame_limit() < frame_ceiling()
    assert check_frames_fit() == []
    # Limits that let a frame outgrow it are named when the server is checked (manage.py check, migrate).
    settings.MAX_SYSTEM_PROMPT_CHARS = 50_000
    [warning] = check_frames_fit()
    assert warning.id == "workbench.W001"
    assert "WORKBENCH_MAX_SYSTEM_PROMPT_CHARS=50000" in warning.msg
    assert f"{largest_page_frame():,} bytes" in warning.msg
    assert warning.hint is not None
    assert f"--websocket-max-frame-size of at least {largest_page_frame()}" in warning.hint


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
                with contextlib.suppress(ConnectionError):  # dropped while the frame was still going out
                    await ws.send_str(frame)
                answers.append(await ws.receive(timeout=30))
    return answers


# How a connection the server dropped ends for the client: without a close frame, so without a
# code or a reason (end of stream, or a reset if the frame was still going out).
DROPPED = {"closed", "error"}


def resume_frame(pad: str = "") -> str:
    return json.dumps({"action": "resume", "turn": 999_999, "offset": 0, "pad": pad}, ensure_ascii=False)


def test_frames_over_the_limit_are_answered_too_large_and_the_socket_stays(workbench_server):
    from aiohttp import WSMsgType

    from conversations.streaming.protocol import (
        FRAME_ENVELOPE_BYTES,
        frame_ceiling,
        frame_limit,
        largest_page_frame,
    )
    from tests.test_liveness import run_async

    over_the_limit = SEND.replace('"hello"', json.dumps("x" * frame_limit())) + "}"
    # The longest texts a page may send, in characters of 3 bytes (over a megabyte): it is read.
    widest = resume_frame("€" * ((largest_page_frame() - FRAME_ENVELOPE_BYTES) // 3))
    assert frame_limit() < len(over_the_limit) <= len(over_the_limit.encode()) <= frame_ceiling()
    assert 1_000_000 < len(widest.encode()) <= frame_ceiling()
    answers = run_async(_send_over_the_wire(workbench_server, "large", [over_the_limit, widest, resume_frame()]))
    assert [a.type for a in answers] == [WSMsgType.TEXT] * 3
    too_large, *rest = (json.loads(a.data) for a in answers)
    assert too_large == {
        "type": "error", "code": "too_large", "request_id": "",
        "error": f"The frame is {len(over_the_limit):,} characters; the limit is {frame_limit():,}.",
    }
    assert [a["code"] for a in rest] == ["not_found", "not_found"]


def test_a_frame_over_daphnes_ceiling_drops_the_connection_and_the_server_goes_on(workbench_server):
    """daphne fails a message over its ceiling by dropping the connection: no close frame, so no
    code or reason; the frame is never read whole, and nothing of it reaches the workbench."""
    from conversations.streaming.protocol import frame_ceiling
    from tests.test_liveness import run_async

    over_the_ceiling = resume_frame("x" * frame_ceiling())
    [answer] = run_async(_send_over_the_wire(workbench_server, "huge", [over_the_ceiling]))
    assert answer.type.name.lower() in DROPPED
    answers = run_async(_send_over_the_wire(workbench_server, "after-huge", [resume_frame()]))
    assert json.loads(answers[0].data)["code"] == "not_found"


async def _watch_a_socket_fail_while_another_joins(server) -> tuple[str, list[dict]]:
    """W watches the conversation; X joins and sends a frame over daphne's ceiling, which drops X's
    connection; Y joins meanwhile, which may send X's channel a presence frame while X's consumer is
    handling its disconnect. The presence frames W sees afterwards."""
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
                with contextlib.suppress(ConnectionError):  # dropped while the frame was still going out
                    await x.send_str("x" * 4_000_000)
                while (answer := await x.receive(timeout=15)).type == aiohttp.WSMsgType.TEXT:
                    pass  # W's "here"
                assert answer.type.name.lower() in DROPPED
                async with http.ws_connect(url, **options):
                    # X leaves, Y joins: in either order, as the server gets to them.
                    seen: list[dict] = []
                    while not ({"presence.leave", "presence.join"} <= {f["type"] for f in seen}):
                        frame = json.loads((await w.receive(timeout=15)).data)
                        if frame["type"].startswith("presence."):
                            seen.append(frame)
    return x_id, seen


def test_a_socket_dropped_for_a_huge_frame_still_leaves_cleanly(workbench_server):
    """The server may still send to a socket whose connection daphne dropped: the consumer must
    live on to handle its disconnect, leave its groups and say it left, instead of crashing and
    staying a ghost in everyone's "Also here"."""
    from tests.test_liveness import run_async

    x_id, seen = run_async(_watch_a_socket_fail_while_another_joins(workbench_server))
    assert [f for f in seen if f["id"] == x_id] == [{"type": "presence.leave", "id": x_id}]
    assert [f["type"] for f in seen if f["id"] != x_id] == ["presence.join"]


# Records what the page shows when one of its sockets closes, once the page has handled the close.
WATCH_CLOSES = """
window.__closes = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('close', (event) => setTimeout(() => window.__closes.push({
      code: event.code,
      connection: document.getElementById('connection').textContent,
      composer: document.getElementById('composer-error').textContent,
    })));
  }
};
"""


# Last in the module: Playwright's sync API holds this thread's event loop while the browser lives.
@pytest.mark.browser
def test_a_frame_daphne_drops_leaves_the_page_reconnected_with_the_text_kept(page, live_server_url):
    from playwright.sync_api import expect

    from tests.test_browser import replies, send, sign_up, start_conversation

    page.context.add_init_script(WATCH_CLOSES)
    sign_up(page, live_server_url)
    start_conversation(page)
    # Six replies of one prompt, each with a 600,000-character system prompt (15 times its limit,
    # set past the page's own checks): a 3.6 MB frame, over the 1 MiB daphne takes in.
    page.evaluate("""() => {
        for (let i = 0; i < 5; i++) document.getElementById('add-variant').click();
        document.getElementById('system-prompt').value = 'x'.repeat(600000);
    }""")
    send(page, "hello")
    page.wait_for_function("window.__closes.length > 0", timeout=20_000)
    # daphne dropped the connection: no close code (1006) and no reason, so the page says only that
    # the connection was lost; it reconnects, and the text is still in the composer.
    assert page.evaluate("window.__closes[0]") == {
        "code": 1006, "connection": "Connection lost. Reconnecting…", "composer": "",
    }
    expect(page.locator("body")).to_have_attribute("data-socket", "open", timeout=20_000)
    expect(page.locator("#prompt")).to_have_value("hello")
    # Nothing of it was taken in; within the limits, the same prompt is answered.
    expect(replies(page)).to_have_count(0)
    page.evaluate("""() => {
        document.getElementById('system-prompt').value = '';
        for (const remove of document.querySelectorAll('#variants button')) remove.click();
    }""")
    page.focus("#prompt")
    page.keyboard.press("Enter")
    expect(replies(page)).to_have_count(1)
    expect(replies(page).nth(0)).to_have_attribute("data-status", "complete")
    assert page.errors == []
