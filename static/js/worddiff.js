// A reply's words against another's, as HTML built from escaped text only: words added are
// wrapped in <ins>, words dropped in <del>. The diffing is jsdiff's (window.Diff.diffWords in the
// page, the same vendored file under `node --test`): this module only turns its parts into markup.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// jsdiff's change objects ({value, added, removed}) as HTML.
export function partsToHtml(parts) {
  let html = '';
  for (const part of parts) {
    const escaped = escapeHtml(part.value);
    if (part.added) html += `<ins>${escaped}</ins>`;
    else if (part.removed) html += `<del>${escaped}</del>`;
    else html += escaped;
  }
  return html;
}

// `text` marked against `base` with `diffWords` (jsdiff's).
export function diffHtml(diffWords, base, text) {
  return partsToHtml(diffWords(base ?? '', text ?? ''));
}
