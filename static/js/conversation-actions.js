// What a person can do on the conversation page: to a turn (edit in place, regenerate, reply here,
// copy, what the model saw, get code, fork, copy a link, delete), and to the page (the export
// menu, Share, the main-line star). The server checks every action again; `can` only hides what
// this person's role does not allow.
//
// Under each turn, its two most used actions are icon buttons (a prompt: Edit and Copy; a reply:
// Copy and Regenerate), and "More actions" opens a menu of all of them, with Delete last.
import { menuButton } from './action-menu.js';
import { editTray } from './attachments-tray.js';
import { showCode, showRequest } from './context.js';
import { turnName } from './format.js';
import { copyText } from './copy.js';
import { icon } from './icons.js';
import { openShareDialog } from './share.js';
import { el } from './turns.js';

const QUICK = { user: ['edit', 'copy'], assistant: ['copy', 'regenerate'], system: ['copy'] };
const SHOWN_FOR_MS = 1500;

export class TurnActions {
  /** `announce(text)` says something to screen readers; `floor()` is the top of the composer (px). */
  constructor({ transcriptRoot, branch, url, can, composer, socket, csrfToken, modelLabels, announce = () => {}, floor }) {
    Object.assign(this, { transcriptRoot, branch, url, can, composer, socket, csrfToken, modelLabels, announce, floor });
  }

  // Every action on `turn`, in the menu's order: {action, label, icon, run(button), danger, separated}.
  actions(turn) {
    const { can, composer, url } = this;
    const streaming = turn.status === 'streaming';
    const reply = turn.role === 'assistant';
    const all = [];
    const add = (action, label, iconName, run, extra = {}) => all.push({ action, label, icon: iconName, run, ...extra });
    if (can.write && turn.role === 'user') add('edit', 'Edit', 'pencil', () => this.edit(turn), { hint: 'Edit (E)' });
    if (can.write && reply && !streaming) {
      add('regenerate', 'Regenerate', 'refresh-cw', () => composer.regenerate(turn), { hint: 'Regenerate with the model chosen below (Shift+R)' });
    }
    if (can.write && !streaming) add('attach', 'Reply here', 'corner-down-right', () => composer.attach(turn));
    if (turn.content) add('copy', 'Copy text', 'copy', (button) => this.copy(turn, button), { short: 'Copy', hint: 'Copy the text' });
    if (reply && !streaming) {
      add('request', 'What the model saw', 'eye', () => showRequest(url.request(turn.id), url.code(turn.id), turnName(turn, this.modelLabels)));
      add('code', 'Get code', 'file-text', () => showCode(url.code(turn.id)));
    }
    if (!streaming) add('fork', 'Fork into a new conversation', 'git-fork', () => this.fork(turn));
    add('link', 'Copy link', 'link', () => this.copyLink(turn));
    if (!streaming && can.manage) add('delete', 'Delete', 'trash-2', () => this.remove(turn), { danger: true, separated: true });
    return all;
  }

  // The controls under a turn: its quick actions as icon buttons, then the menu of them all.
  buttons(turn) {
    const all = this.actions(turn);
    const quick = (QUICK[turn.role] || []).map((name) => all.find((a) => a.action === name)).filter(Boolean);
    const buttons = quick.map((a) => {
      const name = a.short || a.label;
      return el('button', {
        type: 'button',
        class: 'button ghost icon-only compact',
        'aria-label': name,
        title: a.hint || name,
        'data-action': a.action,
        onclick: (event) => a.run(event.currentTarget),
      }, icon(a.icon));
    });
    const menu = menuButton({
      menuLabel: turn.role === 'user' ? 'Actions on this prompt' : 'Actions on this reply',
      items: () => this.actions(turn).map((a) => ({ ...a, onSelect: a.run })),
      floor: this.floor,
      ceiling: () => document.querySelector('.topbar')?.getBoundingClientRect().bottom ?? 0,
    });
    return [...buttons, menu];
  }

