// @ts-check
/** Small DOM helpers shared by the screens (no framework). */

/**
 * Element builder: h("div.card#id", {onclick, dataset...}, children...).
 * @param {string} tag @param {Record<string, any>|null} [attrs] @param {...any} kids @returns {HTMLElement}
 */
export function h(tag, attrs, ...kids) {
  const m = tag.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m ? m[1] : tag);
  if (m && m[2]) for (const part of m[2].match(/[.#][\w-]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1)); else el.id = part.slice(1);
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k === "testid") el.dataset.testid = String(v);
    else if (k in el && typeof v !== "string") /** @type {any} */ (el)[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, kids);
  return el;
}

/** @param {HTMLElement} el @param {any[]} kids */
function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

/** Replace an element's children. @param {HTMLElement} el @param {...any} kids */
export function fill(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
  return el;
}

let toastBox = /** @type {HTMLElement|null} */ (null);

/** Brief message at the bottom of the screen. @param {string} msg @param {string} [kind] info|warn|error|ok */
export function toast(msg, kind = "info") {
  if (!toastBox) { toastBox = h("div.toasts", { testid: "toasts", role: "status", "aria-live": "polite" }); document.body.append(toastBox); }
  const t = h(`div.toast.${kind}`, null, msg);
  toastBox.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4500);
}

/** A modal dialog; returns a close function. @param {string} title @param {...any} body */
export function modal(title, ...body) {
  const close = () => back.remove();
  const back = h("div.modal-back", { onclick: (/** @type {Event} */ e) => { if (e.target === back) close(); } },
    h("div.modal", { role: "dialog", "aria-label": title },
      h("header", null, h("h2", null, title), h("button.icon", { onclick: close, "aria-label": "Close" }, "×")),
      h("div.modal-body", null, ...body)));
  document.body.append(back);
  return close;
}

/** "3m 05s" style duration. @param {number} s */
export function duration(s) {
  s = Math.max(0, Math.floor(s));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  return hh ? `${hh}h ${String(mm).padStart(2, "0")}m` : `${mm}m ${String(ss).padStart(2, "0")}s`;
}

/** Status pill. @param {string} status */
export function pill(status) {
  return h(`span.pill.s-${String(status).replace(/[^a-z_]/gi, "")}`, null, status);
}

/** A labelled empty state for features whose endpoint is not there yet. @param {string} what @param {string} [hint] */
export function emptyState(what, hint = "") {
  return h("div.empty", { testid: "empty-state" }, h("strong", null, what), hint ? h("p", null, hint) : null);
}
