// @ts-check
/**
 * The "nothing is lost" save queue. Local changes are coalesced per annotation id, persisted to
 * storage (localStorage in the browser) before any request, sent in batches to the bulk API, and
 * retried with exponential backoff on network errors and 5xx. A 409 moves the row into `conflicts`
 * with the server's current row until the user picks "keep mine" or "take theirs". Other 4xx answers
 * park the row in `failed` (shown, never dropped silently).
 *
 * @typedef {{id: string, op: "upsert"|"delete", [k: string]: any}} Payload
 * @typedef {{id: string, seq: number, base: number, payload: Payload}} Entry
 * @typedef {{id: string, mine: Payload, base: number, current: any}} Conflict
 * @typedef {{id: string, payload: Payload, base: number, status: number, detail: string}} Failure
 * @typedef {{status: number, body: any}} SendResult
 * @typedef {{getItem(k: string): string|null, setItem(k: string, v: string): void, removeItem(k: string): void}} StorageLike
 * @typedef {{pending: number, inFlight: boolean, attempts: number, nextRetryAt: number|null, lastError: string,
 *   conflicts: Conflict[], failed: Failure[]}} QueueState
 */

/** Exponential backoff with jitter: base * 2^(attempt-1), capped, scaled by [0.5, 1). */
export function backoffDelay(attempt, baseMs, maxMs, random = Math.random) {
  const raw = Math.min(maxMs, baseMs * Math.pow(2, Math.max(0, attempt - 1)));
  return Math.round(raw * (0.5 + 0.5 * random()));
}

/** Conflicting rows from a 409 body, as [{id, current}] (accepts several plausible shapes). */
export function parseConflicts(body) {
  if (!body || typeof body !== "object") return [];
  const list = body.conflicts || body.current || body.rows || (body.id ? [body] : []);
  const rows = Array.isArray(list) ? list : [list];
  return rows
    .map((r) => (r && r.current && r.id ? { id: String(r.id), current: r.current } : r && r.id ? { id: String(r.id), current: r } : null))
    .filter((x) => x !== null);
}

/** Saved rows from a 2xx body as [{id, version}]. */
export function parseSaved(body) {
  const list = Array.isArray(body) ? body : body?.items || body?.results || body?.saved || [];
  return list.filter((r) => r && r.id).map((r) => ({ id: String(r.id), version: Number(r.version ?? 0) }));
}

const RETRYABLE = new Set([0, 408, 425, 429]);

export class SaveQueue {
  /**
   * @param {{send: (items: Payload[]) => Promise<SendResult>, storage?: StorageLike|null, key?: string,
   *   setTimer?: (fn: () => void, ms: number) => any, clearTimer?: (t: any) => void, now?: () => number,
   *   random?: () => number, baseDelayMs?: number, maxDelayMs?: number, debounceMs?: number, batchSize?: number,
   *   onState?: (s: QueueState) => void, onSaved?: (id: string, version: number) => void}} opts
   */
  constructor(opts) {
    this.send = opts.send;
    this.storage = opts.storage ?? null;
    this.key = opts.key ?? "laypath.savequeue";
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimer ?? ((t) => clearTimeout(t));
    this.now = opts.now ?? (() => Date.now());
    this.random = opts.random ?? Math.random;
    this.baseDelayMs = opts.baseDelayMs ?? 1000;
    this.maxDelayMs = opts.maxDelayMs ?? 30000;
    this.debounceMs = opts.debounceMs ?? 250;
    this.batchSize = opts.batchSize ?? 200;
    this.onState = opts.onState ?? (() => {});
    this.onSaved = opts.onSaved ?? (() => {});
    /** @type {Map<string, Entry>} */
    this.pending = new Map();
    /** @type {Map<string, Conflict>} */
    this.conflicts = new Map();
    /** @type {Map<string, Failure>} */
    this.failed = new Map();
    /** @type {Map<string, number>} server versions this queue has seen */
    this.known = new Map();
    /** @type {Set<string>} */
    this.inFlightIds = new Set();
    this.inFlight = false;
    this.attempts = 0;
    /** @type {number|null} */
    this.nextRetryAt = null;
    this.lastError = "";
    this.seq = 0;
    this.timer = null;
    this._load();
  }

