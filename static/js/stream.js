// A reply as it streams: turns from websocket frames, and deltas applied by their offsets.
//
// Offsets count UTF-16 code units, as JavaScript strings do (and as the server counts them), so a
// character outside the Basic Multilingual Plane (an emoji) takes two and never shifts a delta.
// The server only cuts deltas between characters, so a pair is never split across two deltas.
// Nothing here touches the DOM: the page modules and `node --test` (tests/js/) import it alike.

// A turn from a websocket frame: the server leaves out empty fields, which read as their empty values.
export function withTurnDefaults(turn) {
  return {
    parent: null, provider: '', model: '', settings: {}, token_counts: {}, input_tokens: null,
    output_tokens: null, usage_estimated: false, cost: null, context: {}, error: '',
    first_token_at: null, finished_at: null, length: 0, content: '', ...turn,
  };
}

// Applies a delta by offset; returns 'applied', 'duplicate' or 'gap'. A delta that starts inside
// the text already there (a resend after `resume`) adds only its new end; one that starts past the
// end is a gap: the caller sends `resume` with the length it has and the server sends the rest.
export function applyDelta(turn, offset, text) {
  const have = turn.content.length;
  if (offset > have) return 'gap';
  if (offset + text.length <= have) return 'duplicate';
  turn.content += text.slice(have - offset);
  return 'applied';
}

// Applies the end of a reply; false while text is still missing (the caller resumes from there,
// and the turn reads as streaming until the rest has arrived).
export function applyFinished(turn, update) {
  Object.assign(turn, update);
  if (turn.content.length >= update.length) return true;
  turn.status = 'streaming';
  return false;
}
