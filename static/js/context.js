// Tokens, context and cost on the conversation page: the context meter, per-turn counts, the
// turns a reply's request left out, and the "what the model saw" and "get code" dialogs.
import { copyButton } from './copy.js';
import { renderMarkdown } from './markdown.js';
import { formatCost, formatTokens, reasoningFact } from './format.js';
import { filesFacts } from './request-files.js';
import { branchCost, branchTokens } from './tokens.js';
import { el } from './turns.js';

export class ContextMeter {
  constructor({ root, models, tokensUrl, csrfToken }) {
    Object.assign(this, { root, tokensUrl, csrfToken });
    this.models = new Map(models.map((m) => [m.id, m]));
    this.extra = { model: null, system: 0, draft: 0, draftFiles: 0, key: '' };
    this.timer = null;
    this.bar = el('div', { class: 'meter-bar', role: 'meter', 'aria-label': 'Context used' },
      this.fillHistory = el('span', { class: 'meter-history' }),
      this.fillDraft = el('span', { class: 'meter-draft' }),
      this.fillReply = el('span', { class: 'meter-reply' }));
    this.label = el('span', { class: 'meter-label' });
    this.costs = el('span', { class: 'meter-costs' });
    root.replaceChildren(this.bar, this.label, el('span', { class: 'spacer' }), this.costs);
  }

  // Asks the server to count the draft, the system prompt and the files uploaded for the draft
  // (`uploads`, their ids), debounced: the browser has no tokenizer, and the server counts the
  // files as it will send them to this model.
  countPending({ modelId, system, draft, uploads = [] }) {
    const key = `${modelId}\u0000${system}\u0000${draft}\u0000${uploads.join(',')}`;
    if (key === this.extra.key) return;
    clearTimeout(this.timer);
    if (!system && !draft && !uploads.length) {
      this.extra = { model: modelId, system: 0, draft: 0, draftFiles: 0, key };
      this.render();
      return;
    }
    this.timer = setTimeout(async () => {
      try {
        const response = await fetch(this.tokensUrl, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-CSRFToken': this.csrfToken },
          body: JSON.stringify({ model: modelId, texts: [system, draft], uploads }),
        });
        if (!response.ok) return;
        const data = await response.json();
        this.extra = {
          model: modelId, system: data.counts[0], draft: data.counts[1], draftFiles: data.uploads_total ?? 0, key,
        };
        this.render();
      } catch (_) {
        /* the meter keeps its last numbers */
      }
    }, 250);
  }

  update({ turns, modelId, conversationCost, earlier = null }) {
    Object.assign(this, { turns, modelId, conversationCost, earlier });
    this.render();
  }

  render() {
    const model = this.models.get(this.modelId);
    this.root.hidden = !model;
    if (!model) return;
    const pending = this.extra.model === this.modelId ? this.extra : { system: 0, draft: 0, draftFiles: 0 };
    const history = branchTokens(this.turns, model, { system: pending.system, earlier: this.earlier });
    const used = branchTokens(this.turns, model, { ...pending, earlier: this.earlier });
    const budget = Math.min(Number(document.getElementById('max-tokens')?.value) || model.reply_budget, model.context_window);
    const window = model.context_window;
    const share = (n) => `${Math.min(100, (100 * n) / window)}%`;
    this.fillHistory.style.width = share(history);
    this.fillDraft.style.width = share(Math.max(0, used - history));
    this.fillReply.style.width = share(Math.min(budget, Math.max(0, window - used)));
    const over = used + budget > window;
    this.root.classList.toggle('over', over);
    this.bar.setAttribute('aria-valuemin', '0');
    this.bar.setAttribute('aria-valuemax', String(window));
    this.bar.setAttribute('aria-valuenow', String(used));
    const approx = model.estimate ? '≈ ' : '';
    const percent = ((100 * used) / window).toFixed(used / window < 0.1 ? 1 : 0);
    let text = `${approx}${formatTokens(used)} / ${formatTokens(window)} tokens (${percent}%) · reply budget ${formatTokens(budget)}`;
    if (!model.listed) text += ' · window assumed';
    if (over) text += ' · oldest turns will be left out';
    this.label.textContent = text;
    this.label.title = [
      model.estimate ? `Estimated with ${model.encoding}: this model's own tokenizer may count differently; its reported usage replaces the estimate for its replies.` : `Counted with ${model.encoding}.`,
      model.listed ? '' : 'This model is not in the model catalogue: the window is the default (WORKBENCH_DEFAULT_CONTEXT_WINDOW).',
      'Includes the draft, its files and the system prompt.',
    ].filter(Boolean).join(' ');
    const branch = branchCost(this.turns, this.earlier);
    const parts = [];
    if (branch != null) parts.push(`Branch ${formatCost(branch)}`);
    if (this.conversationCost != null) parts.push(`Conversation ${formatCost(this.conversationCost)}`);
    this.costs.textContent = parts.join(' · ');
  }
}

