"""The model catalogue: each model's context window, maximum output and prices, whether it sees
images and how it counts them.

Entries are keyed by `<provider>:<model>` or by a bare model name (which then applies under every
provider, e.g. gpt-4.1 under both `openai` and `openai-responses`). The shipped file is overridden
entry by entry by WORKBENCH_MODEL_CATALOGUE_FILE and then by WORKBENCH_MODEL_CATALOGUE.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from conversations.attachments.image_tokens import ImageRule, default_rule
from conversations.refusals import REFUSED, refusal, refused
from conversations.tokens import ENCODINGS, EncodingChoice, encoding_for_model

MILLION = Decimal(1_000_000)
# The reply budget when a request names no maximum: at most this many tokens, a quarter of the
# window, or the model's maximum output, whichever is least.
DEFAULT_REPLY_BUDGET = 4096
# Providers whose models tokenise exactly as tiktoken counts.
EXACT_COUNT_PROVIDERS = {"openai", "openai-responses"}


@dataclass(frozen=True)
class ModelInfo:
    id: str  # "<provider>:<model>"
    vendor: str
    context_window: int
    max_output: int
    input_per_million: Decimal | None
    output_per_million: Decimal | None
    encoding: EncodingChoice
    # The reasoning settings the model takes: "effort" (OpenAI's reasoning effort), "budget"
    # (Anthropic's thinking budget), or "" for none.
    reasoning: str
    # False when the catalogue has no entry and the window is the assumed default.
    listed: bool
    # Whether the model takes images, and how it counts them in tokens (attachments/image_tokens.py).
    vision: bool = False
    image_tokens: ImageRule = ImageRule("none")

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
            "reasoning": self.reasoning,
            "listed": self.listed,
            "reply_budget": self.reply_budget(None),
            "vision": self.vision,
            "image_tokens": self.image_tokens.as_json(),
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


# --- a catalogue's entries, declared ------------------------------------------------------------
# Each message goes after the place it is about, e.g. `WORKBENCH_MODEL_CATALOGUE['m'].max_output`.


def _known_encoding(name: str) -> str:
    if name not in ENCODINGS:
        raise ValueError("unknown encoding")  # refused below with the field's one message
    return name


Vendor = Annotated[str, refused(' must be the name of the model\'s vendor, a string like "openai".')]
Tokens = Annotated[Annotated[int, Field(ge=1)] | None, refused(" must be a whole number of tokens above 0.")]
Price = Annotated[
    Annotated[float, Field(ge=0, allow_inf_nan=False)] | None, refused(" must be a price in US dollars, 0 or more.")
]
REASONING_KINDS = ("effort", "budget")
Reasoning = Annotated[
    Literal["effort", "budget", ""],
    refused(' must be "effort" (OpenAI reasoning models), "budget" (Anthropic extended thinking) or "".'),
]
Encoding = Annotated[
    Annotated[str, AfterValidator(_known_encoding)] | None, refused(f" must be one of {', '.join(ENCODINGS)}.")
]
Vision = Annotated[bool, refused(" must be true (the model takes images) or false.")]


class ImageTokensRule(BaseModel):
    """How a model counts an image in tokens (see attachments/image_tokens.py)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    rule: Literal["tiles", "patches", "area"]
    base: Annotated[int, Field(ge=0)] | None = None
    tile: Annotated[int, Field(ge=1)] | None = None
    multiplier: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _complete(self) -> ImageTokensRule:
        if self.rule == "tiles" and (self.base is None or self.tile is None or self.multiplier is not None):
            raise ValueError("tiles take a base and a tile")
        if self.rule == "patches" and (self.multiplier is None or self.base is not None or self.tile is not None):
            raise ValueError("patches take a multiplier")
        if self.rule == "area" and (self.base, self.tile, self.multiplier) != (None, None, None):
            raise ValueError("area takes nothing more")
        return self

    def image_rule(self) -> ImageRule:
        return ImageRule(self.rule, base=self.base or 0, tile=self.tile or 0, multiplier=self.multiplier or 1.0)


