// The composer: the message box, the model (or several, for a fan-out) and its settings. A model
// the catalogue marks as a reasoning model gets its own setting: a reasoning effort ("effort") or
// a thinking budget in tokens ("budget"); other models never see either. Files attached to the
// prompt (attachments-tray.js) upload as soon as they are chosen, pasted or dropped; Send waits
// for the uploads in flight, and the frame names the uploads it sends.
import { blindModels, blindWarning } from './attachments.js';
import { AttachmentTray, dropTarget } from './attachments-tray.js';
import { preview, reasoningKind, settingsForModel } from './format.js';
import { icon } from './icons.js';
import { el } from './turns.js';

const STORAGE_KEY = 'workbench.composer';
const MAX_VARIANTS = 6;
const MIN_THINKING_BUDGET = 1024;

export class Composer {
  /**
   * `csrfToken` signs the uploads; `branchImages()` says whether the branch the next message
   * continues has images already (a model without vision would be refused them too).
   */
  constructor({ page, socket, modelLabels, lastTurn, track, streamingTurn, csrfToken, branchImages = () => false, onChange = () => {} }) {
    Object.assign(this, { page, socket, modelLabels, lastTurn, track, streamingTurn, csrfToken, branchImages, onChange });
    const $ = (id) => document.getElementById(id);
    this.form = $('composer');
    this.prompt = $('prompt');
    this.model = $('model');
    this.send_ = $('send');
    this.stop = $('stop');
    this.error = $('composer-error');
    this.settings = $('settings');
    this.settingsToggle = $('settings-toggle');
    this.systemPrompt = $('system-prompt');
    this.temperature = $('temperature');
    this.maxTokens = $('max-tokens');
    this.reasoningEffort = $('reasoning-effort');
    this.thinkingBudget = $('thinking-budget');
    this.reasoningFields = { effort: $('reasoning-effort-field'), budget: $('thinking-budget-field') };
    this.variantsBox = $('variants');
    this.addVariant = $('add-variant');
    this.attachBox = $('composer-attach');
    this.attached = null; // the turn a reply-from-here attaches to
    this.attachButton = $('attach-button');
    this.attachInput = $('attach-input');
    this.warning = $('attach-warning');
    this.tray = new AttachmentTray({
      box: $('attachment-tray'), uploadUrl: this.page.urls.upload, csrfToken, onChange: () => this.filesChanged(),
    });
    this.tray.onEmpty = () => this.prompt.focus();
    this.waiting = false; // Send was pressed while files were still uploading
    this.lastRequest = null; // the last request made: "Send text only" repeats it without images
    this.load();
    this.bind();
  }

