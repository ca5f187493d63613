// The tree map panel beside the transcript: the whole conversation, the current branch highlighted,
// click a turn to show its branch, or pick 2 to 4 turns to compare their branches.
//
// Below 1024 px the panel is a full-screen sheet: the page behind it is inert while it is open,
// its close button or Escape closes it, focus goes back to the Tree map button (or "More", which
// holds it on a phone), and choosing a turn
// (outside picking) closes it to show that turn's branch. It opens fitted to the whole tree.
import { icon } from './icons.js';
import { preview } from './format.js';
import { TreeMap } from './treemap.js';
import { el } from './turns.js';

const MAX_COMPARE = 4;
const SHEET = '(max-width: 1023.98px)';

export class TreePanel {
  constructor({ panel, toggleButton, treeUrl, onSelect, onCompare, modelLabels = new Map() }) {
    this.modelLabels = modelLabels;
    Object.assign(this, { panel, toggleButton, treeUrl, onSelect, onCompare });
    this.map = null;
    this.branch = [];
    this.picking = false;
    this.picked = [];
    this.sheet = window.matchMedia(SHEET);
    this.pickButton = el('button', { type: 'button', class: 'button ghost compact', 'data-action': 'pick', onclick: () => this.setPicking(!this.picking), text: 'Compare…' });
    this.compareButton = el('button', { type: 'button', class: 'button primary compact', 'data-action': 'compare', hidden: true, onclick: () => this.onCompare(this.picked), text: 'Compare' });
    this.closeButton = el('button', { type: 'button', class: 'button ghost compact icon-only tree-close', 'aria-label': 'Close', title: 'Close the tree map (Esc)', onclick: () => this.close() }, icon('x'));
    this.hint = el('span', { class: 'muted small tree-hint' });
    this.canvas = el('div', { class: 'tree-canvas' });
    panel.append(
      el('header', { class: 'tree-head' }, el('strong', { text: 'Tree map' }), el('span', { class: 'spacer' }), this.pickButton, this.compareButton, this.closeButton),
      this.hint,
      this.canvas,
    );
    toggleButton.addEventListener('click', () => this.toggle());
    panel.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || event.defaultPrevented) return;
      event.preventDefault();
      if (this.picking) this.setPicking(false);
      else this.close();
    });
    this.sheet.addEventListener('change', () => this.updateSheet());
    // A sheet covers the page: it opens by itself only on a wide screen, or when the address asks.
    const remembered = localStorage.getItem('workbench.tree') === 'open' && !this.sheet.matches;
    if (remembered || location.hash === '#tree') this.toggle();
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  async toggle() {
    if (this.isOpen) {
      this.close();
      return;
    }
    this.panel.hidden = false;
    this.toggleButton.setAttribute('aria-expanded', 'true');
    document.querySelector('.layout').classList.add('tree-open');
    localStorage.setItem('workbench.tree', 'open');
    this.updateSheet();
    if (this.sheet.matches) this.closeButton.focus();
    if (!this.map) {
      this.map = new TreeMap(this.canvas, { onSelect: (id) => this.select(id), firstView: 'fit', modelLabels: this.modelLabels });
      await this.reload();
    }
  }

  close() {
    if (!this.isOpen) return;
    const hadFocus = this.panel.contains(document.activeElement);
    this.panel.hidden = true;
    this.toggleButton.setAttribute('aria-expanded', 'false');
    document.querySelector('.layout').classList.remove('tree-open');
    localStorage.setItem('workbench.tree', 'closed');
    this.updateSheet();
    if (hadFocus || this.sheet.matches) this.returnFocus();
  }

  /** Focus back on the Tree map button; on a phone, where it is folded away, on "More" that holds it. */
  returnFocus() {
    const more = document.getElementById('more-button');
    const target = this.toggleButton.getClientRects().length || !more ? this.toggleButton : more;
    target.focus();
  }

  /** The page behind a sheet is inert: no focus, no clicks, no scrolling under it. */
  updateSheet() {
    const covering = this.isOpen && this.sheet.matches;
    document.body.classList.toggle('tree-sheet-open', covering);
    const keep = (node) => node === this.panel || node.contains(this.panel);
    const behind = [...document.body.children, ...document.querySelector('.layout').children];
    for (const node of behind) {
      if (keep(node) || node.tagName === 'SCRIPT') continue;
      node.inert = covering;
    }
    this.panel.setAttribute('role', covering ? 'dialog' : 'complementary');
    if (covering) this.panel.setAttribute('aria-modal', 'true');
    else this.panel.removeAttribute('aria-modal');
  }

  async reload() {
    if (!this.map) return;
    const response = await fetch(this.treeUrl, { headers: { Accept: 'application/json' } });
    if (!response.ok) return;
    const { nodes } = await response.json();
    this.known = new Set(nodes.map((n) => n.id));
    this.map.setData(nodes);
    this.map.setBranch(this.branch);
    this.markPicked();
  }

  setBranch(ids) {
    this.branch = ids;
    if (this.map) this.map.setBranch(ids);
  }

  upsert(turn) {
    if (!this.map) return;
    // turn.created carries a whole turn, turn.finished only what changed.
    if (turn.role === undefined && !this.known?.has(turn.id)) return;
    this.known?.add(turn.id);
    const node = { id: turn.id, parent: turn.parent, role: turn.role, status: turn.status };
    if (turn.provider !== undefined) node.model = turn.provider ? `${turn.provider}:${turn.model}` : '';
    if (turn.content !== undefined) node.preview = preview(turn.content, 48);
    if (Array.isArray(turn.attachments)) node.files = turn.attachments.length;
    for (const key of Object.keys(node)) if (node[key] === undefined) delete node[key];
    this.map.upsert(node);
    this.markPicked();
  }

  select(id) {
    if (!this.picking) {
      // A sheet closes first: the branch it opens takes the focus, not the Tree map button.
      if (this.sheet.matches) this.close();
      this.onSelect(id);
      return;
    }
    if (this.picked.includes(id)) this.picked = this.picked.filter((p) => p !== id);
    else if (this.picked.length < MAX_COMPARE) this.picked = [...this.picked, id];
    this.markPicked();
  }

  setPicking(on) {
    this.picking = on;
    this.picked = [];
    this.pickButton.textContent = on ? 'Cancel' : 'Compare…';
    this.markPicked();
  }

  markPicked() {
    for (const node of this.canvas.querySelectorAll('[data-picked]')) node.removeAttribute('data-picked');
    for (const id of this.picked) this.canvas.querySelector(`[data-turn-id="${id}"]`)?.setAttribute('data-picked', '');
    this.compareButton.hidden = !this.picking || this.picked.length < 2;
    this.compareButton.textContent = `Compare ${this.picked.length}`;
    this.hint.textContent = this.picking ? `Pick 2 to ${MAX_COMPARE} turns: each one's branch becomes a column.` : '';
  }
}
