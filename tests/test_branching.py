"""Branch operations: edit, regenerate, continue, fork, delete, main line, fan-out, compare."""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse

from conversations import selectors, services
from conversations.models import Conversation, Turn
from conversations.providers.base import GenerationSettings
from conversations.services import Variant
from tests.conftest import signed_in
from tests.fake_upstream import reply_text
from tests.wsclient import WAIT, assemble, connect, finished, frames_until, next_frame


def complete_chain(conversation, contents: list[str], parent=None) -> list[Turn]:
    turns = []
    for index, content in enumerate(contents):
        parent = Turn.objects.append(
            conversation=conversation,
            parent=parent,
            role="user" if index % 2 == 0 else "assistant",
            content=content,
            provider="" if index % 2 == 0 else "openai",
            model="" if index % 2 == 0 else "fake-model",
        )
        turns.append(parent)
    return turns


def snapshot(conversation) -> dict[int, tuple]:
    """Every complete turn's content and metadata, to prove that nothing is ever rewritten."""
    return {
        t.id: (t.content, t.parent_id, t.role, t.status, t.settings)
        for t in Turn.objects.filter(conversation=conversation, status="complete")
    }


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice, title="Ideas")


@pytest.fixture
def four(conversation):
    """A four-turn conversation: question, answer, follow-up, answer."""
    return complete_chain(conversation, ["Q1", "A1", "Q2", "A2"])



# --- services: the tree's shape after each operation ---------------------------------------


@pytest.mark.django_db
def test_edit_adds_a_sibling_prompt_and_its_reply(conversation, alice, four, providers):
    before = snapshot(conversation)
    sent = services.prompt_edit(
        conversation=conversation, turn_id=four[2].id, content="Q2, better", author=alice,
        variants=[Variant("openai:fake-model")],
    )
    assert sent.prompt.parent_id == four[1].id and sent.prompt.content == "Q2, better"
    assert sent.replies[0].reply.parent_id == sent.prompt.id
    assert [m.content for m in sent.replies[0].request.messages] == ["Q1", "A1", "Q2, better"]
    assert all(snapshot(conversation)[k] == v for k, v in before.items())
    siblings = selectors.siblings_along(conversation_id=conversation.id, turns=[four[2]])
    assert siblings[four[2].id] == [four[2].id, sent.prompt.id]


@pytest.mark.django_db
def test_editing_a_reply_is_refused(conversation, alice, four, providers):
    with pytest.raises(services.ServiceError, match="Only your own prompts can be edited"):
        services.prompt_edit(
            conversation=conversation, turn_id=four[1].id, content="x", author=alice,
            variants=[Variant("openai:fake-model")],
        )
    assert Turn.objects.count() == 4


@pytest.mark.django_db
def test_continue_from_an_earlier_turn_branches_there(conversation, alice, four, providers):
    before = snapshot(conversation)
    sent = services.turn_send(
        conversation=conversation, parent_id=four[1].id, content="Another angle", author=alice,
        variants=[Variant("anthropic:fake-model")],
    )
    assert sent.prompt.parent_id == four[1].id
    assert Turn.objects.filter(parent=four[1]).count() == 2
    assert all(snapshot(conversation)[k] == v for k, v in before.items())


@pytest.mark.django_db
def test_fan_out_creates_one_reply_per_variant(conversation, alice, four, providers):
    sent = services.turn_send(
        conversation=conversation, parent_id=four[3].id, content="Try three", author=alice,
        variants=[
            Variant("openai:fake-model"),
            Variant("anthropic:fake-model"),
            Variant("openai:fake-model", GenerationSettings(temperature=1.5)),
        ],
    )
    assert [r.reply.parent_id for r in sent.replies] == [sent.prompt.id] * 3
    assert [r.reply.provider for r in sent.replies] == ["openai", "anthropic", "openai"]
    assert sent.replies[2].reply.settings == {"temperature": 1.5}
    with pytest.raises(services.ServiceError, match="1 to 6 replies"):
        services.turn_send(
            conversation=conversation, parent_id=None, content="x", author=alice,
            variants=[Variant("openai:fake-model")] * 7,
        )


