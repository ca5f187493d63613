// Where math starts and ends in a reply's Markdown: $…$ and \(…\) inline, $$…$$ and \[…\] displayed.
// Pure functions (no DOM), used by the Markdown renderer's math rules (markdown.js) and tested with
// `node --test` (tests/js/math.test.mjs).
//
// A dollar sign is money far more often than math, so $…$ follows Pandoc's rule: the opening $ has a
// non-space character right after it, the closing $ a non-space character right before it and no
// digit right after it. "$5 and $10" stays text; "$x$" and "$x^2 + 1$" are math. Inline math
// holds no backtick: a code span ("`$x$`") is never the end of a formula begun before it.

const SPACE = /\s/;
const DIGIT = /[0-9]/;

/**
 * The inline math starting at `pos` in `src` (read no further than `max`, default its end):
 * {tex, display, end} with `end` just past the closing delimiter, or null.
 */
export function inlineMath(src, pos, max = src.length) {
  const first = src[pos];
  const second = src[pos + 1];
  if (first === '\\') {
    if (second !== '(' && second !== '[') return null;
    return delimited(src, pos + 2, second === '(' ? '\\)' : '\\]', second === '[', max);
  }
  if (first !== '$') return null;
  if (second === '$') return delimited(src, pos + 2, '$$', true, max);
  if (second === undefined || pos + 1 >= max || SPACE.test(second)) return null;
  const tick = src.indexOf('`', pos + 1);
  const limit = tick >= 0 && tick < max ? tick : max;
  for (let close = src.indexOf('$', pos + 1); close >= 0 && close < limit; close = src.indexOf('$', close + 1)) {
    if (src[close - 1] === '\\') continue; // an escaped dollar inside the math
    if (SPACE.test(src[close - 1])) continue;
    if (close + 1 < max && DIGIT.test(src[close + 1])) continue;
    return { tex: src.slice(pos + 1, close), display: false, end: close + 1 };
  }
  return null;
}

function delimited(src, start, closer, display, max) {
  const close = src.indexOf(closer, start);
  if (close < 0 || close + closer.length > max) return null;
  const tex = src.slice(start, close);
  if (!tex.trim() || tex.includes('`')) return null;
  return { tex, display, end: close + closer.length };
}

/**
 * A displayed block of math opening a line: `$$` or `\[` at the start of line `start`, closed at
 * the end of that line or of a later one before `end`. `lineAt(n)` gives line n without its
 * indentation, or null where the block's container (a list item, a quote) ended. A blank line
 * ends the search (as in Pandoc): an unclosed `$$` never swallows the paragraphs below it.
 * Returns {tex, next} (`next`: the first line after the block) or null.
 */
export function mathBlock(lineAt, start, end) {
  const first = lineAt(start);
  if (first == null) return null;
  const open = first.startsWith('$$') ? '$$' : first.startsWith('\\[') ? '\\[' : null;
  if (!open) return null;
  const close = open === '$$' ? '$$' : '\\]';
  const rest = first.slice(2).trimEnd();
  const closeAt = rest.indexOf(close);
  if (closeAt >= 0) {
    // All on one line: a block only when nothing follows the closing delimiter.
    if (closeAt !== rest.length - close.length) return null;
    const tex = rest.slice(0, closeAt);
    return tex.trim() ? { tex, next: start + 1 } : null;
  }
  const lines = [rest];
  for (let n = start + 1; n < end; n++) {
    const line = lineAt(n);
    if (line == null || !line.trim()) return null;
    const trimmed = line.trimEnd();
    const at = trimmed.indexOf(close);
    if (at >= 0) {
      if (at !== trimmed.length - close.length) return null;
      lines.push(trimmed.slice(0, at));
      const tex = lines.join('\n');
      return tex.trim() ? { tex, next: n + 1 } : null;
    }
    lines.push(line);
  }
  return null;
}
