// The conversation page's URLs, from the templates the server put in page.urls (see urls.js). No
// DOM: `node --test` (tests/js/conversation-urls.test.mjs) checks them.
import { fileUrl } from './attachments.js';
import { fillUrl } from './urls.js';

export function conversationUrls(urls) {
  return {
    turn: (id) => fillUrl(urls.turn, { turn_id: id }),
    branch: (id) => fillUrl(urls.branch, { turn_id: id }),
    earlier: (id) => fillUrl(urls.earlier, { turn_id: id }),
    fork: (id) => fillUrl(urls.fork, { turn_id: id }),
    compare: (tips) => `${urls.compare}?tips=${tips.join(',')}`,
    compareSiblings: (id) => `${urls.compare}?siblings=${id}`,
    request: (id) => fillUrl(urls.request, { turn_id: id }),
    code: (id) => fillUrl(urls.code, { turn_id: id }),
    // A turn's n-th attached file (its thumbnail with `thumb`).
    file: (id, index, options) => fileUrl(urls.turn_file, id, index, options),
    markdown: (id) => fillUrl(urls.export_markdown, { turn_id: id }),
    otherConversation: (id) => fillUrl(urls.any_conversation, { conversation_id: id }),
    otherTurn: (conversationId, turnId) => fillUrl(urls.any_turn, { conversation_id: conversationId, turn_id: turnId }),
  };
}

// The turn a turn URL (/c/<conversation>/t/<turn>/) names, or null: what going back or forward
// in history shows.
export function turnFromPath(pathname) {
  const match = pathname.match(/\/t\/(\d+)\/$/);
  return match ? Number(match[1]) : null;
}
