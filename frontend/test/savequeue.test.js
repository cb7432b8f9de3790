import { test } from "node:test";
import assert from "node:assert/strict";
import { SaveQueue, backoffDelay, parseConflicts } from "../src/savequeue.js";

class MemStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, v); }
  removeItem(k) { this.m.delete(k); }
}

/** A fake clock whose timers run when the test says so. */
function fakeTimers() {
  const timers = [];
  return {
    timers,
    setTimer: (fn, ms) => { const t = { fn, ms, dead: false }; timers.push(t); return t; },
    clearTimer: (t) => { t.dead = true; },
    async fire() {
      const live = timers.filter((t) => !t.dead);
      timers.length = 0;
      for (const t of live) await t.fn();
      await new Promise((r) => setImmediate(r));
    },
  };
}

const row = (id, cls = 1) => ({ id, op: "upsert", geometry: { type: "Point", coordinates: [1, 2] }, label_class: cls });

function okSender(log) {
  return async (items) => {
    log.push(items);
    return { status: 200, body: { items: items.map((i) => ({ id: i.id, version: i.version + 1 })) } };
  };
}

test("backoff doubles per attempt up to the cap, with jitter in [0.5, 1)", () => {
  assert.equal(backoffDelay(1, 1000, 30000, () => 1), 1000);
  assert.equal(backoffDelay(3, 1000, 30000, () => 1), 4000);
  assert.equal(backoffDelay(10, 1000, 30000, () => 1), 30000);
  assert.equal(backoffDelay(2, 1000, 30000, () => 0), 1000);
});

test("coalesces edits per id and sends the latest row with base version 0", async () => {
  const log = [];
  const q = new SaveQueue({ send: okSender(log), ...fakeTimers() });
  q.enqueue(row("a", 1));
  q.enqueue(row("a", 2));
  await q.flush();
  assert.equal(log.length, 1);
  assert.deepEqual(log[0].map((i) => [i.id, i.label_class, i.version]), [["a", 2, 0]]);
  assert.equal(q.state().pending, 0);
  q.enqueue(row("a", 3));
  await q.flush();
  assert.equal(log[1][0].version, 1);
});

test("network failures keep the change, back off exponentially, then deliver", async () => {
  const t = fakeTimers();
  let down = true;
  const log = [];
  const q = new SaveQueue({
    send: async (items) => { if (down) throw new TypeError("Failed to fetch"); log.push(items); return { status: 200, body: [] }; },
    random: () => 1, baseDelayMs: 100, now: () => 0, ...t,
  });
  q.enqueue(row("a"));
  await q.flush();
  assert.equal(q.state().pending, 1);
  assert.equal(q.state().attempts, 1);
  assert.equal(t.timers.at(-1).ms, 100);
  await t.fire();
  assert.equal(q.state().attempts, 2);
  assert.equal(t.timers.at(-1).ms, 200);
  assert.match(q.state().lastError, /network/);
  down = false;
  await t.fire();
  assert.equal(q.state().pending, 0);
  assert.equal(log.length, 1);
});

test("5xx answers are retried, not dropped", async () => {
  const t = fakeTimers();
  let status = 503;
  const q = new SaveQueue({ send: async () => ({ status, body: {} }), ...t });
  q.enqueue(row("a"));
  await q.flush();
  assert.equal(q.state().pending, 1);
  status = 200;
  await t.fire();
  assert.equal(q.state().pending, 0);
});

test("pending changes survive a reload through storage and replay", async () => {
  const storage = new MemStorage();
  const q1 = new SaveQueue({ send: async () => { throw new TypeError("offline"); }, storage, key: "k", ...fakeTimers() });
  q1.enqueue(row("a", 7));
  await q1.flush();
  assert.ok(storage.getItem("k"));
  const log = [];
  const q2 = new SaveQueue({ send: okSender(log), storage, key: "k", ...fakeTimers() });
  assert.equal(q2.state().pending, 1);
  assert.deepEqual(q2.localRows().map((r) => r.label_class), [7]);
  await q2.flush();
  assert.equal(log[0][0].label_class, 7);
  assert.equal(storage.getItem("k"), null);
});

