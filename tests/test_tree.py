"""The tree: turns are appended, never overwritten; paths and branches are one query each."""
from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from conversations import services
from conversations.models import Conversation, Turn
from conversations.providers.base import GenerationSettings
from conversations.selectors import branch_view, siblings_along
from conversations.services import Variant
from conversations.streaming import replies

pytestmark = pytest.mark.django_db


def chain(conversation: Conversation, length: int, parent: Turn | None = None) -> list[Turn]:
    turns = []
    for index in range(length):
        parent = Turn.objects.append(
            conversation=conversation,
            parent=parent,
            role="user" if index % 2 == 0 else "assistant",
            content=f"turn {index}",
        )
        turns.append(parent)
    return turns


@pytest.fixture
def conversation(alice) -> Conversation:
    return services.conversation_create(owner=alice)


def test_path_is_root_to_turn_in_one_query(conversation, django_assert_num_queries):
    turns = chain(conversation, 30)
    with django_assert_num_queries(1):
        path = Turn.objects.path(conversation_id=conversation.id, turn_id=turns[19].id)
    assert [t.id for t in path] == [t.id for t in turns[:20]]
    assert path[0].parent_id is None


def test_path_of_a_long_branch_is_still_one_query(conversation, django_assert_num_queries):
    turns = chain(conversation, 2000)
    with django_assert_num_queries(1):
        path = Turn.objects.path(conversation_id=conversation.id, turn_id=turns[-1].id)
    assert len(path) == 2000
    assert path[-1].content == "turn 1999"


def test_path_of_a_turn_in_another_conversation_is_empty(conversation, alice):
    other = services.conversation_create(owner=alice)
    turns = chain(other, 3)
    assert Turn.objects.path(conversation_id=conversation.id, turn_id=turns[2].id) == []
    assert Turn.objects.path(conversation_id=conversation.id, turn_id=999_999) == []


def test_branch_follows_the_newest_child_down_to_a_leaf(conversation, django_assert_num_queries):
    trunk = chain(conversation, 6)
    fork = chain(conversation, 3, parent=trunk[2])  # newer than trunk[3]
    with django_assert_num_queries(1):
        branch = Turn.objects.branch_through(conversation_id=conversation.id, turn_id=trunk[1].id)
    assert [t.id for t in branch] == [t.id for t in trunk[:3]] + [t.id for t in fork]
    older = Turn.objects.branch_through(conversation_id=conversation.id, turn_id=trunk[3].id)
    assert [t.id for t in older] == [t.id for t in trunk]


def test_siblings_along_a_branch_in_one_query(conversation, django_assert_num_queries):
    trunk = chain(conversation, 4)
    second = Turn.objects.append(conversation=conversation, parent=trunk[0], role="assistant", content="b")
    other_root = Turn.objects.append(conversation=conversation, role="user", content="again")
    with django_assert_num_queries(1):
        siblings = siblings_along(conversation_id=conversation.id, turns=trunk)
    assert siblings[trunk[0].id] == [trunk[0].id, other_root.id]
    assert siblings[trunk[1].id] == [trunk[1].id, second.id]
    assert siblings[trunk[3].id] == [trunk[3].id]


def test_branch_view_opens_on_the_current_turn(conversation, django_assert_num_queries):
    turns = chain(conversation, 4)
    conversation.current_turn = turns[1]
    conversation.save()
    # The branch without its text, the text of the turns shown, their siblings.
    with django_assert_num_queries(3):
        view = branch_view(conversation=conversation)
    assert view is not None and [t.id for t in view.turns] == [t.id for t in turns]
    assert branch_view(conversation=conversation, turn_id=10**9) is None
    empty = services.conversation_create(owner=conversation.owner)
    empty_view = branch_view(conversation=empty)
    assert empty_view is not None and empty_view.turns == []


