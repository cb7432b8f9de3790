import { test } from "node:test";
import assert from "node:assert/strict";
import { normTask, normViewer, normRow } from "../src/normalize.js";

test("normTask reads nested or flat ids", () => {
  const t = normTask({ id: 4, project: { id: 2 }, pair: 9, classes: [{ id: 1, name: "a" }, 3], assignment: { id: 11, time_spent_s: 30 } });
  assert.deepEqual([t.project, t.pair, t.classIds, t.assignmentId, t.timeSpent], [2, 9, [1, 3], 11, 30]);
});

test("normViewer finds URLs, mpp and the default render string from the overlay URL", () => {
  const v = normViewer({ he: { dzi: "/tiles/a/slide.dzi", mpp_x: 0.25 }, overlay: { dzi: "/tiles/b/slide.dzi?r=0-0000ff-1-2-1" }, channels: [{ name: "DAPI" }] });
  assert.equal(v.heUrl, "/tiles/a/slide.dzi");
  assert.equal(v.defaultRender, "0-0000ff-1-2-1");
  assert.equal(v.mpp, 0.25);
  assert.equal(v.channels.length, 1);
});

test("normRow accepts GeoJSON features", () => {
  const r = normRow({ type: "Feature", id: "u1", geometry: { type: "Point", coordinates: [1, 2] }, properties: { label_class: 5, source: "model", status: "proposed", version: 2 } });
  assert.deepEqual([r.id, r.label_class, r.source, r.version], ["u1", 5, "model", 2]);
});
