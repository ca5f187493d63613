"""The page's context meter counts a prompt's files as the server does: the turns' payloads carry
what their text files add in each encoding ("files_tokens"), and static/js/tokens.js, run here
through Node, adds the images by each model's rule (static/js/image-tokens.js). Its number equals
context.branch_meter's for the same branch, loaded whole or as a window with the turns above it
summarised (selectors.EarlierTurns)."""
from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from conversations import services
from conversations.context import branch_meter, documents_wrapper
from conversations.models import Conversation, Turn
from conversations.registry import registry
from conversations.selectors import branch_window
from conversations.streaming.frames import created_frame, turn_payload
from conversations.tokens import count, count_all
from tests.attachment_files import attached_turn, pdf, png, upload
from tests.conftest import signed_in
from tests.test_js_units import _node

ROOT = Path(__file__).resolve().parent.parent
TOKENS_JS = (ROOT / "static" / "js" / "tokens.js").as_uri()
# One model per way of counting: OpenAI tiles, OpenAI patches, Anthropic's area, no vision in each
# encoding, and a vision model that counts text with cl100k_base (set in the catalogue below).
MODELS = (
    "openai:gpt-4o", "openai:gpt-4o-mini", "openai:gpt-4.1-mini", "openai:o4-mini", "anthropic:claude-sonnet-4-5",
    "openai:gpt-4", "openai:fake-model", "ollama:llava",
)
RUN = """
import { branchTokens } from %s;
import { readFileSync } from 'node:fs';
const { turns, earlier, models } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
console.log(JSON.stringify(Object.fromEntries(models.map((m) => [m.id, branchTokens(turns, m, { earlier })]))));
"""


def page_meter(tmp_path: Path, turns: list[dict], earlier: dict | None) -> dict[str, int]:
    """static/js/tokens.js's branchTokens for each of MODELS, given the page's turns and summary."""
    models = [{"id": m, **registry().model_info(m).as_json()} for m in MODELS]
    data = tmp_path / "page.json"
    data.write_text(json.dumps({"turns": turns, "earlier": earlier, "models": models}, cls=DjangoJSONEncoder))
    script = tmp_path / "meter.mjs"
    script.write_text(RUN % json.dumps(TOKENS_JS))
    result = subprocess.run([_node(), str(script), str(data)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def llava(settings, providers):
    settings.MODEL_CATALOGUE = {
        "ollama:llava": {
            "vision": True, "encoding": "cl100k_base", "image_tokens": {"rule": "patches", "multiplier": 2},
        },
    }
    registry.cache_clear()
    yield
    registry.cache_clear()


def branch_with_files(alice) -> tuple[Conversation, list[Turn]]:
    """System turn; a prompt with a portrait image, a Markdown file and a PDF; a reply with usage
    reported by gpt-4o; a prompt with a landscape image, a tiny one and a CSV; a reply; a prompt
    with a huge image only (stored at most 2048 px), and its reply."""
    conversation = services.conversation_create(owner=alice, title="Files")

    def turn(parent, role, content, **extra):
        return Turn.objects.append(conversation=conversation, parent=parent, role=role, content=content,
                                   token_counts=count_all(content), **extra)

    system = turn(None, "system", "Be brief.")
    first = attached_turn(
        conversation, system, alice,
        upload(alice, "portrait.png", png((600, 1900))),
        upload(alice, "notes.md", b"# Notes\n\nThe plan, *in short*: ship it.\n"),
        upload(alice, "paper.pdf", pdf("Page one of the paper.", "Page two.")),
        content="What do these say?",
    )
    reply = turn(first, "assistant", "They say ship it.", provider="openai", model="gpt-4o",
                 output_tokens=9, cost=Decimal("0.001"))
    second = attached_turn(
        conversation, reply, alice,
        upload(alice, "wide.png", png((1900, 700))),
        upload(alice, "dot.png", png((3, 2))),
        upload(alice, "table.csv", b"a,b\n1,2\n3,4\n"),
        content="And these?",
    )
    reply2 = turn(second, "assistant", "A wide picture, a dot and a table.", provider="anthropic", model="claude")
    third = attached_turn(conversation, reply2, alice, upload(alice, "huge.png", png((4000, 3000))), content="")
    last = turn(third, "assistant", "A big one.", provider="openai", model="gpt-4o")
    conversation.current_turn = last
    conversation.save()
    return conversation, [system, first, reply, second, reply2, third, last]


@pytest.mark.django_db
def test_the_page_counts_a_branchs_files_as_the_server_does(alice, llava, tmp_path):
    conversation, turns = branch_with_files(alice)
    page = signed_in(alice).get(reverse("conversation", args=[conversation.id])).context["page"]
    assert page["earlier"] is None and len(page["turns"]) == len(turns)
    path = Turn.objects.path(conversation_id=conversation.id, turn_id=turns[-1].id)
    counted = page_meter(tmp_path, page["turns"], None)
    for model_id in MODELS:
        assert counted[model_id] == branch_meter(path, registry().model_info(model_id)).used, model_id
    # The files count at all: without them the page would say less, by each model's image rule.
    plain = [{k: v for k, v in t.items() if k not in ("attachments", "files_tokens")} for t in page["turns"]]
    bare = page_meter(tmp_path, plain, None)
    assert all(counted[m] > bare[m] for m in MODELS)
    images = {m: counted[m] - bare[m] - (counted["openai:fake-model"] - bare["openai:fake-model"]) for m in MODELS}
    assert images["openai:gpt-4o"] != images["openai:gpt-4.1-mini"] != images["anthropic:claude-sonnet-4-5"]
    assert images["openai:fake-model"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5])
def test_turns_above_the_window_count_their_files(alice, llava, tmp_path, limit):
    conversation, turns = branch_with_files(alice)
    loaded, earlier = branch_window(conversation_id=conversation.id, turn_id=turns[-1].id, limit=limit)
    assert len(loaded) == limit and earlier is not None
    payloads = json.loads(json.dumps([turn_payload(t) for t in loaded], cls=DjangoJSONEncoder))
    counted = page_meter(tmp_path, payloads, earlier.as_json())
    path = Turn.objects.path(conversation_id=conversation.id, turn_id=turns[-1].id)
    for model_id in MODELS:
        assert counted[model_id] == branch_meter(path, registry().model_info(model_id)).used, (model_id, limit)


@pytest.mark.django_db
def test_a_prompts_text_files_carry_their_tokens_in_each_encoding(alice, providers):
    conversation, turns = branch_with_files(alice)
    first, second, third = (turn_payload(turns[i]) for i in (1, 3, 5))
    texts = [d for d in turns[1].attachments if d["kind"] == "text"]
    for encoding in ("o200k_base", "cl100k_base"):
        wrapper = count(documents_wrapper([d["name"] for d in texts]), encoding)
        assert first["files_tokens"][encoding] == sum(d["token_counts"][encoding] for d in texts) + wrapper
    assert second["files_tokens"]["o200k_base"] > 0
    # A prompt sent while the page is open arrives with them too.
    assert created_frame(turns[1])["turn"]["files_tokens"] == first["files_tokens"]
    # Only turns with text files carry it: an image alone is counted in the page, a turn without
    # files costs nothing more to describe.
    assert "files_tokens" not in third and "files_tokens" not in turn_payload(turns[2])