  // Edits a prompt in place; saving sends it as a new version beside the original. Its files show
  // as chips: each may be kept or removed, and more attached.
  edit(turn) {
    const article = this.transcriptRoot.querySelector(`[data-turn="${turn.id}"]`);
    const body = article?.querySelector('.turn-body');
    if (!body) return; // already being edited
    const files = article.querySelector(':scope > .turn-attachments');
    const editor = el('textarea', { class: 'edit-box', 'aria-label': 'Edit the prompt', rows: Math.min(12, turn.content.split('\n').length + 1) });
    editor.value = turn.content;
    const saveButton = el('button', { type: 'button', class: 'button primary compact', onclick: () => save(), text: 'Save & send' });
    const form = el('div', { class: 'edit-form' });
    const attached = editTray({
      turn, editor, form, csrfToken: this.csrfToken, uploadUrl: this.composer.page.urls.upload,
      fileUrl: (index, options) => this.url.file(turn.id, index, options),
      onChange: () => {
        const { pending, failed } = attached.tray;
        saveButton.disabled = pending || failed;
        saveButton.textContent = pending ? 'Uploading…' : 'Save & send';
        saveButton.title = failed ? 'Dismiss the file that could not be attached first' : '';
      },
    });
    const close = ({ discard }) => {
      if (discard) attached.tray.discard();
      form.replaceWith(body);
      if (files) files.hidden = false;
    };
    const save = () => {
      if (attached.tray.pending || attached.tray.failed) return;
      if (this.composer.edit(turn, editor.value, attached.tray.refs())) close({ discard: false });
    };
    form.append(
      attached.box,
      editor,
      el('div', { class: 'edit-bar' },
        attached.button, attached.input,
        el('span', { class: 'muted small edit-note', text: 'Saving makes a new version beside this one; the original stays.' }),
        el('span', { class: 'spacer' }),
        el('button', { type: 'button', class: 'button ghost compact', onclick: () => close({ discard: true }), text: 'Cancel' }),
        saveButton));
    editor.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === 'Escape') {
        close({ discard: true });
      }
    });
    body.replaceWith(form);
    if (files) files.hidden = true;
    editor.focus();
  }

  // Copies the turn's text; an icon button says so for a moment, and screen readers hear it.
  async copy(turn, button) {
    await this.toClipboard(turn.content, 'Copied', button?.dataset.action === 'copy' ? button : null);
  }

  async copyLink(turn) {
    await this.toClipboard(new URL(this.url.turn(turn.id), location.href).href, 'Link copied');
  }

  async toClipboard(text, done, button = null) {
    const said = (await copyText(text)) ? done : 'Copy failed: the browser did not allow it';
    this.announce(said);
    if (!button) return;
    button.setAttribute('aria-label', said);
    button.replaceChildren(icon(said === done ? 'check' : 'x'));
    clearTimeout(button.shownTimer);
    button.shownTimer = setTimeout(() => {
      button.setAttribute('aria-label', 'Copy');
      button.replaceChildren(icon('copy'));
    }, SHOWN_FOR_MS);
  }

  // A fork is a new conversation: a form post, so the browser follows the redirect to it.
  fork(turn) {
    const form = el('form', { method: 'post', action: this.url.fork(turn.id), hidden: true },
      el('input', { type: 'hidden', name: 'csrfmiddlewaretoken', value: this.csrfToken }));
    document.body.append(form);
    form.submit();
  }

  remove(turn) {
    const below = this.branch.turnsBelow(turn.id);
    const kind = turn.role === 'user' ? 'prompt' : 'reply';
    const what = below > 0 ? `this ${kind} and everything below it (at least ${below} more on this branch)` : `this ${kind}`;
    if (!confirm(`Delete ${what}? Other branches above it stay.`)) return;
    this.socket.send({ action: 'delete', turn: turn.id });
  }
}

// The page's own actions, in the top bar and under the composer.
export class PageActions {
  constructor({ branch, url, can, socket, csrfToken, shareUrls, mainButton, shareButton, exportMenu, exportMarkdown }) {
    Object.assign(this, { branch, url, can, mainButton, exportMenu, exportMarkdown });
    mainButton.addEventListener('click', () => {
      const onMain = mainButton.classList.contains('active');
      socket.send({ action: 'main', turn: onMain ? null : branch.leaf.id });
    });
    shareButton?.addEventListener('click', () => openShareDialog({
      createUrl: shareUrls.create,
      listUrl: shareUrls.list,
      csrfToken,
      branchTip: branch.turns.length ? branch.leaf.id : null,
    }));
    // The menu closes once an export is chosen, on a click elsewhere, and on Escape.
    exportMenu.addEventListener('click', (event) => {
      if (event.target.closest('a')) exportMenu.open = false;
    });
    document.addEventListener('click', (event) => {
      if (!exportMenu.contains(event.target)) exportMenu.open = false;
    });
    exportMenu.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') exportMenu.open = false;
    });
  }

  // After the branch on screen changed: the branch's export link, and the main-line star.
  update() {
    const { branch, mainButton, exportMarkdown } = this;
    const leaf = branch.leaf;
    exportMarkdown.setAttribute('aria-disabled', String(!leaf));
    exportMarkdown.href = leaf ? this.url.markdown(leaf.id) : '#';
    const onMain = branch.onMainLine();
    mainButton.hidden = !leaf || !this.can.write;
    mainButton.classList.toggle('active', onMain);
    mainButton.textContent = onMain ? '★ Main line' : '☆ Star as main line';
    mainButton.title = onMain ? 'This branch is the main line; click to unstar it' : 'Open this conversation on this branch';
  }
}
