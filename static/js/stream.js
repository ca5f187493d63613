// A reply as it streams: turns from websocket frames, and its text and reasoning applied by offset.
//
// Offsets count UTF-16 code units, as JavaScript strings do (and as the server counts them), so a
// character outside the Basic Multilingual Plane (an emoji) takes two and never shifts a delta.
// The server only cuts deltas between characters, so a pair is never split across two deltas.
// A reply has two streams, each with offsets of its own: its text (`delta` frames, `content`,
// `length`) and its reasoning (`reasoning` frames, `reasoning`, `reasoning_length`).
// Nothing here touches the DOM: the page modules and `node --test` (tests/js/) import it alike.

// A turn from a websocket frame: the server leaves out empty fields, which read as their empty values.
export function withTurnDefaults(turn) {
  return {
    parent: null, provider: '', model: '', settings: {}, token_counts: {}, input_tokens: null,
    output_tokens: null, usage_estimated: false, cost: null, context: {}, error: '',
    first_token_at: null, finished_at: null, length: 0, content: '',
    reasoning: '', reasoning_length: 0, reasoning_tokens: null, reasoning_seconds: null,
    reasoning_redacted: false, refused: false, ...turn,
  };
}

// Applies `text` at `offset` to the turn's `field`; returns 'applied', 'duplicate' or 'gap'. Text
// that starts inside what is already there (a resend after `resume`) adds only its new end; text
// that starts past the end is a gap: the caller sends `resume` with what it has and the server
// sends the rest.
function applyAt(turn, field, offset, text) {
  const have = (turn[field] ?? '').length;
  if (offset > have) return 'gap';
  if (offset + text.length <= have) return 'duplicate';
  turn[field] = (turn[field] ?? '') + text.slice(have - offset);
  return 'applied';
}

// A `delta` frame: the reply's text from `offset`. One that says `refused` marks the reply as a
// refusal while it streams. When the text of a reply that was thinking begins, the thinking is
// over: how long it took (from the reply's start to `now`, in ms) is kept as `thought_seconds`
// until the reply's end brings the server's own `reasoning_seconds`.
export function applyDelta(turn, offset, text, { refused = false, now = Date.now() } = {}) {
  if (refused) turn.refused = true;
  const began = !turn.content;
  const result = applyAt(turn, 'content', offset, text);
  if (result === 'applied' && began && turn.reasoning && turn.thought_seconds == null) {
    const started = Date.parse(turn.created_at);
    if (!Number.isNaN(started)) turn.thought_seconds = Math.max(0, (now - started) / 1000);
  }
  return result;
}

// A `reasoning` frame: the reply's reasoning from `offset`, by the same rules as its text.
export function applyReasoning(turn, offset, text) {
  return applyAt(turn, 'reasoning', offset, text);
}

// The frame that asks the server for the rest of a streaming reply: its text and its reasoning
// from what the page has of each.
export function resumeFrame(turn) {
  return { action: 'resume', turn: turn.id, offset: turn.content.length, reasoning_offset: (turn.reasoning ?? '').length };
}

// Whether the page has all of a reply that `update` (a turn.finished) says it has: its text, and
// its reasoning when the frame counts it (a share link without reasoning never does).
export function isWhole(turn, update) {
  return turn.content.length >= (update.length ?? 0)
    && (turn.reasoning ?? '').length >= (update.reasoning_length ?? 0);
}

// Applies the end of a reply; false while text or reasoning is still missing (the caller resumes
// from there, and the turn reads as streaming until the rest has arrived).
export function applyFinished(turn, update) {
  const whole = isWhole(turn, update);
  Object.assign(turn, update);
  if (whole) return true;
  turn.status = 'streaming';
  return false;
}
