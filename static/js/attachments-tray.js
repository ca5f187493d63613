// The files of a prompt being written: a row of chips above its text, one per file. A file is
// uploaded the moment it is chosen, pasted or dropped (POST /files/, with a progress bar), and its
// chip then shows its thumbnail or its name and size; × discards it (DELETE). A file the server
// refuses keeps its chip, saying why, until dismissed. An edited prompt's tray starts with the
// original's files ("kept"): those are sent as refs to the original turn, never uploaded again.
import { ACCEPT, formatSize, looksLikeImage, pastedName, refsOf, typeLabel, uploadError } from './attachments.js';
import { chipName } from './attachments-view.js';
import { carriesFiles, guardFileDrops } from './file-drops.js';
import { icon } from './icons.js';
import { el } from './turns.js';

let trays = 0;

export class AttachmentTray {
  /**
   * `box` is the chips' row; `uploadUrl` the upload URL; `onChange()` runs when files come, go,
   * finish uploading or fail. `kept` are an edited prompt's files: {name, kind, media_type, size,
   * thumbnail_url, url, keep: {turn, index}}.
   */
  constructor({ box, uploadUrl, csrfToken, kept = [], onChange = () => {} }) {
    Object.assign(this, { box, uploadUrl, csrfToken, onChange });
    this.items = kept.map((k) => ({ ...k, state: 'ready' }));
    this.id = ++trays;
    this.box.classList.add('attachment-tray');
    this.box.setAttribute('role', 'list');
    this.box.setAttribute('aria-label', 'Attached files');
    this.render();
  }

  /** Makes `input` (type=file) this tray's picker: several files at once, of the kinds taken. */
  bindInput(input) {
    input.multiple = true;
    input.accept = ACCEPT;
    input.addEventListener('change', () => {
      this.add([...input.files]);
      input.value = ''; // the same file may be chosen again after its chip was removed
    });
    return input;
  }

  /** An Attach button and its hidden file input (the caller places both). */
  attachButton({ labelled = true } = {}) {
    const input = this.bindInput(el('input', { type: 'file', hidden: true, class: 'attach-input', tabindex: '-1' }));
    const button = el('button', {
      type: 'button', class: `button ghost compact attach-button${labelled ? ' labelled' : ' icon-only'}`,
      title: 'Attach images or text files (or paste, or drop them here)', 'aria-label': labelled ? null : 'Attach files',
      onclick: () => input.click(),
    }, icon('paperclip'), labelled ? el('span', { class: 'button-label', text: 'Attach files' }) : null);
    return { button, input };
  }

  /** Files from a paste: an image on the clipboard (a screenshot) or copied files. True if any. */
  paste(event) {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return false;
    event.preventDefault(); // a screenshot would otherwise paste nothing, or its file name as text
    this.add(files.map((f) => (looksLikeImage(f) ? renamed(f, pastedName(f)) : f)));
    return true;
  }

  add(files) {
    for (const file of files) {
      const item = { name: file.name || 'file', size: file.size, media_type: file.type, kind: looksLikeImage(file) ? 'image' : 'text', state: 'uploading', progress: 0 };
      this.items.push(item);
      this.upload(item, file);
    }
    this.render();
    this.onChange();
  }

  upload(item, file) {
    const form = new FormData();
    form.append('file', file, item.name);
    const request = new XMLHttpRequest();
    item.request = request;
    request.open('POST', this.uploadUrl);
    request.setRequestHeader('X-CSRFToken', this.csrfToken);
    request.setRequestHeader('Accept', 'application/json');
    request.upload.addEventListener('progress', (event) => {
      if (!event.lengthComputable) return;
      item.progress = Math.round((event.loaded / event.total) * 100);
      this.renderProgress(item);
    });
    const done = () => {
      item.request = null;
      if (request.status === 201 || request.status === 200) {
        try {
          item.upload = JSON.parse(request.responseText);
        } catch (_) {
          item.upload = null;
        }
      }
      if (item.upload?.id) {
        Object.assign(item, { state: 'ready', name: item.upload.name || item.name, size: item.upload.size ?? item.size, kind: item.upload.kind || item.kind, media_type: item.upload.media_type || item.media_type, thumbnail_url: item.upload.thumbnail_url, url: item.upload.url });
      } else {
        Object.assign(item, { state: 'error', error: uploadError(request.status, request.responseText) });
      }
      if (!this.items.includes(item)) return; // removed meanwhile
      this.render();
      // A refused file's chip may be beyond the row's end: it comes into view, saying why.
      if (item.state === 'error') item.chip.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      this.onChange();
    };
    request.addEventListener('load', done);
    request.addEventListener('error', done);
    request.send(form);
  }

  remove(item) {
    const at = this.items.indexOf(item);
    if (at < 0) return;
    this.items.splice(at, 1);
    if (item.request) item.request.abort();
    else if (item.upload?.url) {
      // An unsent upload is discarded at once; one left behind would expire on its own anyway.
      fetch(item.upload.url, { method: 'DELETE', headers: { 'X-CSRFToken': this.csrfToken } }).catch(() => {});
    }
    this.render();
    // The focus stays in the row: on the next chip's ×, or the previous one's, or leaves the row.
    const buttons = this.box.querySelectorAll('.chip-remove');
    const next = buttons[Math.min(at, buttons.length - 1)];
    if (next) next.focus();
    else this.onEmpty?.();
    this.onChange();
  }

