"""The providers configured for this deployment, built once from settings and handed everything
they need (the providers themselves know nothing of Django).

A model is named `<provider>:<model>` everywhere (page, websocket, database), for example
`openai:gpt-4.1-mini`, `anthropic:claude-sonnet-4-5`, `ollama:llama3.2` or
`local:smollm2-135m-instruct`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from conversations.catalogue import Catalogue, ModelInfo, load_entries
from conversations.fields import MODEL_RULE, model_name_problem
from conversations.providers.anthropic_messages import AnthropicProvider
from conversations.providers.base import Provider
from conversations.providers.local import MISSING, LocalModelStatus, LocalModelWatch
from conversations.providers.openai_chat import OpenAIChatProvider
from conversations.providers.openai_responses import OpenAIResponsesProvider

_ENDPOINT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_RESERVED = {"openai", "openai-responses", "anthropic", "local"}


@dataclass(frozen=True)
class ModelChoice:
    id: str  # "<provider>:<model>"
    provider: str
    model: str
    label: str


LOCAL_MODEL_OFF = LocalModelStatus(
    MISSING, "The bundled local model is turned off (WORKBENCH_LOCAL_MODEL=false)."
)


@dataclass(frozen=True)
class Registry:
    configured: dict[str, Provider]  # every provider but the local model
    local: LocalModelWatch | None  # None when the local model is turned off
    catalogue: Catalogue

    @property
    def local_model(self) -> LocalModelStatus:
        """Whether the local model runs here, or why not (it may still be installing)."""
        return self.local.status() if self.local is not None else LOCAL_MODEL_OFF

    @property
    def local_model_problem(self) -> str:
        return self.local_model.problem

    @property
    def providers(self) -> dict[str, Provider]:
        local = self.local_model.provider
        return {"local": local, **self.configured} if local is not None else self.configured

    def model_info(self, model_id: str) -> ModelInfo:
        return self.catalogue.info(model_id)

    def resolve(self, model_id: str) -> tuple[Provider, str]:
        """The provider and bare model name for `<provider>:<model>`; LookupError if unknown."""
        provider_name, _, model = model_id.partition(":")
        provider = self.providers.get(provider_name)
        if provider is None or not model:
            raise LookupError(f"Unknown model {model_id!r}.")
        if model not in provider.models():
            raise LookupError(f"{provider.label} has no model {model!r} configured.")
        return provider, model

    def choices(self) -> list[ModelChoice]:
        return [
            ModelChoice(f"{name}:{model}", name, model, f"{provider.label} · {model}")
            for name, provider in self.providers.items()
            for model in provider.models()
        ]

    def default_model(self) -> str:
        choices = [choice.id for choice in self.choices()]
        if settings.DEFAULT_MODEL:
            if settings.DEFAULT_MODEL not in choices:
                raise ImproperlyConfigured(
                    f"WORKBENCH_DEFAULT_MODEL={settings.DEFAULT_MODEL} is not a configured model; "
                    f"choose one of: {', '.join(choices) or 'none configured'}."
                )
            return settings.DEFAULT_MODEL
        return choices[0] if choices else ""


def _model_names(where: str, models: list[str]) -> list[str]:
    """`models` if each is a model name by the rule imports are checked by (conversations.fields):
    what a reply stores must import again from its export."""
    for model in models:
        if not model or model_name_problem(model) is not None:
            raise ImproperlyConfigured(f"{where}: {model!r:.60} is not {MODEL_RULE}.")
    return models


def _endpoint_providers(timeouts: tuple[float, float]) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    for index, endpoint in enumerate(settings.OPENAI_COMPATIBLE_ENDPOINTS):
        where = f"OPENAI_COMPATIBLE_ENDPOINTS[{index}]"
        if not isinstance(endpoint, dict):
            raise ImproperlyConfigured(f"{where} must be an object with name, base_url and models.")
        name = endpoint.get("name", "")
        base_url = endpoint.get("base_url", "")
        models = endpoint.get("models", [])
        if not isinstance(name, str) or not _ENDPOINT_NAME.match(name) or name in _RESERVED:
            raise ImproperlyConfigured(
                f"{where}.name={name!r} must be lower-case letters, digits, - or _, "
                f"and not one of {', '.join(sorted(_RESERVED))}."
            )
        if name in providers:
            raise ImproperlyConfigured(f"{where}.name={name!r} is used twice.")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"{where}.base_url must be an http:// or https:// URL.")
        if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
            raise ImproperlyConfigured(f"{where}.models must be a non-empty list of model names.")
        _model_names(f"{where}.models", models)
        providers[name] = OpenAIChatProvider(
            name=name,
            label=endpoint.get("label") or name,
            api_key=endpoint.get("api_key") or "",
            base_url=base_url,
            models=models,
            key_setting=f"{where}.api_key",
            timeouts=timeouts,
            max_retries=settings.PROVIDER_MAX_RETRIES,
            read_interval=settings.STREAM_READ_INTERVAL_SECONDS,
            # Ollama, vLLM and llama.cpp know max_tokens, not max_completion_tokens.
            max_tokens_param="max_tokens",
        )
    return providers


def build_registry() -> Registry:
    timeouts = (settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_STALL_TIMEOUT)
    retries = settings.PROVIDER_MAX_RETRIES
    providers: dict[str, Provider] = {}
    local = None
    if settings.LOCAL_MODEL_ENABLED:
        local = LocalModelWatch(
            configured_path=settings.LOCAL_MODEL_PATH,
            threads=settings.LOCAL_MODEL_THREADS,
            install_folder=settings.LOCAL_MODEL_INSTALL_DIR,
            recheck_seconds=settings.LOCAL_MODEL_RECHECK_SECONDS,
        )
    if settings.OPENAI_API_KEY:
        common = dict(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            key_setting="OPENAI_API_KEY",
            timeouts=timeouts,
            max_retries=retries,
            read_interval=settings.STREAM_READ_INTERVAL_SECONDS,
        )
        providers["openai"] = OpenAIChatProvider(
            name="openai", label="OpenAI", models=_model_names("OPENAI_MODELS", settings.OPENAI_MODELS), **common
        )
        providers["openai-responses"] = OpenAIResponsesProvider(
            name="openai-responses",
            label="OpenAI Responses",
            models=_model_names("OPENAI_RESPONSES_MODELS", settings.OPENAI_RESPONSES_MODELS),
            **common,
        )
    if settings.ANTHROPIC_API_KEY:
        providers["anthropic"] = AnthropicProvider(
            name="anthropic",
            label="Anthropic",
            api_key=settings.ANTHROPIC_API_KEY,
            base_url=settings.ANTHROPIC_BASE_URL,
            models=_model_names("ANTHROPIC_MODELS", settings.ANTHROPIC_MODELS),
            key_setting="ANTHROPIC_API_KEY",
            timeouts=timeouts,
            max_retries=retries,
            read_interval=settings.STREAM_READ_INTERVAL_SECONDS,
        )
    providers.update(_endpoint_providers(timeouts))
    return Registry(configured=providers, local=local, catalogue=Catalogue(load_entries()))


@cache
def registry() -> Registry:
    return build_registry()


@receiver(setting_changed)
def _settings_changed(**kwargs) -> None:
    """Settings are read once, into the providers; a changed one (tests) means building again."""
    registry.cache_clear()
