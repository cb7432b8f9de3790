// @ts-check
/** Manager: slides (chunked resumable upload, server-folder import), pairs, and live ingest/registration jobs. */
import { get, post, paths, request, cookie } from "../api.js";
import { h, fill, toast, pill, emptyState } from "../ui.js";
import { uploadFile } from "../upload.js";

/** fetch wrapper for the uploader: {status, body}. @param {string} m @param {string} u @param {any} [b] @param {Record<string,string>} [hd] */
async function http(m, u, b, hd = {}) {
  const headers = { Accept: "application/json", ...hd };
  if (m !== "GET") headers["X-CSRFToken"] = cookie("csrftoken");
  let body = b;
  if (b !== undefined && !(b instanceof Blob)) { headers["Content-Type"] = "application/json"; body = JSON.stringify(b); }
  const res = await fetch(u, { method: m, headers, body, credentials: "same-origin" });
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  return { status: res.status, body: data };
}

/** @param {any} ctx */
export async function slidesTab(ctx) {
  const slidesBox = h("div", { testid: "slides" });
  const pairsBox = h("div", { testid: "pairs" });
  const jobsBox = h("div", { testid: "jobs" });
  const uploadsBox = h("div.uploads");
  const importBox = h("div", { testid: "importable" });
  /** @type {Map<string, any>} */
  const jobs = new Map();
  let slides = /** @type {any[]} */ ([]);

  async function loadSlides() {
    const [s, p] = await Promise.all([get(paths.projectSlides(ctx.projectId)), get(paths.pairs(ctx.projectId))]);
    slides = s;
    renderSlides();
    renderPairs(p);
  }
  function renderSlides() {
    fill(slidesBox, slides.length ? h("table.data", null, h("tr", null, ...["", "slide", "kind", "size (px)", "µm/px", "channels", "status"].map((x) => h("th", null, x))),
      ...slides.map((s) => h("tr", { dataset: { slide: String(s.id) } },
        h("td", null, s.status === "ready" ? h("img", { src: `/api/slides/${s.id}/thumbnail/`, alt: "", style: { height: "34px", borderRadius: "4px" } }) : ""),
        h("td", null, s.name), h("td", null, s.kind), h("td", null, s.width ? `${s.width}×${s.height}` : "—"),
        h("td", null, s.mpp_x ? Number(s.mpp_x).toFixed(3) : "—"), h("td", null, (s.channels || []).join(", ") || "RGB"),
        h("td", null, pill(s.status), s.status_reason ? h("div.small.error", null, s.status_reason) : null))))
      : emptyState("No slides yet", "Upload files or import them from the server folder."));
  }
  const he = h("select", { testid: "pair-he" });
  const fl = h("select", { testid: "pair-if" });
  const pairName = h("input", { placeholder: "pair name", testid: "pair-name" });
  const pairsTable = h("div");
  let optionsKey = "";
  const createPair = async () => {
    try {
      await post(paths.pairs(ctx.projectId), { name: /** @type {HTMLInputElement} */ (pairName).value, anatomical: Number(/** @type {HTMLSelectElement} */ (he).value),
        molecular: /** @type {HTMLSelectElement} */ (fl).value ? Number(/** @type {HTMLSelectElement} */ (fl).value) : null });
      toast("Pair created; registration starts when both slides are ready", "ok");
      /** @type {HTMLInputElement} */ (pairName).value = "";
      loadSlides();
    } catch (err) { toast(`Could not pair: ${/** @type {any} */ (err).message}`, "error"); }
  };
  fill(pairsBox, pairsTable, h("div.form-row", { style: { marginTop: "10px" } }, h("label", null, "H&E", he), h("label", null, "IF", fl), h("label", null, "Name", pairName),
    h("button.primary", { testid: "pair-create", onclick: createPair }, "Pair")));
  /** @param {any} ref a slide id or object */
  const slideName = (ref) => (ref && typeof ref === "object" ? ref.name : slides.find((x) => x.id === ref)?.name) ?? String(ref ?? "");
  /** @param {any[]} pairs */
  function renderPairs(pairs) {
    const key = slides.map((x) => `${x.id}:${x.kind}:${x.status}`).join(",");
    if (key !== optionsKey) {
      optionsKey = key;
      const keepHe = /** @type {HTMLSelectElement} */ (he).value, keepIf = /** @type {HTMLSelectElement} */ (fl).value;
      fill(he, ...slides.filter((x) => x.kind !== "fluorescence").map((x) => h("option", { value: String(x.id), selected: String(x.id) === keepHe }, x.name)));
      fill(fl, h("option", { value: "" }, "(none)"), ...slides.filter((x) => x.kind === "fluorescence").map((x) => h("option", { value: String(x.id), selected: String(x.id) === keepIf }, x.name)));
    }
    fill(pairsTable,
      pairs.length ? h("table.data", null, h("tr", null, ...["pair", "H&E", "IF", "registration", ""].map((x) => h("th", null, x))),
        ...pairs.map((p) => h("tr", { dataset: { pair: String(p.id) } }, h("td", null, p.name), h("td", null, slideName(p.anatomical)),
          h("td", null, p.molecular ? slideName(p.molecular) : "—"),
          h("td", null, p.registration ? [pill(p.registration.status), " ", h("span.small.muted", null, `v${p.registration.version} ${p.registration.source}`)] : pill("pending")),
          h("td", null, h("a", { href: `#qa`, onclick: () => { sessionStorage.setItem("laypath.qa.pair", String(p.id)); } }, "QA"), " ",
            h("button.small", { onclick: () => post(paths.pairRegister(p.id)).then(() => toast("Registration queued", "ok")).catch((e) => toast(e.message, "error")) }, "Re-register")))))
        : emptyState("No pairs yet", "Pair an H&E slide with its IF slide below."));
  }
  async function loadJobs() {
    const list = await get(`${paths.jobs}?project=${ctx.projectId}`).catch(() => []);
    for (const j of Array.isArray(list) ? list : list.results || []) jobs.set(j.id, j);
    renderJobs();
  }
  function renderJobs() {
    const list = [...jobs.values()].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))).slice(0, 30);
    fill(jobsBox, list.length ? h("table.data", null, h("tr", null, ...["job", "status", "progress", "message"].map((x) => h("th", null, x))),
      ...list.map((j) => h("tr", { dataset: { job: j.id } }, h("td", null, j.kind), h("td", null, pill(j.status)),
        h("td", null, h("div.progress", null, h("span", { style: { width: `${Math.round(100 * (j.progress || 0))}%` } }))),
        h("td.small", null, j.error ? h("span.error", null, j.error.slice(0, 200)) : j.message || ""))))
      : emptyState("No jobs yet"));
  }
  /** @param {FileList|File[]} files */
  async function upload(files) {
    for (const f of files) {
      const bar = h("span", { style: { width: "0%" } });
      const row = h("div.row", null, h("strong", null, f.name), h("div.progress", { style: { flex: "1" } }, bar), h("span.small.muted", null, "starting"));
      uploadsBox.append(row);
      try {
        await uploadFile(f, {
          project: ctx.projectId, http, storage: localStorage,
          onProgress: (r, size) => { bar.style.width = `${Math.round((100 * r) / size)}%`; /** @type {HTMLElement} */ (row.lastChild).textContent = `${(r / 1e6).toFixed(1)} / ${(size / 1e6).toFixed(1)} MB`; },
        });
        /** @type {HTMLElement} */ (row.lastChild).textContent = "uploaded — ingesting";
        loadSlides();
        loadJobs();
      } catch (err) {
        /** @type {HTMLElement} */ (row.lastChild).textContent = `${/** @type {any} */ (err).message} — choose the file again to resume`;
      }
    }
  }
  async function loadImportable() {
    let files = [];
    try { files = (await get(paths.importable(ctx.projectId))).files || []; } catch (err) { fill(importBox, emptyState("Server import unavailable", String(/** @type {any} */ (err).message))); return; }
    const boxes = files.map((/** @type {any} */ f) => ({ f, cb: h("input", { type: "checkbox", value: f.path ?? f.relative ?? f.name }) }));
    fill(importBox, files.length ? [
      h("div", { style: { maxHeight: "180px", overflow: "auto" } }, ...boxes.map(({ f, cb }) => h("label.row", null, cb, " ", f.path ?? f.relative ?? f.name, h("span.small.muted", null, f.size_bytes ? ` ${(f.size_bytes / 1e6).toFixed(1)} MB` : "")))),
      h("button.primary", { testid: "import-go", onclick: async () => {
        const chosen = boxes.filter((b) => /** @type {HTMLInputElement} */ (b.cb).checked).map((b) => /** @type {HTMLInputElement} */ (b.cb).value);
        if (!chosen.length) { toast("Tick the files to import", "warn"); return; }
        try {
          const res = await request("POST", paths.importSlides(ctx.projectId), { paths: chosen });
          toast(`Importing ${(res.slides || []).length} slide(s)`, "ok");
          loadSlides();
          loadJobs();
        } catch (err) { toast(`Import failed: ${/** @type {any} */ (err).message}`, "error"); }
      } }, "Import selected")] : emptyState("The server import folder is empty"));
  }
  const fileInput = h("input", { type: "file", multiple: true, testid: "upload-input", onchange: (/** @type {any} */ e) => upload(e.target.files) });
  const drop = h("div.drop", null, "Drop slide files here or ", fileInput, h("div.small", null, "Large files go up in chunks and resume after a dropped connection."));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer) upload(e.dataTransfer.files); });

  const offs = [
    ctx.live.on("job.progress", (/** @type {any} */ d) => { jobs.set(d.id, { ...(jobs.get(d.id) || {}), ...d }); renderJobs(); }),
    ctx.live.on("job.finished", (/** @type {any} */ d) => { jobs.set(d.id, { ...(jobs.get(d.id) || {}), ...d }); renderJobs(); loadSlides(); }),
    ctx.live.on("registration.updated", () => loadSlides()),
    ctx.live.on("slide.ready", () => loadSlides()),
  ];
  const poll = setInterval(() => { if ([...jobs.values()].some((j) => ["queued", "running"].includes(j.status))) { loadJobs(); loadSlides(); } }, 4000);
  await Promise.all([loadSlides(), loadJobs(), loadImportable()]);
  const el = h("div", null,
    h("div.grid2", null,
      h("section.card", null, h("h2", null, "Upload"), drop, uploadsBox),
      h("section.card", null, h("h2", null, "Import from the server folder"), importBox)),
    h("section.card", null, h("h2", null, "Slides"), slidesBox),
    h("section.card", null, h("h2", null, "Pairs (H&E + IF)"), pairsBox),
    h("section.card", null, h("h2", null, "Ingest and registration jobs ", h("span.small.muted", null, "live")), jobsBox));
  return { el, cleanup: () => { offs.forEach((f) => f()); clearInterval(poll); } };
}
