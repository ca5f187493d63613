"""Offline token counting, the model catalogue and cost arithmetic."""
from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest
import tiktoken.load
from django.core.exceptions import ImproperlyConfigured

from conversations import tokens
from conversations.catalogue import Catalogue, load_entries
from conversations.registry import registry

# Published reference encodings (OpenAI's cookbook "How to count tokens with tiktoken").
KNOWN = [
    ("hello world", [24912, 2375], [15339, 1917]),
    ("tiktoken is great!", [83, 8251, 2488, 382, 2212, 0], [83, 1609, 5963, 374, 2294, 0]),
    ("antidisestablishmentarianism", [493, 129901, 376, 160388, 21203, 2367], [519, 85342, 34500, 479, 8997, 2191]),
    ("2 + 2 = 4", [17, 659, 220, 17, 314, 220, 19], [17, 489, 220, 17, 284, 220, 19]),
    ("お誕生日おめでとう", [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669],
     [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699]),
]


@pytest.fixture
def fresh_encodings(settings):
    """Encodings are built once per process; these tests build them again from other files."""
    tokens.encoding.cache_clear()
    yield settings
    tokens.encoding.cache_clear()


@pytest.fixture
def no_download(monkeypatch):
    """Any attempt by tiktoken to read a URL fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"tiktoken tried to fetch {args[0]!r}")

    monkeypatch.setattr(tiktoken.load, "read_file", refuse)


@pytest.mark.parametrize("text, o200k, cl100k", KNOWN)
def test_offline_encodings_give_the_published_tokens(text, o200k, cl100k, fresh_encodings, no_download):
    assert tokens.encoding("o200k_base").encode(text) == o200k
    assert tokens.encoding("cl100k_base").encode(text) == cl100k
    assert tokens.count_all(text) == {"o200k_base": len(o200k), "cl100k_base": len(cl100k)}


def test_the_encodings_are_built_as_tiktoken_builds_them(monkeypatch):
    """Pattern, special tokens and file hash are tiktoken's own: its constructors, run with a
    stand-in for the file reader that records the hash asked for, give the same."""
    from tiktoken_ext import openai_public

    asked = {}

    def fake_load(url, expected_hash=None):
        asked["hash"] = expected_hash
        return {b"stand-in": 0}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", fake_load)
    for name in tokens.ENCODINGS:
        theirs = openai_public.ENCODING_CONSTRUCTORS[name]()
        ours = tokens.SPECS[name]
        expected = (theirs["pat_str"], theirs["special_tokens"], asked["hash"])
        assert (ours.pat_str, ours.special_tokens, ours.sha256) == expected


def test_tiktokens_own_reader_is_never_used(fresh_encodings, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"tiktoken's reader was asked for {args[0]!r}")

    monkeypatch.setattr(tiktoken.load, "read_file_cached", refuse)
    assert tokens.encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_special_token_text_is_counted_as_text():
    assert tokens.count("<|endoftext|>", "o200k_base") > 1


def _copy_files(tmp_path, *, tamper: str = "", plain: bool = False):
    for name in tokens.ENCODINGS:
        data = gzip.decompress((tokens.data_dir() / f"{name}.tiktoken.gz").read_bytes())
        if name == tamper:
            data = data.replace(b" 100\n", b" 101\n", 1)
        if plain:
            (tmp_path / f"{name}.tiktoken").write_bytes(data)
        else:
            (tmp_path / f"{name}.tiktoken.gz").write_bytes(gzip.compress(data))


def test_a_tampered_file_is_rejected_by_its_hash(tmp_path, fresh_encodings, no_download):
    _copy_files(tmp_path, tamper="o200k_base")
    fresh_encodings.TOKENIZER_DIR = str(tmp_path)
    with pytest.raises(
        tokens.TokenizerFilesError, match=r"o200k_base\.tiktoken\.gz has SHA-256 .* but tiktoken expects 446a9538"
    ):
        tokens.encoding("o200k_base")
    # The untouched file beside it still loads.
    assert tokens.encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_plain_files_in_a_configured_folder_are_used(tmp_path, fresh_encodings, no_download):
    _copy_files(tmp_path, plain=True)
    fresh_encodings.TOKENIZER_DIR = str(tmp_path)
    assert tokens.encoding("o200k_base").encode("hello world") == [24912, 2375]


def test_a_missing_file_is_named_and_never_downloaded(tmp_path, fresh_encodings, no_download):
    fresh_encodings.TOKENIZER_DIR = str(tmp_path)
    with pytest.raises(tokens.TokenizerFilesError, match="cl100k_base.tiktoken is not in .* never downloaded"):
        tokens.encoding("cl100k_base")


def test_an_encoding_that_is_not_shipped_is_refused():
    with pytest.raises(ValueError, match="'p50k_base' is not available offline"):
        tokens.encoding("p50k_base")


@pytest.mark.parametrize(
    "model_id, encoding, estimate",
    [
        ("openai:gpt-4.1-mini", "o200k_base", False),
        ("openai-responses:gpt-5-mini", "o200k_base", False),
        ("openai:gpt-4", "cl100k_base", False),
        ("openai:gpt-3.5-turbo", "cl100k_base", False),
        ("openai:gpt-oss-120b", "o200k_base", False),  # o200k_harmony: the same file
        ("openai:text-davinci-003", "o200k_base", True),  # p50k: not shipped, so an estimate
        ("anthropic:claude-sonnet-4-5", "o200k_base", True),
        ("ollama:gpt-4o", "o200k_base", True),  # another server's template: an estimate
        ("ollama:llama3.2", "o200k_base", True),
        ("local:smollm2-135m-instruct", "o200k_base", True),
    ],
)
def test_the_encoding_comes_from_tiktoken_model_map(model_id, encoding, estimate):
    info = registry().model_info(model_id)
    assert (info.encoding.name, info.encoding.estimate) == (encoding, estimate)


def test_the_catalogue_names_window_output_and_prices():
    info = registry().model_info("openai:gpt-4.1-mini")
    assert (info.vendor, info.context_window, info.max_output) == ("openai", 1047576, 32768)
    assert (info.input_per_million, info.output_per_million) == (Decimal("0.4"), Decimal("1.6"))
    assert registry().model_info("openai-responses:gpt-4.1-mini").context_window == 1047576
    local = registry().model_info("local:smollm2-135m-instruct")
    assert (local.context_window, local.cost(1000, 1000)) == (4096, Decimal(0))


def test_an_unlisted_model_gets_the_default_window_and_no_price(settings):
    settings.DEFAULT_CONTEXT_WINDOW = 16384
    info = registry().model_info("ollama:mystery")
    assert (info.listed, info.context_window, info.priced, info.cost(10, 10)) == (False, 16384, False, None)


def test_environment_and_file_override_the_shipped_catalogue(settings, tmp_path):
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({
        "gpt-4.1-mini": {"input_per_million": 0.5},
        "ollama:llama3.2": {"provider": "meta", "context_window": 131072, "max_output": 2048,
                            "input_per_million": 0, "output_per_million": 0},
    }))
    settings.MODEL_CATALOGUE_FILE = str(path)
    settings.MODEL_CATALOGUE = {"gpt-4.1-mini": {"output_per_million": 2}}
    catalogue = Catalogue(load_entries())
    mini = catalogue.info("openai:gpt-4.1-mini")
    # Entry by entry, field by field: the window stays from the shipped file.
    window_and_prices = (mini.context_window, mini.input_per_million, mini.output_per_million)
    assert window_and_prices == (1047576, Decimal("0.5"), Decimal("2"))
    llama = catalogue.info("ollama:llama3.2")
    assert (llama.vendor, llama.context_window, llama.listed) == ("meta", 131072, True)
    assert catalogue.info("other:llama3.2").listed is False  # a provider-qualified key applies to that provider only


@pytest.mark.parametrize(
    "override, message",
    [
        ([], "WORKBENCH_MODEL_CATALOGUE must be a JSON object of model entries"),
        ({"m": 5}, r"WORKBENCH_MODEL_CATALOGUE\['m'\] must be an object"),
        ({"m": {"window": 5}}, r"\['m'\] has unknown field\(s\) window"),
        ({"m": {"context_window": 0}}, r"\['m'\].context_window must be a whole number of tokens above 0"),
        ({"m": {"context_window": "big"}}, r"context_window must be a whole number"),
        ({"m": {"max_output": 1.5}}, r"max_output must be a whole number"),
        ({"m": {"input_per_million": -1}}, r"input_per_million must be a price in US dollars, 0 or more"),
        ({"m": {"output_per_million": "3"}}, r"output_per_million must be a price"),
        ({"m": {"encoding": "p50k_base"}}, r"encoding must be one of o200k_base, cl100k_base"),
        ("m", "WORKBENCH_MODEL_CATALOGUE must be a JSON object of model entries"),
        ({"m": None}, r"WORKBENCH_MODEL_CATALOGUE\['m'\] must be an object"),
        ({"m": {"b": 1, "a": 2, "max_output": 0}},
         (r"\['m'\] has unknown field\(s\) a, b; known: context_window, "
          r"encoding, image_tokens, input_per_million, max_output, output_per_million, provider, reasoning, "
          r"vision\.$")),
        ({"m": {"max_output": 0}}, r"\['m'\].max_output must be a whole number of tokens above 0"),
        ({"m": {"context_window": True}}, r"context_window must be a whole number"),
        ({"m": {"input_per_million": float("nan")}}, r"input_per_million must be a price"),
        ({"m": {"output_per_million": float("inf")}}, r"output_per_million must be a price"),
        ({"m": {"encoding": 5}}, r"\['m'\].encoding must be one of o200k_base, cl100k_base"),
        ({"m": {"provider": 5}}, r"\['m'\].provider must be the name of the model's vendor, a string like \"openai\""),
    ],
)
def test_a_bad_catalogue_entry_is_named(settings, override, message):
    settings.MODEL_CATALOGUE = override
    with pytest.raises(ImproperlyConfigured, match=message):
        load_entries()


def test_a_catalogue_file_skips_comments_and_names_itself_in_errors(settings, tmp_path):
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"_comment": ["anything"], "_note": 5, "m": {"context_window": 1000}}))
    settings.MODEL_CATALOGUE_FILE = str(path)
    assert "_comment" not in load_entries() and load_entries()["m"] == {"context_window": 1000}
    path.write_text(json.dumps({"_comment": "x", "m": {"context_window": -1}}))
    with pytest.raises(ImproperlyConfigured) as refused:
        load_entries()
    assert str(refused.value) == (
        "WORKBENCH_MODEL_CATALOGUE_FILE['m'].context_window must be a whole number of tokens above 0."
    )


def test_a_bad_catalogue_file_is_named(settings, tmp_path):
    settings.MODEL_CATALOGUE_FILE = str(tmp_path / "missing.json")
    with pytest.raises(ImproperlyConfigured, match="WORKBENCH_MODEL_CATALOGUE_FILE: cannot read .*missing.json"):
        load_entries()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    settings.MODEL_CATALOGUE_FILE = str(broken)
    with pytest.raises(ImproperlyConfigured, match="broken.json is not JSON"):
        load_entries()


@pytest.mark.parametrize(
    "prices, usage, expected",
    [
        ((2.0, 8.0), (1_000_000, 500_000), Decimal("6")),
        ((0.4, 1.6), (1234, 567), Decimal("0.0014008")),
        ((3, 15), (0, 0), Decimal("0")),
        ((0.05, 0.4), (1, 1), Decimal("0.00000045")),
        ((1.25, 10), (None, 250), Decimal("0.0025")),
    ],
)
def test_cost_is_exact_decimal_arithmetic(settings, prices, usage, expected):
    settings.MODEL_CATALOGUE = {"priced": {"input_per_million": prices[0], "output_per_million": prices[1]}}
    info = Catalogue(load_entries()).info("openai:priced")
    assert info.cost(*usage) == expected


def test_reply_budget_is_the_request_maximum_or_a_bounded_default():
    info = registry().model_info("openai:gpt-4o")
    assert info.reply_budget(None) == 4096
    assert info.reply_budget(1000) == 1000
    assert info.history_budget(1000) == 127000
    local = registry().model_info("local:smollm2-135m-instruct")
    assert local.reply_budget(None) == 1024  # a quarter of its 4,096-token window


# --- a request's count, as OpenAI bills it --------------------------------------------------------

# OpenAI cookbook, "How to count tokens with tiktoken" (openai/openai-cookbook,
# examples/How_to_count_tokens_with_tiktoken.ipynb, section 6): `example_messages`, whose count by
# `num_tokens_from_messages` the notebook checks against the API's usage.prompt_tokens, printed
# side by side: 129 for gpt-3.5-turbo, gpt-4-0613 and gpt-4 (cl100k_base), 124 for gpt-4o and
# gpt-4o-mini (o200k_base).
COOKBOOK_MESSAGES = [
    {"role": "system", "content": (
        "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."
    )},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": (
        "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."
    )},
    {"role": "system", "name": "example_assistant", "content": (
        "Let's talk later when we're less busy about how to do better."
    )},
    {"role": "user", "content": (
        "This late pivot means we don't have time to boil the ocean for the client deliverable."
    )},
]

# Requests recorded against the API with the usage.prompt_tokens OpenAI billed for them:
RECORDED = [
    # A four-message request to gpt-4o (served as gpt-4o-2024-08-06, response chatcmpl-AXV9xA6T547thMCJM1cKOYS2fH1Vx),
    # billed 40: M-Lai-ai/LLM-Provider-reference, OpenAI/no-streaming.md. Each content there is one
    # text part, which the API bills as the same text given as a string.
    pytest.param("gpt-4o", [
        {"role": "system", "content": "You are an assistant for the company Coca Cola "},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hello how can I help you"},
        {"role": "user", "content": "what is Coca Cola"},
    ], 40, id="gpt-4o-four-messages"),
    # pydantic/pydantic-ai, tests/models/cassettes/test_openai/
    # test_message_history_can_start_with_model_response.yaml: gpt-4.1-mini
    # (gpt-4.1-mini-2025-04-14, chatcmpl-Cee9HJclmrDapXpXuyDHw5BWDGJfK), billed 31.
    pytest.param("gpt-4.1-mini", [
        {"role": "assistant", "content": "Where do you want to go today?"},
        {"role": "user", "content": "Answer in 5 words only. Who is Tux?"},
    ], 31, id="gpt-4.1-mini-history-opens-with-a-reply"),
]


@pytest.mark.parametrize(
    "model, billed", [("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)]
)
def test_the_cookbook_example_counts_what_openai_billed(model, billed):
    choice = tokens.encoding_for_model(model)
    assert not choice.estimate
    assert tokens.count_messages(COOKBOOK_MESSAGES, choice.name) == billed


@pytest.mark.parametrize("model, messages, billed", RECORDED)
def test_recorded_requests_count_what_openai_billed(model, messages, billed):
    assert tokens.count_messages(messages, tokens.encoding_for_model(model).name) == billed


def test_a_message_costs_its_role_and_three_more():
    """Roles are counted, not assumed: the page's meter (static/js/tokens.js) adds 3 + 1 a message,
    which holds because every role a turn has is one token in every shipped encoding."""
    from conversations.models import Turn

    for name in tokens.ENCODINGS:
        for role in Turn.Role.values:
            assert tokens.message_overhead(role, name) == tokens.TOKENS_PER_MESSAGE + 1 == 4, (role, name)
    assert tokens.count_messages([], "o200k_base") == tokens.TOKENS_PER_REPLY
    one = [{"role": "user", "content": "hello world"}]
    assert tokens.count_messages(one, "o200k_base") == 3 + 1 + 2 + 3
    named = [{"role": "user", "name": "alice", "content": "hello world"}]
    assert tokens.count_messages(named, "o200k_base") == 3 + 1 + 2 + tokens.count("alice", "o200k_base") + 1 + 3
