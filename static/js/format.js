// How numbers, times, settings and usage read on a turn. Pure functions (no DOM), shared by the
// conversation page, comparisons and shared pages, and tested with `node --test` (tests/js/).

const integer = new Intl.NumberFormat('en-US');
export const formatTokens = (n) => integer.format(n);

export function formatSeconds(ms) {
  return ms < 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export function latency(turn) {
  const parts = [];
  if (turn.first_token_at && turn.created_at) {
    parts.push(`first token ${formatSeconds(Date.parse(turn.first_token_at) - Date.parse(turn.created_at))}`);
  }
  if (turn.finished_at && turn.created_at) {
    parts.push(`total ${formatSeconds(Date.parse(turn.finished_at) - Date.parse(turn.created_at))}`);
  }
  return parts;
}

export function settingsText(settings = {}) {
  const parts = [];
  if (settings.temperature != null) parts.push(`temp ${settings.temperature}`);
  if (settings.max_tokens != null) parts.push(`max ${settings.max_tokens}`);
  if (settings.top_p != null) parts.push(`top_p ${settings.top_p}`);
  if (settings.reasoning_effort) parts.push(`effort ${settings.reasoning_effort}`);
  if (settings.thinking_budget != null) parts.push(`thinking budget ${formatTokens(settings.thinking_budget)}`);
  if (settings.system_prompt) parts.push('system prompt');
  return parts;
}

// --- reasoning ------------------------------------------------------------------------------------

// Whether a reply shows a Thinking block: it has reasoning to read, or the provider withheld some.
export function hasThinking(turn) {
  return Boolean(turn.reasoning) || Boolean(turn.reasoning_redacted);
}

// The Thinking block's label. While a reply thinks (streaming, no text yet): "Thinking… 7 s", counted
// from the reply's start at `now` (ms). Once it has thought: "Thought for 12 s", from the server's
// reasoning_seconds or, until the reply ends, the page's own measure (thought_seconds, taken when
// its text began). Without either: "Thinking".
export function thinkingLabel(turn, now = Date.now()) {
  const seconds = turn.reasoning_seconds ?? turn.thought_seconds;
  if (seconds != null) return `Thought for ${formatSeconds(seconds * 1000)}`;
  const elapsed = thinkingElapsed(turn, now);
  return elapsed == null ? 'Thinking' : `Thinking… ${elapsed} s`;
}

// Whole seconds a reply has been thinking at `now`, while it is (streaming without text yet, and
// without a measure of its thinking); null otherwise.
export function thinkingElapsed(turn, now = Date.now()) {
  if (turn.status !== 'streaming' || turn.content || (turn.reasoning_seconds ?? turn.thought_seconds) != null) return null;
  const started = Date.parse(turn.created_at);
  return Number.isNaN(started) ? 0 : Math.max(0, Math.floor((now - started) / 1000));
}

// The rest of the Thinking block's summary: "1,234 reasoning tokens" when the API counted them.
export function thinkingDetail(turn) {
  const n = turn.reasoning_tokens;
  return n == null ? '' : `${formatTokens(n)} reasoning token${n === 1 ? '' : 's'}`;
}

// The reasoning setting a model takes, from the catalogue: 'effort', 'budget' or ''.
export function reasoningKind(models, modelId) {
  return models.find((m) => m.id === modelId)?.reasoning || '';
}

// Settings for one model: the reasoning settings it does not take are left out (a fan-out shares
// one set of settings between models of different kinds).
export function settingsForModel(settings, kind) {
  const own = { ...settings };
  if (kind !== 'effort') delete own.reasoning_effort;
  if (kind !== 'budget') delete own.thinking_budget;
  return own;
}

export function formatCost(dollars) {
  if (dollars == null) return '';
  if (dollars === 0) return '$0';
  if (dollars < 0.01) return `$${dollars.toPrecision(2)}`;
  return `$${dollars.toFixed(dollars < 10 ? 3 : 2)}`;
}

// The usage part of a reply's meta line: "1,234 in · 567 out · $0.0012", "≈" when estimated.
export function usageText(turn) {
  if (turn.status === 'streaming' || (turn.input_tokens == null && turn.output_tokens == null)) return [];
  const approx = turn.usage_estimated ? '≈ ' : '';
  // Reasoning tokens are part of the output; a Thinking block says how many, a reply without one here.
  const reasoning = turn.reasoning_tokens && !hasThinking(turn) ? ` (${formatTokens(turn.reasoning_tokens)} reasoning)` : '';
  const parts = [`${approx}${formatTokens(turn.input_tokens ?? 0)} in · ${formatTokens(turn.output_tokens ?? 0)} out${reasoning}`];
  if (turn.cost != null) parts.push(`${approx}${formatCost(turn.cost)}`);
  return parts;
}

export function metaText(turn) {
  if (turn.role !== 'assistant') {
    const tokens = turn.token_counts?.o200k_base;
    return tokens == null ? '' : `${formatTokens(tokens)} token${tokens === 1 ? '' : 's'}`;
  }
  return [...usageText(turn), ...latency(turn), ...settingsText(turn.settings)].join(' · ');
}

export function roleLabel(turn, modelLabels) {
  if (turn.role === 'user') return 'You';
  if (turn.role === 'system') return 'System';
  return modelLabels.get(`${turn.provider}:${turn.model}`) || turn.model || 'Assistant';
}

// The start of a text on one line, at most `limit` UTF-16 code units, then `more` when it was cut.
// A cut never falls between the two halves of a surrogate pair: a lone half shows as a broken
// character (and is not valid Unicode to send anywhere).
export function preview(text, limit, more = '') {
  const line = String(text ?? '').replace(/\s+/g, ' ');
  if (line.length <= limit) return line;
  const last = line.charCodeAt(limit - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? limit - 1 : limit;
  return line.slice(0, end) + more;
}

// What became of the reasoning of the earlier replies the request carried: it is never sent as
// text; signed thinking goes back only to the provider that made it, and only with thinking on.
export function reasoningFact(reasoning) {
  const earlier = reasoning?.earlier_replies || 0;
  if (!earlier) return null;
  const replies = `${earlier} earlier repl${earlier === 1 ? 'y' : 'ies'}`;
  const sent = reasoning.sent_back || 0;
  if (sent === earlier) return `the reasoning of ${replies} went back as signed thinking blocks`;
  if (sent) return `the reasoning of ${sent} of ${replies} went back as signed thinking blocks; the rest was not sent`;
  return `the reasoning of ${replies} was not sent: only the provider that made it gets it back, with thinking on`;
}

// When a turn was written, as a person reads it: "10:42" today, "3 Dec, 10:42" another day (in
// the browser's time zone; `locale` for tests). Empty when the time is unknown.
export function turnTime(turn, now = new Date(), locale = undefined) {
  const at = new Date(turn.created_at ?? NaN);
  if (!turn.created_at || Number.isNaN(at.getTime())) return '';
  const time = at.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
  if (at.toDateString() === now.toDateString()) return time;
  const day = at.toLocaleDateString(locale, { day: 'numeric', month: 'short', ...(at.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }) });
  return `${day}, ${time}`;
}

// A reply named as a person would: "the reply from GPT-4o at 10:42" (a prompt: "your prompt at …").
export function turnName(turn, modelLabels, now = new Date(), locale = undefined) {
  const time = turnTime(turn, now, locale);
  const who = turn.role === 'assistant' ? `the reply from ${roleLabel(turn, modelLabels)}` : turn.role === 'user' ? 'your prompt' : 'the system prompt';
  return time ? `${who} at ${time}` : who;
}

// What a screen reader hears when a reply starts or ends (`what`: 'started' or 'ended'):
// "Reply from GPT-4o finished", "… stopped", "… failed: <why>".
export function replyNews(turn, what, modelLabels) {
  const who = `Reply from ${roleLabel(turn, modelLabels)}`;
  if (what === 'started') return `${who} started`;
  if (turn.status === 'error') return turn.error ? `${who} failed: ${turn.error}` : `${who} failed`;
  if (turn.status === 'stopped') return `${who} stopped`;
  if (turn.status === 'interrupted') return `${who} was interrupted`;
  return `${who} finished`;
}
