// The tree map panel beside the transcript: the whole conversation, the current branch highlighted,
// click a turn to show its branch, or pick 2 to 4 turns to compare their branches.
import { preview } from './format.js';
import { TreeMap } from './treemap.js';
import { el } from './turns.js';

const MAX_COMPARE = 4;

export class TreePanel {
  constructor({ panel, toggleButton, treeUrl, onSelect, onCompare }) {
    Object.assign(this, { panel, toggleButton, treeUrl, onSelect, onCompare });
    this.map = null;
    this.branch = [];
    this.picking = false;
    this.picked = [];
    this.pickButton = el('button', { type: 'button', class: 'button ghost compact', 'data-action': 'pick', onclick: () => this.setPicking(!this.picking), text: 'Compare…' });
    this.compareButton = el('button', { type: 'button', class: 'button primary compact', 'data-action': 'compare', hidden: true, onclick: () => this.onCompare(this.picked), text: 'Compare' });
    this.hint = el('span', { class: 'muted small tree-hint' });
    this.canvas = el('div', { class: 'tree-canvas' });
    panel.append(
      el('header', { class: 'tree-head' }, el('strong', { text: 'Tree' }), el('span', { class: 'spacer' }), this.pickButton, this.compareButton),
      this.hint,
      this.canvas,
    );
    toggleButton.addEventListener('click', () => this.toggle());
    if (localStorage.getItem('workbench.tree') === 'open') this.toggle();
  }

  async toggle() {
    const open = this.panel.hidden;
    this.panel.hidden = !open;
    this.toggleButton.setAttribute('aria-expanded', String(open));
    document.querySelector('.layout').classList.toggle('tree-open', open);
    localStorage.setItem('workbench.tree', open ? 'open' : 'closed');
    if (open && !this.map) {
      this.map = new TreeMap(this.canvas, { onSelect: (id) => this.select(id) });
      await this.reload();
      this.map.fit();
    }
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
    for (const key of Object.keys(node)) if (node[key] === undefined) delete node[key];
    this.map.upsert(node);
    this.markPicked();
  }

  select(id) {
    if (!this.picking) {
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
    this.hint.textContent = this.picking ? `Click 2 to ${MAX_COMPARE} turns: each one's branch becomes a column.` : '';
  }
}
