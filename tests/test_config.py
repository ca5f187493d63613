"""Configuration from the environment fails loudly and clearly on a bad value."""
from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from conversations.registry import build_registry
from workbench.env import env_bool, env_float, env_int, env_json, env_list


def test_typed_readers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_FLOAT", "0.5")
    monkeypatch.setenv("X_LIST", "a, b,,c ")
    monkeypatch.setenv("X_JSON", '[{"a": 1}]')
    assert env_bool("X_BOOL") is True and env_bool("X_MISSING", True) is True
    assert env_int("X_INT", 0) == 12 and env_float("X_FLOAT", 0.0) == 0.5
    assert env_list("X_LIST") == ["a", "b", "c"] and env_json("X_JSON", None) == [{"a": 1}]


@pytest.mark.parametrize(
    "reader,value,message",
    [
        (lambda: env_bool("X"), "maybe", "X='maybe' is not a boolean"),
        (lambda: env_int("X", 1), "ten", "X='ten' is not a whole number"),
        (lambda: env_int("X", 1, minimum=1), "0", "X=0 is below its minimum of 1"),
        (lambda: env_float("X", 1.0), "fast", "X='fast' is not a number"),
        (lambda: env_json("X", None), "{nope", "X is not valid JSON"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, reader, value, message):
    monkeypatch.setenv("X", value)
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(")):
        reader()


@pytest.mark.parametrize(
    "endpoints,message",
    [
        (["http://x"], "must be an object"),
        ([{"name": "Bad Name", "base_url": "http://x", "models": ["m"]}], "must be lower-case"),
        ([{"name": "openai", "base_url": "http://x", "models": ["m"]}], "not one of"),
        ([{"name": "a", "base_url": "ftp://x", "models": ["m"]}], "base_url must be an http"),
        ([{"name": "a", "base_url": "http://x", "models": []}], "models must be a non-empty list"),
        (
            [
                {"name": "a", "base_url": "http://x", "models": ["m"]},
                {"name": "a", "base_url": "http://y", "models": ["m"]},
            ],
            "is used twice",
        ),
    ],
)
def test_bad_endpoints_are_refused(settings, endpoints, message):
    settings.OPENAI_COMPATIBLE_ENDPOINTS = endpoints
    with pytest.raises(ImproperlyConfigured, match=message):
        build_registry()


GOOD = {"name": "ollama", "base_url": "http://127.0.0.1:11434/v1", "models": ["llama3.2"]}
NAME_RULE = "must be lower-case letters, digits, - or _, and not one of anthropic, local, openai, openai-responses."
MODELS_RULE = "OPENAI_COMPATIBLE_ENDPOINTS[0].models must be a non-empty list of model names."
URL_RULE = "OPENAI_COMPATIBLE_ENDPOINTS[0].base_url must be an http:// or https:// URL."


@pytest.mark.parametrize(
    "endpoints,message",
    [
        ("ollama", "OPENAI_COMPATIBLE_ENDPOINTS must be a JSON list of endpoints."),
        ([None], "OPENAI_COMPATIBLE_ENDPOINTS[0] must be an object with name, base_url and models."),
        ([{"base_url": "http://x", "models": ["m"]}], f"OPENAI_COMPATIBLE_ENDPOINTS[0].name='' {NAME_RULE}"),
        ([{**GOOD, "name": 5}], f"OPENAI_COMPATIBLE_ENDPOINTS[0].name=5 {NAME_RULE}"),
        ([{**GOOD, "name": "ollama\n"}], f"OPENAI_COMPATIBLE_ENDPOINTS[0].name='ollama\\n' {NAME_RULE}"),
        ([{**GOOD, "name": "o" * 42}], f"OPENAI_COMPATIBLE_ENDPOINTS[0].name='{'o' * 42}' {NAME_RULE}"),
        ([{**GOOD, "name": "local"}], f"OPENAI_COMPATIBLE_ENDPOINTS[0].name='local' {NAME_RULE}"),
        ([{"name": "a", "models": ["m"]}], URL_RULE),
        ([{**GOOD, "base_url": ["http://x"]}], URL_RULE),
        ([{**GOOD, "base_url": " http://x"}], URL_RULE),
        ([{"name": "a", "base_url": "http://x"}], MODELS_RULE),
        ([{**GOOD, "models": "llama3.2"}], MODELS_RULE),
        ([{**GOOD, "models": ["llama3.2", 3]}], MODELS_RULE),
        ([{**GOOD, "models": ["llama3.2", ""]}], "OPENAI_COMPATIBLE_ENDPOINTS[0].models: '' is not a model name: "),
        ([{**GOOD, "label": 5}],
         "OPENAI_COMPATIBLE_ENDPOINTS[0].label must be a string (the name the page shows) or null."),
        ([{**GOOD, "api_key": 5}], "OPENAI_COMPATIBLE_ENDPOINTS[0].api_key must be a string or null."),
        ([GOOD, {**GOOD, "name": "b", "base_url": "ftp://x"}], URL_RULE.replace("[0]", "[1]")),
        ([GOOD, {**GOOD, "base_url": "https://other/v1"}],
         "OPENAI_COMPATIBLE_ENDPOINTS[1].name='ollama' is used twice."),
    ],
)
def test_each_bad_endpoint_field_is_named_with_what_it_must_be(settings, endpoints, message):
    settings.OPENAI_COMPATIBLE_ENDPOINTS = endpoints
    with pytest.raises(ImproperlyConfigured) as refused:
        build_registry()
    assert str(refused.value).startswith(message)


def test_an_endpoint_reads_its_fields_and_ignores_others(settings):
    settings.OPENAI_COMPATIBLE_ENDPOINTS = [
        {**GOOD, "comment": "the laptop's Ollama", "api_key": None, "label": None},
        {"name": "vllm", "base_url": "https://gpu.internal/v1", "models": ["org/model", "m2"], "label": "GPU box",
         "api_key": "k"},
    ]
    providers = build_registry().providers
    assert (providers["ollama"].label, providers["ollama"].models()) == ("ollama", ["llama3.2"])
    assert (providers["vllm"].label, providers["vllm"].models()) == ("GPU box", ["org/model", "m2"])


def test_default_model_must_be_configured(settings, providers):
    settings.DEFAULT_MODEL = "openai:gpt-99"
    with pytest.raises(ImproperlyConfigured, match="WORKBENCH_DEFAULT_MODEL=openai:gpt-99 is not a configured model"):
        build_registry().default_model()
    settings.DEFAULT_MODEL = "anthropic:fake-model"
    assert build_registry().default_model() == "anthropic:fake-model"


def test_a_bad_setting_stops_the_start_with_its_name(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={"PATH": "/usr/bin:/bin", "WORKBENCH_DATA_DIR": str(tmp_path), "WORKBENCH_STALL_TIMEOUT": "soon"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "WORKBENCH_STALL_TIMEOUT='soon' is not a number" in result.stderr


def test_only_the_tests_hash_passwords_the_fast_way(settings):
    """tests/settings.py swaps in MD5 for speed; the workbench itself keeps Django's PBKDF2."""
    from django.conf import global_settings

    import workbench.settings as production

    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert getattr(production, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS)[0] == (
        "django.contrib.auth.hashers.PBKDF2PasswordHasher"
    )
