"""What a model takes, checked before a request is written: its reasoning settings, and images."""
from __future__ import annotations

from conversations.attachments.sending import carries_images
from conversations.catalogue import ModelInfo
from conversations.context import sendable
from conversations.errors import ServiceError
from conversations.models import Turn
from conversations.providers.base import GenerationSettings


def check_reasoning_settings(settings: GenerationSettings, info: ModelInfo, model_id: str) -> None:
    """A reasoning setting goes only to a model whose catalogue entry says it takes it."""
    if settings.reasoning_effort and info.reasoning != "effort":
        raise ServiceError(
            f"{model_id} takes no reasoning effort: only models the catalogue marks "
            '"reasoning": "effort" do (OpenAI reasoning models).', code="invalid",
        )
    if settings.thinking_budget:
        if info.reasoning != "budget":
            raise ServiceError(
                f"{model_id} takes no thinking budget: only models the catalogue marks "
                '"reasoning": "budget" do (Anthropic models with extended thinking).', code="invalid",
            )
        if settings.max_tokens and settings.thinking_budget >= settings.max_tokens:
            raise ServiceError(
                f"The thinking budget ({settings.thinking_budget}) must be less than max_tokens "
                f"({settings.max_tokens}): the answer comes out of the same allowance.", code="invalid",
            )
        if settings.temperature is not None and settings.temperature != 1:
            raise ServiceError(
                "Extended thinking works only at temperature 1: leave the temperature unset.", code="invalid",
            )


def check_vision(path: list[Turn], info: ModelInfo, model_id: str, text_only: bool) -> None:
    """Images go only to a model that sees them; "text_only" sends the rest without them."""
    if not text_only and not info.vision and carries_images(sendable(path)):
        raise ServiceError(
            f"{model_id} cannot see images: choose a model that can, or send the text only.", code="no_vision"
        )
