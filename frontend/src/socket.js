// @ts-check
/**
 * Live events over `/ws/events/` with reconnect (exponential backoff) and re-subscription.
 * Server messages: {"event": "noun.verb", "data": {...}}; client sends {"subscribe": projectId}.
 */
import { backoffDelay } from "./savequeue.js";

export class EventSocket {
  /**
   * @param {{url?: string, WebSocketImpl?: any, setTimer?: (fn: () => void, ms: number) => any,
   *   baseDelayMs?: number, maxDelayMs?: number, random?: () => number}} [opts]
   */
  constructor(opts = {}) {
    const loc = globalThis.location;
    this.url = opts.url ?? (loc ? `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/ws/events/` : "");
    this.WS = opts.WebSocketImpl ?? globalThis.WebSocket;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 15000;
    this.random = opts.random ?? Math.random;
    /** @type {Map<string, Set<(data: any, event: string) => void>>} */
    this.handlers = new Map();
    /** @type {Set<number>} */
    this.projects = new Set();
    this.attempts = 0;
    this.closed = false;
    /** @type {"connecting"|"open"|"down"} */
    this.status = "down";
    this.ws = null;
  }

  /** Listen to one event name ("*" = all, "status" = connection changes). @param {string} event @param {(data: any, event: string) => void} fn */
  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)?.add(fn);
    return () => this.handlers.get(event)?.delete(fn);
  }

  /** @param {string} event @param {any} data */
  _fire(event, data) {
    for (const key of [event, "*"]) for (const fn of this.handlers.get(key) || []) {
      try { fn(data, event); } catch (err) { console.error(err); }
    }
  }

  /** Join a project's event group (kept across reconnects). @param {number} projectId */
  subscribe(projectId) {
    this.projects.add(projectId);
    if (this.ws && this.status === "open") this.ws.send(JSON.stringify({ subscribe: projectId }));
  }

  connect() {
    if (!this.WS || this.closed) return;
    this._setStatus("connecting");
    const ws = new this.WS(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      this._setStatus("open");
      for (const p of this.projects) ws.send(JSON.stringify({ subscribe: p }));
    };
    ws.onmessage = (/** @type {{data: string}} */ msg) => {
      let parsed = null;
      try { parsed = JSON.parse(msg.data); } catch { return; }
      if (parsed && parsed.event) this._fire(parsed.event, parsed.data || {});
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this._setStatus("down");
      if (this.closed) return;
      this.attempts += 1;
      this.setTimer(() => this.connect(), backoffDelay(this.attempts, this.baseDelayMs, this.maxDelayMs, this.random));
    };
    ws.onerror = () => { try { ws.close(); } catch { /* already closing */ } };
  }

  /** @param {"connecting"|"open"|"down"} s */
  _setStatus(s) {
    this.status = s;
    this._fire("status", { status: s, attempts: this.attempts });
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}

/** @type {EventSocket|null} */
let shared = null;

/** The page's one socket, connected on first use. */
export function events() {
  if (!shared) {
    shared = new EventSocket();
    shared.connect();
  }
  return shared;
}
