// Attachments, without the DOM: what the file picker offers, how a file's size and type read, what
// an upload's failure says, which refs a prompt sends, and whether a model can see its images.
// `node --test` (tests/js/attachments.test.mjs) checks them; attachments-tray.js (the composer's
// files) and attachments-view.js (a turn's files) draw them.
import { fillUrl } from './urls.js';

// What the server takes (conversations/attachments/files.py decides; a file it refuses gets its
// reason back). The picker offers these; a file without an extension (a Makefile) can still be
// dropped or pasted.
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
export const TEXT_EXTENSIONS = [
  '.txt', '.md', '.markdown', '.csv', '.tsv', '.json', '.jsonl', '.yaml', '.yml', '.xml', '.html', '.htm',
  '.css', '.js', '.mjs', '.ts', '.tsx', '.jsx', '.py', '.rb', '.go', '.rs', '.java', '.kt', '.c', '.h', '.cpp',
  '.hpp', '.cc', '.cs', '.swift', '.php', '.sh', '.bash', '.zsh', '.sql', '.toml', '.ini', '.cfg', '.conf',
  '.log', '.r', '.lua', '.pl', '.scala', '.tex', '.diff', '.patch', '.pdf',
];
export const ACCEPT = [...IMAGE_TYPES, ...TEXT_EXTENSIONS].join(',');

const TYPE_LABELS = {
  'text/plain': 'Text',
  'text/markdown': 'Markdown',
  'text/csv': 'CSV',
  'text/tab-separated-values': 'TSV',
  'text/html': 'HTML',
  'text/css': 'CSS',
  'text/xml': 'XML',
  'application/json': 'JSON',
  'application/pdf': 'PDF',
  'image/png': 'PNG',
  'image/jpeg': 'JPEG',
  'image/webp': 'WebP',
  'image/gif': 'GIF',
};

/** A short name for a file's type: "CSV", "PDF", or the extension of its name ("PY"). */
export function typeLabel(mediaType, name = '') {
  if (TYPE_LABELS[mediaType]) return TYPE_LABELS[mediaType];
  const dot = name.lastIndexOf('.');
  if (dot > 0 && dot < name.length - 1) return name.slice(dot + 1).toUpperCase().slice(0, 8);
  return 'Text';
}

/** A size in words a person reads at a glance: "812 bytes", "12 KB", "4.2 MB". */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1000) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const shown = value < 10 ? value.toFixed(1).replace(/\.0$/, '') : String(Math.round(value));
  return `${shown} ${units[unit]}`;
}

/**
 * A long name in two parts, so a chip too narrow for it cuts its middle, not the end that tells
 * "sales-v2.csv" from "sales-v3.csv" or two pasted screenshots apart: the last `keep` characters
 * stay whole. A name that short is one part.
 */
export function nameParts(name, keep = 12) {
  if (name.length <= keep + 4) return [name, ''];
  return [name.slice(0, -keep), name.slice(-keep)];
}

/** A file from the picker, a paste or a drop is an image the server may take (by its type). */
export function looksLikeImage(file) {
  return IMAGE_TYPES.includes(file?.type);
}

/**
 * A pasted screenshot arrives as "image.png" (or with no name at all): it gets a name that says
 * what and when, so two of them are told apart on their chips and in the model's request.
 */
export function pastedName(file, now = new Date()) {
  const name = file?.name || '';
  if (name && name !== 'image.png' && name !== 'image.jpeg' && name !== 'image.jpg') return name;
  const extension = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif' }[file?.type] || 'png';
  const pad = (n) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}.${pad(now.getMinutes())}.${pad(now.getSeconds())}`;
  return `Pasted image ${stamp}.${extension}`;
}

/**
 * What a failed upload says: the server's own sentence when it sent one ({"error": "..."}),
 * otherwise a sentence for the status (a proxy's 413 page, a dropped connection).
 */
export function uploadError(status, body) {
  let parsed = null;
  try {
    parsed = typeof body === 'string' && body ? JSON.parse(body) : body;
  } catch (_) {
    parsed = null;
  }
  if (parsed && typeof parsed.error === 'string' && parsed.error) return parsed.error;
  if (status === 0) return 'The upload did not reach the server: check the connection, then attach the file again.';
  if (status === 413) return 'The file is too large for the server to take.';
  if (status === 401 || status === 403) return 'You are signed out, or may not upload files here: sign in again, then attach the file again.';
  if (status >= 500) return `The server failed to store the file (${status}): attach it again in a moment.`;
  return `The server refused the file (${status}).`;
}

/**
 * The refs a prompt sends, in the order of its chips: a new upload by its id, a file kept from
 * the prompt being edited by its turn and index. Chips still uploading or failed have no ref.
 */
export function refsOf(items) {
  const refs = [];
  for (const item of items) {
    if (item.keep) refs.push({ turn: item.keep.turn, index: item.keep.index });
    else if (item.upload?.id) refs.push({ upload: item.upload.id });
  }
  return refs;
}

/** The models of a request that cannot see images: those the page marks `vision: false`. */
export function blindModels(models, chosenIds) {
  const byId = new Map(models.map((m) => [m.id, m]));
  const blind = [];
  for (const id of new Set(chosenIds)) {
    const model = byId.get(id);
    if (model && model.vision === false) blind.push(model);
  }
  return blind;
}

/** "A cannot see images", "A and B cannot see images", "A, B and C cannot see images". */
export function blindWarning(labels) {
  if (!labels.length) return '';
  const names = labels.length === 1 ? labels[0] : `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
  return `${names} cannot see images: choose a model that can, or send the text only.`;
}

/** Turns whose attachments include an image. */
export function hasImages(turns) {
  return turns.some((t) => (t.attachments || []).some((a) => a.kind === 'image'));
}

/**
 * A turn's n-th file from a template with the slots {turn_id} and {index}; `thumb` asks for the
 * small WebP the server keeps of an image.
 */
export function fileUrl(template, turnId, index, { thumb = false } = {}) {
  const url = fillUrl(template, { turn_id: turnId, index: String(index) });
  return thumb ? `${url}?thumb=1` : url;
}
