// The composer: the message box, the model (or several, for a fan-out) and its settings. A model
// the catalogue marks as a reasoning model gets its own setting: a reasoning effort ("effort") or
// a thinking budget in tokens ("budget"); other models never see either.
import { preview, reasoningKind, settingsForModel } from './format.js';
import { icon } from './icons.js';
import { el } from './turns.js';

const STORAGE_KEY = 'workbench.composer';
const MAX_VARIANTS = 6;
const MIN_THINKING_BUDGET = 1024;

export class Composer {
  constructor({ page, socket, modelLabels, lastTurn, track, streamingTurn, onChange = () => {} }) {
    Object.assign(this, { page, socket, modelLabels, lastTurn, track, streamingTurn, onChange });
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
    this.model.addEventListener('change', () => this.showReasoningSettings());
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
      el('button', { type: 'button', class: 'button ghost compact icon-only', 'aria-label': 'Remove this model', onclick: () => { row.remove(); this.updateVariantHint(); } }, icon('x')));
    this.variantsBox.append(row);
    this.updateVariantHint();
    select.focus();
  }

  updateVariantHint() {
    const count = this.variantsBox.children.length + 1;
    this.addVariant.disabled = count >= MAX_VARIANTS;
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
    if (!content.trim() || !this.checkLength(content)) return;
    if (this.streamingTurn() && !this.attached) {
      this.showError('A reply is still streaming: stop it, or use “Reply here” on a turn to branch off meanwhile.');
      return;
    }
    this.showError('');
    const parent = this.attached || this.lastTurn();
    const choice = this.choice();
    if (!choice) return;
    this.request('send', { action: 'send', parent: parent ? parent.id : null, content, ...choice }, choice.variants?.length || 1);
  }

  edit(turn, content) {
    if (!content.trim() || !this.checkLength(content)) return false;
    this.showError('');
    const choice = this.choice();
    if (!choice) return false;
    return this.request('edit', { action: 'edit', turn: turn.id, content, ...choice }, choice.variants?.length || 1);
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
      this.attach(null);
    }
  }

  connected() {
    if (this.error.textContent.startsWith('Connecting')) this.showError('');
  }

  update(streaming) {
    this.stop.hidden = !streaming;
    this.send_.hidden = Boolean(streaming) && !this.attached;
  }

  // A viewer reads: the composer stays visible but cannot send.
  readOnly(message) {
    this.prompt.disabled = true;
    this.prompt.placeholder = message;
    for (const control of [this.send_, this.model, this.addVariant, this.settingsToggle]) control.disabled = true;
  }

  showError(message) {
    this.error.textContent = message || '';
  }
}
