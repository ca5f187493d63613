"""Full-text search, on the real database (run on PostgreSQL with DATABASE_URL, as CI does): what it
finds (side branches, prefixes, phrases, words in any order, titles), in what order, for whom (every
persona, and a member removed), how the index follows every write, and what hostile input gets."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conversations import services
from conversations.errors import ServiceError
from conversations.exchange.importer import conversations_import
from conversations.models import Conversation, Membership, Turn
from conversations.search import index
from conversations.search import selectors as search_selectors
from conversations.search.query import MAX_QUERY_CHARS, MAX_TERMS, parse
from conversations.search.selectors import Filters, search
from conversations.streaming import replies
from conversations.workspaces import services as workspaces
from tests.conftest import EDITOR, OUTSIDER, OWNER, SIBLING_TEXT, TITLE, VIEWER, chain, signed_in

DATA = Path(__file__).parent / "data"


def found(user, text: str, **filters) -> list[int]:
    """Ids of the turns a search finds for `user`, best first (page 1)."""
    return [hit.turn_id for hit in search(user=user, query=parse(text), filters=Filters(**filters)).turns]


def titles(user, text: str) -> list[int]:
    return [hit.conversation_id for hit in search(user=user, query=parse(text)).titles]


def assert_index_matches_the_database() -> None:
    """The index holds exactly what a build from scratch would: no write went around it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("""
                SELECT count(*) FROM conversations_turn WHERE search_vector IS DISTINCT FROM
                    CASE WHEN status = 'streaming' THEN NULL ELSE search_document(content) END""")
            assert cursor.fetchone()[0] == 0
            return
        for name, creates in index.SQLITE_TABLES.items():
            fresh = f"fresh_{name}"
            cursor.execute(creates[0].replace(f"EXISTS {name} ", f"EXISTS temp.{fresh} "))
            cursor.execute(index.SQLITE_FILL[name][0].replace(f"INTO {name}(", f"INTO temp.{fresh}("))
            cursor.execute(f"CREATE VIRTUAL TABLE temp.live_words USING fts5vocab(main, {name}, instance)")
            cursor.execute(f"CREATE VIRTUAL TABLE temp.fresh_words USING fts5vocab(temp, {fresh}, instance)")
            for a, b in (("live_words", "fresh_words"), ("fresh_words", "live_words")):
                cursor.execute(f"SELECT term, doc, offset FROM temp.{a} EXCEPT SELECT term, doc, offset FROM temp.{b}")
                assert cursor.fetchall() == [], f"{name}: {a} holds entries {b} does not"
            for table in ("live_words", "fresh_words", fresh):
                cursor.execute(f"DROP TABLE temp.{table}")
            cursor.execute(f"INSERT INTO {name}({name}) VALUES ('integrity-check')")
        fresh_meta = index.SQLITE_FILL["search_turn"][1].split(" SELECT ", 1)[1]
        for a, b in (("SELECT * FROM search_turn_meta", f"SELECT {fresh_meta}"),
                     (f"SELECT {fresh_meta}", "SELECT * FROM search_turn_meta")):
            cursor.execute(f"{a} EXCEPT {b}")
            assert cursor.fetchall() == [], "search_turn_meta differs from the turns"


@pytest.fixture
def notes(alice):
    return services.conversation_create(owner=alice, title="Notes")


# --- what a search finds ------------------------------------------------------------------------


def test_finds_a_turn_on_a_side_branch_and_opens_it_there(world):
    alice, a2b = world.personas.alice, world.turns["a2b"]
    assert world.conv.current_turn_id == world.turns["a2"].id  # the conversation opens elsewhere
    assert found(alice, "sibling") == [a2b.id]
    response = signed_in(alice).get(reverse("search"), {"q": "sibling"})
    link = f'href="/c/{world.conv.id}/t/{a2b.id}/?q=sibling"'
    assert link in response.content.decode()
    page = signed_in(alice).get(f"/c/{world.conv.id}/t/{a2b.id}/?q=sibling")
    data = page.context["page"]
    assert [t["id"] for t in data["turns"]][-1] == a2b.id and data["turns"][-1]["content"] == SIBLING_TEXT


def test_a_prefix_of_three_letters_or_more_finds_longer_words(alice, notes):
    refactoring, re_only = chain(notes, ["Refactoring the parser", "re: the parser"])
    assert found(alice, "refact") == [refactoring.id]
    assert found(alice, "REFACTOR") == [refactoring.id]
    # Two letters match whole words only.
    assert found(alice, "re") == [re_only.id]
    assert found(alice, "refactorings") == []


