"""The model catalogue: each model's context window, maximum output and prices.

Entries are keyed by `<provider>:<model>` or by a bare model name (which then applies under every
provider, e.g. gpt-4.1 under both `openai` and `openai-responses`). The shipped file is overridden
entry by entry by WORKBENCH_MODEL_CATALOGUE_FILE and then by WORKBENCH_MODEL_CATALOGUE.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from conversations.tokens import ENCODINGS, EncodingChoice, encoding_for_model

MILLION = Decimal(1_000_000)
# The reply budget when a request names no maximum: at most this many tokens, a quarter of the
# window, or the model's maximum output, whichever is least.
DEFAULT_REPLY_BUDGET = 4096
# Providers whose models tokenise exactly as tiktoken counts.
EXACT_COUNT_PROVIDERS = {"openai", "openai-responses"}
_FIELDS = {"provider", "context_window", "max_output", "input_per_million", "output_per_million", "encoding"}


@dataclass(frozen=True)
class ModelInfo:
    id: str  # "<provider>:<model>"
    vendor: str
    context_window: int
    max_output: int
    input_per_million: Decimal | None
    output_per_million: Decimal | None
    encoding: EncodingChoice
    # False when the catalogue has no entry and the window is the assumed default.
    listed: bool

    def reply_budget(self, max_tokens: int | None) -> int:
        if max_tokens:
            return max_tokens
        return min(self.max_output, DEFAULT_REPLY_BUDGET, self.context_window // 4)

    def history_budget(self, max_tokens: int | None) -> int:
        """Tokens the request's input may use: the window less the reply's budget."""
        return self.context_window - self.reply_budget(max_tokens)

    @property
    def priced(self) -> bool:
        return self.input_per_million is not None and self.output_per_million is not None

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> Decimal | None:
        if self.input_per_million is None or self.output_per_million is None:
            return None
        return (
            Decimal(input_tokens or 0) * self.input_per_million
            + Decimal(output_tokens or 0) * self.output_per_million
        ) / MILLION

    def as_json(self) -> dict:
        return {
            "vendor": self.vendor,
            "context_window": self.context_window,
            "max_output": self.max_output,
            "input_per_million": _number(self.input_per_million),
            "output_per_million": _number(self.output_per_million),
            "encoding": self.encoding.name,
            "estimate": self.encoding.estimate,
            "listed": self.listed,
            "reply_budget": self.reply_budget(None),
        }


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _read_file(path: Path, where: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImproperlyConfigured(f"{where}: cannot read {path}: {exc.strerror}.") from None
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{where}: {path} is not JSON: {exc}.") from None
    return data


def _validate(key: str, entry: object, where: str) -> dict:
    place = f"{where}[{key!r}]"
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f"{place} must be an object.")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ImproperlyConfigured(
            f"{place} has unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_FIELDS))}."
        )
    for name in ("context_window", "max_output"):
        value = entry.get(name)
        if value is not None and (type(value) is not int or value < 1):
            raise ImproperlyConfigured(f"{place}.{name} must be a whole number of tokens above 0.")
    for name in ("input_per_million", "output_per_million"):
        value = entry.get(name)
        if value is not None and (type(value) not in (int, float) or value < 0):
            raise ImproperlyConfigured(f"{place}.{name} must be a price in US dollars, 0 or more.")
    encoding = entry.get("encoding")
    if encoding is not None and encoding not in ENCODINGS:
        raise ImproperlyConfigured(f"{place}.encoding must be one of {', '.join(ENCODINGS)}.")
    return entry


def _merge(into: dict, source: object, where: str) -> None:
    if not isinstance(source, dict):
        raise ImproperlyConfigured(f"{where} must be a JSON object of model entries.")
    for key, entry in source.items():
        if key.startswith("_"):
            continue
        into[key] = {**into.get(key, {}), **_validate(key, entry, where)}


def load_entries() -> dict[str, dict]:
    entries: dict[str, dict] = {}
    _merge(entries, _read_file(Path(settings.MODEL_CATALOGUE_DEFAULTS), "model catalogue"), "model catalogue")
    if settings.MODEL_CATALOGUE_FILE:
        where = "WORKBENCH_MODEL_CATALOGUE_FILE"
        _merge(entries, _read_file(Path(settings.MODEL_CATALOGUE_FILE), where), where)
    _merge(entries, settings.MODEL_CATALOGUE, "WORKBENCH_MODEL_CATALOGUE")
    return entries


@dataclass(frozen=True)
class Catalogue:
    entries: dict[str, dict]

    def info(self, model_id: str) -> ModelInfo:
        provider, _, model = model_id.partition(":")
        entry = self.entries.get(model_id) or self.entries.get(model)
        listed = entry is not None and "context_window" in entry
        entry = entry or {}
        window = entry.get("context_window") or settings.DEFAULT_CONTEXT_WINDOW
        prices = [entry.get("input_per_million"), entry.get("output_per_million")]
        return ModelInfo(
            id=model_id,
            vendor=entry.get("provider", provider),
            context_window=window,
            max_output=entry.get("max_output") or window,
            input_per_million=None if prices[0] is None else Decimal(str(prices[0])),
            output_per_million=None if prices[1] is None else Decimal(str(prices[1])),
            encoding=self._encoding(provider, model, entry.get("encoding", "")),
            listed=listed,
        )

    @staticmethod
    def _encoding(provider: str, model: str, override: str) -> EncodingChoice:
        choice = encoding_for_model(model, override=override)
        if provider not in EXACT_COUNT_PROVIDERS and not choice.estimate:
            # Another server's chat template counts differently even for a name tiktoken knows.
            return EncodingChoice(choice.name, estimate=True)
        return choice
