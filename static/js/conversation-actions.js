// What a person can do on the conversation page: to a turn (edit in place, regenerate, reply here,
// copy, what the model saw, get code, fork, delete, link), and to the page (the export menu,
// Share, the main-line star). The server checks every action again; `can` only hides what this
// person's role does not allow.
import { showCode, showRequest } from './context.js';
import { openShareDialog } from './share.js';
import { el } from './turns.js';

function action(label, onclick, extra = {}) {
  return el('button', { type: 'button', class: 'link-button', onclick, text: label, ...extra });
}

export class TurnActions {
  constructor({ transcriptRoot, branch, url, can, composer, socket, csrfToken }) {
    Object.assign(this, { transcriptRoot, branch, url, can, composer, socket, csrfToken });
  }

  // The buttons under a turn.
  buttons(turn) {
    const { can, composer, url } = this;
    const streaming = turn.status === 'streaming';
    const actions = [];
    if (can.write && turn.role === 'user') actions.push(action('✎ Edit', () => this.edit(turn), { 'data-action': 'edit' }));
    if (can.write && turn.role === 'assistant' && !streaming) {
      actions.push(action('↻ Regenerate', () => composer.regenerate(turn), { 'data-action': 'regenerate' }));
    }
    if (can.write && !streaming) actions.push(action('↳ Reply here', () => composer.attach(turn), { 'data-action': 'attach' }));
    if (turn.content) actions.push(action('Copy', (e) => this.copy(turn, e.target)));
    if (turn.role === 'assistant' && !streaming) {
      actions.push(action('What the model saw', () => showRequest(url.request(turn.id), url.code(turn.id)), { 'data-action': 'request' }));
      actions.push(action('Get code', () => showCode(url.code(turn.id)), { 'data-action': 'code' }));
    }
    if (!streaming) {
      actions.push(action('Fork', () => this.fork(turn), { 'data-action': 'fork' }));
      if (can.manage) actions.push(action('Delete', () => this.remove(turn), { class: 'link-button danger-text', 'data-action': 'delete' }));
    }
    actions.push(el('a', { class: 'link-button', href: url.turn(turn.id), text: 'Link' }));
    return actions;
  }

  // Edits a prompt in place; saving sends it as a new version beside the original.
  edit(turn) {
    const article = this.transcriptRoot.querySelector(`[data-turn="${turn.id}"]`);
    const body = article?.querySelector('.turn-body');
    if (!body) return; // already being edited
    const editor = el('textarea', { class: 'edit-box', 'aria-label': 'Edit the prompt', rows: Math.min(12, turn.content.split('\n').length + 1) });
    editor.value = turn.content;
    const save = () => {
      if (this.composer.edit(turn, editor.value)) form.replaceWith(body);
    };
    const form = el('div', { class: 'edit-form' },
      editor,
      el('div', { class: 'edit-bar' },
        el('span', { class: 'muted small', text: 'Saving makes a new version beside this one; the original stays.' }),
        el('span', { class: 'spacer' }),
        el('button', { type: 'button', class: 'button ghost compact', onclick: () => form.replaceWith(body), text: 'Cancel' }),
        el('button', { type: 'button', class: 'button primary compact', onclick: save, text: 'Save & send' })));
    editor.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === 'Escape') {
        form.replaceWith(body);
      }
    });
    body.replaceWith(form);
    editor.focus();
  }

  async copy(turn, button) {
    try {
      await navigator.clipboard.writeText(turn.content);
      button.textContent = 'Copied';
    } catch (_) {
      button.textContent = 'Copy failed';
    }
    setTimeout(() => (button.textContent = 'Copy'), 1500);
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
    const what = below > 0 ? `this turn and everything below it (at least ${below} more on this branch)` : 'this turn';
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
