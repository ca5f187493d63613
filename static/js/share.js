// Sharing from the conversation page: the Share dialog (make a link, see and revoke this
// conversation's links) and who else is viewing.
import { dialog } from './context.js';
import { copyButton } from './copy.js';
import { el } from './turns.js';

const EXPIRIES = [['never', 'Never'], ['1h', 'In an hour'], ['1d', 'In a day'], ['7d', 'In a week'], ['30d', 'In 30 days']];

function radio(name, value, label, checked = false) {
  return el('label', { class: 'choice' }, el('input', { type: 'radio', name, value, checked }), ` ${label}`);
}

const WHEN = { dateStyle: 'medium', timeStyle: 'short' };

// What a link shares in the server's words (the reply its branch ends at, by model and time),
// then how it is shared.
function describe(link) {
  const how = [
    link.mode === 'live' ? 'Live' : 'Snapshot',
    link.audience === 'anyone' ? 'anyone with the link' : 'workspace members only',
    link.expires_at
      ? `${link.state === 'expired' ? 'expired' : 'until'} ${new Date(link.expires_at).toLocaleString(undefined, WHEN)}`
      : 'never expires',
    `${link.views} view${link.views === 1 ? '' : 's'}`,
    `made by ${link.created_by}`,
  ];
  return [`${link.describes}${link.include_reasoning ? ', with the models’ thinking' : ''}`, how.join(' · ')];
}

function linkRow(url, ...extra) {
  return el('div', { class: 'share-link-row' },
    el('code', { class: 'link-url', text: url }),
    copyButton(url, { label: 'Copy link', failed: 'Copy failed: select the link and copy it' }), ...extra);
}

export function openShareDialog({ createUrl, listUrl, csrfToken, branchTip }) {
  const list = el('ul', { class: 'share-list' });
  const result = el('div', { class: 'share-result', role: 'status' });
  const form = el('form', { class: 'share-form' },
    el('fieldset', {}, el('legend', { text: 'What' }),
      radio('scope', 'branch', 'This branch: the messages on screen, up to the last one', branchTip != null),
      el('label', { class: 'choice indent' }, el('input', { type: 'checkbox', name: 'with_subtree', value: '1', checked: true }), ' and the messages that follow it (new replies included, when live)'),
      radio('scope', 'conversation', 'The whole conversation', branchTip == null)),
    // Off by default: a model's reasoning can hold what its reply leaves out.
    el('fieldset', {}, el('legend', { text: 'Thinking' }),
      el('label', { class: 'choice' }, el('input', { type: 'checkbox', name: 'include_reasoning', value: '1', 'aria-describedby': 'share-thinking-hint' }), ' Include the models’ thinking'),
      el('span', { class: 'choice indent', id: 'share-thinking-hint', text: 'Readers see each reply’s reasoning, as you do.' })),
    // Off by default too: comments are the team's.
    el('fieldset', {}, el('legend', { text: 'Comments' }),
      el('label', { class: 'choice' }, el('input', { type: 'checkbox', name: 'include_comments', value: '1' }), ' Include the comments (read-only), shown as '),
      el('select', { name: 'comment_names', 'aria-label': 'Names on the comments' },
        el('option', { value: 'teammates', text: 'Teammate 1, Teammate 2, …' }), el('option', { value: 'usernames', text: 'their usernames' }))),
    el('fieldset', {}, el('legend', { text: 'Kind' }),
      radio('mode', 'snapshot', 'Snapshot: as it is now', true),
      radio('mode', 'live', 'Live: new messages appear, replies stream in')),
    el('fieldset', {}, el('legend', { text: 'Who' }),
      radio('audience', 'anyone', 'Anyone with the link, signed in or not', true),
      radio('audience', 'members', 'Signed-in members of this workspace only')),
    el('label', { class: 'field' }, 'Expires ',
      el('select', { name: 'expires' }, ...EXPIRIES.map(([value, label]) => el('option', { value, text: label })))),
    el('div', { class: 'dialog-foot' }, el('button', { type: 'submit', class: 'button primary', text: 'Create link' })));
  if (branchTip == null) form.querySelector('input[value=branch]').disabled = true;

  async function refresh() {
    const response = await fetch(listUrl, { headers: { Accept: 'application/json' } });
    if (!response.ok) return;
    const { links } = await response.json();
    list.replaceChildren(...links.map((link) => {
      const [what, how] = describe(link);
      return el('li', { class: `share-item state-${link.state}`, 'data-link': link.id },
        el('div', { class: 'share-item-main' },
          el('span', { class: `badge state-${link.state}`, text: link.state }),
          el('span', { class: 'share-item-what', text: what })),
        el('p', { class: 'muted small share-item-how', text: how }),
        link.state === 'active'
          ? linkRow(link.url,
            el('button', { type: 'button', class: 'button ghost compact danger-text', text: 'Revoke', onclick: () => revoke(link) }))
          : null);
    }));
    if (!links.length) list.append(el('li', { class: 'muted small', text: 'No links to this conversation yet.' }));
  }

  async function revoke(link) {
    if (!confirm('Revoke this link? Anyone using it loses it at once.')) return;
    await fetch(link.revoke, { method: 'POST', headers: { 'X-CSRFToken': csrfToken, Accept: 'application/json' } });
    refresh();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (data.get('scope') === 'branch') data.set('turn', String(branchTip));
    const response = await fetch(createUrl, { method: 'POST', body: data, headers: { 'X-CSRFToken': csrfToken } });
    const body = await response.json().catch(() => ({ error: `The server answered ${response.status}.` }));
    if (!response.ok) {
      result.replaceChildren(el('p', { class: 'turn-error', text: body.error }));
      return;
    }
    result.replaceChildren(el('p', { class: 'small share-created', text: 'Link created. Copy it and send it:' }),
      linkRow(body.url));
    refresh();
  });

  dialog('Share', form, result, el('h3', { class: 'share-heading', text: 'Links to this conversation' }), list);
  refresh();
}

// Who else has the conversation open: names of members, a count of readers through a link.
export class Presence {
  constructor(root, me) {
    this.root = root;
    this.me = me; // your own other tabs are not "someone else"
    this.viewers = new Map();
  }

  handle(message) {
    if (message.type === 'presence.join') this.viewers.set(message.id, message);
    else if (message.type === 'presence.leave') this.viewers.delete(message.id);
    else return false;
    this.render();
    return true;
  }

  reset() {
    this.viewers.clear();
    this.render();
  }

  render() {
    const members = [...new Set([...this.viewers.values()]
      .filter((v) => v.kind === 'member' && v.name !== this.me).map((v) => v.name))];
    const readers = [...this.viewers.values()].filter((v) => v.kind === 'link').length;
    const parts = [...members];
    if (readers) parts.push(`${readers} through a link`);
    this.root.hidden = !parts.length;
    this.root.replaceChildren(el('span', { class: 'presence-dot', 'aria-hidden': 'true' }), `Also here: ${parts.join(', ')}`);
    this.root.title = 'Others who have this conversation open right now';
  }
}
