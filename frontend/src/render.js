// @ts-check
/**
 * Fluorescence render settings in the tile server's canonical URL form (see annotation/imaging/render.py):
 * visible channels sorted by index joined by "_", each `{index}-{rrggbb}-{min}-{max}-{gamma}`, "n" for
 * negatives, "none" when nothing shows.
 * @typedef {{index: number, name: string, color: string, min: number, max: number, gamma: number, visible: boolean}} Channel
 */

/** Shortest decimal (<= 6 places), "n" prefix for negatives. @param {number} v */
export function fmtNumber(v) {
  if (!Number.isFinite(v)) throw new Error("non-finite render value");
  const text = Math.abs(v).toFixed(6).replace(/0+$/, "").replace(/\.$/, "") || "0";
  return v < 0 && text !== "0" ? `n${text}` : text;
}

/** Encode channels for `?r=`. @param {Channel[]} channels */
export function encodeRender(channels) {
  const vis = channels.filter((c) => c.visible).sort((a, b) => a.index - b.index);
  if (!vis.length) return "none";
  return vis
    .map((c) => `${c.index}-${c.color.replace("#", "").toLowerCase()}-${fmtNumber(c.min)}-${fmtNumber(c.max)}-${fmtNumber(c.gamma)}`)
    .join("_");
}

/** Parse the canonical string back to channels (names unknown). @param {string} text @returns {Channel[]} */
export function parseRender(text) {
  if (!text || text === "none") return [];
  const num = (/** @type {string} */ s) => (s.startsWith("n") ? -Number(s.slice(1)) : Number(s));
  return text.split("_").map((part) => {
    const [i, color, lo, hi, g] = part.split("-");
    return { index: Number(i), name: `ch${i}`, color: `#${color}`, min: num(lo), max: num(hi), gamma: num(g), visible: true };
  });
}

/**
 * Channels from the viewer endpoint's description (tolerant of field spellings).
 * @param {any[]} list @param {string} [defaultRender] @returns {Channel[]}
 */
export function channelsFrom(list, defaultRender) {
  const parsed = new Map(parseRender(defaultRender || "").map((c) => [c.index, c]));
  return (list || []).map((raw, i) => {
    const c = typeof raw === "string" ? { name: raw } : raw || {};
    const idx = c.index ?? i;
    const d = parsed.get(idx);
    const color = (c.color || d?.color || "#ffffff").startsWith("#") ? c.color || d?.color || "#ffffff" : `#${c.color}`;
    return {
      index: idx,
      name: c.name || c.label || `channel ${idx}`,
      color,
      min: Number(c.window_min ?? c.min ?? d?.min ?? 0),
      max: Number(c.window_max ?? c.max ?? d?.max ?? 255),
      gamma: Number(c.gamma ?? d?.gamma ?? 1),
      visible: c.visible ?? (defaultRender ? parsed.has(idx) : true),
    };
  });
}

/** URL with its `r` query parameter replaced. @param {string} url @param {string} r */
export function withRender(url, r) {
  const u = new URL(url, globalThis.location ? globalThis.location.href : "http://x/");
  u.searchParams.set("r", r);
  return globalThis.location && u.origin === globalThis.location.origin ? u.pathname + u.search : u.toString();
}
