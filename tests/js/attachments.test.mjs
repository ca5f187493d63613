// Attachments without the DOM (static/js/attachments.js): sizes and types in words, a failed
// upload's sentence, the refs a prompt sends, the models that cannot see its images.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ACCEPT, blindModels, blindWarning, fileUrl, formatSize, hasImages, nameParts, pastedName, refsOf, typeLabel, uploadError,
} from '../../static/js/attachments.js';

describe('formatSize', () => {
  test('bytes, kilobytes and megabytes, rounded for the eye', () => {
    assert.equal(formatSize(1), '1 byte');
    assert.equal(formatSize(812), '812 bytes');
    assert.equal(formatSize(1000), '1 KB');
    assert.equal(formatSize(12_345), '12 KB');
    assert.equal(formatSize(4_200_000), '4.2 MB');
    assert.equal(formatSize(20 * 1024 * 1024), '21 MB');
  });

  test('nothing for a size that is not one', () => {
    assert.equal(formatSize(undefined), '');
    assert.equal(formatSize(-1), '');
  });
});

describe('typeLabel', () => {
  test('a known type by its short name', () => {
    assert.equal(typeLabel('text/csv', 'sales.csv'), 'CSV');
    assert.equal(typeLabel('application/pdf', 'paper.pdf'), 'PDF');
    assert.equal(typeLabel('image/png', 'shot.png'), 'PNG');
  });

  test('another type by its extension, or "Text"', () => {
    assert.equal(typeLabel('text/x-python', 'main.py'), 'PY');
    assert.equal(typeLabel('text/plain', 'Makefile'), 'Text');
    assert.equal(typeLabel('', 'Makefile'), 'Text');
  });
});

describe('ACCEPT', () => {
  test('offers the image types and the text, code and PDF extensions', () => {
    for (const kind of ['image/png', 'image/jpeg', 'image/webp', 'image/gif', '.csv', '.md', '.py', '.pdf']) {
      assert.ok(ACCEPT.split(',').includes(kind), kind);
    }
    assert.ok(!ACCEPT.includes('image/svg'), 'an SVG is not an image the server takes');
  });
});

describe('pastedName', () => {
  const when = new Date(2025, 2, 4, 9, 5, 7);

  test('a screenshot pasted as "image.png" is named by when it was pasted', () => {
    assert.equal(pastedName({ name: 'image.png', type: 'image/png' }, when), 'Pasted image 2025-03-04 09.05.07.png');
    assert.equal(pastedName({ name: '', type: 'image/jpeg' }, when), 'Pasted image 2025-03-04 09.05.07.jpg');
  });

  test('a pasted file with a name of its own keeps it', () => {
    assert.equal(pastedName({ name: 'diagram.png', type: 'image/png' }, when), 'diagram.png');
  });
});

describe('uploadError', () => {
  test("the server's sentence, when it sent one", () => {
    const body = JSON.stringify({ error: 'notes.exe is not a file Workbench takes.' });
    assert.equal(uploadError(400, body), 'notes.exe is not a file Workbench takes.');
    assert.equal(uploadError(413, { error: 'The file is 30 MB; the limit is 20 MB.' }), 'The file is 30 MB; the limit is 20 MB.');
  });

  test('a sentence for the status otherwise', () => {
    assert.match(uploadError(413, '<html>Request Entity Too Large</html>'), /too large/);
    assert.match(uploadError(0, ''), /did not reach the server/);
    assert.match(uploadError(403, ''), /signed out/);
    assert.match(uploadError(502, ''), /\(502\)/);
  });
});

describe('refsOf', () => {
  test('kept files by turn and index, new uploads by id, in the order of the chips', () => {
    const items = [
      { keep: { turn: 7, index: 1 } },
      { upload: { id: 'abc' } },
      { keep: { turn: 7, index: 0 } },
      { upload: null }, // still uploading, or failed
    ];
    assert.deepEqual(refsOf(items), [{ turn: 7, index: 1 }, { upload: 'abc' }, { turn: 7, index: 0 }]);
  });
});

describe('blindModels and blindWarning', () => {
  const models = [
    { id: 'openai:gpt-4o', label: 'OpenAI · gpt-4o', vision: true },
    { id: 'local:tiny', label: 'Local · tiny', vision: false },
    { id: 'other:unknown', label: 'Other · unknown' },
  ];

  test('only the models marked without vision, each once', () => {
    assert.deepEqual(blindModels(models, ['openai:gpt-4o', 'local:tiny', 'local:tiny', 'other:unknown']).map((m) => m.id), ['local:tiny']);
    assert.deepEqual(blindModels(models, ['openai:gpt-4o']), []);
  });

  test('the warning names them', () => {
    assert.equal(blindWarning([]), '');
    assert.match(blindWarning(['Local · tiny']), /^Local · tiny cannot see images/);
    assert.match(blindWarning(['A', 'B', 'C']), /^A, B and C cannot see images/);
  });
});

describe('hasImages', () => {
  test('a branch with an image among its turns’ files', () => {
    assert.equal(hasImages([{ attachments: [{ kind: 'text' }] }, {}]), false);
    assert.equal(hasImages([{ attachments: [{ kind: 'text' }, { kind: 'image' }] }]), true);
  });
});

describe('fileUrl', () => {
  test("a turn's n-th file, and its thumbnail", () => {
    assert.equal(fileUrl('/c/3/t/{turn_id}/files/{index}/', 41, 0), '/c/3/t/41/files/0/');
    assert.equal(fileUrl('/s/tok/t/{turn_id}/files/{index}/', 41, 2, { thumb: true }), '/s/tok/t/41/files/2/?thumb=1');
  });
});

describe('nameParts', () => {
  test('a short name is one part', () => {
    assert.deepEqual(nameParts('notes.md'), ['notes.md', '']);
    assert.deepEqual(nameParts('a-sixteen-chars!'), ['a-sixteen-chars!', '']);
  });
  test('a long name keeps its end whole, so names that differ at the end stay told apart', () => {
    const [head, tail] = nameParts('sales_by_region_q3_final_v2.csv');
    assert.equal(head + tail, 'sales_by_region_q3_final_v2.csv');
    assert.equal(tail, '_final_v2.csv'.slice(-12));
    assert.notEqual(nameParts('Pasted image 2024-09-30 13.05.21.png')[1], nameParts('Pasted image 2024-09-30 13.05.22.png')[1]);
  });
});
