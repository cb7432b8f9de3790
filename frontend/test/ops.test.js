import { test } from "node:test";
import assert from "node:assert/strict";
import { bulkItemFor, finalizeItem } from "../src/ops.js";

const where = { pair: 3, task: 4 };
const row = (extra = {}) => ({ id: "a", geometry: { type: "Point", coordinates: [1, 2] }, label_class: 1, source: "model", status: "proposed", ...extra });

test("new and edited rows become upserts carrying pair, task, class and geometry", () => {
  const item = bulkItemFor({ id: "a", before: null, after: row({ source: "human", status: "none" }) }, 0, where);
  assert.deepEqual([item.op, item.pair, item.task, item.label_class], ["upsert", 3, 4, 1]);
  const reclass = bulkItemFor({ id: "a", before: row(), after: row({ label_class: 2, status: "edited" }) }, 1, where);
  assert.equal(reclass.op, "upsert");
});

test("decisions on proposals become accept and reject; undoing them restores the previous version", () => {
  assert.equal(bulkItemFor({ id: "a", before: row(), after: row({ status: "accepted" }) }, 1, where).op, "accept");
  assert.equal(bulkItemFor({ id: "a", before: row(), after: row({ status: "rejected" }) }, 1, where).op, "reject");
  const undo = bulkItemFor({ id: "a", before: row({ status: "accepted" }), after: row() }, 2, where);
  assert.deepEqual(undo, { id: "a", op: "restore", to_version: "previous" });
  assert.equal(finalizeItem({ ...undo, version: 2 }).to_version, 1);
});

test("deleting is a delete, and bringing back a saved row is a restore", () => {
  assert.equal(bulkItemFor({ id: "a", before: row(), after: null }, 3, where).op, "delete");
  assert.equal(bulkItemFor({ id: "a", before: null, after: row() }, 3, where).op, "restore");
});