// The ids of the uploads a composer's tray holds ready to send, which the meter counts with the
// draft (files still uploading count once they are stored; an edit's kept files are not drafts).
export function uploadIds(tray) {
  return tray.refs().flatMap((ref) => (ref.upload ? [ref.upload] : []));
}

// Marks the turns a reply's request left out to fit the window.
export function markOmitted(transcript, turns, replyId) {
  for (const node of transcript.querySelectorAll('.turn-omitted, .context-focus')) {
    node.classList.remove('turn-omitted', 'context-focus');
    node.querySelector('.omitted-note')?.remove();
  }
  const reply = turns.find((t) => t.id === replyId);
  const omitted = new Set(reply?.context?.omitted || []);
  if (!omitted.size) return;
  transcript.querySelector(`[data-turn="${replyId}"]`)?.classList.add('context-focus');
  for (const turn of turns) {
    if (!omitted.has(turn.id)) continue;
    const node = transcript.querySelector(`[data-turn="${turn.id}"]`);
    if (!node) continue;
    node.classList.add('turn-omitted');
    node.querySelector('.turn-head')?.after(
      el('div', { class: 'omitted-note small', text: 'Left out of the highlighted reply’s context: the branch had outgrown the model’s window.' }));
  }
}

export function dialog(title, ...content) {
  const box = el('dialog', { class: 'dialog', 'aria-label': title },
    el('header', { class: 'dialog-head' },
      el('h2', { text: title }),
      el('span', { class: 'spacer' }),
      el('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => box.close(), text: '×' })),
    ...content);
  box.addEventListener('close', () => box.remove());
  document.body.append(box);
  box.showModal();
  return box;
}

function codeBlock(text, language) {
  const fence = '`'.repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  const block = el('div', { class: 'dialog-code markdown' });
  block.innerHTML = renderMarkdown(`${fence}${language}\n${text}\n${fence}`);
  return block;
}

async function fetchText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`The server answered ${response.status}.`);
  return response.text();
}

export async function showRequest(url, codeUrl, about = '') {
  let data;
  try {
    data = JSON.parse(await fetchText(url));
  } catch (error) {
    dialog('What the model saw', el('p', { class: 'turn-error', text: `Could not load the request: ${error.message}` }));
    return;
  }
  const body = JSON.stringify(data.body, null, 2);
  const context = data.context || {};
  const facts = [
    data.known ? `${data.label} · ${data.api}${data.base_url ? ` · ${data.base_url}` : ''}` : `${data.label} is not configured here: shown as the branch in Chat Completions form.`,
    context.input_tokens != null ? `planned input ≈ ${formatTokens(context.input_tokens)} tokens of ${formatTokens(context.history_budget)} available (window ${formatTokens(context.window)}, reply budget ${formatTokens(context.reply_budget)})` : null,
    context.omitted?.length ? `${context.omitted.length} older turn${context.omitted.length === 1 ? ' was' : 's were'} left out to fit the window` : 'nothing was left out',
    reasoningFact(data.reasoning),
    ...filesFacts(data.files, context),
  ].filter(Boolean);
  dialog(about ? `What the model saw for ${about}` : 'What the model saw',
    el('ul', { class: 'dialog-facts muted small' }, ...facts.map((f) => el('li', { text: f }))),
    codeBlock(body, 'json'),
    el('footer', { class: 'dialog-foot' },
      copyButton(body, { className: 'button ghost compact', failed: 'Copy failed' }),
      el('button', { type: 'button', class: 'button ghost compact', text: 'Get code', onclick: () => showCode(codeUrl) })));
}

export async function showCode(url) {
  let code;
  try {
    code = await fetchText(url);
  } catch (error) {
    dialog('Get code', el('p', { class: 'turn-error', text: `Could not load the code: ${error.message}` }));
    return;
  }
  dialog('Get code',
    el('p', { class: 'muted small', text: 'A Python script that sends this reply’s request again with the vendor’s SDK. The key comes from the environment.' }),
    codeBlock(code, 'python'),
    el('footer', { class: 'dialog-foot' }, copyButton(code, { className: 'button ghost compact', failed: 'Copy failed' })));
}
