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
            [{"name": "a", "base_url": "http://x", "models": ["m"]}, {"name": "a", "base_url": "http://y", "models": ["m"]}],
            "is used twice",
        ),
    ],
)
def test_bad_endpoints_are_refused(settings, endpoints, message):
    settings.OPENAI_COMPATIBLE_ENDPOINTS = endpoints
    with pytest.raises(ImproperlyConfigured, match=message):
        build_registry()


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