def test_words_in_any_order_all_required(alice, notes):
    both, one = chain(notes, ["the quick brown fox", "the brown bear"])
    assert found(alice, "fox brown") == [both.id]
    assert set(found(alice, "brown")) == {both.id, one.id}


def test_a_quoted_phrase_needs_its_words_together_in_order(alice, notes):
    together, apart, reversed_ = chain(notes, ["a brown fox ran", "a brown old fox", "the fox brown"])
    assert found(alice, '"brown fox"') == [together.id]
    assert set(found(alice, "brown fox")) == {together.id, apart.id, reversed_.id}
    # Words joined by punctuation are a phrase, as the text was indexed.
    site = chain(notes, ["see example.com for details, not example or com alone"])[0]
    assert found(alice, "example.com") == [site.id]


def test_accents_are_kept_case_is_not(alice, notes):
    cafe = chain(notes, ["Un café à Kyōto"])[0]
    assert found(alice, "CAFÉ") == [cafe.id]
    assert found(alice, "kyōto") == [cafe.id]
    assert found(alice, "cafe") == []


def test_titles_are_searched_too(world):
    alice, charlie = world.personas.alice, world.personas.charlie
    assert titles(alice, "quarterly") == [world.conv.id]
    assert titles(charlie, "quarterly") == []
    # A title match shows even where no turn matches.
    assert found(alice, "quarterly") == []


def test_ranked_by_relevance_then_by_recency(alice, notes):
    often, once = chain(notes, ["walrus walrus walrus", "a long text that mentions the walrus only once " * 4])
    assert found(alice, "walrus") == [often.id, once.id]
    older, newer = chain(notes, ["narwhal tusk", "narwhal tusk"])
    assert found(alice, "narwhal") == [newer.id, older.id]
    # By when a turn was written, not by its id: an imported turn keeps its own time.
    Turn.objects.filter(pk=newer.pk).update(created_at=timezone.now() - timedelta(days=30))
    assert found(alice, "narwhal") == [older.id, newer.id]


def test_the_snippet_marks_the_words_and_escapes_everything_else(alice, notes):
    text = '<script>alert(1)</script> needle & "quotes" <mark>fake</mark> ' + "filler " * 200 + "needle end"
    chain(notes, [text])
    html = signed_in(alice).get(reverse("search"), {"q": "needle"}).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;mark&gt;fake&lt;/mark&gt;" in html
    assert html.count("<mark>") == 1 and "<mark>needle</mark>" in html


def test_a_long_text_shows_the_window_around_its_match(alice, notes):
    chain(notes, ["filler " * 2000 + "the hidden emerald is here " + "filler " * 2000])
    snippet = str(search(user=alice, query=parse("emerald")).turns[0].snippet)
    assert snippet.startswith("…") and snippet.endswith("…") and "<mark>emerald</mark>" in snippet
    assert len(snippet) < 400


def test_a_reply_hit_shows_its_model_a_prompt_the_model_of_its_reply(alice, notes):
    chain(notes, ["ask about otters", "otters hold hands"], provider="anthropic", model="fake-model")
    hits = search(user=alice, query=parse("otters")).turns
    assert {hit.role: hit.model for hit in hits} == {
        "user": "anthropic:fake-model", "assistant": "anthropic:fake-model",
    }


# --- who sees what ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona,sees_team", [(OWNER, True), (EDITOR, True), (VIEWER, True), (OUTSIDER, False)])
def test_each_persona_finds_only_what_they_may_read(world, persona, sees_team):
    user = world.users[persona]
    team_turns = set(Turn.objects.filter(conversation__workspace=world.team, content__icontains="question")
                     .values_list("id", flat=True))
    assert len(team_turns) == 4  # Q1 and Q2, and one in each of Team's two other conversations
    hits = set(found(user, "question"))
    if sees_team:
        assert team_turns <= hits
    else:
        assert not team_turns & hits
    assert (world.private.turns.get().id in hits) is (persona == OUTSIDER)
    assert (world.conv.id in titles(user, "quarterly")) is sees_team
    body = signed_in(user).get(reverse("search"), {"q": "question"}).content.decode()
    assert (TITLE in body) is sees_team
    if not sees_team:
        assert "Answer" not in body and "Doomed" not in body


def test_a_removed_member_finds_nothing_of_the_workspace_any_more(world):
    bob = world.personas.bob
    assert world.turns["q1"].id in found(bob, "question")
    membership = Membership.objects.get(workspace=world.team, user=bob)
    workspaces.member_remove(workspace=world.team, membership_id=membership.id)
    assert found(bob, "question") == []
    assert titles(bob, "quarterly") == []