@pytest.mark.django_db
def test_fork_copies_the_path_and_links_back(conversation, alice, four):
    fork = services.conversation_fork(conversation=conversation, turn_id=four[2].id, owner=alice)
    view = selectors.branch_view(conversation=fork)
    assert view is not None
    copied = view.turns
    assert [t.content for t in copied] == ["Q1", "A1", "Q2"]
    assert all(t.conversation_id == fork.id for t in copied)
    assert [t.created_at for t in copied] == [t.created_at for t in four[:3]]
    assert fork.forked_from_id == four[2].id and fork.title == "Fork of Ideas"
    assert selectors.forks_of(turn_ids=[four[2].id], user=alice) == {four[2].id: [{"id": fork.id, "title": fork.title}]}
    assert Turn.objects.filter(conversation=conversation).count() == 4  # the source is untouched


@pytest.mark.django_db
def test_delete_removes_the_subtree_and_keeps_the_path_above(conversation, four, alice):
    side = complete_chain(conversation, ["side Q", "side A"], parent=four[1])
    conversation.current_turn = four[3]
    conversation.main_turn = four[3]
    conversation.save()
    parent = services.turn_delete(conversation=conversation, turn_id=four[2].id)
    assert parent == four[1].id
    assert set(Turn.objects.values_list("id", flat=True)) == {four[0].id, four[1].id, side[0].id, side[1].id}
    conversation.refresh_from_db()
    assert conversation.current_turn_id == four[1].id and conversation.main_turn_id == four[1].id


@pytest.mark.django_db
def test_delete_refuses_while_a_reply_below_streams(conversation, four):
    Turn.objects.append(conversation=conversation, parent=four[3], role="assistant", status="streaming")
    with pytest.raises(services.ServiceError, match="still streaming: stop it first"):
        services.turn_delete(conversation=conversation, turn_id=four[2].id)
    assert Turn.objects.count() == 5


@pytest.mark.django_db
def test_fork_refuses_a_streaming_reply(conversation, four, alice):
    streaming = Turn.objects.append(conversation=conversation, parent=four[3], role="assistant", status="streaming")
    with pytest.raises(services.ServiceError, match="still streaming"):
        services.conversation_fork(conversation=conversation, turn_id=streaming.id, owner=alice)
    assert Conversation.objects.count() == 1


@pytest.mark.django_db
def test_the_main_line_is_where_the_conversation_opens(conversation, four):
    other = complete_chain(conversation, ["other Q", "other A"], parent=four[1])
    conversation.current_turn = other[1]
    conversation.save()
    view = selectors.branch_view(conversation=conversation)
    assert view is not None and view.turns[-1].id == other[1].id
    services.conversation_set_main(conversation=conversation, turn_id=four[3].id)
    view = selectors.branch_view(conversation=conversation)
    assert view is not None and view.turns[-1].id == four[3].id
    with pytest.raises(services.ServiceError, match="is no longer in this conversation"):
        services.conversation_set_main(conversation=conversation, turn_id=10**9)


@pytest.mark.django_db
def test_comparison_aligns_branches_where_they_split(conversation, four, django_assert_num_queries):
    fork_a = complete_chain(conversation, ["A1 again"], parent=four[0])  # splits at the first reply
    edit = complete_chain(conversation, ["Q2 edited", "A2 edited"], parent=four[1])  # splits at Q2
    with django_assert_num_queries(1):
        paths = Turn.objects.paths(conversation_id=conversation.id, turn_ids=[four[3].id, edit[1].id])
    assert [t.content for t in paths[edit[1].id]] == ["Q1", "A1", "Q2 edited", "A2 edited"]
    found = selectors.comparison(conversation=conversation, tip_ids=[four[3].id, edit[1].id, fork_a[0].id])
    assert found is not None and [t.content for t in found.shared] == ["Q1"]
    assert [[t.content for t in turns] for _, turns in found.columns] == [
        ["A1", "Q2", "A2"], ["A1", "Q2 edited", "A2 edited"], ["A1 again"],
    ]
    two = selectors.comparison(conversation=conversation, tip_ids=[four[3].id, edit[1].id])
    assert two is not None and [t.content for t in two.shared] == ["Q1", "A1"]


