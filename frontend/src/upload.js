// @ts-check
/**
 * Chunked, resumable slide upload: POST /api/uploads/ creates an upload, PUT sends byte ranges
 * (Content-Range), GET tells how much arrived, POST .../complete/ creates the slide and its ingest job.
 * The upload id is remembered per file (name, size, mtime) so a reload or a dropped connection resumes.
 */
import { backoffDelay } from "./savequeue.js";

/** Key that identifies a local file across page loads. @param {{name: string, size: number, lastModified?: number}} f */
export function fileKey(f) {
  return `laypath.upload.${f.name}.${f.size}.${f.lastModified ?? 0}`;
}

/** Byte ranges [start, end) still to send. @param {number} received @param {number} size @param {number} chunk */
export function remainingRanges(received, size, chunk) {
  const out = [];
  for (let s = received; s < size; s += chunk) out.push([s, Math.min(size, s + chunk)]);
  return out;
}

/**
 * Upload one file. `http` is injectable for tests: (method, url, body?, headers?) => {status, body}.
 * @param {{name: string, size: number, lastModified?: number, slice: (a: number, b: number) => any}} file
 * @param {{project: number, http: (m: string, u: string, b?: any, h?: Record<string,string>) => Promise<{status: number, body: any}>,
 *   storage?: {getItem(k: string): string|null, setItem(k: string, v: string): void, removeItem(k: string): void}|null,
 *   chunkBytes?: number, onProgress?: (received: number, size: number) => void, maxRetries?: number,
 *   sleep?: (ms: number) => Promise<void>}} opts
 */
export async function uploadFile(file, opts) {
  const { http, storage = null, onProgress = () => {}, maxRetries = 8 } = opts;
  const sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const key = fileKey(file);
  let id = storage?.getItem(key) || null;
  let received = 0;
  let chunk = opts.chunkBytes ?? 8 << 20;
  if (id) {
    const st = await http("GET", `/api/uploads/${id}/`);
    if (st.status === 200) { received = st.body.received; chunk = Math.min(chunk, st.body.chunk_max_bytes || chunk); }
    else id = null;
  }
  if (!id) {
    const made = await http("POST", "/api/uploads/", { project: opts.project, filename: file.name, size: file.size });
    if (made.status >= 300) throw new Error(made.body?.detail || `upload refused (${made.status})`);
    id = String(made.body.id);
    chunk = Math.min(chunk, made.body.chunk_max_bytes || chunk);
    storage?.setItem(key, id);
  }
  onProgress(received, file.size);
  let attempt = 0;
  while (received < file.size) {
    const [a, b] = remainingRanges(received, file.size, chunk)[0];
    let res;
    try {
      res = await http("PUT", `/api/uploads/${id}/`, file.slice(a, b), {
        "Content-Range": `bytes ${a}-${b - 1}/${file.size}`, "Content-Type": "application/octet-stream",
      });
    } catch {
      res = { status: 0, body: null };
    }
    if (res.status >= 200 && res.status < 300) {
      received = Number(res.body?.received ?? b);
      attempt = 0;
      onProgress(received, file.size);
      continue;
    }
    if (res.status && res.status < 500 && res.status !== 409 && res.status !== 429) throw new Error(res.body?.detail || `chunk refused (${res.status})`);
    if (++attempt > maxRetries) throw new Error("upload stalled: the server is not reachable");
    await sleep(backoffDelay(attempt, 500, 15000));
    const st = await http("GET", `/api/uploads/${id}/`).catch(() => ({ status: 0, body: null }));
    if (st.status === 200) received = st.body.received;
  }
  const done = await http("POST", `/api/uploads/${id}/complete/`, {});
  if (done.status >= 300) throw new Error(done.body?.detail || `could not finish the upload (${done.status})`);
  storage?.removeItem(key);
  return done.body;
}
