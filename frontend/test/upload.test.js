import { test } from "node:test";
import assert from "node:assert/strict";
import { uploadFile, remainingRanges, fileKey } from "../src/upload.js";

function fakeServer({ failEvery = 0 } = {}) {
  const uploads = new Map();
  let puts = 0;
  const http = async (m, u, b, h) => {
    if (m === "POST" && u === "/api/uploads/") { uploads.set("u1", { size: b.size, got: 0 }); return { status: 201, body: { id: "u1", received: 0, chunk_max_bytes: 4 } }; }
    const up = uploads.get(u.split("/")[3]);
    if (m === "GET") return up ? { status: 200, body: { received: up.got, chunk_max_bytes: 4 } } : { status: 404, body: {} };
    if (m === "PUT") {
      puts++;
      if (failEvery && puts % failEvery === 0) throw new TypeError("network down");
      const [, a, bEnd] = h["Content-Range"].match(/bytes (\d+)-(\d+)\//).map(Number);
      assert.equal(a, up.got, "chunks arrive in order from what the server has");
      up.got = bEnd + 1;
      return { status: 200, body: { received: up.got } };
    }
    if (m === "POST" && u.endsWith("/complete/")) return { status: 202, body: { slide: { id: 7 }, job: "j" } };
    return { status: 500, body: {} };
  };
  return { http, uploads };
}

const file = (size) => ({ name: "he.svs", size, lastModified: 1, slice: (a, b) => `bytes ${a}-${b}` });
class Mem { constructor() { this.m = new Map(); } getItem(k) { return this.m.get(k) ?? null; } setItem(k, v) { this.m.set(k, v); } removeItem(k) { this.m.delete(k); } }

test("remainingRanges splits the rest of the file into chunks", () => {
  assert.deepEqual(remainingRanges(3, 10, 4), [[3, 7], [7, 10]]);
});

test("uploads in chunks, survives network errors and completes", async () => {
  const srv = fakeServer({ failEvery: 2 });
  const seen = [];
  const out = await uploadFile(file(10), { project: 1, http: srv.http, chunkBytes: 64, onProgress: (r) => seen.push(r), sleep: async () => {} });
  assert.equal(out.slide.id, 7);
  assert.equal(srv.uploads.get("u1").got, 10);
  assert.equal(seen.at(-1), 10);
});

test("resumes a remembered upload from the bytes the server already has", async () => {
  const srv = fakeServer();
  const storage = new Mem();
  srv.uploads.set("u1", { size: 10, got: 8 });
  storage.setItem(fileKey(file(10)), "u1");
  const seen = [];
  await uploadFile(file(10), { project: 1, http: srv.http, storage, onProgress: (r) => seen.push(r), sleep: async () => {} });
  assert.deepEqual(seen, [8, 10]);
  assert.equal(storage.getItem(fileKey(file(10))), null);
});