  /** Tell the queue a server version (rows loaded from the API). @param {string} id @param {number} v */
  noteVersion(id, v) {
    if (v > (this.known.get(id) ?? 0)) this.known.set(id, v);
  }

  /** True when the id has unsent or unresolved local changes. @param {string} id */
  isPending(id) {
    return this.pending.has(id) || this.conflicts.has(id) || this.inFlightIds.has(id) || this.failed.has(id);
  }

  /** Queue a change (upsert with the full row, or delete); persists at once, sends after a short debounce. @param {Payload} payload */
  enqueue(payload) {
    const id = payload.id;
    const conflict = this.conflicts.get(id);
    if (conflict) {
      conflict.mine = payload; // still waiting for the user's decision
      this._changed();
      return;
    }
    const prev = this.pending.get(id);
    const base = prev ? prev.base : this.known.get(id) ?? 0;
    if (payload.op === "delete" && base === 0 && !this.inFlightIds.has(id)) {
      this.pending.delete(id); // never reached the server: nothing to delete there
    } else {
      this.pending.set(id, { id, seq: ++this.seq, base, payload });
    }
    this._changed();
    if (this.nextRetryAt === null) this._schedule(this.debounceMs);
  }

  /** Forget an unsent change (not one in flight); true when something was dropped. @param {string} id */
  drop(id) {
    if (this.inFlightIds.has(id) || !this.pending.has(id)) return false;
    this.pending.delete(id);
    this._changed();
    return true;
  }

  /** Public snapshot for the UI. @returns {QueueState} */
  state() {
    return {
      pending: this.pending.size + this.inFlightIds.size - [...this.inFlightIds].filter((id) => this.pending.has(id)).length,
      inFlight: this.inFlight,
      attempts: this.attempts,
      nextRetryAt: this.nextRetryAt,
      lastError: this.lastError,
      conflicts: [...this.conflicts.values()],
      failed: [...this.failed.values()],
    };
  }

  /** Send now (skipping any backoff wait), e.g. when the browser comes back online. */
  retryNow() {
    this.nextRetryAt = null;
    return this.flush();
  }

  /** Send one batch; resolves when that batch (and any follow-up batches) is settled. */
  async flush() {
    if (this.inFlight) return;
    if (this.timer !== null) { this.clearTimer(this.timer); this.timer = null; }
    const batch = [...this.pending.values()].slice(0, this.batchSize);
    if (!batch.length) { this.nextRetryAt = null; this._emit(); return; }
    this.inFlight = true;
    for (const e of batch) this.inFlightIds.add(e.id);
    this._emit();
    /** @type {SendResult|null} */
    let res = null;
    try {
      res = await this.send(batch.map((e) => ({ ...e.payload, version: e.base })));
    } catch (err) {
      res = { status: 0, body: { detail: String(err && /** @type {any} */ (err).message || err) } };
    }
    this.inFlight = false;
    this.inFlightIds.clear();
    const again = this._settle(batch, res);
    this._changed();
    if (again) await this.flush();
  }

