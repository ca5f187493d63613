// The one Markdown renderer: markdown-it with raw HTML off, highlight.js for code, and DOMPurify
// over the result. Model output is untrusted input: nothing in it may run.
//
// Math ($…$, \(…\), $$…$$, \[…\]; where it starts and ends is math.js) leaves the sanitiser as its
// TeX source in a <span class="math">, and KaTeX typesets it in the page (renderMarkdownInto): with
// `trust` off, KaTeX builds its nodes itself (no HTML is parsed, \href, \url, \includegraphics and
// \html… render as errors), and sets their sizes through the CSSOM, which the style-src policy
// allows where a style="" attribute would be blocked. Code spans and fenced blocks are parsed
// before math is looked for, so a `$` in code stays code.
import { wireCopy } from './copy.js';
import { icon } from './icons.js';
import { inlineMath, mathBlock } from './math.js';

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

// Before `escape`, which would read "\(" as an escaped parenthesis.
md.inline.ruler.before('escape', 'math_inline', (state, silent) => {
  const found = inlineMath(state.src, state.pos, state.posMax);
  if (!found) return false;
  if (!silent) {
    const token = state.push('math_inline', 'span', 0);
    token.content = found.tex;
    token.meta = { display: found.display };
  }
  state.pos = found.end;
  return true;
});

md.block.ruler.before('fence', 'math_block', (state, startLine, endLine, silent) => {
  if (state.sCount[startLine] - state.blkIndent >= 4) return false; // indented code
  const lineAt = (n) => (n > startLine && state.sCount[n] < state.blkIndent && !state.isEmpty(n)
    ? null
    : state.src.slice(state.bMarks[n] + state.tShift[n], state.eMarks[n]));
  const found = mathBlock(lineAt, startLine, endLine);
  if (!found) return false;
  if (silent) return true;
  const token = state.push('math_block', 'div', 0);
  token.block = true;
  token.content = found.tex;
  token.map = [startLine, found.next];
  state.line = found.next;
  return true;
}, { alt: ['paragraph', 'reference', 'blockquote', 'list'] });

const escape = md.utils.escapeHtml;
md.renderer.rules.math_inline = (tokens, idx) => {
  const { content, meta } = tokens[idx];
  return `<span class="math ${meta.display ? 'math-display' : 'math-inline'}">${escape(content)}</span>`;
};
md.renderer.rules.math_block = (tokens, idx) => `<div class="math math-display">${escape(tokens[idx].content)}</div>\n`;

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

/** Markdown as sanitised HTML: math still as TeX, code blocks without their bar. */
export function renderMarkdown(text) {
  return purifier.sanitize(md.render(text || ''), PURIFY_OPTIONS);
}

/** Markdown shown in `node`: sanitised, its math typeset, each code block with its language and Copy. */
export function renderMarkdownInto(node, text) {
  node.innerHTML = renderMarkdown(text);
  for (const math of node.querySelectorAll('.math')) typeset(math);
  for (const code of node.querySelectorAll('pre > code')) decorateCodeBlock(code);
  for (const table of node.querySelectorAll('table')) scrollTable(table);
}

// A table keeps its words whole (a time, a price, a name) and scrolls sideways in a box of its own
// when it is wider than the reply, instead of breaking "08:00" over two lines or widening the page.
// The box takes keyboard focus so it can be scrolled without a mouse.
function scrollTable(table) {
  const box = document.createElement('div');
  box.className = 'table-scroll';
  box.tabIndex = 0;
  table.replaceWith(box);
  box.append(table);
}

// --- math ---------------------------------------------------------------------------------------

const KATEX_OPTIONS = {
  throwOnError: false, // a formula KaTeX cannot read shows as its source, marked as an error
  trust: false,
  strict: 'ignore',
  maxSize: 20, // em: no formula can be drawn larger than a screen
  maxExpand: 500,
  output: 'htmlAndMathml', // MathML for screen readers, HTML for the eye
};

// A streaming reply is re-rendered every frame: a formula typeset once is cloned after that.
const typesetCache = new Map();
const CACHE_LIMIT = 500;

function typeset(node) {
  const katex = window.katex;
  if (!katex) return; // the TeX source stays readable
  const display = node.classList.contains('math-display');
  const tex = node.textContent;
  const key = `${display ? 'D' : 'I'}${tex}`;
  let done = typesetCache.get(key);
  if (!done) {
    done = document.createElement('span');
    try {
      katex.render(tex, done, { ...KATEX_OPTIONS, displayMode: display });
    } catch (_) {
      done.textContent = tex; // e.g. beyond maxExpand: KaTeX throws whatever throwOnError says
    }
    if (typesetCache.size >= CACHE_LIMIT) typesetCache.delete(typesetCache.keys().next().value);
    typesetCache.set(key, done);
  }
  node.replaceChildren(...done.cloneNode(true).childNodes);
  node.dataset.typeset = 'true';
}

// --- code blocks --------------------------------------------------------------------------------

function codeLanguage(code) {
  const match = /(?:^|\s)language-(\S+)/.exec(code.className);
  return match ? match[1].slice(0, 24) : 'text';
}

function decorateCodeBlock(code) {
  const pre = code.parentElement;
  const label = document.createElement('span');
  label.className = 'code-lang';
  label.textContent = codeLanguage(code);
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.className = 'code-copy';
  copy.title = 'Copy the code';
  copy.append(icon('copy'), Object.assign(document.createElement('span'), { textContent: 'Copy' }));
  wireCopy(copy, () => code.textContent, { failed: 'Copy failed' });
  const head = document.createElement('div');
  head.className = 'code-head';
  head.append(label, copy);
  // A long line scrolls sideways inside the block: the keyboard must be able to reach and scroll it.
  pre.tabIndex = 0;
  const block = document.createElement('div');
  block.className = 'code-block';
  pre.replaceWith(block);
  block.append(head, pre);
}