def test_a_workspace_filter_cannot_reach_beyond_ones_own(world):
    charlie = world.personas.charlie
    response = signed_in(charlie).get(reverse("search"), {"q": "question", "w": world.team.id})
    assert response.status_code == 400 and "no such workspace" in response.content.decode()
    assert TITLE not in response.content.decode()


def test_searching_needs_an_account(client):
    response = client.get(reverse("search"), {"q": "question"})
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


# --- filters and pages --------------------------------------------------------------------------


def test_filters_by_workspace_role_model_and_date(world, notes):
    alice = world.personas.alice
    prompt, reply = chain(notes, ["penguin facts", "penguin answer"], provider="anthropic", model="fake-model")
    team_prompt, team_reply = chain(world.conv, ["penguin team question", "penguin team answer"],
                                    parent=world.turns["a2"])
    every = {prompt.id, reply.id, team_prompt.id, team_reply.id}
    assert set(found(alice, "penguin")) == every
    assert set(found(alice, "penguin", workspace_id=world.team.id)) == {team_prompt.id, team_reply.id}
    assert set(found(alice, "penguin", role="user")) == {prompt.id, team_prompt.id}
    assert set(found(alice, "penguin", role="assistant")) == {reply.id, team_reply.id}
    assert found(alice, "penguin", provider="anthropic", model="fake-model") == [reply.id]
    Turn.objects.filter(pk__in=[prompt.id, reply.id]).update(created_at=timezone.now() - timedelta(days=40))
    week_ago = timezone.now() - timedelta(days=7)
    assert set(found(alice, "penguin", since=week_ago)) == {team_prompt.id, team_reply.id}
    assert set(found(alice, "penguin", until=week_ago)) == {prompt.id, reply.id}

    client = signed_in(alice)
    old = (timezone.now() - timedelta(days=40)).date().isoformat()
    page = client.get(reverse("search"), {"q": "penguin", "role": "reply", "from": old, "to": old})
    assert [hit.turn_id for hit in page.context["results"].turns] == [reply.id]
    page = client.get(reverse("search"), {"q": "penguin", "model": "anthropic:fake-model"})
    assert [hit.turn_id for hit in page.context["results"].turns] == [reply.id]


@pytest.mark.parametrize("params,message", [
    ({"w": "abc"}, "no such workspace"),
    ({"w": "999999"}, "no such workspace"),
    ({"role": "system"}, "prompts"),
    ({"model": "no-colon"}, "provider"),
    ({"model": "openai:bad model\x00"}, "provider"),
    ({"from": "2024-13-01"}, "date like"),
    ({"to": "yesterday"}, "date like"),
    ({"from": "2025-02-01", "to": "2025-01-01"}, "after the to date"),
    ({"page": "0"}, "Pages of results"),
    ({"page": "x"}, "Pages of results"),
    ({"page": "9999"}, "Pages of results"),
])
def test_a_filter_it_cannot_use_gets_a_message(alice, notes, params, message):
    chain(notes, ["searchable words"])
    response = signed_in(alice).get(reverse("search"), {"q": "searchable", **params})
    assert response.status_code == 400
    assert message in response.content.decode()


def test_results_come_page_by_page(alice, notes):
    made = chain(notes, [f"puffin number {n}" for n in range(25)])
    client = signed_in(alice)
    first = client.get(reverse("search"), {"q": "puffin"})
    assert len(first.context["results"].turns) == 20 and first.context["next_url"]
    assert "25 turns match." in first.content.decode()
    second = client.get(first.context["next_url"])
    assert len(second.context["results"].turns) == 5 and not second.context["next_url"]
    seen = [h.turn_id for h in first.context["results"].turns + second.context["results"].turns]
    assert sorted(seen) == sorted(t.id for t in made)
    assert second.context["previous_url"]


def test_a_search_matching_more_than_the_pool_ranks_the_newest(alice, notes, monkeypatch):
    monkeypatch.setattr(search_selectors, "POOL", 4)
    best = chain(notes, ["gecko gecko gecko gecko"])[0]
    newer = chain(notes, [f"gecko and {n} other words of a much longer text here" for n in range(5)])
    results = search(user=alice, query=parse("gecko"))
    assert results.pool_full and best.id not in [h.turn_id for h in results.turns]
    assert {h.turn_id for h in results.turns} == {t.id for t in newer[-4:]}
    html = signed_in(alice).get(reverse("search"), {"q": "gecko"}).content.decode()
    assert "the best of the newest 4" in html


