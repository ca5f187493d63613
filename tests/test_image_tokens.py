"""Image token estimates against the worked examples of the vendors' vision guides (OpenAI's
"Images and vision" / "Calculating costs", Anthropic's "Vision" / "Calculate image costs"), and
the catalogue's image_tokens rules."""
from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from conversations.attachments.image_tokens import ImageRule, default_rule, image_tokens, patches
from conversations.registry import registry

GPT_4O = ImageRule("tiles", base=85, tile=170)
GPT_4O_MINI = ImageRule("tiles", base=2833, tile=5667)
O3 = ImageRule("tiles", base=75, tile=150)
GPT_41_MINI = ImageRule("patches", multiplier=1.62)
GPT_41_NANO = ImageRule("patches", multiplier=2.46)
O4_MINI = ImageRule("patches", multiplier=1.72)
CLAUDE = ImageRule("area")


@pytest.mark.parametrize(
    "width,height,rule,tokens",
    [
        # OpenAI: 1024×1024 needs no first resize, is scaled to 768×768, 4 tiles: 85 + 4 × 170.
        (1024, 1024, GPT_4O, 765),
        # 2048×4096 fits to 1024×2048, then 768×1536: 6 tiles: 85 + 6 × 170.
        (2048, 4096, GPT_4O, 1105),
        # A small image is never scaled up: one tile.
        (300, 200, GPT_4O, 255),
        (1024, 1024, GPT_4O_MINI, 2833 + 4 * 5667),
        (1024, 1024, O3, 75 + 4 * 150),
        # Patches: 1024×1024 is 32 × 32 = 1024 patches, times the model's multiplier.
        (1024, 1024, GPT_41_MINI, 1659),  # 1024 × 1.62 = 1658.88
        (1024, 1024, GPT_41_NANO, 2520),  # 1024 × 2.46 = 2519.04
        # 1800×2400 is 57 × 75 = 4275 patches, over 1536: scaled to 1056×1408, 33 × 44 = 1452.
        (1800, 2400, GPT_41_MINI, 2353),  # 1452 × 1.62 = 2352.24
        # A 128×64 image: 4 × 2 = 8 patches (o4-mini bills 14 for it, 8 × 1.72 = 13.76).
        (128, 64, O4_MINI, 14),
        # Anthropic: width × height / 750, the guide's table: 200×200 ~54, 1000×1000 ~1334, 1092×1092 ~1590.
        (200, 200, CLAUDE, 54),
        (1000, 1000, CLAUDE, 1334),
        (1092, 1092, CLAUDE, 1590),
        # Over ~1,600 tokens (1568 × 784 would be 1,639), scaled down to 1,600; over 1568 px on the
        # long side, scaled down first (3136 × 100 to 1568 × 50: 105).
        (1568, 784, CLAUDE, 1600),
        (2048, 2048, CLAUDE, 1600),
        (3136, 100, CLAUDE, 105),
        (0, 100, CLAUDE, 0),
    ],
)
def test_the_vendors_worked_examples(width, height, rule, tokens):
    assert image_tokens(width, height, rule) == tokens


def test_patches_are_capped_and_scaled_as_openai_describes():
    assert patches(1800, 2400) == 1452
    assert patches(1024, 1024) == 1024
    assert patches(2048, 2048) <= 1536
    assert patches(4000, 100) <= 1536


def test_a_model_without_a_rule_counts_by_its_vendor():
    assert default_rule("anthropic") == CLAUDE
    assert default_rule("openai") == GPT_4O
    assert default_rule("ollama") == GPT_4O
    assert image_tokens(1024, 1024, ImageRule("none")) == 0


def test_the_catalogue_names_each_models_rule(settings):
    catalogue = registry().catalogue
    assert catalogue.info("openai:gpt-4o").image_tokens == GPT_4O
    assert catalogue.info("openai:gpt-4o-mini").image_tokens == GPT_4O_MINI
    assert catalogue.info("openai-responses:o3").image_tokens == O3
    assert catalogue.info("openai:gpt-4.1-mini").image_tokens == GPT_41_MINI
    assert catalogue.info("openai:o4-mini").image_tokens == O4_MINI
    assert catalogue.info("anthropic:claude-opus-4-5").image_tokens == CLAUDE
    # A model that takes no image has no rule, whatever its vendor.
    assert catalogue.info("local:smollm2-135m-instruct").image_tokens == ImageRule("none")
    settings.MODEL_CATALOGUE = {"ollama:llava": {"vision": True, "image_tokens": {"rule": "patches", "multiplier": 2}}}
    registry.cache_clear()
    assert registry().model_info("ollama:llava").image_tokens == ImageRule("patches", multiplier=2.0)
    registry.cache_clear()


RULE = (
    'WORKBENCH_MODEL_CATALOGUE[\'m\'].image_tokens must be {"rule": "tiles", "base": <tokens>, "tile": <tokens>}, '
    '{"rule": "patches", "multiplier": <number above 0>} or {"rule": "area"}.'
)


@pytest.mark.parametrize(
    "entry,message",
    [
        ({"image_tokens": {"rule": "tiles", "base": 85}}, RULE),
        ({"image_tokens": {"rule": "patches"}}, RULE),
        ({"image_tokens": {"rule": "patches", "multiplier": 0}}, RULE),
        ({"image_tokens": {"rule": "area", "base": 1}}, RULE),
        ({"image_tokens": {"rule": "pixels"}}, RULE),
        ({"image_tokens": "area"}, RULE),
        ({"vision": "yes"}, "WORKBENCH_MODEL_CATALOGUE['m'].vision must be true (the model takes images) or false."),
    ],
)
def test_a_bad_rule_is_refused_with_its_message(settings, entry, message):
    settings.MODEL_CATALOGUE = {"m": entry}
    registry.cache_clear()
    with pytest.raises(ImproperlyConfigured) as refused:
        registry()
    assert str(refused.value) == message
    registry.cache_clear()
