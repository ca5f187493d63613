// A comment's composer: a text box that grows, @-mentions of the workspace's members completed
// from a list (↑/↓ choose, Enter or Tab take, Escape closes), Ctrl/⌘-Enter sends.
import { mentionAt, mentionChoices } from './review-store.js';
import { el } from './turns.js';

let composerCount = 0;

/**
 * `onSubmit(text)` sends (a promise: the box clears when it resolves, keeps the text when it
 * throws); `onCancel` (optional) shows a Cancel button.
 */
export function commentComposer({ members, me, label, submitLabel, value = '', onSubmit, onCancel }) {
  const id = `review-composer-${++composerCount}`;
  const listId = `${id}-mentions`;
  const box = el('textarea', {
    class: 'review-input', id, rows: '2', maxlength: '10000', placeholder: 'Comment… (Markdown; @ mentions a teammate)',
    'aria-label': label, 'aria-autocomplete': 'list', 'aria-controls': listId,
  });
  box.value = value;
  const list = el('ul', { class: 'mention-list', id: listId, role: 'listbox', 'aria-label': 'Teammates to mention', hidden: true });
  const error = el('div', { class: 'review-error', role: 'alert', hidden: true });
  const send = el('button', { type: 'submit', class: 'button primary compact', text: submitLabel });
  const form = el('form', { class: 'review-composer' },
    el('div', { class: 'review-input-wrap' }, box, list),
    error,
    el('div', { class: 'review-composer-bar' },
      el('span', { class: 'muted small review-hint', text: 'Never sent to a model.' }),
      onCancel ? el('button', { type: 'button', class: 'button ghost compact', text: 'Cancel', onclick: () => onCancel() }) : null,
      send));

  let choices = [];
  let active = 0;
  let mention = null;

  function close() {
    list.hidden = true;
    box.removeAttribute('aria-activedescendant');
    choices = [];
  }

  function show() {
    list.replaceChildren(...choices.map((name, index) => el('li', {
      id: `${listId}-${index}`, role: 'option', class: 'mention-option', 'aria-selected': index === active ? 'true' : 'false',
      onmousedown: (event) => { event.preventDefault(); take(index); },
      text: `@${name}`,
    })));
    list.hidden = false;
    box.setAttribute('aria-activedescendant', `${listId}-${active}`);
  }

  function take(index) {
    const name = choices[index];
    if (!name || !mention) return;
    const caret = box.selectionStart;
    const text = `@${name} `;
    box.value = box.value.slice(0, mention.start) + text + box.value.slice(caret);
    const at = mention.start + text.length;
    box.setSelectionRange(at, at);
    close();
    box.focus();
  }

  function update() {
    mention = mentionAt(box.value, box.selectionStart);
    choices = mention ? mentionChoices(members(), mention.query, me) : [];
    active = 0;
    if (choices.length) show();
    else close();
  }

  box.addEventListener('input', update);
  box.addEventListener('blur', () => setTimeout(close, 100));
  box.addEventListener('keydown', (event) => {
    if (choices.length && !list.hidden) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        active = (active + (event.key === 'ArrowDown' ? 1 : choices.length - 1)) % choices.length;
        show();
        return;
      }
      if (event.key === 'Enter' || event.key === 'Tab') {
        event.preventDefault();
        take(active);
        return;
      }
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        close();
        return;
      }
    }
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === 'Escape' && onCancel) {
      event.stopPropagation();
      onCancel();
    }
    // The page's own keys (j/k, e, r…) are not for a box being typed in.
    event.stopPropagation();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = box.value.trim();
    if (!text) {
      showError('Write something first.');
      return;
    }
    send.disabled = true;
    try {
      await onSubmit(text);
      box.value = '';
      error.hidden = true;
    } catch (exc) {
      showError(exc.message);
    } finally {
      send.disabled = false;
    }
  });

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  return { form, focus: () => box.focus() };
}