  /** After the prompt was sent: its uploads now belong to the turn, so nothing is deleted. */
  clear() {
    for (const item of this.items) item.request?.abort();
    this.items = [];
    this.render();
    this.onChange();
  }

  /** Discards every new upload (an edit cancelled). */
  discard() {
    for (const item of [...this.items]) if (!item.keep) this.remove(item);
  }

  get pending() { return this.items.some((i) => i.state === 'uploading'); }
  get failed() { return this.items.some((i) => i.state === 'error'); }
  get count() { return this.items.length; }
  get hasImages() { return this.items.some((i) => i.kind === 'image'); }
  refs() { return refsOf(this.items.filter((i) => i.state === 'ready')); }

  render() {
    this.box.hidden = this.items.length === 0;
    this.box.replaceChildren(...this.items.map((item) => this.chip(item)));
  }

  renderProgress(item) {
    const bar = item.chip?.querySelector('progress');
    if (bar) bar.value = item.progress;
  }

  chip(item) {
    const size = formatSize(item.size);
    const remove = el('button', {
      type: 'button', class: 'chip-remove', onclick: () => this.remove(item),
      'aria-label': item.state === 'error' ? `Dismiss: ${item.name}` : `Remove ${item.name}`,
      title: item.state === 'error' ? 'Dismiss' : 'Remove',
    }, icon('x'));
    let preview;
    if (item.state === 'ready' && item.kind === 'image' && item.thumbnail_url) {
      preview = el('img', { class: 'chip-thumb', src: item.thumbnail_url, alt: '', loading: 'lazy', decoding: 'async' });
    } else {
      preview = el('span', { class: 'chip-icon' }, icon(item.kind === 'image' ? 'image' : 'file-text'));
    }
    const facts = item.state === 'uploading'
      ? el('span', { class: 'chip-facts' }, el('progress', { max: '100', value: String(item.progress || 0), 'aria-label': `Uploading ${item.name}` }))
      : el('span', { class: 'chip-facts', text: [typeLabel(item.media_type, item.name), size].filter(Boolean).join(' · ') });
    const words = el('span', { class: 'chip-words' },
      chipName(item.name, { title: true }),
      facts);
    const chip = el('div', { class: `attachment-chip is-${item.state}${item.kind === 'image' ? ' is-image' : ''}`, role: 'listitem', 'aria-busy': item.state === 'uploading' ? 'true' : null },
      preview, words, remove);
    if (item.state === 'error') {
      chip.append(el('span', { class: 'chip-error', role: 'alert', text: item.error }));
    }
    item.chip = chip;
    return chip;
  }
}

// A File under another name (a pasted screenshot's "image.png" says nothing).
function renamed(file, name) {
  if (file.name === name) return file;
  try {
    return new File([file], name, { type: file.type, lastModified: file.lastModified });
  } catch (_) {
    return file;
  }
}

/**
 * Files dragged over `zone` (and, with `page`, anywhere on the page) are offered to `tray`: the
 * zone shows itself as the drop target while files are dragged, and takes them when dropped.
 * Text or links being dragged are left alone. `accepts(event)` may hand a drop to another tray;
 * files it refuses (a viewer's page) are still kept from opening in place of the page.
 */
export function dropTarget({ zone, tray, page = null, accepts = () => true }) {
  // dragover repeats every few dozen milliseconds while files are held over the area: the target
  // shows while it does, and hides shortly after it stops (dragleave fires for every child
  // crossed, which makes counting enters and leaves fragile).
  let hideTimer = null;
  guardFileDrops();
  const show = (on) => {
    clearTimeout(hideTimer);
    zone.classList.toggle('is-drop-target', on);
    if (on) hideTimer = setTimeout(() => show(false), 300);
  };
  const area = page || zone;
  for (const type of ['dragenter', 'dragover']) {
    area.addEventListener(type, (event) => {
      if (!carriesFiles(event) || !accepts(event)) return;
      event.preventDefault(); // a drop is only allowed where dragover was cancelled
      event.dataTransfer.dropEffect = 'copy';
      show(true);
    });
  }
  area.addEventListener('drop', (event) => {
    if (!carriesFiles(event) || !accepts(event)) return;
    show(false);
    event.preventDefault(); // the browser would otherwise open the file in place of the page
    tray.add([...event.dataTransfer.files]);
  });
}

/**
 * The tray of a prompt being edited: its original files as chips to keep or remove (`fileUrl(index,
 * {thumb})` shows them), the Attach button to add more, paste into `editor` and drop onto `form`.
 * Returns the tray, its row of chips and its button (with its hidden input) to place.
 */
export function editTray({ turn, fileUrl, uploadUrl, csrfToken, editor, form, onChange }) {
  const kept = (turn.attachments || []).map((file, index) => ({
    name: file.name, kind: file.kind, media_type: file.media_type, size: file.size,
    thumbnail_url: file.kind === 'image' ? fileUrl(index, { thumb: true }) : null,
    keep: { turn: turn.id, index },
  }));
  const box = el('div', { class: 'edit-tray' });
  const tray = new AttachmentTray({ box, uploadUrl, csrfToken, kept, onChange });
  tray.onEmpty = () => editor.focus();
  const { button, input } = tray.attachButton();
  editor.addEventListener('paste', (event) => tray.paste(event));
  dropTarget({ zone: form, tray });
  return { tray, box, button, input };
}