  /** @param {Entry[]} batch @param {SendResult} res @returns {boolean} flush again now */
  _settle(batch, res) {
    if (res.status >= 200 && res.status < 300) {
      this.attempts = 0;
      this.nextRetryAt = null;
      this.lastError = "";
      const saved = new Map(parseSaved(res.body).map((r) => [r.id, r.version]));
      for (const e of batch) {
        const v = saved.get(e.id) ?? e.base + 1;
        this.known.set(e.id, v);
        const cur = this.pending.get(e.id);
        if (cur && cur.seq === e.seq) this.pending.delete(e.id);
        else if (cur) cur.base = v;
        this.onSaved(e.id, v);
      }
      return this.pending.size > 0;
    }
    if (res.status === 409) {
      const found = parseConflicts(res.body);
      for (const { id, current } of found) {
        const cur = this.pending.get(id);
        if (!cur) continue;
        this.conflicts.set(id, { id, mine: cur.payload, base: cur.base, current });
        this.pending.delete(id);
      }
      if (found.length) return this.pending.size > 0;
    }
    if (RETRYABLE.has(res.status) || res.status >= 500 || res.status === 409) {
      this.attempts += 1;
      this.lastError = res.status ? `server answered ${res.status}` : `network: ${res.body?.detail || "unreachable"}`;
      const delay = backoffDelay(this.attempts, this.baseDelayMs, this.maxDelayMs, this.random);
      this.nextRetryAt = this.now() + delay;
      this._schedule(delay);
      return false;
    }
    const detail = typeof res.body === "object" ? JSON.stringify(res.body).slice(0, 300) : String(res.body);
    for (const e of batch) {
      const cur = this.pending.get(e.id);
      if (cur && cur.seq === e.seq) {
        this.failed.set(e.id, { id: e.id, payload: cur.payload, base: cur.base, status: res.status, detail });
        this.pending.delete(e.id);
      }
    }
    this.lastError = `rejected (${res.status})`;
    return this.pending.size > 0;
  }

  /**
   * Resolve a conflict: "mine" re-sends my row on top of the server's version; "theirs" drops mine
   * and returns the server row for the caller to show.
   * @param {string} id @param {"mine"|"theirs"} choice @returns {any} the server row for "theirs"
   */
  resolve(id, choice) {
    const c = this.conflicts.get(id);
    if (!c) return null;
    this.conflicts.delete(id);
    const serverVersion = Number(c.current?.version ?? 0);
    this.known.set(id, serverVersion);
    if (choice === "mine") {
      this.pending.set(id, { id, seq: ++this.seq, base: serverVersion, payload: c.mine });
      this._changed();
      this._schedule(0);
      return null;
    }
    this._changed();
    return c.current;
  }

  /** Drop a row the server refused (after the user has seen it). @param {string} id */
  discardFailed(id) {
    this.failed.delete(id);
    this._changed();
  }

  /** @param {number} ms */
  _schedule(ms) {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = this.setTimer(() => { this.timer = null; this.flush(); }, ms);
  }

  _changed() {
    this._persist();
    this._emit();
  }

  _emit() {
    this.onState(this.state());
  }

  _persist() {
    if (!this.storage) return;
    const ids = new Set([...this.pending.keys(), ...this.conflicts.keys(), ...this.failed.keys()]);
    if (!ids.size) { this.storage.removeItem(this.key); return; }
    const data = {
      v: 1,
      pending: [...this.pending.values()].map((e) => ({ id: e.id, base: e.base, payload: e.payload })),
      conflicts: [...this.conflicts.values()],
      failed: [...this.failed.values()],
    };
    try {
      this.storage.setItem(this.key, JSON.stringify(data));
    } catch (err) {
      this.lastError = `could not keep a local copy: ${err}`;
    }
  }

  _load() {
    if (!this.storage) return;
    let data = null;
    try { data = JSON.parse(this.storage.getItem(this.key) || "null"); } catch { data = null; }
    if (!data || data.v !== 1) return;
    for (const e of data.pending || []) {
      this.pending.set(e.id, { id: e.id, seq: ++this.seq, base: e.base, payload: e.payload });
      if (e.base) this.known.set(e.id, e.base);
    }
    for (const c of data.conflicts || []) this.conflicts.set(c.id, c);
    for (const f of data.failed || []) this.failed.set(f.id, f);
  }

  /** Rows this queue holds locally (to overlay onto what the server returns after a reload). */
  localRows() {
    const out = [];
    for (const e of this.pending.values()) out.push(e.payload);
    for (const c of this.conflicts.values()) out.push(c.mine);
    return out;
  }
}
