// Where math starts and ends in a reply's Markdown (static/js/math.js).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { inlineMath, mathBlock } from '../../static/js/math.js';

// Every piece of inline math in `text`, scanning as the renderer does: left to right, past each,
// and past code spans (markdown-it's backtick rule reads them first).
function allInline(text) {
  const found = [];
  for (let pos = 0; pos < text.length; pos++) {
    if (text[pos] === '`') {
      const close = text.indexOf('`', pos + 1);
      if (close >= 0) pos = close;
      continue;
    }
    const math = inlineMath(text, pos);
    if (math) {
      found.push(math.display ? `[${math.tex}]` : math.tex);
      pos = math.end - 1;
    } else if (text[pos] === '\\') {
      pos++; // an escaped character, as markdown-it's escape rule reads it
    }
  }
  return found;
}

describe('dollar signs', () => {
  test('money is not math', () => {
    for (const text of ['$5 and $10', 'It costs $5, or $10 with shipping.', 'US$5 or US$10', '$20,000 and $30,000',
      'between $ 5 and 6 $', 'a lone $', '$', '$$', '$ $', 'pay $5.00/month, $3 extra']) {
      assert.deepEqual(allInline(text), [], text);
    }
  });

  test('$…$ is inline math', () => {
    assert.deepEqual(allInline('so $x$ and $x^2 + 1$ here'), ['x', 'x^2 + 1']);
    assert.deepEqual(allInline('$a$'), ['a']);
    assert.deepEqual(allInline('the set $\\{1, 2\\}$ has two'), ['\\{1, 2\\}']);
  });

  test('an escaped dollar neither opens nor closes', () => {
    assert.deepEqual(allInline('\\$x$ costs'), []);
    assert.deepEqual(allInline('$a \\$ b$'), ['a \\$ b']);
  });

  test('a code span is never the end of a formula', () => {
    assert.deepEqual(allInline('It costs $5 and $10; `$x$` is code.'), []);
    assert.deepEqual(allInline('$a `b$` c$'), []);
    assert.deepEqual(allInline('\\(a `b\\) c`'), []);
    assert.deepEqual(allInline('$$a `b$$`'), []);
  });

  test('a closing $ followed by a digit does not close', () => {
    assert.deepEqual(allInline('$x$5'), []);
    assert.deepEqual(allInline('$x$5 then $y$'), ['x$5 then $y']);
  });

  test('$$…$$ in a line is displayed math', () => {
    assert.deepEqual(allInline('see $$e^{i\\pi} = -1$$ here'), ['[e^{i\\pi} = -1]']);
    assert.deepEqual(allInline('$$  $$'), []);
  });

  test('the end of the inline text bounds the search', () => {
    assert.equal(inlineMath('$x$ y', 0, 2), null);
    assert.deepEqual(inlineMath('$x$ y', 0, 3), { tex: 'x', display: false, end: 3 });
  });
});

describe('backslash delimiters', () => {
  test('\\(…\\) is inline and \\[…\\] displayed', () => {
    assert.deepEqual(allInline('where \\(a + b\\) and \\[c\\]'), ['a + b', '[c]']);
  });

  test('unclosed or empty ones are text', () => {
    assert.deepEqual(allInline('\\(a + b'), []);
    assert.deepEqual(allInline('\\( \\)'), []);
    assert.deepEqual(allInline('\\\\(a\\)'), []);
  });
});

describe('math blocks', () => {
  const block = (text) => {
    const lines = text.split('\n');
    return mathBlock((n) => lines[n], 0, lines.length);
  };

  test('$$ and \\[ open a block closed on a later line', () => {
    assert.deepEqual(block('$$\na = b\n\\\\ c = d\n$$\nafter'), { tex: '\na = b\n\\\\ c = d\n', next: 4 });
    assert.deepEqual(block('\\[\nx^2\n\\]'), { tex: '\nx^2\n', next: 3 });
    assert.deepEqual(block('$$ x = 1\ny = 2 $$'), { tex: ' x = 1\ny = 2 ', next: 2 });
  });

  test('or on the same line, with nothing after it', () => {
    assert.deepEqual(block('$$x = 1$$'), { tex: 'x = 1', next: 1 });
    assert.deepEqual(block('\\[x\\]   '), { tex: 'x', next: 1 });
    assert.equal(block('$$x$$ and more'), null);
    assert.equal(block('\\[1\\] Smith et al.'), null);
  });

  test('unclosed, interrupted by a blank line, or empty: no block', () => {
    assert.equal(block('$$\nx = 1'), null);
    assert.equal(block('$$\nx = 1\n\ny$$'), null);
    assert.equal(block('$$\n$$'), null);
    assert.equal(block('$$$$'), null);
    assert.equal(block('text $$x$$'), null);
  });

  test('a block stops where its container does', () => {
    const lines = ['$$', 'x', null, '$$'];
    assert.equal(mathBlock((n) => lines[n], 0, lines.length), null);
  });

  test('text after the closing delimiter on a later line: no block', () => {
    assert.equal(block('$$\nx\n$$ trailing'), null);
  });
});
