import { test } from "node:test";
import assert from "node:assert/strict";
import { AnnotationStore, uuid4, isProposal } from "../src/state.js";

const pt = (id, x, cls = 1) => ({ id, geometry: { type: "Point", coordinates: [x, x] }, label_class: cls, source: "human", status: "none" });

test("uuid4 makes distinct RFC 4122 version-4 ids", () => {
  const a = uuid4(), b = uuid4();
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(a, b);
});

test("undo and redo restore rows step by step", () => {
  const s = new AnnotationStore();
  s.apply({ put: [pt("a", 1)] });
  s.apply({ put: [{ ...pt("a", 1), label_class: 2 }] });
  s.apply({ remove: ["a"] });
  assert.equal(s.get("a"), null);
  s.undo();
  assert.equal(s.get("a").label_class, 2);
  s.undo();
  assert.equal(s.get("a").label_class, 1);
  s.undo();
  assert.equal(s.get("a"), null);
  assert.deepEqual(s.undo(), []);
  s.redo();
  s.redo();
  assert.equal(s.get("a").label_class, 2);
});

test("a new action clears the redo stack", () => {
  const s = new AnnotationStore();
  s.apply({ put: [pt("a", 1)] });
  s.undo();
  s.apply({ put: [pt("b", 2)] });
  assert.deepEqual(s.redo(), []);
  assert.equal(s.get("a"), null);
});

test("listeners see do/undo origins with before and after rows", () => {
  const s = new AnnotationStore();
  const seen = [];
  s.onChange((changes, origin) => seen.push([origin, changes[0].before?.label_class ?? null, changes[0].after?.label_class ?? null]));
  s.apply({ put: [pt("a", 1, 3)] });
  s.undo();
  assert.deepEqual(seen, [["do", null, 3], ["undo", 3, null]]);
});

test("merge skips rows with pending local edits and older versions, and is not undoable", () => {
  const s = new AnnotationStore();
  s.merge([{ ...pt("a", 1), version: 2 }, { ...pt("b", 1), version: 1 }]);
  s.merge([{ ...pt("a", 1, 9), version: 1 }, { ...pt("b", 1, 9), version: 5 }], (id) => id === "b");
  assert.equal(s.get("a").label_class, 1);
  assert.equal(s.get("b").label_class, 1);
  assert.deepEqual(s.undo(), []);
});

test("setVersion keeps the known server version through undo", () => {
  const s = new AnnotationStore();
  s.apply({ put: [pt("a", 1)] });
  s.setVersion("a", 1);
  s.apply({ put: [{ ...pt("a", 1), label_class: 2 }] });
  s.setVersion("a", 2);
  s.undo();
  assert.equal(s.get("a").label_class, 1);
  assert.equal(s.versionOf("a"), 2);
});

test("hitTest returns the nearest visible row, ignoring rejected proposals", () => {
  const s = new AnnotationStore();
  s.merge([pt("a", 100), pt("b", 110), { ...pt("c", 104), source: "model", status: "rejected" }]);
  assert.equal(s.hitTest([103, 103], 8).id, "a");
  assert.equal(s.hitTest([300, 300], 8), null);
  assert.equal(isProposal({ source: "model", status: "proposed" }), true);
  assert.equal(s.inBox({ minX: 0, minY: 0, maxX: 105, maxY: 105 }).length, 1);
});
