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
  if (settings.system_prompt) parts.push('system prompt');
  return parts;
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
  const parts = [`${approx}${formatTokens(turn.input_tokens ?? 0)} in · ${formatTokens(turn.output_tokens ?? 0)} out`];
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
