// A JSON websocket that reconnects with backoff until the server says it never will (44xx).

export class Socket {
  static QUEUE_LIMIT = 20;

  constructor(path, { onMessage, onOpen, onClose }) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.url = `${scheme}//${location.host}${path}`;
    this.handlers = { onMessage, onOpen, onClose };
    this.retry = 0;
    this.ws = null;
    this.queue = []; // frames sent while (re)connecting, delivered on open
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.retry = 0;
      document.body.dataset.socket = 'open';
      this.handlers.onOpen();
      for (const frame of this.queue.splice(0)) ws.send(JSON.stringify(frame));
    });
    ws.addEventListener('message', (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      this.handlers.onMessage(message);
    });
    ws.addEventListener('close', (event) => {
      document.body.dataset.socket = 'closed';
      this.handlers.onClose(event.code, event.reason);
      if (event.code >= 4400 && event.code < 4500) return; // final: signed out or not found
      const delay = Math.min(10000, 500 * 2 ** this.retry++);
      setTimeout(() => this.connect(), delay);
    });
  }

  // Sends now, or queues the frame until the socket is open; false when the queue is full.
  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    if (this.queue.length >= Socket.QUEUE_LIMIT) return false;
    this.queue.push(frame);
    return true;
  }
}
