// The one Markdown renderer: markdown-it with raw HTML off, highlight.js for code, and DOMPurify
// over the result. Model output is untrusted input: nothing in it may run.

const md = window.markdownit({
  html: false,
  linkify: true,
  breaks: false,
  highlight(code, lang) {
    const hljs = window.hljs;
    if (hljs && lang && hljs.getLanguage(lang)) {
      try {
        return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
      } catch (_) {
        /* fall through to plain text */
      }
    }
    return ''; // markdown-it escapes the code itself
  },
});
// Remote images in model output can leak the conversation to whoever hosts them: render the
// Markdown image syntax as text and a link instead of loading anything.
md.disable('image');

const purifier = window.DOMPurify;
purifier.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

const PURIFY_OPTIONS = {
  FORBID_TAGS: ['style', 'img', 'svg', 'math', 'iframe', 'form', 'input', 'button', 'textarea', 'select'],
  FORBID_ATTR: ['style'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
};

export function renderMarkdown(text) {
  return purifier.sanitize(md.render(text || ''), PURIFY_OPTIONS);
}
