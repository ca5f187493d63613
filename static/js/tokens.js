// Counting a branch against a model's window, in the browser: the same sums as
// conversations/context.py, from the counts the server stored on each turn. Pure functions (no
// DOM), tested with `node --test` (tests/js/).
import { imageTokens } from './image-tokens.js';

// The chat format's tokens per message and for priming the reply (as in conversations/tokens.py): a
// message costs 3 besides its content, and its role's tokens, one for each role in every encoding
// the server counts with (tests/test_tokens.py checks).
const TOKENS_PER_MESSAGE = 3 + 1;
const TOKENS_PER_REPLY = 3;

// What images of these [width, height]s cost `model`, by its rule (nothing for a model that takes
// no image: a send with images to it is refused, or sends the text only).
export function imagesTokens(sizes, model) {
  if (!model.vision) return 0;
  return sizes.reduce((sum, [w, h]) => sum + imageTokens(w, h, model.image_tokens), 0);
}

// What a prompt's files add for `model`: its text files as the server counted them in the model's
// encoding, delimiters included (the turn's `files_tokens`), and its images by the model's rule.
export function filesTokens(turn, model) {
  const attachments = turn.attachments || [];
  if (!attachments.length) return 0;
  const images = attachments.filter((d) => d.kind === 'image').map((d) => [d.width, d.height]);
  return (turn.files_tokens?.[model.encoding] ?? 0) + imagesTokens(images, model);
}

// A turn's tokens for `model`: the provider's count of a reply it made itself wins, then the
// stored count in the model's encoding (a reply still streaming is guessed at 4 characters a
// token), with a prompt's files.
export function turnTokens(turn, model) {
  if (
    turn.role === 'assistant' && turn.output_tokens != null && !turn.usage_estimated &&
    `${turn.provider}:${turn.model}` === model.id
  ) return turn.output_tokens;
  const stored = turn.token_counts?.[model.encoding];
  return (stored ?? Math.ceil((turn.content || '').length / 4)) + filesTokens(turn, model);
}

// The same sum as conversations/context.py's branch_meter, plus what is not sent yet: the system
// prompt, the draft's text and its files (`draftFiles`, the server's count of the uploads).
// `earlier` summarises the turns of a long branch that are not loaded (see selectors.EarlierTurns).
export function branchTokens(turns, model, { system = 0, draft = 0, draftFiles = 0, earlier = null } = {}) {
  const sendable = turns.filter((t) => t.content || t.role !== 'assistant');
  let total = TOKENS_PER_REPLY;
  let systemTotal = system;
  let hasSystem = system > 0;
  if (earlier) {
    const reported = earlier.reported[model.id];
    total += (earlier.tokens[model.encoding] ?? 0) + earlier.messages * TOKENS_PER_MESSAGE;
    total += imagesTokens(earlier.images ?? [], model);
    if (reported) total += reported.output_tokens - (reported[model.encoding] ?? 0);
    systemTotal += earlier.system_tokens[model.encoding] ?? 0;
    hasSystem = hasSystem || earlier.system_messages > 0;
  }
  for (const turn of sendable) {
    if (turn.role === 'system') {
      systemTotal += turnTokens(turn, model);
      hasSystem = true;
    } else {
      total += turnTokens(turn, model) + TOKENS_PER_MESSAGE;
    }
  }
  if (hasSystem) total += systemTotal + TOKENS_PER_MESSAGE;
  if (draft || draftFiles) total += draft + draftFiles + TOKENS_PER_MESSAGE;
  return total;
}

export function branchCost(turns, earlier = null) {
  const costs = turns.map((t) => t.cost).filter((c) => c != null);
  if (earlier?.cost != null) costs.push(earlier.cost);
  return costs.length ? costs.reduce((a, b) => a + b, 0) : null;
}

// The reply whose left-out turns are marked by default: the newest on the branch that left any out.
export function defaultContextReply(turns) {
  return turns.findLast((t) => t.role === 'assistant' && t.context?.omitted?.length)?.id ?? null;
}