def test_send_appends_a_prompt_and_a_streaming_reply(conversation, alice, providers):
    sent = services.turn_send(
        conversation=conversation,
        parent_id=None,
        content="Hello there, tree",
        author=alice,
        variants=[
            Variant("openai:fake-model", GenerationSettings(system_prompt="Be brief", temperature=0.5, max_tokens=50))
        ],
    )
    prompt, prepared = sent.prompt, sent.replies[0]
    reply = prepared.reply
    assert prompt.parent is None and prompt.role == "user" and prompt.status == "complete"
    assert reply.parent_id == prompt.id and reply.status == "streaming"
    assert (reply.provider, reply.model) == ("openai", "fake-model")
    assert reply.settings == {"system_prompt": "Be brief", "temperature": 0.5, "max_tokens": 50}
    assert [m.content for m in prepared.request.messages] == ["Hello there, tree"]
    conversation.refresh_from_db()
    assert conversation.title == "Hello there, tree"
    assert conversation.current_turn_id == reply.id


def test_regenerate_adds_a_sibling_and_changes_nothing(conversation, alice, providers):
    first = services.turn_send(
        conversation=conversation, parent_id=None, content="Q", author=alice,
        variants=[Variant("openai:fake-model")],
    )
    replies.reply_finish(
        turn_id=first.replies[0].reply.id, content="A1", status="complete", first_token_at=None,
        input_tokens=1, output_tokens=1, response_id="", error="",
    )
    again = services.reply_regenerate(
        conversation=conversation, turn_id=first.replies[0].reply.id, author=alice,
        variant=Variant("anthropic:fake-model", GenerationSettings(temperature=1.0)),
    )
    assert again.reply.parent_id == first.prompt.id
    assert again.reply.provider == "anthropic"
    assert [m.content for m in again.request.messages] == ["Q"]
    first.replies[0].reply.refresh_from_db()
    assert first.replies[0].reply.content == "A1" and first.replies[0].reply.status == "complete"
    assert Turn.objects.filter(parent=first.prompt).count() == 2


def test_finish_never_rewrites_a_finished_reply(conversation, alice, providers):
    prepared = services.turn_send(
        conversation=conversation, parent_id=None, content="Q", author=alice,
        variants=[Variant("openai:fake-model")],
    ).replies[0]
    replies.reply_finish(
        turn_id=prepared.reply.id, content="final", status="complete", first_token_at=None,
        input_tokens=None, output_tokens=None, response_id="", error="",
    )
    replies.reply_checkpoint(turn_id=prepared.reply.id, content="late checkpoint", reasoning="", first_token_at=None)
    replies.reply_finish(
        turn_id=prepared.reply.id, content="again", status="error", first_token_at=None,
        input_tokens=None, output_tokens=None, response_id="", error="x",
    )
    prepared.reply.refresh_from_db()
    assert (prepared.reply.content, prepared.reply.status) == ("final", "complete")


def test_send_under_a_missing_or_foreign_parent_is_refused(conversation, alice, providers):
    other = services.conversation_create(owner=alice)
    foreign = chain(other, 1)[0]
    for parent_id in (foreign.id, 10**9):
        with pytest.raises(services.ServiceError, match="is no longer in this conversation"):
            services.turn_send(
                conversation=conversation, parent_id=parent_id, content="x", author=alice,
                variants=[Variant("openai:fake-model")],
            )
    assert not Turn.objects.filter(conversation=conversation).exists()


def test_send_with_an_unknown_model_writes_nothing(conversation, alice, providers):
    with pytest.raises(services.ServiceError, match="Unknown model"):
        services.turn_send(
            conversation=conversation, parent_id=None, content="x", author=alice,
            variants=[Variant("nope:model")],
        )
    with pytest.raises(services.ServiceError, match="has no model"):
        services.turn_send(
            conversation=conversation, parent_id=None, content="x", author=alice,
            variants=[Variant("openai:not-configured")],
        )
    assert not Turn.objects.filter(conversation=conversation).exists()


def test_database_rejects_invalid_roles_statuses_and_self_parents(conversation):
    invalid: tuple[dict[str, Any], ...] = (
        {"role": "robot"},
        {"role": "user", "status": "streaming"},
        {"role": "assistant", "status": "done"},
    )
    for fields in invalid:
        with pytest.raises(IntegrityError), transaction.atomic():
            Turn.objects.append(conversation=conversation, content="x", **fields)
    turn = Turn.objects.append(conversation=conversation, role="user", content="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Turn.objects.filter(pk=turn.pk).update(parent_id=turn.pk)


def test_deleting_a_conversation_removes_a_deep_tree(conversation):
    chain(conversation, 2000)
    services.conversation_delete(conversation=conversation)
    assert not Turn.objects.exists()
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
