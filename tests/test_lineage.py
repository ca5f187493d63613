"""Each turn's depth and chain: kept as turns are made, filled in for existing ones by the
migration, and what lets a path be read one chain (not one turn) at a time."""
from __future__ import annotations

import random

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from conversations import services
from conversations.lineage import lineage
from conversations.models import Conversation, Turn
from conversations.services import Variant
from conversations.tree import _up_cte
from tests.test_tree import chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice) -> Conversation:
    return services.conversation_create(owner=alice)


def placement(*turns: Turn) -> list[tuple[int, int | None]]:
    found = Turn.objects.in_bulk([t.id for t in turns])
    return [(found[t.id].depth, found[t.id].chain) for t in turns]


def walk(turn: Turn | None) -> list[int]:
    """The path by following parents one query at a time: what the chains must agree with."""
    ids = []
    while turn is not None:
        ids.append(turn.id)
        turn = turn.parent
    return ids[::-1]


def test_first_children_continue_a_chain_and_forks_start_one(conversation, alice, providers):
    root, reply, follow_up = chain(conversation, 3)
    assert placement(root, reply, follow_up) == [(0, None), (1, root.id), (2, root.id)]
    # An edit of the follow-up is a second child of the reply: a new chain, at the same depth.
    edited = services.prompt_edit(conversation=conversation, turn_id=follow_up.id, content="Other",
                                  author=alice, variants=[Variant("openai:fake-model")] * 2)
    replies = [r.reply for r in edited.replies]
    assert placement(edited.prompt) == [(2, None)]
    # Two variants of one prompt: the first continues the prompt's chain, the second starts one.
    assert placement(*replies) == [(3, edited.prompt.id), (3, None)]
    # A second root starts a chain too.
    other_root = chain(conversation, 1)[0]
    assert placement(other_root) == [(0, None)]


def test_a_child_made_after_the_first_was_deleted_takes_its_place(conversation):
    root, first = chain(conversation, 2)
    services.turn_delete(conversation=conversation, turn_id=first.id)
    again = chain(conversation, 2, parent=root)
    assert placement(*again) == [(1, root.id), (2, root.id)]
    path = Turn.objects.path(conversation_id=conversation.id, turn_id=again[1].id)
    assert [t.id for t in path] == [root.id, *[t.id for t in again]]


def test_a_chain_holds_one_turn_per_depth(conversation):
    root, member = chain(conversation, 2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Turn.objects.create(conversation=conversation, role="assistant", content="x", depth=1, chain=root.id)


def test_paths_agree_with_walking_the_parents_in_random_trees(conversation, alice):
    rng = random.Random(11)
    turns: list[Turn] = []
    for step in range(400):
        parent = rng.choice(turns) if turns and rng.random() < 0.95 else None
        turns.append(Turn.objects.append(conversation=conversation, parent=parent, role="user", content=str(step)))
        if step % 97 == 96:  # now and then a subtree goes
            doomed = rng.choice(turns[1:])
            services.turn_delete(conversation=conversation, turn_id=doomed.id)
            alive = set(Turn.objects.filter(conversation=conversation).values_list("id", flat=True))
            turns = [t for t in turns if t.id in alive]
    tips = rng.sample(turns, 40)
    for tip in tips:
        expected = walk(Turn.objects.get(pk=tip.id))
        assert [t.id for t in Turn.objects.path(conversation_id=conversation.id, turn_id=tip.id)] == expected
    assert {tip: [t.id for t in path] for tip, path in
            Turn.objects.paths(conversation_id=conversation.id, turn_ids=[t.id for t in tips]).items()} == {
        t.id: walk(Turn.objects.get(pk=t.id)) for t in tips}


def test_stored_placement_is_what_the_rule_gives_for_the_whole_tree(conversation):
    rng = random.Random(5)
    turns: list[Turn] = []
    for step in range(300):
        parent = rng.choice(turns) if turns else None
        turns.append(Turn.objects.append(conversation=conversation, parent=parent, role="user", content=str(step)))
    rows = Turn.objects.filter(conversation=conversation).values_list("id", "parent_id", "depth", "chain")
    assert lineage((i, p) for i, p, _, _ in rows) == {i: (d, c) for i, _, d, c in rows}


def test_a_path_takes_one_step_per_fork_not_per_turn(conversation):
    trunk = chain(conversation, 500)
    side = chain(conversation, 300, parent=trunk[199])  # a fork
    deeper = chain(conversation, 100, parent=side[149])  # and another
    table = connection.ops.quote_name(Turn._meta.db_table)
    sql = f"WITH RECURSIVE {_up_cte(table, 'id = %s')} SELECT COUNT(*) FROM chains"
    with connection.cursor() as cursor:
        for tip, forks in ((trunk[-1], 0), (side[-1], 1), (deeper[-1], 2)):
            cursor.execute(sql, [tip.id, conversation.id])
            assert cursor.fetchone()[0] == forks + 1
    path = Turn.objects.path(conversation_id=conversation.id, turn_id=deeper[-1].id)
    assert [t.id for t in path] == [t.id for t in trunk[:200] + side[:150] + deeper]


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_in_existing_turns(alice):
    executor = MigrationExecutor(connection)
    before, after = [("conversations", "0005_reply_ownership")], [("conversations", "0006_turn_lineage")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    OldConversation, OldTurn = apps.get_model("conversations", "Conversation"), apps.get_model("conversations", "Turn")
    workspace = apps.get_model("conversations", "Workspace").objects.create(name="Old", personal_of_id=None)
    conversation = OldConversation.objects.create(owner_id=alice.id, workspace=workspace)
    made: list = []
    rng = random.Random(3)
    for step in range(60):
        parent = rng.choice(made) if made and step % 9 else None
        made.append(OldTurn.objects.create(conversation=conversation, parent=parent, role="user", content=str(step)))
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    rows = Turn.objects.filter(conversation_id=conversation.id).values_list("id", "parent_id", "depth", "chain")
    assert lineage((i, p) for i, p, _, _ in rows) == {i: (d, c) for i, _, d, c in rows}
    tip = made[-1]
    path = Turn.objects.path(conversation_id=conversation.id, turn_id=tip.id)
    assert [t.id for t in path] == walk(Turn.objects.get(pk=tip.id))
