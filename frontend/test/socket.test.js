import { test } from "node:test";
import assert from "node:assert/strict";
import { EventSocket } from "../src/socket.js";

class FakeWS {
  static all = [];
  constructor(url) { this.url = url; this.sent = []; FakeWS.all.push(this); }
  send(m) { this.sent.push(JSON.parse(m)); }
  close() { this.onclose?.(); }
}

test("reconnects after a drop with backoff and re-subscribes to projects", () => {
  FakeWS.all = [];
  const timers = [];
  const s = new EventSocket({ url: "ws://x/ws/events/", WebSocketImpl: FakeWS, setTimer: (fn, ms) => timers.push({ fn, ms }), random: () => 1, baseDelayMs: 100 });
  const got = [];
  s.on("job.progress", (d) => got.push(d.progress));
  s.subscribe(7);
  s.connect();
  FakeWS.all[0].onopen();
  assert.deepEqual(FakeWS.all[0].sent, [{ subscribe: 7 }]);
  FakeWS.all[0].onmessage({ data: JSON.stringify({ event: "job.progress", data: { progress: 0.5 } }) });
  assert.deepEqual(got, [0.5]);
  FakeWS.all[0].close();
  assert.equal(s.status, "down");
  assert.equal(timers[0].ms, 100);
  timers[0].fn();
  FakeWS.all[1].onopen();
  assert.deepEqual(FakeWS.all[1].sent, [{ subscribe: 7 }]);
  FakeWS.all[1].close();
  timers[1].fn();
  FakeWS.all[2].close();
  assert.equal(timers[2].ms, 200);
});
