"""What an image costs in tokens, by each vendor's published formula, from its size in pixels.

Nothing here knows Django: the rule comes from the model catalogue (catalogue.py), the size from an
attachment's descriptor. The numbers are estimates of what the vendor bills; they are what the
context meter and a stopped reply's cost count an image as.

Sources (the vendors' vision guides, where the worked examples below come from):
- OpenAI, "Images and vision", section "Calculating costs"
  (https://platform.openai.com/docs/guides/images-vision#calculating-costs): tile models fit the
  image within 2048×2048, scale its shortest side to 768 px, and bill a base plus a price per 512-px
  tile (gpt-4o, gpt-4.1: 85 + 170; gpt-4o-mini: 2833 + 5667; o1/o3: 75 + 150; gpt-5: 70 + 140) —
  1024×1024 is 85 + 4 × 170 = 765 tokens, 2048×4096 is 85 + 6 × 170 = 1105; patch models
  (gpt-4.1-mini, gpt-4.1-nano, o4-mini, gpt-5-mini, gpt-5-nano) count 32-px patches, at most 1536
  (a larger image is scaled down to fit, 1800×2400 → 1452 patches), times the model's multiplier
  (1.62, 2.46, 1.72, 1.62, 2.46).
- Anthropic, "Vision", section "Calculate image costs"
  (https://docs.anthropic.com/en/docs/build-with-claude/vision): tokens = width × height / 750, after
  an image whose long edge is over 1568 px, or which would be over ~1,600 tokens, is scaled down
  keeping its aspect ratio — 1000×1000 is ~1334 tokens, 1092×1092 ~1590.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# OpenAI tiles
TILE_FIT = 2048
TILE_SHORT_SIDE = 768
TILE = 512
# OpenAI patches
PATCH = 32
MAX_PATCHES = 1536
# Anthropic
AREA_LONG_SIDE = 1568
AREA_PIXELS_PER_TOKEN = 750
AREA_MAX_TOKENS = 1600


@dataclass(frozen=True)
class ImageRule:
    """How a model bills an image: "tiles" (base + tile per 512-px tile), "patches" (32-px
    patches times multiplier) or "area" (pixels / 750); "none" for a model that takes no image."""

    rule: str
    base: int = 0
    tile: int = 0
    multiplier: float = 1.0

    def as_json(self) -> dict:
        if self.rule == "tiles":
            return {"rule": "tiles", "base": self.base, "tile": self.tile}
        if self.rule == "patches":
            return {"rule": "patches", "multiplier": self.multiplier}
        return {"rule": self.rule}


# A vendor's rule for a model the catalogue gives none: Anthropic bills by area; OpenAI and the
# servers that copy its API, by tiles as gpt-4o does (an estimate for the latter).
ANTHROPIC_RULE = ImageRule("area")
OPENAI_RULE = ImageRule("tiles", base=85, tile=170)


def default_rule(vendor: str) -> ImageRule:
    return ANTHROPIC_RULE if vendor == "anthropic" else OPENAI_RULE


def _tiles(width: int, height: int, base: int, tile: int) -> int:
    scale = min(1.0, TILE_FIT / max(width, height))
    w, h = width * scale, height * scale
    # Scaled (down only) so the shortest side is 768 px.
    scale = min(1.0, TILE_SHORT_SIDE / min(w, h))
    w, h = w * scale, h * scale
    return base + tile * math.ceil(w / TILE) * math.ceil(h / TILE)


def patches(width: int, height: int) -> int:
    """OpenAI's 32-px patches covering the image, after scaling it down to at most 1536."""
    raw = math.ceil(width / PATCH) * math.ceil(height / PATCH)
    if raw <= MAX_PATCHES:
        return raw
    shrink = math.sqrt(MAX_PATCHES * PATCH**2 / (width * height))
    w, h = width * shrink, height * shrink
    # Then down a little more, so that a whole number of patches spans the width.
    shrink = math.floor(w / PATCH) / (w / PATCH)
    w, h = w * shrink, h * shrink
    # (Less a hair for floating point: 1408.0000001 px are 44 patches, as the guide counts them.)
    return min(MAX_PATCHES, math.ceil(w / PATCH - 1e-9) * math.ceil(h / PATCH - 1e-9))


def _area(width: int, height: int) -> int:
    scale = min(1.0, AREA_LONG_SIDE / max(width, height))
    w, h = width * scale, height * scale
    most = AREA_MAX_TOKENS * AREA_PIXELS_PER_TOKEN
    if w * h > most:
        scale = math.sqrt(most / (w * h))
        w, h = w * scale, h * scale
    return math.ceil(w * h / AREA_PIXELS_PER_TOKEN - 1e-9)


def image_tokens(width: int, height: int, rule: ImageRule) -> int:
    """The tokens an image of `width` × `height` pixels costs under `rule` (0 for a size unknown)."""
    if width <= 0 or height <= 0:
        return 0
    if rule.rule == "tiles":
        return _tiles(width, height, rule.base, rule.tile)
    if rule.rule == "patches":
        return math.ceil(patches(width, height) * rule.multiplier)
    if rule.rule == "area":
        return _area(width, height)
    return 0
