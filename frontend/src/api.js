// @ts-check
/**
 * REST client: JSON in and out, CSRF header on unsafe methods, errors as ApiError with the server's
 * {"code", "detail"}. All endpoint paths live in `paths` so backend renames are one-line fixes.
 */

export class ApiError extends Error {
  /** @param {number} status @param {any} body */
  constructor(status, body) {
    super((body && (body.detail || body.code)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.code = body && body.code;
  }
}

/** Cookie value by name. @param {string} name */
export function cookie(name) {
  const doc = globalThis.document;
  if (!doc) return "";
  for (const part of doc.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

/** Query string from an object (skips null/undefined). @param {Record<string, any>} q */
export function qs(q) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q || {})) if (v !== null && v !== undefined && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

/**
 * fetch + JSON with CSRF; throws ApiError on non-2xx, TypeError when the network is down.
 * @param {string} method @param {string} url @param {any} [body] @param {{raw?: boolean, headers?: Record<string,string>}} [opts]
 */
export async function request(method, url, body, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  const unsafe = !["GET", "HEAD", "OPTIONS"].includes(method);
  if (unsafe) headers["X-CSRFToken"] = cookie("csrftoken");
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData) && !opts.raw) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 200) }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const get = (/** @type {string} */ url) => request("GET", url);
export const post = (/** @type {string} */ url, /** @type {any} */ body) => request("POST", url, body ?? {});
export const patch = (/** @type {string} */ url, /** @type {any} */ body) => request("PATCH", url, body);
export const del = (/** @type {string} */ url) => request("DELETE", url);

/** List endpoint results whether paginated ({results}) or a bare array. @param {any} data @returns {any[]} */
export function rows(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.results)) return data.results;
  if (data && Array.isArray(data.items)) return data.items;
  if (data && Array.isArray(data.features)) return data.features;
  return [];
}

/** GET that answers null on 404 (endpoints that land later). @param {string} url */
export async function getOptional(url) {
  try {
    return await get(url);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null;
    throw err;
  }
}

/** Endpoint paths (see docs/api.md; the slides/pairs/jobs routes are in annotation/urls_slides.py). */
export const paths = {
  projects: "/api/projects/",
  project: (/** @type {number} */ id) => `/api/projects/${id}/`,
  classes: (/** @type {number} */ p) => `/api/classes/?project=${p}&page_size=500`,
  classCreate: "/api/classes/",
  classItem: (/** @type {number} */ id) => `/api/classes/${id}/`,
  members: (/** @type {number} */ p) => `/api/memberships/?project=${p}&page_size=500`,
  memberCreate: "/api/memberships/",
  memberItem: (/** @type {number} */ id) => `/api/memberships/${id}/`,
  stats: (/** @type {number} */ p) => `/api/projects/${p}/stats/`,
  exportUrl: (/** @type {number} */ p, /** @type {string} */ fmt) => `/api/projects/${p}/export/${fmt}/`,
  quality: (/** @type {number} */ p) => `/api/projects/${p}/quality/`,
  tasks: (/** @type {number} */ p) => `/api/tasks/?project=${p}&page_size=500`,
  task: (/** @type {number} */ id) => `/api/tasks/${id}/`,
  taskGenerate: "/api/tasks/generate/",
  taskDistribute: "/api/tasks/distribute/",
  next: (/** @type {number} */ p) => `/api/assignments/next/?project=${p}`,
  assignments: (/** @type {Record<string, any>} */ q) => `/api/assignments/${qs({ page_size: 500, ...q })}`,
  assignmentAction: (/** @type {number} */ id, /** @type {string} */ act) => `/api/assignments/${id}/${act}/`,
  annotations: "/api/annotations/",
  annotationsBulk: "/api/annotations/bulk/",
  acceptInView: "/api/annotations/accept-in-view/",
  annotationHistory: (/** @type {string} */ id) => `/api/annotations/${id}/history/`,
  projectSlides: (/** @type {number} */ p) => `/api/projects/${p}/slides/`,
  importable: (/** @type {number} */ p) => `/api/projects/${p}/importable/`,
  importSlides: (/** @type {number} */ p) => `/api/projects/${p}/import/`,
  uploads: "/api/uploads/",
  upload: (/** @type {string} */ id) => `/api/uploads/${id}/`,
  uploadComplete: (/** @type {string} */ id) => `/api/uploads/${id}/complete/`,
  pairs: (/** @type {number} */ p) => `/api/projects/${p}/pairs/`,
  pair: (/** @type {number} */ id) => `/api/pairs/${id}/`,
  pairViewer: (/** @type {number} */ id) => `/api/pairs/${id}/viewer/`,
  pairRegister: (/** @type {number} */ id) => `/api/pairs/${id}/register/`,
  pairRegistration: (/** @type {number} */ id) => `/api/pairs/${id}/registration/`,
  pairRegistrations: (/** @type {number} */ id) => `/api/pairs/${id}/registrations/`,
  pairQa: (/** @type {number} */ id) => `/api/pairs/${id}/registration/qa/`,
  pairCheckerboard: (/** @type {number} */ id) => `/api/pairs/${id}/registration/checkerboard.png`,
  pairLandmarks: (/** @type {number} */ id) => `/api/pairs/${id}/landmarks/`,
  jobs: "/api/jobs/",
  job: (/** @type {string} */ id) => `/api/jobs/${id}/`,
  mlVersions: "/api/ml/versions/",
  mlVersionsOf: (/** @type {number} */ p) => `/api/ml/versions/?project=${p}`,
  mlPromote: (/** @type {number} */ id) => `/api/ml/versions/${id}/promote/`,
  mlRetrain: (/** @type {number} */ p) => `/api/ml/projects/${p}/retrain/`,
  mlRollback: (/** @type {number} */ p) => `/api/ml/projects/${p}/rollback/`,
  mlPreannotate: (/** @type {number} */ p) => `/api/ml/projects/${p}/preannotate/`,
  mlSegmentClick: "/api/ml/segment-click/",
  reviewQueue: (/** @type {number} */ p) => `/api/review/?project=${p}`,
  reviewResolve: (/** @type {number} */ id) => `/api/review/${id}/resolve/`,
  health: "/healthz",
};