  load() {
    for (const m of this.page.models) this.model.append(el('option', { value: m.id, text: m.label }));
    let saved = {};
    try {
      saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}');
    } catch (_) {
      saved = {};
    }
    this.model.value = this.modelLabels.has(saved.model) ? saved.model : this.page.default_model;
    this.systemPrompt.value = saved.system_prompt || '';
    this.temperature.value = saved.temperature ?? '';
    this.maxTokens.value = saved.max_tokens ?? '';
    this.maxTokens.max = this.page.limits.max_output_tokens;
    this.reasoningEffort.value = saved.reasoning_effort || '';
    this.thinkingBudget.value = saved.thinking_budget ?? '';
    this.showReasoningSettings();
    // A phone's box is one short line: the hint about Enter would only be cut off.
    if (window.matchMedia('(max-width: 599.98px)').matches) this.prompt.placeholder = 'Message the model…';
    if (!this.page.models.length) {
      this.showError(this.page.local_model_problem || 'No model is configured.');
      this.prompt.disabled = true;
    }
  }

  bind() {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.send();
    });
    this.prompt.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      } else if (event.key === 'Escape' && this.attached) {
        this.attach(null);
      }
    });
    this.prompt.addEventListener('input', () => {
      this.prompt.style.height = 'auto';
      this.prompt.style.height = `${Math.min(this.prompt.scrollHeight, 320)}px`;
    });
    this.stop.addEventListener('click', () => {
      const turn = this.streamingTurn();
      if (turn) this.socket.send({ action: 'stop', turn: turn.id });
    });
    this.settingsToggle.addEventListener('click', () => {
      this.settings.hidden = !this.settings.hidden;
      this.settingsToggle.setAttribute('aria-expanded', String(!this.settings.hidden));
    });
    this.addVariant.addEventListener('click', () => this.addVariantRow());
    this.model.addEventListener('change', () => {
      this.showReasoningSettings();
      this.updateWarning();
    });
    this.variantsBox.addEventListener('change', () => this.updateWarning());
    this.bindFiles();
  }

  // Files come by the Attach button, a paste (into the message, or anywhere on the page but
  // another text box), or a drop anywhere on the page but on a prompt being edited.
  bindFiles() {
    this.tray.bindInput(this.attachInput);
    this.attachButton.addEventListener('click', () => this.attachInput.click());
    this.prompt.addEventListener('paste', (event) => this.tray.paste(event));
    document.addEventListener('paste', (event) => {
      if (event.defaultPrevented || this.prompt.disabled) return;
      if (event.target.closest?.('input, textarea, select, [contenteditable], dialog')) return;
      if (this.tray.paste(event)) this.prompt.focus();
    });
    dropTarget({
      zone: this.form, tray: this.tray, page: document,
      accepts: (event) => !this.prompt.disabled && !event.target.closest?.('.edit-form'),
    });
  }

  filesChanged() {
    if (this.waiting && !this.tray.pending) {
      this.waiting = false;
      if (this.tray.failed) this.showError('A file could not be attached: dismiss it (×) or attach it again, then send.');
      else this.send();
    }
    this.updateSendButton();
    this.updateWarning();
    this.onChange();
  }

  // Before sending: the chosen models that cannot see the images the request would carry.
  updateWarning() {
    const images = this.tray.hasImages || this.branchImages();
    const chosen = [this.model.value, ...[...this.variantsBox.querySelectorAll('.variant-model')].map((s) => s.value)];
    const blind = images ? blindModels(this.page.models, chosen) : [];
    // Once the server has refused, its error says the same with the ways on: not said twice.
    this.warning.hidden = !blind.length || this.refusedImages;
    this.warning.textContent = blindWarning(blind.map((m) => m.label));
  }

  // The reasoning setting of the chosen model's kind, or neither. A fan-out's other models get
  // the one that suits them when the request is made (variants()).
  showReasoningSettings() {
    const kind = reasoningKind(this.page.models, this.model.value);
    for (const [name, field] of Object.entries(this.reasoningFields)) field.hidden = name !== kind;
  }

  // Fan-out: extra models, each with its own temperature, answer the same prompt side by side.
  addVariantRow() {
    if (this.variantsBox.children.length >= MAX_VARIANTS - 1) return;
    const select = el('select', { class: 'variant-model', 'aria-label': 'Another model' });
    for (const m of this.page.models) select.append(el('option', { value: m.id, text: m.label }));
    select.value = this.model.value;
    const temperature = el('input', { type: 'number', class: 'variant-temperature', min: '0', max: '2', step: '0.1', placeholder: 'temp', 'aria-label': 'Temperature' });
    const row = el('div', { class: 'variant' }, 'and ', select, temperature,
      el('button', { type: 'button', class: 'button ghost compact icon-only', 'aria-label': 'Remove this model', onclick: () => { row.remove(); this.updateVariantHint(); this.updateWarning(); } }, icon('x')));
    this.variantsBox.append(row);
    this.updateVariantHint();
    this.updateWarning();
    select.focus();
  }

  updateVariantHint() {
    const count = this.variantsBox.children.length + 1;
    this.addVariant.disabled = count >= MAX_VARIANTS;
    this.updateSendButton();
  }

  // While files upload, Send says so; pressed then, the message goes out once they are stored.
  updateSendButton() {
    const count = this.variantsBox.children.length + 1;
    const pending = this.tray.pending;
    this.send_.setAttribute('aria-disabled', String(pending));
    this.send_.classList.toggle('is-waiting', pending);
    this.send_.title = pending ? (this.waiting ? 'It goes out once the files are uploaded' : 'Files are uploading') : '';
    this.send_.textContent = count > 1 ? `Send to ${count}` : 'Send';
  }

  baseSettings() {
    const settings = {};
    const system = this.systemPrompt.value.trim();
    if (system) settings.system_prompt = system;
    if (this.temperature.value !== '') settings.temperature = Number(this.temperature.value);
    if (this.maxTokens.value !== '') settings.max_tokens = Number(this.maxTokens.value);
    // Only the reasoning setting on show counts (the chosen model's kind); both are remembered.
    const kind = reasoningKind(this.page.models, this.model.value);
    const effort = this.reasoningEffort.value;
    const budget = this.thinkingBudget.value;
    if (kind === 'effort' && effort) settings.reasoning_effort = effort;
    if (kind === 'budget' && budget !== '') settings.thinking_budget = Number(budget);
    localStorage.setItem(STORAGE_KEY, JSON.stringify({
      model: this.model.value, ...settings, reasoning_effort: effort, thinking_budget: budget === '' ? null : Number(budget),
    }));
    return settings;
  }

  // Each model with the settings it takes; null (and the reason shown) when a setting is invalid.
  variants() {
    const base = this.baseSettings();
    const kind = (model) => reasoningKind(this.page.models, model);
    if (base.thinking_budget != null) {
      const budget = base.thinking_budget;
      if (!Number.isInteger(budget) || budget < MIN_THINKING_BUDGET) {
        this.showError(`The thinking budget must be a whole number of tokens, at least ${MIN_THINKING_BUDGET.toLocaleString('en-US')} (or empty for no thinking).`);
        return null;
      }
    }
    const variants = [{ model: this.model.value, settings: settingsForModel(base, kind(this.model.value)) }];
    for (const row of this.variantsBox.children) {
      const settings = { ...base };
      const temperature = row.querySelector('.variant-temperature').value;
      if (temperature !== '') settings.temperature = Number(temperature);
      const model = row.querySelector('.variant-model').value;
      variants.push({ model, settings: settingsForModel(settings, kind(model)) });
    }
    return variants;
  }

  // The model/settings part of a frame: one variant, or a fan-out.
  choice() {
    const variants = this.variants();
    if (!variants) return null;
    return variants.length > 1 ? { variants } : variants[0];
  }

  request(kind, frame, expected) {
    const id = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
    this.track(id, kind, expected);
    this.lastRequest = { kind, frame, expected, id };
    const ok = this.socket.send({ ...frame, request_id: id });
    if (!ok) this.showError('Not connected: your text is still here; try again when the connection is back.');
    else if (document.body.dataset.socket !== 'open') this.showError('Connecting… it goes out as soon as the connection is up.');
    return ok;
  }

  checkLength(content) {
    const limit = this.page.limits.max_message_chars;
    if (content.length <= limit) return true;
    this.showError(`The message is ${content.length.toLocaleString()} characters; the limit is ${limit.toLocaleString()}.`);
    return false;
  }

  send() {
    const content = this.prompt.value;
    // A prompt may be files alone.
    if ((!content.trim() && !this.tray.count) || !this.checkLength(content)) return;
    if (this.tray.failed) {
      this.showError('A file could not be attached: dismiss it (×) or attach it again, then send.');
      return;
    }
    if (this.tray.pending) {
      this.waiting = true;
      this.updateSendButton();
      return;
    }
    if (this.streamingTurn() && !this.attached) {
      this.showError('A reply is still streaming: stop it, or use “Reply here” on a turn to branch off meanwhile.');
      return;
    }
    this.showError('');
    const parent = this.attached || this.lastTurn();
    const choice = this.choice();
    if (!choice) return;
    const attachments = this.tray.refs();
    const frame = { action: 'send', parent: parent ? parent.id : null, content, ...choice, ...(attachments.length ? { attachments } : {}) };
    this.request('send', frame, choice.variants?.length || 1);
  }

  // `attachments`: the refs of the edited prompt's files (kept ones by turn and index, new ones by
  // upload). Sent whenever the original had files, so removing them all is said too.
  edit(turn, content, attachments = []) {
    if ((!content.trim() && !attachments.length) || !this.checkLength(content)) return false;
    this.showError('');
    const choice = this.choice();
    if (!choice) return false;
    const files = attachments.length || turn.attachments?.length ? { attachments } : {};
    return this.request('edit', { action: 'edit', turn: turn.id, content, ...choice, ...files }, choice.variants?.length || 1);
  }

  // After "cannot see images": the same request again, its images left out.
  sendTextOnly() {
    const last = this.lastRequest;
    if (!last) return;
    this.showError('');
    this.request(last.kind, { ...last.frame, text_only: true }, last.expected);
  }

  regenerate(turn) {
    this.showError('');
    const [variant] = this.variants() ?? [];
    if (!variant) return;
    this.request('regenerate', { action: 'regenerate', turn: turn.id, ...variant }, 1);
  }

  // "Reply here": the next message continues from `turn` instead of the end of the branch.
  attach(turn) {
    this.attached = turn;
    this.update(this.streamingTurn());
    this.attachBox.hidden = !turn;
    this.attachBox.replaceChildren();
    if (turn) {
      this.attachBox.append(
        el('span', { text: `Replying from: “${preview(turn.content, 60, '…')}”` }),
        el('button', { type: 'button', class: 'link-button', onclick: () => this.attach(null), text: 'Cancel (Esc)' }),
      );
      this.prompt.focus();
    }
    this.onChange();
  }

  sent(kind) {
    if (kind === 'send') {
      this.prompt.value = '';
      this.prompt.style.height = 'auto';
      this.tray.clear();
      this.attach(null);
    }
  }

  connected() {
    if (this.error.textContent.startsWith('Connecting')) this.showError('');
  }

  update(streaming) {
    this.stop.hidden = !streaming;
    this.send_.hidden = Boolean(streaming) && !this.attached;
    this.updateWarning();
  }

  // A viewer reads: the composer stays visible but cannot send.
  readOnly(message) {
    this.prompt.disabled = true;
    this.prompt.placeholder = message;
    for (const control of [this.send_, this.model, this.addVariant, this.settingsToggle, this.attachButton]) control.disabled = true;
  }

  // An error frame (`frame`) refusing images to a model without vision offers the two ways on:
  // the text alone to the same model, or another model.
  showError(message, frame = null) {
    this.error.replaceChildren();
    this.refusedImages = false;
    if (!message) {
      this.updateWarning();
      return;
    }
    const ours = this.lastRequest && (!frame?.request_id || frame.request_id === this.lastRequest.id);
    const noVision = frame?.code === 'no_vision' && ours;
    // The server names the model by its id ("openai:gpt-3.5-turbo"); the page by its label.
    const model = noVision ? this.page.models.find((m) => message.startsWith(`${m.id} `)) : null;
    const shown = model ? model.label + message.slice(model.id.length) : message;
    this.error.append(el('span', { class: 'composer-error-text', text: shown }));
    if (noVision) {
      this.refusedImages = true;
      this.updateWarning();
      this.error.append(el('span', { class: 'composer-error-actions' },
        el('button', { type: 'button', class: 'button compact', 'data-action': 'text-only', onclick: () => this.sendTextOnly(), text: 'Send text only' }),
        el('button', {
          type: 'button', class: 'button ghost compact', 'data-action': 'choose-model', text: 'Choose another model',
          onclick: () => {
            this.showError('');
            this.model.focus();
          },
        })));
    }
  }
}
