// A sent prompt's files, under its text: images as thumbnails in a small grid, other files as
// chips with their name, type and size. A thumbnail opens the image in a lightbox (a modal dialog
// with the file's name; Escape closes it and the focus goes back); Ctrl/⌘-click or a middle click
// opens it in a new tab, as any link. A text file opens in a new tab; a PDF downloads.
import { formatSize, nameParts, typeLabel } from './attachments.js';
import { icon } from './icons.js';
import { el } from './turns.js';

/**
 * The block for `turn`'s attachments, or null when it has none. `url(index, {thumb})` is the
 * address of its n-th file.
 */
export function attachmentsBlock(turn, url) {
  const files = turn.attachments || [];
  if (!files.length || !url) return null;
  const images = [];
  const others = [];
  files.forEach((file, index) => (file.kind === 'image' ? images : others).push({ file, index }));
  const what = `${files.length} attached ${files.length === 1 ? 'file' : 'files'}`;
  return el('div', { class: 'turn-attachments', role: 'group', 'aria-label': what },
    images.length ? el('div', { class: 'attachment-grid' }, ...images.map(({ file, index }) => thumbnail(file, url(index), url(index, { thumb: true })))) : null,
    others.length ? el('div', { class: 'attachment-files' }, ...others.map(({ file, index }) => fileChip(file, url(index)))) : null);
}

function thumbnail(file, full, thumb) {
  const link = el('a', { class: 'attachment-thumb', href: full, title: `${file.name} — open the full image` },
    el('img', {
      src: thumb, alt: file.name, loading: 'lazy', decoding: 'async',
      // The real proportions reserve the box before the image arrives: nothing jumps.
      width: file.width || null, height: file.height || null,
    }));
  link.addEventListener('click', (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    openLightbox({ name: file.name, url: full, width: file.width, height: file.height, opener: link });
  });
  return link;
}

function fileChip(file, url) {
  const facts = [typeLabel(file.media_type, file.name), formatSize(file.size)].filter(Boolean).join(' · ');
  const pdf = file.media_type === 'application/pdf';
  return el('a', {
    class: 'attachment-file', href: url, target: pdf ? null : '_blank', rel: pdf ? null : 'noopener',
    download: pdf ? file.name : null, title: pdf ? `Download ${file.name}` : `Open ${file.name} in a new tab`,
  },
  el('span', { class: 'chip-icon' }, icon('file-text')),
  el('span', { class: 'chip-words' },
    chipName(file.name),
    el('span', { class: 'chip-facts', text: facts })));
}

/** A file's name on a chip: cut in the middle when too long (see nameParts); `title` shows it whole on hover. */
export function chipName(name, { title = false } = {}) {
  const [head, tail] = nameParts(name);
  return el('span', { class: 'chip-name', title: title ? name : null },
    el('span', { class: 'chip-name-head', text: head }), tail ? el('span', { class: 'chip-name-tail', text: tail }) : null);
}

// --- the lightbox ----------------------------------------------------------------------------------

let lightbox = null;

function makeLightbox() {
  const title = el('h2', { class: 'lightbox-title', id: 'lightbox-title' });
  const open = el('a', { class: 'button ghost compact', target: '_blank', rel: 'noopener', title: 'Open the image in a new tab' },
    icon('external-link'), el('span', { text: 'Open' }));
  const close = el('button', { type: 'button', class: 'button ghost icon-only compact', 'aria-label': 'Close', title: 'Close (Esc)' }, icon('x'));
  const image = el('img', { class: 'lightbox-image', alt: '' });
  const dialog = el('dialog', { class: 'dialog lightbox', 'aria-labelledby': 'lightbox-title' },
    el('div', { class: 'dialog-head' }, title, el('span', { class: 'spacer' }), open, close),
    el('div', { class: 'lightbox-body' }, image));
  close.addEventListener('click', () => dialog.close());
  // A click beside the image (on the backdrop or the dark space around it) closes the box.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog || event.target.classList.contains('lightbox-body')) dialog.close();
  });
  dialog.addEventListener('close', () => {
    image.removeAttribute('src');
    const { opener } = lightbox;
    lightbox.opener = null;
    if (opener?.isConnected) opener.focus();
  });
  document.body.append(dialog);
  return { dialog, title, open, close, image };
}

export function openLightbox({ name, url, width, height, opener }) {
  lightbox ||= makeLightbox();
  const { dialog, title, open, close, image } = lightbox;
  title.textContent = name;
  open.href = url;
  image.alt = name;
  if (width && height) {
    image.width = width;
    image.height = height;
  } else {
    image.removeAttribute('width');
    image.removeAttribute('height');
  }
  image.src = url;
  lightbox.opener = opener;
  if (!dialog.open) dialog.showModal();
  close.focus();
}

/**
 * A comparison's column that starts with a reply (a fan-out: one prompt, a reply per model) shows
 * the files of the prompt it answered in its head, small: each branch shows what it was given.
 */
export function givenBlock(prompt, url) {
  const block = attachmentsBlock(prompt, url);
  if (!block) return null;
  block.classList.add('attachments-given');
  block.prepend(el('span', { class: 'given-label muted small', text: 'Given with the prompt:' }));
  block.setAttribute('aria-label', `Files of the prompt this branch answers: ${prompt.attachments.map((a) => a.name).join(', ')}`);
  return block;
}
