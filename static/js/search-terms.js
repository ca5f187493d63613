// The words of a search as the server reads them (conversations/search/query.py), to mark them in a
// page's text: a word is a run of letters and digits; one of three characters or more also matches
// longer words that begin with it; words in "quotes", or joined by punctuation, match whole. No DOM:
// `node --test` (tests/js/search-terms.test.mjs) checks it.

const WORD = /[\p{L}\p{N}]+/gu;
const MIN_PREFIX = 3;

// [{word, prefix}] of a search text, lowercased, each once.
export function searchWords(text) {
  const found = new Map();
  String(text).split('"').forEach((piece, index) => {
    const chunks = index % 2 ? [piece] : piece.split(/\s+/);
    for (const chunk of chunks) {
      const words = chunk.match(WORD) || [];
      for (const word of words) {
        const lower = word.toLowerCase();
        const prefix = index % 2 === 0 && words.length === 1 && lower.length >= MIN_PREFIX;
        const key = `${lower}${prefix ? '*' : ''}`;
        if (!found.has(key)) found.set(key, { word: lower, prefix });
      }
    }
  });
  return [...found.values()];
}

// [start, end) of every word of `text` that one of `words` matches, in order.
export function wordMatches(text, words) {
  const spans = [];
  if (!words.length) return spans;
  for (const match of String(text).matchAll(WORD)) {
    const lower = match[0].toLowerCase();
    if (words.some(({ word, prefix }) => (prefix ? lower.startsWith(word) : lower === word))) {
      spans.push([match.index, match.index + match[0].length]);
    }
  }
  return spans;
}