test("a 409 becomes a visible conflict; keep mine resends on the server's version", async () => {
  const log = [];
  let conflict = true;
  const q = new SaveQueue({
    send: async (items) => {
      log.push(items);
      if (conflict) return { status: 409, body: { code: "version_conflict", current: [{ id: "a", version: 5, label_class: 9 }] } };
      return { status: 200, body: items.map((i) => ({ id: i.id, version: i.version + 1 })) };
    },
    ...fakeTimers(),
  });
  q.noteVersion("a", 3);
  q.enqueue(row("a", 1));
  await q.flush();
  const st = q.state();
  assert.equal(st.pending, 0);
  assert.equal(st.conflicts.length, 1);
  assert.equal(st.conflicts[0].current.label_class, 9);
  conflict = false;
  q.resolve("a", "mine");
  await q.flush();
  assert.equal(log.at(-1)[0].version, 5);
  assert.equal(log.at(-1)[0].label_class, 1);
  assert.equal(q.state().conflicts.length, 0);
});

test("take theirs drops my change and returns the server row", async () => {
  const q = new SaveQueue({
    send: async () => ({ status: 409, body: { code: "version_conflict", conflicts: [{ id: "a", current: { id: "a", version: 2, label_class: 4 } }] } }),
    ...fakeTimers(),
  });
  q.enqueue(row("a", 1));
  await q.flush();
  const theirs = q.resolve("a", "theirs");
  assert.equal(theirs.label_class, 4);
  assert.equal(q.state().pending, 0);
  assert.equal(q.isPending("a"), false);
});

test("non-conflicting rows of a 409 batch are resent right away", async () => {
  const log = [];
  const q = new SaveQueue({
    send: async (items) => {
      log.push(items.map((i) => i.id));
      if (items.some((i) => i.id === "a")) return { status: 409, body: { current: { id: "a", version: 2 } } };
      return { status: 200, body: [] };
    },
    ...fakeTimers(),
  });
  q.enqueue(row("a"));
  q.enqueue(row("b"));
  await q.flush();
  assert.deepEqual(log, [["a", "b"], ["b"]]);
  assert.equal(q.state().conflicts.length, 1);
});

test("a 400 parks rows as failed instead of dropping them", async () => {
  const storage = new MemStorage();
  const q = new SaveQueue({ send: async () => ({ status: 400, body: { code: "invalid" } }), storage, ...fakeTimers() });
  q.enqueue(row("a"));
  await q.flush();
  assert.equal(q.state().failed.length, 1);
  assert.ok(storage.getItem("laypath.savequeue"));
  q.discardFailed("a");
  assert.equal(q.state().failed.length, 0);
});

test("deleting a row that never reached the server sends nothing", async () => {
  const log = [];
  const q = new SaveQueue({ send: okSender(log), ...fakeTimers() });
  q.enqueue(row("a"));
  q.enqueue({ id: "a", op: "delete" });
  await q.flush();
  assert.equal(log.length, 0);
});

test("an edit made while a save is in flight is sent next on the new version", async () => {
  const log = [];
  let release;
  const q = new SaveQueue({
    send: async (items) => {
      log.push(items.map((i) => [i.label_class, i.version]));
      if (log.length === 1) await new Promise((r) => { release = r; });
      return { status: 200, body: items.map((i) => ({ id: i.id, version: i.version + 1 })) };
    },
    ...fakeTimers(),
  });
  q.enqueue(row("a", 1));
  const first = q.flush();
  await new Promise((r) => setImmediate(r));
  q.enqueue(row("a", 2));
  release();
  await first;
  assert.deepEqual(log, [[[1, 0]], [[2, 1]]]);
});

test("parseConflicts accepts a single current row", () => {
  assert.deepEqual(parseConflicts({ code: "version_conflict", current: { id: "x", version: 3 } }), [{ id: "x", current: { id: "x", version: 3 } }]);
});
