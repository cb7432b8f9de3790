import { test } from "node:test";
import assert from "node:assert/strict";
import { insertVertex, moveVertex, nearestVertex, removeVertex, polygonFrom } from "../src/geometry.js";

const square = () => polygonFrom([[0, 0], [10, 0], [10, 10], [0, 10]]);

test("nearest vertex respects the tolerance and never returns the closing duplicate", () => {
  const g = square();
  assert.equal(nearestVertex(g, [0.5, 0.4], 1), 0);
  assert.equal(nearestVertex(g, [9.2, 9.6], 1), 2);
  assert.equal(nearestVertex(g, [5, 5], 1), -1);
  assert.equal(nearestVertex({ type: "Point", coordinates: [0, 0] }, [0, 0], 1), -1);
});

test("moving vertex 0 moves the closing vertex with it", () => {
  const ring = moveVertex(square(), 0, [-2, -3]).coordinates[0];
  assert.deepEqual(ring[0], [-2, -3]);
  assert.deepEqual(ring.at(-1), [-2, -3]);
  assert.deepEqual(ring[1], [10, 0]);
  assert.equal(ring.length, 5);
});

test("a vertex is inserted into the nearest edge only within tolerance", () => {
  const g = insertVertex(square(), [5, 0.3], 1);
  assert.deepEqual(g.coordinates[0], [[0, 0], [5, 0.3], [10, 0], [10, 10], [0, 10], [0, 0]]);
  assert.equal(insertVertex(square(), [5, 5], 1), null);
});

test("removing keeps the ring closed and refuses to go below a triangle", () => {
  const five = insertVertex(square(), [5, 0], 1);
  const four = removeVertex(five, 0);
  assert.equal(four.coordinates[0].length, 5);
  assert.deepEqual(four.coordinates[0][0], four.coordinates[0].at(-1));
  const three = removeVertex(four, 1);
  assert.equal(three.coordinates[0].length, 4);
  assert.equal(removeVertex(three, 0), null);
});
