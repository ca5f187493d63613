// Review's requests: JSON to the URLs the server named (review.json's "urls"), with the CSRF token.
import { fillUrl } from './urls.js';

function csrfToken() {
  const input = document.querySelector('input[name=csrfmiddlewaretoken]');
  if (input) return input.value;
  const cookie = document.cookie.split('; ').find((c) => c.startsWith('csrftoken='));
  return cookie ? decodeURIComponent(cookie.slice('csrftoken='.length)) : '';
}

export class ReviewError extends Error {}

async function request(url, options = {}) {
  let response;
  try {
    response = await fetch(url, {
      ...options,
      headers: { Accept: 'application/json', ...(options.body ? { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() } : {}) },
      credentials: 'same-origin',
    });
  } catch (_) {
    throw new ReviewError('Could not reach the server. Check the connection and try again.');
  }
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    /* not JSON: said below */
  }
  if (!response.ok) throw new ReviewError(data?.error || `The server said ${response.status}.`);
  return data;
}

export class ReviewApi {
  constructor(summaryUrl) {
    this.summaryUrl = summaryUrl;
    this.urls = {};
  }

  async summary() {
    const data = await request(this.summaryUrl);
    this.urls = data.urls;
    return data;
  }

  threads(turnId) {
    return request(fillUrl(this.urls.threads, { turn_id: turnId }));
  }

  post(url, data) {
    return request(url, { method: 'POST', body: JSON.stringify(data) });
  }

  comment(turnId, body, thread = null) {
    return this.post(fillUrl(this.urls.comment, { turn_id: turnId }), thread == null ? { body } : { body, thread });
  }

  edit(commentId, body) {
    return this.post(fillUrl(this.urls.edit, { comment_id: commentId }), { body });
  }

  remove(commentId) {
    return this.post(fillUrl(this.urls.delete, { comment_id: commentId }), {});
  }

  resolve(commentId, resolved) {
    return this.post(fillUrl(this.urls.resolve, { comment_id: commentId }), { resolved });
  }

  verdict(turnId, value) {
    return this.post(fillUrl(this.urls.verdict, { turn_id: turnId }), { value });
  }

  prefer(turnId) {
    return this.post(this.urls.preference, { turn: turnId });
  }

  turnUrl(turnId) {
    return fillUrl(this.urls.turn, { turn_id: turnId });
  }
}
