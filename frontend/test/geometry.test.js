import { test } from "node:test";
import assert from "node:assert/strict";
import { bbox, pointInRing, centroid, polygonFrom, squareAround, hitDistance, niceScale, GridIndex, translate } from "../src/geometry.js";

const square = polygonFrom([[0, 0], [10, 0], [10, 10], [0, 10]]);

test("polygonFrom closes the ring and bbox spans it", () => {
  const ring = square.coordinates[0];
  assert.deepEqual(ring[0], ring[ring.length - 1]);
  assert.deepEqual(bbox(square), { minX: 0, minY: 0, maxX: 10, maxY: 10 });
});

test("point in ring distinguishes inside from outside", () => {
  assert.equal(pointInRing([5, 5], square.coordinates[0]), true);
  assert.equal(pointInRing([15, 5], square.coordinates[0]), false);
});

test("centroid of a square is its centre, also for an L-shape it lies off the vertex mean", () => {
  assert.deepEqual(centroid(square), [5, 5]);
  const l = polygonFrom([[0, 0], [20, 0], [20, 4], [4, 4], [4, 20], [0, 20]]);
  const [cx, cy] = centroid(l);
  assert.ok(Math.abs(cx - cy) < 1e-9 && cx < 8);
});

test("squareAround centres a box of the given side on the click", () => {
  const b = bbox(squareAround([100, 50], 20));
  assert.deepEqual(b, { minX: 90, minY: 40, maxX: 110, maxY: 60 });
});

test("hitDistance is zero inside polygons and Infinity beyond tolerance", () => {
  assert.equal(hitDistance(square, [5, 5], 2), 0);
  assert.equal(hitDistance(square, [11, 5], 2), 1);
  assert.equal(hitDistance(square, [20, 5], 2), Infinity);
  assert.equal(hitDistance({ type: "Point", coordinates: [0, 0] }, [3, 4], 6), 5);
});

test("translate moves every vertex", () => {
  assert.deepEqual(bbox(translate(square, 5, -5)), { minX: 5, minY: -5, maxX: 15, maxY: 5 });
});

test("niceScale picks 1-2-5 lengths that fit", () => {
  const s = niceScale(0.5, 150); // 75 um fit
  assert.equal(s.um, 50);
  assert.equal(s.px, 100);
  assert.equal(s.label, "50 µm");
  assert.equal(niceScale(20, 150).label, "2 mm");
});

test("GridIndex finds items overlapping a query box and forgets removed ones", () => {
  const g = new GridIndex(100);
  g.insert("a", { minX: 10, minY: 10, maxX: 20, maxY: 20 });
  g.insert("b", { minX: 500, minY: 500, maxX: 510, maxY: 510 });
  assert.deepEqual([...g.query({ minX: 0, minY: 0, maxX: 50, maxY: 50 })], ["a"]);
  g.remove("a");
  assert.equal(g.query({ minX: 0, minY: 0, maxX: 50, maxY: 50 }).size, 0);
});

import { encodeRender, parseRender, fmtNumber, channelsFrom } from "../src/render.js";

test("render settings encode in the tile server's canonical form and round-trip", () => {
  assert.equal(fmtNumber(-2.5), "n2.5");
  assert.equal(fmtNumber(3400), "3400");
  const chans = [
    { index: 2, name: "b", color: "#FF0000", min: 80, max: 9000, gamma: 0.8, visible: true },
    { index: 0, name: "a", color: "#0000ff", min: 120, max: 3400, gamma: 1, visible: true },
    { index: 1, name: "c", color: "#00ff00", min: 0, max: 1, gamma: 1, visible: false },
  ];
  const r = encodeRender(chans);
  assert.equal(r, "0-0000ff-120-3400-1_2-ff0000-80-9000-0.8");
  assert.deepEqual(parseRender(r).map((c) => c.index), [0, 2]);
  assert.equal(encodeRender([]), "none");
  const restored = channelsFrom([{ name: "DAPI" }, { name: "WT1" }, { name: "CD31" }], r);
  assert.deepEqual(restored.map((c) => c.visible), [true, false, true]);
  assert.equal(restored[2].gamma, 0.8);
});

import { ticks } from "../src/charts.js";

test("chart ticks are round numbers that cover the maximum", () => {
  assert.deepEqual(ticks(9), [0, 5, 10]);
  assert.deepEqual(ticks(0.8), [0, 0.2, 0.4, 0.6, 0.8]);
  assert.ok(ticks(1234).at(-1) >= 1234);
});
