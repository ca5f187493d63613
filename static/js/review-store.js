// Review on a page, as data: what teammates said about each turn (counts, open threads, verdicts),
// who prefers which branch, and what each `review.*` frame of the conversation's socket changes.
// No DOM: static/js/review.js shows it. The server's summary (review.json) seeds it; frames keep it.

export class ReviewStore {
  constructor(summary) {
    this.listeners = new Set();
    this.reset(summary);
  }

  // The server's whole summary: on load, and again whenever the socket reconnects (frames sent
  // while it was closed are not replayed, so the summary is read afresh instead).
  reset(summary) {
    this.me = summary.me;
    this.canReview = Boolean(summary.can_review);
    this.canModerate = Boolean(summary.can_moderate);
    this.canResolveAny = Boolean(summary.can_resolve_any);
    this.members = summary.members || [];
    this.urls = summary.urls || {};
    this.turns = new Map(Object.entries(summary.turns || {}).map(([id, counts]) => [Number(id), { ...counts }]));
    this.threads = new Map((summary.threads || []).map((t) => [t.id, { ...t }]));
    this.verdicts = new Map(Object.entries(summary.verdicts || {}).map(([id, v]) => [Number(id), v]));
    this.preferences = new Map((summary.preferences || []).map((p) => [p.user, p]));
    this.loadedThreads = new Map(); // turn id → its threads, once opened
    this.changed({ kind: 'reset' });
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(what) {
    for (const listener of this.listeners) listener(what);
  }

  counts(turnId) {
    return this.turns.get(turnId) || { comments: 0, open: 0 };
  }

  verdictsOf(turnId) {
    return this.verdicts.get(turnId) || { up: [], down: [] };
  }

  myVerdict(turnId) {
    const v = this.verdictsOf(turnId);
    if (v.up.includes(this.me)) return 1;
    if (v.down.includes(this.me)) return -1;
    return 0;
  }

  // Who prefers the branch ending at `turnId`, in the order they chose it.
  preferredBy(turnId) {
    return [...this.preferences.values()].filter((p) => p.turn === turnId).map((p) => p.user);
  }

  myPreference() {
    return this.preferences.get(this.me)?.turn ?? null;
  }

  preferredTips() {
    return new Set([...this.preferences.values()].map((p) => p.turn));
  }

  // Open threads, oldest first.
  openThreads() {
    return [...this.threads.values()].sort((a, b) => a.id - b.id);
  }

  turnsWithOpenThreads() {
    return new Set([...this.turns].filter(([, c]) => c.open > 0).map(([id]) => id));
  }

  setThreads(turnId, threads) {
    this.loadedThreads.set(turnId, threads);
    this.changed({ kind: 'threads', turn: turnId });
  }

  // A frame of the conversation's socket; true when it was review's.
  apply(frame) {
    switch (frame.type) {
      case 'review.comment':
        this.applyComment(frame.comment, frame.turn);
        return true;
      case 'review.verdicts':
        this.verdicts.set(frame.turn, frame.verdicts);
        this.changed({ kind: 'verdicts', turn: frame.turn });
        return true;
      case 'review.preference':
        if (frame.turn == null) this.preferences.delete(frame.user);
        else this.preferences.set(frame.user, { user: frame.user, turn: frame.turn, at: frame.at, excerpt: frame.excerpt || '' });
        this.changed({ kind: 'preference', user: frame.user, turn: frame.turn });
        return true;
      default:
        return false;
    }
  }

  applyComment(comment, counts) {
    const turnId = comment.turn;
    if (counts) this.turns.set(turnId, { comments: counts.comments, open: counts.open });
    this.updateOpenThread(comment);
    const threads = this.loadedThreads.get(turnId);
    if (threads) this.loadedThreads.set(turnId, mergeComment(threads, comment));
    this.changed({ kind: 'comment', turn: turnId, comment });
  }

  // The open threads panel: a thread's first comment says whether it is open; a reply adds one.
  updateOpenThread(comment) {
    if (comment.thread == null) {
      const known = this.threads.get(comment.id);
      const gone = comment.resolved_at || (comment.deleted && !(known?.replies > 0));
      if (gone) this.threads.delete(comment.id);
      else {
        this.threads.set(comment.id, {
          id: comment.id,
          turn: comment.turn,
          author: comment.author,
          excerpt: comment.deleted ? '' : excerpt(comment.body),
          deleted: comment.deleted,
          replies: known?.replies || 0,
          created_at: comment.created_at,
        });
      }
      return;
    }
    const root = this.threads.get(comment.thread);
    if (!root) return;
    const loaded = this.loadedThreads.get(comment.turn)?.find((t) => t.id === comment.thread);
    if (loaded) root.replies = loaded.replies.filter((r) => !r.deleted && r.id !== comment.id).length + (comment.deleted ? 0 : 1);
    else if (!comment.deleted && !comment.edited_at) root.replies += 1;
  }
}

export function excerpt(text, limit = 140) {
  const line = String(text || '').split(/\s+/).filter(Boolean).join(' ');
  return line.length <= limit ? line : `${line.slice(0, limit - 1).trimEnd()}…`;
}

// A turn's threads with one comment made, changed or deleted: as the server would list them.
export function mergeComment(threads, comment) {
  const next = threads.map((t) => ({ ...t, replies: [...t.replies] }));
  if (comment.thread == null) {
    const index = next.findIndex((t) => t.id === comment.id);
    if (index < 0) next.push({ ...comment, replies: [] });
    else next[index] = { ...comment, replies: next[index].replies };
  } else {
    const root = next.find((t) => t.id === comment.thread);
    if (root) {
      const index = root.replies.findIndex((r) => r.id === comment.id);
      if (comment.deleted) {
        if (index >= 0) root.replies.splice(index, 1);
      } else if (index < 0) root.replies.push(comment);
      else root.replies[index] = comment;
    }
  }
  return next.filter((t) => !t.deleted || t.replies.length).sort((a, b) => a.id - b.id);
}

// `@name` being typed just before the caret: the part typed so far, and where it starts; or null.
export function mentionAt(text, caret) {
  const before = text.slice(0, caret);
  const match = /(^|[^\w.@+-])@([\w.@+-]*)$/.exec(before);
  if (!match) return null;
  return { query: match[2], start: caret - match[2].length - 1 };
}

// Members whose names start with (then contain) what was typed, not the writer themself.
export function mentionChoices(members, query, me, limit = 6) {
  const q = query.toLowerCase();
  const others = members.filter((m) => m !== me);
  const starts = others.filter((m) => m.toLowerCase().startsWith(q));
  const contains = others.filter((m) => !m.toLowerCase().startsWith(q) && m.toLowerCase().includes(q));
  return [...starts, ...contains].slice(0, limit);
}

// "alice, bob and 2 others"
export function names(list, limit = 3) {
  if (!list.length) return '';
  if (list.length <= limit) return list.length === 1 ? list[0] : `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`;
  const rest = list.length - limit;
  return `${list.slice(0, limit).join(', ')} and ${rest} other${rest === 1 ? '' : 's'}`;
}