# --- the index follows every write --------------------------------------------------------------


def test_sends_edits_replies_as_they_finish_and_regenerations(alice, notes, providers):
    variants = [services.Variant("openai:fake-model")]
    sent = services.turn_send(conversation=notes, parent_id=None, content="Tell me about axolotls",
                              author=alice, variants=variants)
    assert found(alice, "axolotl") == [sent.prompt.id]
    reply = sent.replies[0].reply
    # While it streams, its checkpoints are not searched; its final text is, its reasoning is not.
    replies.reply_checkpoint(turn_id=reply.id, content="Axolotls are partial", reasoning="", first_token_at=None)
    assert found(alice, "partial") == []
    replies.reply_finish(turn_id=reply.id, content="Axolotls regrow limbs", status="complete",
                         first_token_at=None, input_tokens=3, output_tokens=3, response_id="", error="",
                         reasoning="secret deliberation")
    assert set(found(alice, "axolotl")) == {sent.prompt.id, reply.id}
    assert found(alice, "regrow") == [reply.id] and found(alice, "deliberation") == []

    edited = services.prompt_edit(conversation=notes, turn_id=sent.prompt.id, content="Tell me about salamanders",
                                  author=alice, variants=variants)
    assert found(alice, "salamander") == [edited.prompt.id]
    assert found(alice, "tell") == [edited.prompt.id, sent.prompt.id]  # the original stays

    again = services.reply_regenerate(conversation=notes, turn_id=reply.id, author=alice, variant=variants[0])
    replies.reply_finish(turn_id=again.reply.id, content="Axolotls stay larval", status="stopped",
                         first_token_at=None, input_tokens=None, output_tokens=None, response_id="", error="")
    assert found(alice, "larval") == [again.reply.id]
    assert_index_matches_the_database()


def test_an_interrupted_reply_is_searched_with_the_text_it_had(alice, notes):
    prompt = chain(notes, ["question"])[0]
    reply = Turn.objects.append(conversation=notes, parent=prompt, role="assistant", status="streaming",
                                content="cut off midway", provider="openai", model="fake-model")
    assert found(alice, "midway") == []
    Turn.objects.filter(pk=reply.pk).update(status="interrupted")
    assert found(alice, "midway") == [reply.id]
    assert_index_matches_the_database()


def test_deletes_of_turns_and_conversations(alice, notes):
    keep, doomed, below = chain(notes, ["lemur keep", "lemur doomed", "lemur below"])
    services.turn_delete(conversation=notes, turn_id=doomed.id)
    assert found(alice, "lemur") == [keep.id]
    other = services.conversation_create(owner=alice, title="Lemur facts")
    chain(other, ["lemur elsewhere"])
    services.conversation_delete(conversation=notes)
    assert [h for h in found(alice, "lemur") if h in {keep.id, doomed.id, below.id}] == []
    assert titles(alice, "lemur") == [other.id]
    services.conversation_delete(conversation=other)
    assert found(alice, "lemur") == [] and titles(alice, "lemur") == []
    assert_index_matches_the_database()


def test_a_fork_is_found_by_whoever_made_it_in_their_workspace(world):
    vera, charlie, a2b = world.personas.vera, world.personas.charlie, world.turns["a2b"]
    fork = services.conversation_fork(conversation=world.conv, turn_id=a2b.id, owner=vera)
    assert set(found(vera, "sibling")) == {a2b.id, fork.current_turn_id}
    assert fork.id in titles(vera, "fork")
    assert found(charlie, "sibling") == [] and titles(charlie, "fork") == []
    assert_index_matches_the_database()


def test_an_import_is_searched_every_branch_of_it(alice):
    conversations_import(owner=alice, data=(DATA / "chatgpt_conversations.json").read_bytes())
    yudofu = found(alice, "yudofu")  # on the branch before the prompt was edited
    assert len(yudofu) == 1 and "yudofu" in Turn.objects.get(pk=yudofu[0]).content
    assert len(found(alice, '"golden pavilion"')) == 1
    assert titles(alice, "kyoto")
    assert_index_matches_the_database()


def test_a_rename_is_searched_by_its_new_title(alice, notes):
    services.conversation_rename(conversation=notes, title="Migration of ibises")
    assert titles(alice, "ibis") == [notes.id] and titles(alice, "notes") == []
    assert_index_matches_the_database()


# --- hostile input ------------------------------------------------------------------------------

