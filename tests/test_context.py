"""A branch's context: stored counts, the meter, trimming to the window and its markers, usage and
cost per reply, "what the model saw" and "get code"."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from conversations import replay, services
from conversations.context import ContextOverflow, branch_meter, plan_context
from conversations.models import Turn
from conversations.providers.base import GenerationSettings
from conversations.providers.openai_chat import OpenAIChatProvider
from conversations.registry import registry
from conversations.services import Variant
from conversations.streaming import replies
from conversations.tokens import TOKENS_PER_REPLY, count, count_all, message_overhead
from tests.conftest import chain, signed_in
from tests.fake_upstream import reply_text
from tests.wsclient import WAIT, connect, created_reply, finished, frames_until

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa "


@pytest.fixture
def conversation(alice):
    return services.conversation_create(owner=alice, title="Long")


def tokens_of(turns: list[Turn], encoding: str = "o200k_base") -> int:
    return sum(t.token_counts[encoding] + message_overhead(t.role, encoding) for t in turns) + TOKENS_PER_REPLY


# --- stored counts and the meter ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_prompt_stores_its_counts_once(conversation, alice, providers):
    sent = services.turn_send(
        conversation=conversation, parent_id=None, content="antidisestablishmentarianism", author=alice,
        variants=[Variant("openai:fake-model")],
    )
    sent.prompt.refresh_from_db()
    assert sent.prompt.token_counts == {"o200k_base": 6, "cl100k_base": 6}
    # The reply's counts come when its text is final.
    assert sent.replies[0].reply.token_counts == {}


@pytest.mark.django_db
def test_the_meter_sums_stored_counts_along_the_branch(conversation, small_window):
    turns = chain(conversation, ["Hello there", "Hi! How can I help?", "Count for me", "One two three"])
    info = small_window.model_info("openai:fake-model")
    meter = branch_meter(turns, info)
    assert meter.used == tokens_of(turns)
    assert (meter.window, meter.reply_budget, meter.estimate) == (400, 100, True)
    # Stored, not recomputed: a changed count is what the meter uses.
    Turn.objects.filter(pk=turns[0].pk).update(token_counts={"o200k_base": 1000, "cl100k_base": 1})
    reread = list(Turn.objects.filter(conversation=conversation).order_by("id"))
    assert branch_meter(reread, info).used == meter.used - turns[0].token_counts["o200k_base"] + 1000


@pytest.mark.django_db
def test_the_provider_count_wins_for_its_own_model(conversation, providers):
    turns = chain(conversation, ["Question", "A reply that the provider counted"])
    Turn.objects.filter(pk=turns[1].pk).update(output_tokens=50)
    turns[1].refresh_from_db()
    same = registry().model_info("openai:fake-model")
    other = registry().model_info("anthropic:fake-model")
    overhead = message_overhead("user", "o200k_base") + message_overhead("assistant", "o200k_base")
    base = turns[0].token_counts["o200k_base"] + overhead + TOKENS_PER_REPLY
    assert branch_meter(turns, same).used == base + 50
    assert branch_meter(turns, other).used == base + turns[1].token_counts["o200k_base"]


@pytest.mark.django_db
def test_a_system_turn_and_a_failed_reply(conversation, providers):
    system = Turn.objects.append(
        conversation=conversation, role="system", content="Be brief.", token_counts=count_all("Be brief.")
    )
    prompt = Turn.objects.append(
        conversation=conversation, parent=system, role="user", content="Hi", token_counts=count_all("Hi")
    )
    failed = Turn.objects.append(conversation=conversation, parent=prompt, role="assistant", status="error", content="")
    info = registry().model_info("openai:gpt-4o")
    used = branch_meter([system, prompt, failed], info).used
    # The empty failed reply is not sent; the system turn is one message.
    overhead = message_overhead("system", "o200k_base") + message_overhead("user", "o200k_base")
    assert used == count("Be brief.", "o200k_base") + count("Hi", "o200k_base") + overhead + TOKENS_PER_REPLY


# --- trimming to the window -----------------------------------------------------------------------


def long_branch(conversation, pairs: int) -> list[Turn]:
    contents = []
    for index in range(pairs):
        contents += [f"Question {index}: " + WORDS * 2, f"Answer {index}: " + WORDS * 2]
    return chain(conversation, contents)


@pytest.mark.django_db
def test_the_oldest_turns_go_first_and_the_first_prompt_stays(conversation, small_window):
    turns = long_branch(conversation, 12)
    prompt = Turn.objects.append(
        conversation=conversation, parent=turns[-1], role="user", content="And now?", token_counts=count_all("And now?")
    )
    path = [*turns, prompt]
    info = small_window.model_info("openai:fake-model")
    plan = plan_context(path=path, info=info, system_prompt="Be helpful.")
    assert plan.omitted, "the branch is over budget"
    assert plan.turns[0].id == turns[0].id  # the first prompt
    assert plan.turns[-1].id == prompt.id  # the prompt being answered
    assert plan.omitted == [t.id for t in path[1 : 1 + len(plan.omitted)]]  # a contiguous run of the oldest
    assert plan.turns[1].role == "assistant"  # the history still alternates after the first prompt
    assert all(a.role != b.role for a, b in zip(plan.turns, plan.turns[1:], strict=False))
    expected = tokens_of(plan.turns) + count("Be helpful.", "o200k_base") + message_overhead("system", "o200k_base")
    assert plan.input_tokens == expected <= plan.history_budget == 300
    # One more turn kept would not have fitted.
    kept_next = path[len(plan.omitted)]
    assert (
        expected + kept_next.token_counts["o200k_base"] + message_overhead(kept_next.role, "o200k_base") > 300
        or len(plan.omitted) == 1
    )


@pytest.mark.django_db
def test_a_branch_that_fits_is_sent_whole(conversation, small_window):
    turns = chain(conversation, ["Hi", "Hello", "Bye"])
    plan = plan_context(path=turns, info=small_window.model_info("openai:fake-model"))
    assert (plan.omitted, [t.id for t in plan.turns]) == ([], [t.id for t in turns])


@pytest.mark.django_db
def test_when_even_the_kept_turns_do_not_fit_the_error_says_so(conversation, small_window):
    turns = chain(conversation, ["Hi", "Hello", WORDS * 60])
    with pytest.raises(
        ContextOverflow,
        match=r"needs [\d,]+ tokens even with every older turn left out .* "
        r"window of 400 tokens leaves 300 after reserving 100",
    ):
        plan_context(path=turns, info=small_window.model_info("openai:fake-model"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
@pytest.mark.parametrize(
    "model", ["openai:fake-model", "openai-responses:fake-model", "anthropic:fake-model", "ollama:fake-model"]
)
async def test_a_long_branch_is_trimmed_and_the_reply_says_what_was_left_out(
    alice, conversation, small_window, upstream, model
):
    turns = await database_sync_to_async(long_branch)(conversation, 12)
    if model.startswith("openai-responses"):
        # Replies from this provider chain by response id; a trimmed request must not chain.
        await Turn.objects.filter(pk=turns[-1].pk).aupdate(provider="openai-responses", response_id="resp_missing")
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(
        {"action": "send", "request_id": "r", "parent": turns[-1].id, "content": "And now?", "model": model}
    )
    frames = await frames_until(ws, finished())
    await ws.disconnect()
    reply = await Turn.objects.aget(pk=created_reply(frames)["id"])
    assert reply.status == "complete", reply.error
    omitted = reply.context["omitted"]
    assert omitted and omitted == [t.id for t in turns[1 : 1 + len(omitted)]]
    # The socket says which turns were left out as the reply starts; the rest of its context is
    # in its request.
    assert created_reply(frames)["context"] == {"omitted": omitted}
    assert (reply.context["window"], reply.context["history_budget"], reply.context["reply_budget"]) == (400, 300, 100)
    body = upstream.requests[-1]["json"]
    sent = await database_sync_to_async(replay.sent_request)(conversation_id=conversation.id, turn_id=reply.id)
    if model.startswith("anthropic"):
        assert (body["messages"], body["model"]) == (sent.body["messages"], sent.body["model"])
        texts = [m["content"] for m in body["messages"]]
    else:
        # What the model saw is exactly what was sent upstream.
        assert body == sent.body
        texts = [m["content"] for m in body.get("messages", body.get("input", []))]
        assert "previous_response_id" not in body
    assert texts[0] == turns[0].content and texts[-1] == "And now?"
    assert not any(t.content in texts for t in turns if t.id in omitted)
    assert len(texts) == len(turns) - len(omitted) + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_a_prompt_too_long_for_the_window_is_refused_and_nothing_is_written(
    alice, conversation, small_window, upstream
):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(
        {"action": "send", "request_id": "r", "parent": None, "content": WORDS * 60, "model": "openai:fake-model"}
    )
    frame = await ws.receive_json_from(timeout=WAIT)
    await ws.disconnect()
    assert frame["type"] == "error" and frame["code"] == "context_overflow"
    assert "window of 400 tokens" in frame["error"] and "larger window" in frame["error"]
    assert await Turn.objects.filter(conversation=conversation).acount() == 0
    assert upstream.requests == []


# --- usage and cost -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_usage_and_cost_are_stored_per_reply_and_summed(alice, conversation, small_window, upstream):
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(
        {"action": "send", "request_id": "r", "parent": None, "content": "Price me", "model": "openai:fake-model"}
    )
    frames = await frames_until(ws, finished())
    done = frames[-1]["turn"]
    reply = await Turn.objects.aget(pk=done["id"])
    assert reply.usage_estimated is False and reply.output_tokens == 12 and reply.input_tokens
    expected = (Decimal(reply.input_tokens) * 2 + Decimal(reply.output_tokens) * 8) / 1_000_000
    assert reply.cost == expected
    assert done["cost"] == pytest.approx(float(expected)) and done["usage_estimated"] is False
    assert reply.token_counts == count_all(reply_text("Price me", 12))
    # A second reply: the conversation's cost is the sum.
    await ws.send_json_to({"action": "regenerate", "request_id": "r2", "turn": reply.id, "model": "openai:fake-model"})
    await frames_until(ws, finished())
    await ws.disconnect()
    client = Client()
    await database_sync_to_async(client.force_login)(alice)
    data = await database_sync_to_async(client.get)(reverse("branch_json", args=[conversation.id, reply.id]))
    costs = [
        c async for c in Turn.objects.filter(conversation=conversation, role="assistant").values_list("cost", flat=True)
    ]
    assert data.json()["conversation"]["cost"] == pytest.approx(float(sum(costs)))
    assert data.json()["turns"][-1]["cost"] == pytest.approx(float(expected))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_leftover_generations")
async def test_a_stopped_reply_gets_estimated_usage(alice, conversation, small_window, upstream):
    upstream.tokens = 400
    upstream.interval = 0.01
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(
        {"action": "send", "request_id": "r", "parent": None, "content": "Go on", "model": "openai:fake-model"}
    )
    frames = await frames_until(ws, lambda f: f["type"] == "delta")
    reply_id = created_reply(frames)["id"]
    await ws.send_json_to({"action": "stop", "turn": reply_id})
    frames = await frames_until(ws, finished(reply_id))
    await ws.disconnect()
    reply = await Turn.objects.aget(pk=reply_id)
    assert reply.status == "stopped" and reply.usage_estimated is True
    assert reply.output_tokens == count(reply.content, "o200k_base") > 0
    assert reply.input_tokens == reply.context["input_tokens"]
    assert reply.cost == (Decimal(reply.input_tokens) * 2 + Decimal(reply.output_tokens) * 8) / 1_000_000
    assert frames[-1]["turn"]["usage_estimated"] is True


# --- what the model saw, and get code -------------------------------------------------------------


@pytest.mark.django_db
def test_request_and_code_are_for_readers_of_replies_only(conversation, alice, charlie, providers):
    turns = chain(conversation, ["Q", "A"])
    own, other = signed_in(alice), signed_in(charlie)
    for name in ("reply_request", "reply_code"):
        url = reverse(name, args=[conversation.id, turns[1].id])
        assert own.get(url).status_code == 200
        assert other.get(url).status_code == 404
        assert Client().get(url).status_code == 302
        assert own.get(reverse(name, args=[conversation.id, 999999])).status_code == 404
        response = own.get(reverse(name, args=[conversation.id, turns[0].id]))
        assert response.status_code == 400 and b"Only a reply has a request" in response.content


@pytest.mark.django_db
def test_what_the_model_saw_includes_settings_and_system_prompt(conversation, alice, providers):
    turns = chain(conversation, ["Q1", "A1", "Q2"])
    prepared = services.reply_regenerate(
        conversation=conversation, turn_id=turns[2].id, author=alice,
        variant=Variant(
            "openai:fake-model", GenerationSettings(system_prompt="Be terse.", temperature=0.5, max_tokens=77)
        ),
    )
    data = signed_in(alice).get(reverse("reply_request", args=[conversation.id, prepared.reply.id])).json()
    assert data["known"] and data["api"] == "chat.completions" and data["label"] == "OpenAI"
    provider = registry().providers["openai"]
    assert isinstance(provider, OpenAIChatProvider)
    assert data["body"] == provider.request_body(prepared.request)
    assert data["body"]["messages"][0] == {"role": "system", "content": "Be terse."}
    assert (data["body"]["temperature"], data["body"]["max_completion_tokens"]) == (0.5, 77)
    assert data["context"]["omitted"] == []


def run_snippet(code: str, upstream, tmp_path, **env) -> subprocess.CompletedProcess:
    script = tmp_path / "snippet.py"
    script.write_text(code)
    environment = {
        **os.environ,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": upstream.url + "/v1",
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": upstream.url,
        **env,
    }
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=environment)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model", ["openai:fake-model", "openai-responses:fake-model", "anthropic:fake-model", "ollama:fake-model"]
)
def test_get_code_runs_and_sends_the_same_request(conversation, alice, providers, upstream, tmp_path, model):
    turns = chain(conversation, ["First question", "First answer", "Second question"])
    prepared = services.reply_regenerate(
        conversation=conversation, turn_id=turns[2].id, author=alice,
        variant=Variant(model, GenerationSettings(system_prompt="Be terse.", temperature=0.3, max_tokens=64)),
    )
    code = signed_in(alice).get(reverse("reply_code", args=[conversation.id, prepared.reply.id]))
    assert code["Content-Type"].startswith("text/x-python")
    assert "test-key" not in code.content.decode()  # keys come from the environment
    upstream.reset()
    result = run_snippet(code.content.decode(), upstream, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == reply_text("Second question", 12).strip()
    sent = replay.sent_request(conversation_id=conversation.id, turn_id=prepared.reply.id).body
    received = upstream.requests[-1]["json"]
    if model.startswith("anthropic"):
        sent = {**{k: v for k, v in sent.items() if k != "extra_body"}, **sent.get("extra_body", {})}
    assert received == sent


@pytest.mark.django_db
def test_get_code_for_an_imported_reply_says_what_it_is(conversation, alice, providers, upstream, tmp_path):
    turns = chain(conversation, ["Imported question", "Imported answer", "Next"], provider="chatgpt", model="gpt-4o")
    reply = Turn.objects.append(
        conversation=conversation, parent=turns[2], role="assistant", content="x", provider="chatgpt",
        model="fake-model",
    )
    data = signed_in(alice).get(reverse("reply_request", args=[conversation.id, reply.id])).json()
    assert data["known"] is False and data["api"] == ""
    code = signed_in(alice).get(reverse("reply_code", args=[conversation.id, reply.id])).content.decode()
    assert "chatgpt is not configured here" in code
    result = run_snippet(code, upstream, tmp_path)
    assert result.returncode == 0, result.stderr
    sent = [m["content"] for m in upstream.requests[-1]["json"]["messages"]]
    assert sent == ["Imported question", "Imported answer", "Next"]


# --- counting what is not sent yet ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_count_endpoint_counts_drafts_for_a_model(alice, providers):
    client = signed_in(alice)
    response = client.post(
        reverse("tokens_count"),
        json.dumps({"model": "openai:gpt-4", "texts": ["hello world", ""]}),
        content_type="application/json",
    )
    assert response.json() == {"model": "openai:gpt-4", "encoding": "cl100k_base", "estimate": False, "counts": [2, 0]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, message",
    [
        ("{nope", "The body must be JSON"),
        (json.dumps({"texts": []}), "Name the model"),
        (json.dumps({"model": "openai:gpt-4", "texts": "hi"}), '"texts" must be a list of up to 4 strings'),
        (json.dumps({"model": "openai:gpt-4", "texts": ["a"] * 5}), '"texts" must be a list of up to 4 strings'),
        (json.dumps({"model": "openai:gpt-4", "texts": [1]}), '"texts" must be a list of up to 4 strings'),
        (json.dumps(["model"]), "Name the model"),
    ],
)
def test_the_count_endpoint_explains_bad_requests(alice, providers, body, message):
    response = signed_in(alice).post(reverse("tokens_count"), body, content_type="application/json")
    assert response.status_code == 400 and message in response.json()["error"]


@pytest.mark.django_db
def test_the_count_endpoint_limits_size_and_needs_sign_in_and_csrf(alice, settings, providers):
    settings.MAX_MESSAGE_CHARS = 10
    settings.MAX_SYSTEM_PROMPT_CHARS = 5
    body = json.dumps({"model": "openai:gpt-4", "texts": ["x" * 11]})
    response = signed_in(alice).post(reverse("tokens_count"), body, content_type="application/json")
    assert response.status_code == 400 and "longer than 10 characters" in response.json()["error"]
    assert Client().post(reverse("tokens_count"), body, content_type="application/json").status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(reverse("tokens_count"), body, content_type="application/json").status_code == 403
    assert signed_in(alice).get(reverse("tokens_count")).status_code == 405


@pytest.mark.django_db
def test_the_page_carries_the_catalogue_and_the_counts(conversation, alice, small_window):
    turns = chain(conversation, ["Q", "A"])
    page = signed_in(alice).get(reverse("conversation", args=[conversation.id]))
    data = page.context["page"]
    model = next(m for m in data["models"] if m["id"] == "openai:fake-model")
    described = (model["context_window"], model["reply_budget"], model["encoding"], model["estimate"])
    assert described == (400, 100, "o200k_base", True)
    assert data["turns"][0]["token_counts"] == turns[0].token_counts


@pytest.mark.django_db
def test_a_fork_keeps_counts_usage_cost_and_what_was_left_out(conversation, alice, small_window):
    turns = long_branch(conversation, 12)
    sent = services.turn_send(
        conversation=conversation, parent_id=turns[-1].id, content="And now?", author=alice,
        variants=[Variant("openai:fake-model")],
    )
    reply = sent.replies[0].reply
    replies.reply_finish(
        turn_id=reply.id, content="Done.", status="complete", first_token_at=None,
        input_tokens=250, output_tokens=3, response_id="", error="",
    )
    reply.refresh_from_db()
    assert reply.context["omitted"] and reply.cost == (Decimal(250) * 2 + Decimal(3) * 8) / 1_000_000
    fork = services.conversation_fork(conversation=conversation, turn_id=reply.id, owner=alice)
    copies = list(Turn.objects.filter(conversation=fork).order_by("id"))
    originals = [*turns, sent.prompt, reply]
    position = {t.id: i for i, t in enumerate(originals)}
    copied = copies[-1]
    assert (copied.token_counts, copied.input_tokens, copied.output_tokens, copied.cost, copied.usage_estimated) == (
        reply.token_counts, 250, 3, reply.cost, False)
    # The left-out ids point at the fork's own copies of the same turns.
    assert copied.context["omitted"] == [copies[position[i]].id for i in reply.context["omitted"]]
    assert {k: v for k, v in copied.context.items() if k != "omitted"} == {
        k: v for k, v in reply.context.items() if k != "omitted"
    }
