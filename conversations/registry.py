"""The providers configured for this deployment, built once from settings and handed everything
they need (the providers themselves know nothing of Django).

A model is named `<provider>:<model>` everywhere (page, websocket, database), for example
`openai:gpt-4.1-mini`, `anthropic:claude-sonnet-4-5`, `ollama:llama3.2` or
`local:smollm2-135m-instruct`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from conversations.catalogue import Catalogue, ModelInfo, load_entries
from conversations.fields import MODEL_RULE, model_name_problem
from conversations.providers.anthropic_messages import AnthropicProvider
from conversations.providers.base import Provider
from conversations.providers.local import MISSING, LocalModelStatus, LocalModelWatch
from conversations.providers.openai_chat import OpenAIChatProvider
from conversations.providers.openai_responses import OpenAIResponsesProvider
from conversations.refusals import REFUSED, refusal, refused

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


def _bad_model_name(models: list[str]) -> str | None:
    """What is wrong with the first of `models` that is not a model name by the rule imports are
    checked by (conversations.fields): what a reply stores must import again from its export."""
    for model in models:
        if not model or model_name_problem(model) is not None:
            return f"{model!r:.60} is not {MODEL_RULE}."
    return None


def _model_names(where: str, models: list[str]) -> list[str]:
    problem = _bad_model_name(models)
    if problem is not None:
        raise ImproperlyConfigured(f"{where}: {problem}")
    return models


# --- OPENAI_COMPATIBLE_ENDPOINTS, declared ------------------------------------------------------
# Each message goes after the place it is about, e.g. `OPENAI_COMPATIBLE_ENDPOINTS[0].base_url`.


def _not_reserved(name: str) -> str:
    if name in _RESERVED:
        raise ValueError("reserved")  # refused below with the name's one message
    return name


def _model_name_list(models: list[str]) -> list[str]:
    problem = _bad_model_name(models)
    if problem is not None:
        raise refusal(f": {problem}")
    return models


EndpointName = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$"),  # pydantic's "$" is the end of the text: no final "\n"
    AfterValidator(_not_reserved),
    refused(
        lambda name: f"={name!r} must be lower-case letters, digits, - or _, "
        f"and not one of {', '.join(sorted(_RESERVED))}."
    ),
]
BaseUrl = Annotated[str, Field(pattern=r"^https?://"), refused(" must be an http:// or https:// URL.")]
ModelNames = Annotated[
    list[str],
    Field(min_length=1),
    refused(" must be a non-empty list of model names.", whole=True),
    AfterValidator(_model_name_list),
]
Label = Annotated[str | None, refused(" must be a string (the name the page shows) or null.")]
ApiKey = Annotated[str | None, refused(" must be a string or null.")]


class Endpoint(BaseModel):
    """One OpenAI-compatible server; keys other than these are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    # A missing name, URL or model list reads as an empty one, which its own rule refuses.
    name: EndpointName = Field("", validate_default=True)
    base_url: BaseUrl = Field("", validate_default=True)
    models: ModelNames = Field(default_factory=list, validate_default=True)
    label: Label = None
    api_key: ApiKey = None


def _distinct_names(endpoints: list[Endpoint]) -> list[Endpoint]:
    seen: set[str] = set()
    for index, endpoint in enumerate(endpoints):
        if endpoint.name in seen:
            raise refusal(f"[{index}].name={endpoint.name!r} is used twice.")
        seen.add(endpoint.name)
    return endpoints


Endpoints = Annotated[
    list[Annotated[Endpoint, refused(" must be an object with name, base_url and models.")]],
    refused(" must be a JSON list of endpoints."),
    AfterValidator(_distinct_names),
]
_ENDPOINTS: TypeAdapter[Endpoints] = TypeAdapter(Endpoints)


def _configured_endpoints(value: Any) -> list[Endpoint]:
    """OPENAI_COMPATIBLE_ENDPOINTS, checked; ImproperlyConfigured naming the place of the first problem."""
    try:
        return _ENDPOINTS.validate_python(value)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        place = "OPENAI_COMPATIBLE_ENDPOINTS" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        )
        if error["type"] == REFUSED:
            raise ImproperlyConfigured(place + error["msg"]) from None
        raise ImproperlyConfigured(f"{place}: {error['msg']}.") from None  # a field without its own message


def _endpoint_providers(timeouts: tuple[float, float]) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    for index, endpoint in enumerate(_configured_endpoints(settings.OPENAI_COMPATIBLE_ENDPOINTS)):
        providers[endpoint.name] = OpenAIChatProvider(
            name=endpoint.name,
            label=endpoint.label or endpoint.name,
            api_key=endpoint.api_key or "",
            base_url=endpoint.base_url,
            models=list(endpoint.models),
            key_setting=f"OPENAI_COMPATIBLE_ENDPOINTS[{index}].api_key",
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
        common: dict[str, Any] = dict(
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