HOSTILE = [
    '"', '""', '"""', "*", "**", "AND(", "-", "--", "NEAR", "NEAR(a b)", "a OR b", "NOT", "foo*", '"open',
    "'", "''", "\\", "%", "_", ":*", "a:*", "!", "&", "|", "<->", "body:foo", "body : x", "^foo", "{", "}",
    "(", ")", "()", "[", "+", "foo:", "\x00", "a\x00b", "%s", "%(x)s", "{0}", "'; DROP TABLE conversations_turn; --",
    "😀", "x" * 101, "word " * 13, "z" * (MAX_QUERY_CHARS + 1), "مرحبا", "日本語", "\u202e", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "NEAR/3", "fox NEAR brown", "-foo +bar", "a AND b OR c NOT d", "rowid", "rank", "bm25()", "search_turn",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_get_results_or_a_message_never_an_error(alice, notes, text):
    chain(notes, ["and or not near foo bar body rowid rank a b c d x 日本語 مرحبا"])
    response = signed_in(alice).get(reverse("search"), {"q": text})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert 'class="notice error"' in response.content.decode()
    assert Turn.objects.filter(conversation=notes).count() == 1


def test_what_a_hostile_query_becomes_is_quoted_words_only():
    query = parse('AND( "NEAR x" foo* -bar body:baz')
    assert query.fts5() == '"AND"* "NEAR x" "foo"* "bar"* "body baz"'
    assert query.tsquery() == "('AND':*) & ('NEAR' <-> 'x') & ('foo':*) & ('bar':*) & ('body' <-> 'baz')"


@pytest.mark.parametrize("text,message", [
    ("", "Type a word"), ('"*"', "Type a word"), ("x" * (MAX_QUERY_CHARS + 1), "at most"),
    (" ".join(f"w{n}" for n in range(MAX_TERMS + 1)), "at most"), ("y" * 101, "at most 100"),
    ('"' + " ".join(["w"] * 13) + '"', "phrase"),
])
def test_what_cannot_be_searched_is_said(text, message):
    with pytest.raises(ServiceError, match=message):
        parse(text)


def test_the_search_box_is_on_every_signed_in_page(world):
    client = signed_in(world.personas.alice)
    for path in ("/", f"/c/{world.conv.id}/", "/workspaces/", reverse("search")):
        html = client.get(path).content.decode()
        assert html.count('id="search-box"') == 1, path
        assert 'type="search"' in html and 'aria-keyshortcuts="Control+K Meta+K"' in html
    assert 'id="search-box"' not in Client().get("/accounts/login/").content.decode()


# --- the index survives a table rebuild (SQLite) ------------------------------------------------


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="only SQLite rebuilds tables for migrations")
@pytest.mark.django_db(transaction=True)
def test_a_migration_that_rebuilds_a_table_gets_the_index_back(alice):
    notes = services.conversation_create(owner=alice, title="Before")
    chain(notes, ["ocelot before"])
    probe: models.BooleanField = models.BooleanField(default=False)
    probe.set_attributes_from_name("search_probe")
    for model in (Conversation, Turn):
        # What Django does to add a NOT NULL column on SQLite: a new table copied and renamed in.
        with connection.schema_editor() as editor:
            editor.add_field(model, probe)
        with connection.schema_editor() as editor:
            editor.remove_field(model, probe)
    with connection.cursor() as cursor:
        assert not index._sqlite_names(cursor, "trigger") & set(index.SQLITE_TRIGGERS["search_turn"])
    services.conversation_rename(conversation=notes, title="After")
    chain(notes, ["ocelot while the triggers were gone"], parent=notes.turns.get())
    assert sorted(index.ensure(connection)) == ["search_title", "search_turn"]
    assert len(found(alice, "ocelot")) == 2 and titles(alice, "after") == [notes.id]
    chain(notes, ["ocelot after"])
    assert len(found(alice, "ocelot")) == 3
    assert index.ensure(connection) == []
    assert_index_matches_the_database()


def test_the_migration_can_be_reversed_and_applied_again(alice, notes):
    chain(notes, ["tapir"])
    if connection.vendor == "postgresql":  # the test's open transaction holds deferred FK checks
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    index.uninstall(connection)
    index.install(connection)
    assert len(found(alice, "tapir")) == 1
    assert_index_matches_the_database()


def test_hits_carry_json_safe_values(alice, notes):
    chain(notes, ["quetzal"])
    assert "1 turn matches." in signed_in(alice).get(reverse("search"), {"q": "quetzal"}).content.decode()
    hit = search(user=alice, query=parse("quetzal")).turns[0]
    json.dumps({"snippet": str(hit.snippet), "when": hit.created_at.isoformat()})
