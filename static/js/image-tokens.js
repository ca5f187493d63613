// What an image costs in tokens, by each vendor's published formula, from its size in pixels: the
// same arithmetic as conversations/attachments/image_tokens.py (whose docstring cites the vendors'
// guides), so that the page's meter counts an image as the server does. A shared set of cases
// (tests/data/image_tokens_cases.json) is checked against both. Pure functions, no DOM.

// OpenAI tiles
const TILE_FIT = 2048;
const TILE_SHORT_SIDE = 768;
const TILE = 512;
// OpenAI patches
const PATCH = 32;
const MAX_PATCHES = 1536;
// Anthropic
const AREA_LONG_SIDE = 1568;
const AREA_PIXELS_PER_TOKEN = 750;
const AREA_MAX_TOKENS = 1600;

function tiles(width, height, base, tile) {
  let scale = Math.min(1, TILE_FIT / Math.max(width, height));
  let w = width * scale;
  let h = height * scale;
  // Scaled (down only) so the shortest side is 768 px.
  scale = Math.min(1, TILE_SHORT_SIDE / Math.min(w, h));
  w *= scale;
  h *= scale;
  return base + tile * Math.ceil(w / TILE) * Math.ceil(h / TILE);
}

// OpenAI's 32-px patches covering the image, after scaling it down to at most 1536.
export function patches(width, height) {
  const raw = Math.ceil(width / PATCH) * Math.ceil(height / PATCH);
  if (raw <= MAX_PATCHES) return raw;
  let shrink = Math.sqrt((MAX_PATCHES * PATCH ** 2) / (width * height));
  let w = width * shrink;
  let h = height * shrink;
  // Then down a little more, so that a whole number of patches spans the width.
  shrink = Math.floor(w / PATCH) / (w / PATCH);
  w *= shrink;
  h *= shrink;
  // (Less a hair for floating point: 1408.0000001 px are 44 patches, as the guide counts them.)
  return Math.min(MAX_PATCHES, Math.ceil(w / PATCH - 1e-9) * Math.ceil(h / PATCH - 1e-9));
}

function area(width, height) {
  let scale = Math.min(1, AREA_LONG_SIDE / Math.max(width, height));
  let w = width * scale;
  let h = height * scale;
  const most = AREA_MAX_TOKENS * AREA_PIXELS_PER_TOKEN;
  if (w * h > most) {
    scale = Math.sqrt(most / (w * h));
    w *= scale;
    h *= scale;
  }
  return Math.ceil((w * h) / AREA_PIXELS_PER_TOKEN - 1e-9);
}

// The tokens an image of `width` × `height` pixels costs under `rule` (a model's "image_tokens":
// {rule: "tiles", base, tile} | {rule: "patches", multiplier} | {rule: "area"} | {rule: "none"});
// 0 for a size unknown or a model that takes no image.
export function imageTokens(width, height, rule) {
  if (!(width > 0) || !(height > 0) || !rule) return 0;
  if (rule.rule === 'tiles') return tiles(width, height, rule.base ?? 0, rule.tile ?? 0);
  if (rule.rule === 'patches') return Math.ceil(patches(width, height) * (rule.multiplier ?? 1));
  if (rule.rule === 'area') return area(width, height);
  return 0;
}
