// Evaluated on a page by tests/layout_checks.py: each way its layout breaks the rules, as a line.
(() => {
  const vw = window.innerWidth;
  const root = document.documentElement;
  const problems = [];
  const px = (n) => Math.round(n);
  const part = (e) => {
    if (e instanceof SVGElement && e.tagName !== 'svg') {
      const id = e.getAttribute('data-turn-id');
      return e.tagName + (id ? `[data-turn-id="${id}"]` : '') + [...e.classList].slice(0, 2).map((c) => '.' + c).join('');
    }
    return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + [...e.classList].slice(0, 3).map((c) => '.' + c).join('');
  };
  const describe = (e) => {
    const path = [];
    for (let n = e; n && n !== document.body && n !== root && path.length < 4; n = n.parentElement) {
      path.unshift(part(n));
      if (n.id) break;
    }
    const label = e.getAttribute('aria-label') || e.getAttribute('title') || e.innerText || e.textContent || e.value || '';
    const text = String(label).trim().replace(/\s+/g, ' ').slice(0, 40);
    return path.join(' > ') + (text ? ` "${text}"` : '');
  };
  const rectOf = (r) => `[x ${px(r.left)}…${px(r.right)}, w ${px(r.width)}]`;
  const style = (e) => getComputedStyle(e);
  const isRoot = (e) => e === root || e === document.body;
  // A scroller meant to scroll sideways: a code block, a table's box, a text field, or a row of
  // panes that snap into place one at a time (swiped, as compare's columns are on a phone).
  const meantToScroll = (e) => e.matches('pre, textarea, input, select, table')
    || style(e).scrollSnapType.startsWith('x')
    || [...e.children].some((c) => c.matches('table, pre'))
    || (e.children.length === 1 && e.firstElementChild.matches('code'));
  const clips = (v) => v === 'hidden' || v === 'clip';
  const scrolls = (v) => v === 'auto' || v === 'scroll';
  const fixedAncestor = (e) => {
    for (let n = e; n && !isRoot(n); n = n.parentElement) if (style(n).position === 'fixed') return n;
    return null;
  };
  const shown = (e) => e.checkVisibility({ checkVisibilityCSS: true });

  // (a) the document's own width.
  if (root.scrollWidth > vw) problems.push(`the page scrolls sideways: document scrollWidth ${root.scrollWidth} > innerWidth ${vw}`);

  // (a) what sticks out past the viewport's edges, outermost first (a child inside an offender is not listed
  // again), except inside a box that clips or scrolls it (that box answers for it).
  const all = [...document.body.querySelectorAll('*')];
  const offenders = new Set();
  for (const e of all) {
    if (!shown(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const out = r.right > vw + 1 || r.left < -1;
    if (!out) continue;
    // Wholly off screen to the left (nothing scrolls there), or to the right in a fixed box (a drawer
    // parked off canvas), or a visually hidden label: not seen, and no sideways scrolling.
    if (r.right <= 0 || (r.left >= vw && (fixedAncestor(e) || r.width <= 1))) continue;
    let excused = false;
    for (let n = e.parentElement; n && !isRoot(n); n = n.parentElement) {
      const s = style(n);
      if (clips(s.overflowX) || scrolls(s.overflowX)) { excused = true; break; }
      if (offenders.has(n)) { excused = true; break; }
    }
    if (excused) continue;
    offenders.add(e);
    problems.push(`sticks out of the viewport: ${describe(e)} ${rectOf(r)}`);
  }

  // (a) boxes that scroll sideways without being meant to, with what sticks out of them.
  for (const e of all) {
    if (!shown(e) || isRoot(e)) continue;
    const s = style(e);
    if (!scrolls(s.overflowX) || e.scrollWidth <= e.clientWidth + 1 || meantToScroll(e)) continue;
    if (e.closest('pre, table')) continue;
    const box = e.getBoundingClientRect();
    const inner = [];
    for (const c of e.querySelectorAll('*')) {
      const r = c.getBoundingClientRect();
      if (r.width === 0 || !shown(c) || r.right <= box.right + 1) continue;
      if (inner.some((p) => p.contains(c))) continue;
      if (c.parentElement !== e && c.parentElement.closest('pre, table') && e.contains(c.parentElement.closest('pre, table'))) continue;
      inner.push(c);
      if (inner.length >= 4) break;
    }
    problems.push(`scrolls sideways (scrollWidth ${e.scrollWidth} > clientWidth ${e.clientWidth}): ${describe(e)}`
      + (inner.length ? `; too wide inside it: ${inner.map((c) => `${describe(c)} ${rectOf(c.getBoundingClientRect())}`).join('; ')}` : ''));
  }

  // (a) a bar that stays put (sticky or fixed) must hide what scrolls under it: its text drawn over
  // another element's text, with nothing opaque between, is two texts on top of each other.
  const opaque = (e) => {
    const s = style(e);
    const alpha = s.backgroundColor.startsWith('rgba') ? parseFloat(s.backgroundColor.split(',')[3]) : 1;
    // A gradient that fades from transparent (a bar fading in over the text above it) hides nothing
    // where it is transparent: it counts as see-through.
    const faint = /transparent|rgba\([^)]*,\s*0(\.[0-8]\d*)?\)/.test(s.backgroundImage);
    return (s.backgroundColor !== 'transparent' && alpha >= 0.9) || (s.backgroundImage !== 'none' && !faint);
  };
  // The boxes of an element's own text (its text nodes, not its children's).
  const textBoxes = (e) => [...e.childNodes].filter((t) => t.nodeType === Node.TEXT_NODE && t.textContent.trim())
    .flatMap((t) => {
      const range = document.createRange();
      range.selectNodeContents(t);
      return [...range.getClientRects()];
    });
  const overlap = (p, q) => Math.min(p.right, q.right) - Math.max(p.left, q.left) >= 2
    && Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) >= 2;
  const bars = all.filter((e) => ['sticky', 'fixed'].includes(style(e).position) && shown(e) && !e.closest('dialog'));
  const collided = new Set();
  for (const bar of bars) {
    const walker = document.createTreeWalker(bar, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const holder = t.parentElement;
      if (!t.textContent.trim() || !holder || !shown(holder) || collided.has(bar)) continue;
      let covered = false;
      for (let n = holder; n && n !== bar.parentElement; n = n.parentElement) if (opaque(n)) { covered = true; break; }
      if (covered) continue;
      const range = document.createRange();
      range.selectNodeContents(t);
      for (const q of range.getClientRects()) {
        // Only what is painted beneath the bar at that point, where nothing opaque (a dialog) covers it.
        const beneath = new Set([0.1, 0.5, 0.9].flatMap((fx) => [0, 0.5, 1].flatMap((fy) => {
          const stack = document.elementsFromPoint(q.left + q.width * fx, Math.min(q.top + q.height * fy, innerHeight - 1));
          const at = stack.findIndex((e) => bar.contains(e));
          return at < 0 || stack.slice(0, at).some(opaque) ? [] : stack.slice(at + 1);
        })));
        const under = [...beneath].find((u) => !bar.contains(u) && !u.contains(bar) && textBoxes(u).some((box) => overlap(box, q)));
        if (under) {
          problems.push(`text shows through a bar that stays put: ${describe(holder)} over ${describe(under)}`);
          collided.add(bar);
          break;
        }
      }
    }
  }

  // (b) controls: on screen sideways, not cut by a box that clips them, their label not cut.
  const controls = document.querySelectorAll(
    'button, a[href], input:not([type=hidden]), select, textarea, summary, [role=button], [role=menuitem], [role=tab], [tabindex="0"]');
  for (const c of controls) {
    if (!shown(c)) continue;
    const r = c.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.width <= 1 && r.height <= 1) continue; // visually hidden (a label for screen readers)
    let inScroller = false;
    let cut = null;
    for (let n = c.parentElement; n && !isRoot(n); n = n.parentElement) {
      const s = style(n);
      const b = n.getBoundingClientRect();
      const cutX = clips(s.overflowX) && (r.left < b.left - 1 || r.right > b.right + 1);
      const cutY = clips(s.overflowY) && (r.top < b.top - 1 || r.bottom > b.bottom + 1);
      if (scrolls(s.overflowX)) inScroller = true;
      if (cutX || cutY) {
        const wholly = r.right <= b.left || r.left >= b.right || r.bottom <= b.top || r.top >= b.bottom;
        if (!wholly) cut = `${describe(n)} [x ${px(b.left)}…${px(b.right)}, y ${px(b.top)}…${px(b.bottom)}]`;
        break;
      }
    }
    if (cut) problems.push(`control cut off by ${cut}: ${describe(c)} [x ${px(r.left)}…${px(r.right)}, y ${px(r.top)}…${px(r.bottom)}]`);
    else if (!inScroller && (r.right > vw + 1 || r.left < -1) && !(r.right <= 0 || (r.left >= vw && fixedAncestor(c)))
             && ![...offenders].some((o) => o.contains(c))) {
      // (One that sticks out itself, or sits in a box that does, is named above already.)
      problems.push(`control outside the viewport: ${describe(c)} ${rectOf(r)}`);
    }
    // Past the edge of the framed box it sits in (a Send button poking out of the composer's border);
    // a popover (positioned out of the flow) is meant to overlap what is around it.
    if (!cut) {
      for (let n = c.parentElement; n && !isRoot(n); n = n.parentElement) {
        const s = style(n);
        if (s.position === 'absolute' || s.position === 'fixed' || n.matches('dialog')) break;
        const framed = ['Left', 'Right'].every((side) => parseFloat(s[`border${side}Width`]) > 0 && s[`border${side}Style`] !== 'none');
        if (!framed) continue;
        const b = n.getBoundingClientRect();
        if (r.right > b.right + 1 || r.left < b.left - 1) {
          problems.push(`control pokes out of its frame ${describe(n)} [x ${px(b.left)}…${px(b.right)}]: ${describe(c)} ${rectOf(r)}`);
        }
        break;
      }
    }
    if (c instanceof HTMLElement && c.matches('button, .button, summary, [role=button]') && c.clientWidth > 0
        && style(c).display !== 'inline' && c.scrollWidth > c.clientWidth + 1) {
      problems.push(`label cut (scrollWidth ${c.scrollWidth} > clientWidth ${c.clientWidth}): ${describe(c)}`);
    }
    // A short label broken over several lines ("+ Compare with…" on three lines).
    if (c instanceof HTMLElement && c.matches('button, .button, [role=button]')) {
      const text = c.innerText.trim();
      if (text && text.length <= 30) {
        // The label's text as drawn: a label hidden for screen readers only (a 1-px clipped box) is not.
        const lines = [];
        const walker = document.createTreeWalker(c, NodeFilter.SHOW_TEXT);
        for (let t = walker.nextNode(); t; t = walker.nextNode()) {
          const holder = t.parentElement;
          const box = holder.getBoundingClientRect();
          if (!t.textContent.trim() || !shown(holder) || box.width <= 1 || box.height <= 1) continue;
          const range = document.createRange();
          range.selectNodeContents(t);
          for (const q of range.getClientRects()) {
            if (q.width < 1) continue;
            if (!lines.some((l) => q.top < l.bottom - 2 && q.bottom > l.top + 2)) lines.push(q);
          }
        }
        if (lines.length > 1) problems.push(`short label broken over ${lines.length} lines: ${describe(c)}`);
      }
    }
  }
  return problems;
})