@pytest.mark.django_db
def test_tree_nodes_are_brief(conversation, four, django_assert_num_queries):
    Turn.objects.filter(pk=four[1].pk).update(content="x" * 500)
    with django_assert_num_queries(1):
        nodes = selectors.tree_nodes(conversation=conversation)
    assert [n["id"] for n in nodes] == [t.id for t in four]
    assert nodes[1] == {"id": four[1].id, "parent": four[0].id, "role": "assistant", "status": "complete",
                        "model": "openai:fake-model", "preview": "x" * 48, "files": 0}
    assert nodes[0]["model"] == ""


# --- HTTP: fork, compare, tree -----------------------------------------------------------------


@pytest.mark.django_db
def test_fork_view_redirects_to_the_new_conversation(alice, conversation, four):
    response = signed_in(alice).post(reverse("conversation_fork", args=[conversation.id, four[1].id]))
    fork = Conversation.objects.exclude(pk=conversation.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse("conversation", args=[fork.id])
    page = signed_in(alice).get(reverse("conversation", args=[conversation.id]))
    assert f'"forks": [{{"id": {fork.id}'.encode() in page.content


@pytest.mark.django_db
def test_compare_page_and_its_errors(alice, charlie, conversation, four, providers):
    edit = complete_chain(conversation, ["Q2 edited", "A2 edited"], parent=four[1])
    client = signed_in(alice)
    url = reverse("compare", args=[conversation.id])
    response = client.get(f"{url}?tips={four[3].id},{edit[1].id}")
    assert response.status_code == 200 and b"Q2 edited" in response.content
    # The base is the first branch unless ?base= names another of them; the way back opens it.
    assert response.context["page"]["base"] == four[3].id
    chosen = client.get(f"{url}?tips={four[3].id},{edit[1].id}&base={edit[1].id}")
    assert chosen.status_code == 200 and chosen.context["page"]["base"] == edit[1].id
    assert f'href="/c/{conversation.id}/t/{edit[1].id}/"'.encode() in chosen.content
    for query, status in [
        ("", 400),
        ("?tips=abc", 400),
        (f"?tips={four[3].id}", 400),
        (f"?tips={four[3].id},{four[3].id}", 400),
        ("?tips=" + ",".join(str(t.id) for t in four) + f",{edit[1].id}", 400),
        (f"?tips={four[3].id},999999", 404),
        (f"?tips={four[3].id},{edit[1].id}&base=abc", 400),
        (f"?tips={four[3].id},{edit[1].id}&base={four[1].id}", 400),  # not one of the tips
    ]:
        assert client.get(url + query).status_code == status, query
    other = services.conversation_create(owner=alice)
    foreign = complete_chain(other, ["elsewhere"])[0]
    assert client.get(f"{url}?tips={four[3].id},{foreign.id}").status_code == 404
    assert signed_in(charlie).get(f"{url}?tips={four[3].id},{edit[1].id}").status_code == 404


@pytest.mark.django_db
def test_compare_siblings_redirects_to_their_tips(alice, conversation, four):
    regenerated = complete_chain(conversation, ["A2 again"], parent=four[2])[0]
    url = reverse("compare", args=[conversation.id])
    response = signed_in(alice).get(f"{url}?siblings={four[3].id}")
    assert response.status_code == 302 and response["Location"] == f"{url}?tips={four[3].id},{regenerated.id}"
    assert signed_in(alice).get(f"{url}?siblings={four[0].id}").status_code == 400  # no other version
    assert signed_in(alice).get(f"{url}?siblings=999999").status_code == 404


@pytest.mark.django_db
def test_tree_json(alice, charlie, conversation, four):
    data = signed_in(alice).get(reverse("tree_json", args=[conversation.id])).json()
    assert [n["id"] for n in data["nodes"]] == [t.id for t in four]
    assert signed_in(charlie).get(reverse("tree_json", args=[conversation.id])).status_code == 404
    assert signed_in(charlie).post(reverse("conversation_fork", args=[conversation.id, four[1].id])).status_code == 404


# --- websocket: edit, fan-out, delete, main ---------------------------------------------------

ws_db = pytest.mark.django_db(transaction=True)


@ws_db
async def test_fan_out_streams_three_replies_concurrently(
    alice, conversation, providers, upstream, no_leftover_generations
):
    upstream.interval = 0.01
    ws = await connect(alice, conversation.id)
    await ws.send_json_to({
        "action": "send", "parent": None, "content": "three ways", "request_id": "fan",
        "variants": [
            {"model": "openai:fake-model", "settings": {}},
            {"model": "anthropic:fake-model", "settings": {"temperature": 0.9}},
            {"model": "openai-responses:fake-model", "settings": {"max_tokens": 6}},
        ],
    })
    frames = []
    replies = []
    done: set[int] = set()
    while len(done) < 3:
        frame = await ws.receive_json_from(timeout=10)
        frames.append(frame)
        if frame["type"] == "turn.created" and frame["turn"]["role"] == "assistant":
            replies.append(frame["turn"]["id"])
        if frame["type"] == "turn.finished":
            done.add(frame["turn"]["id"])
    assert len(replies) == 3 and done == set(replies)
    # Concurrently: deltas of different replies interleave.
    delta_order = [f["turn"] for f in frames if f["type"] == "delta"]
    first_finish = next(i for i, f in enumerate(frames) if f["type"] == "turn.finished")
    assert len({f["turn"] for f in frames[:first_finish] if f["type"] == "delta"}) >= 2, delta_order
    texts = [assemble(frames, reply) for reply in replies]
    assert texts == [reply_text("three ways", 12), reply_text("three ways", 12), reply_text("three ways", 6)]
    saved = await database_sync_to_async(lambda: list(Turn.objects.filter(pk__in=replies).order_by("id")))()
    assert [t.status for t in saved] == ["complete"] * 3
    assert [t.content for t in saved] == texts
    await ws.disconnect()


@ws_db
async def test_edit_over_the_socket(alice, conversation, providers, no_leftover_generations):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to({"action": "send", "parent": None, "content": "first try", "model": "openai:fake-model"})
    frames = await frames_until(ws, finished())
    prompt = next(f["turn"] for f in frames if f["type"] == "turn.created" and f["turn"]["role"] == "user")
    await ws.send_json_to(
        {"action": "edit", "turn": prompt["id"], "content": "second try", "model": "openai:fake-model"}
    )
    frames = await frames_until(ws, finished())
    created = [f["turn"] for f in frames if f["type"] == "turn.created"]
    assert created[0]["parent"] is None and created[0]["content"] == "second try"
    assert assemble(frames, created[1]["id"]) == reply_text("second try", 12)
    reply = next(f["turn"] for f in frames if f["type"] == "turn.created" and f["turn"]["role"] == "assistant")
    await ws.send_json_to({"action": "edit", "turn": reply["id"], "content": "x", "model": "openai:fake-model"})
    error = await ws.receive_json_from(timeout=WAIT)
    assert error["type"] == "error" and "Only your own prompts" in error["error"]
    await ws.disconnect()


@ws_db
async def test_delete_and_main_are_broadcast(alice, conversation, providers, no_leftover_generations):
    four = await database_sync_to_async(complete_chain)(conversation, ["Q1", "A1", "Q2", "A2"])
    ws = await connect(alice, conversation.id)
    other = await connect(alice, conversation.id)
    await ws.send_json_to({"action": "main", "turn": four[3].id})
    for socket in (ws, other):
        assert await next_frame(socket) == {"type": "conversation.updated", "main_turn": four[3].id}
    await ws.send_json_to({"action": "delete", "turn": four[2].id})
    for socket in (ws, other):
        assert await next_frame(socket) == {
            "type": "turn.deleted", "turn": four[2].id, "parent": four[1].id, "main_turn": four[1].id
        }
    assert await database_sync_to_async(Turn.objects.count)() == 2
    await ws.send_json_to({"action": "delete", "turn": four[2].id})
    error = await ws.receive_json_from(timeout=WAIT)
    assert error["code"] == "not_found"
    await ws.disconnect()
    await other.disconnect()


@ws_db
async def test_deleting_a_streaming_reply_is_refused(alice, conversation, providers, no_leftover_generations):
    ws = await connect(alice, conversation.id)
    # 20 s of streaming: still streaming when the deletes come, however slow the machine.
    await ws.send_json_to({"action": "send", "parent": None, "content": "long one", "model": "openai:fake-slow-long"})
    frames = await frames_until(ws, lambda f: f["type"] == "delta")
    reply = next(f["turn"] for f in frames if f["type"] == "turn.created" and f["turn"]["role"] == "assistant")
    for turn in (reply["id"], reply["parent"]):
        await ws.send_json_to({"action": "delete", "turn": turn})
        error = await frames_until(ws, lambda f: f["type"] == "error")
        assert error[-1]["code"] == "streaming" and "stop it first" in error[-1]["error"]
    await ws.send_json_to({"action": "stop", "turn": reply["id"]})
    await frames_until(ws, finished(reply["id"]))
    await ws.disconnect()


BAD_BRANCH_FRAMES = [
    ('{"action": "edit", "turn": 1, "model": "openai:fake-model"}', "wrong_type", '"content" must be a string'),
    ('{"action": "edit", "content": "x", "model": "openai:fake-model"}', "missing_field", '"turn" is missing'),
    ('{"action": "send", "parent": null, "content": "x", "variants": [{"model": "openai:fake-model"}]}',
     "wrong_type", "2 to 6"),
    ('{"action": "send", "parent": null, "content": "x", "variants": "many"}', "wrong_type", "2 to 6"),
    ('{"action": "send", "parent": null, "content": "x", "variants": [1, 2]}', "wrong_type", "must be an object"),
    ('{"action": "send", "parent": null, "content": "x", "variants": [{"model": "openai:fake-model"}, {"model": "x"}]}',
     "wrong_type", '"model" must be a model id'),
    ('{"action": "send", "parent": null, "content": "x", '
     '"variants": [{"model": "openai:fake-model"}, {"model": "openai:nope"}]}',
     "unknown_model", "has no model 'nope'"),
    ('{"action": "delete"}', "missing_field", '"turn" is missing'),
    ('{"action": "delete", "turn": 999999}', "not_found", "is no longer in this conversation"),
    ('{"action": "main", "turn": "1"}', "wrong_type", '"turn" must be a turn id'),
    ('{"action": "main", "turn": 999999}', "not_found", "is no longer in this conversation"),
]


@ws_db
@pytest.mark.parametrize("raw,code,message", BAD_BRANCH_FRAMES)
async def test_bad_branch_frames(alice, conversation, providers, raw, code, message, no_leftover_generations):
    ws = await connect(alice, conversation.id)
    await ws.send_to(text_data=raw)
    frame = await ws.receive_json_from(timeout=WAIT)
    assert frame["type"] == "error" and frame["code"] == code, frame
    assert message in frame["error"]
    assert await database_sync_to_async(Turn.objects.count)() == 0
    await ws.disconnect()