ImageTokens = Annotated[
    ImageTokensRule | None,
    refused(
        ' must be {"rule": "tiles", "base": <tokens>, "tile": <tokens>}, {"rule": "patches", "multiplier": '
        '<number above 0>} or {"rule": "area"}.',
        whole=True,
    ),
]


class CatalogueEntry(BaseModel):
    """What the catalogue knows of one model; every field may be left out (another file, or the
    defaults, may give it)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    provider: Vendor = ""
    context_window: Tokens = None
    max_output: Tokens = None
    input_per_million: Price = None
    output_per_million: Price = None
    encoding: Encoding = None
    reasoning: Reasoning = ""
    vision: Vision = False
    image_tokens: ImageTokens = None

    def given(self) -> dict[str, Any]:
        """The fields the entry gave, with their checked values: they override those given before."""
        return {name: getattr(self, name) for name in self.model_fields_set}


_FIELDS = sorted(CatalogueEntry.model_fields)


def _unknown_fields(names: list[str]) -> PydanticCustomError:
    return refusal(f" has unknown field(s) {', '.join(names)}; known: {', '.join(_FIELDS)}.")


def _without_comments(source: Any) -> Any:
    """Keys beginning with "_" are comments, like the shipped file's "_comment"."""
    if not isinstance(source, dict):
        return source  # refused as a whole below
    return {key: entry for key, entry in source.items() if not (isinstance(key, str) and key.startswith("_"))}


Entries = Annotated[
    dict[str, Annotated[CatalogueEntry, refused(" must be an object.", unknown=_unknown_fields)]],
    BeforeValidator(_without_comments),
    refused(" must be a JSON object of model entries."),
]
_ENTRIES: TypeAdapter[Entries] = TypeAdapter(Entries)


def _checked_entries(source: Any, where: str) -> dict[str, CatalogueEntry]:
    """The entries of `source`, checked; ImproperlyConfigured naming the place of the first problem
    (`where` says which file or setting it is)."""
    try:
        return _ENTRIES.validate_python(source)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        place, loc = where, error["loc"]
        if loc:  # the entry's key, then its field
            place += f"[{loc[0]!r}]" + "".join(f".{name}" for name in loc[1:])
        if error["type"] == REFUSED:
            raise ImproperlyConfigured(place + error["msg"]) from None
        raise ImproperlyConfigured(f"{place}: {error['msg']}.") from None  # a field without its own message


def _merge(into: dict, source: object, where: str) -> None:
    for key, entry in _checked_entries(source, where).items():
        into[key] = {**into.get(key, {}), **entry.given()}


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
        vendor = entry.get("provider", provider)
        vision = bool(entry.get("vision", False))
        rule = entry.get("image_tokens")
        return ModelInfo(
            id=model_id,
            vendor=vendor,
            context_window=window,
            max_output=entry.get("max_output") or window,
            input_per_million=None if prices[0] is None else Decimal(str(prices[0])),
            output_per_million=None if prices[1] is None else Decimal(str(prices[1])),
            encoding=self._encoding(provider, model, entry.get("encoding", "")),
            reasoning=entry.get("reasoning", ""),
            listed=listed,
            vision=vision,
            # A model that takes no image counts none; one that does, by its vendor's rule unless
            # the catalogue names another.
            image_tokens=(
                ImageRule("none") if not vision else rule.image_rule() if rule is not None else default_rule(vendor)
            ),
        )

    @staticmethod
    def _encoding(provider: str, model: str, override: str) -> EncodingChoice:
        choice = encoding_for_model(model, override=override)
        if provider not in EXACT_COUNT_PROVIDERS and not choice.estimate:
            # Another server's chat template counts differently even for a name tiktoken knows.
            return EncodingChoice(choice.name, estimate=True)
        return choice
