// @ts-check
/** Side panels of the annotator workspace: the task panel (classes, counts, save state, submit) and overlay controls. */
import { h, fill, toast } from "../ui.js";
import { isProposal, isVisible } from "../state.js";
import { encodeRender } from "../render.js";
import { normRow } from "../normalize.js";

/** @param {any} ws the Workspace */
export function taskPanel(ws) {
  const counts = h("div.classes", { testid: "classes" });
  const save = h("div.save", { testid: "save-status" });
  const conflicts = h("div.conflicts", { testid: "conflicts" });
  const time = h("span.time", { testid: "time-on-task" }, "0m 00s");
  const live = h("span.live", { testid: "live", title: "Live updates" }, "●");
  const lod = h("div.lod.muted");
  const loadErr = h("div.load-error");
  const actions = h("div.actions");
  const instructions = ws.task.instructions || ws.project.instructions || "";
  const el = h("section.panel", null,
    h("header.task-head", null,
      h("div", null, h("div.muted.small", null, ws.project.name || `Project ${ws.projectId}`), h("h2", { testid: "task-name" }, ws.task.name)),
      live),
    h("div.meta", null,
      h(`span.badge.mode-${ws.task.labelMode}`, { testid: "label-mode", title: ws.task.labelMode === "exhaustive" ? "Label every cell of these classes inside the region" : "Label the cells you are sure about; you do not need to find them all" },
        ws.task.labelMode === "exhaustive" ? "Exhaustive: label every cell" : "Sparse: label the cells you are sure of"),
      h("span.timer", { title: "Time on task (pauses when you are away)" }, "Time on task ", time)),
    instructions ? h("details.instructions", { open: true }, h("summary", null, "Instructions"), h("p", null, instructions)) : null,
    h("h3", null, "Classes ", h("span.muted.small", null, "number key picks")),
    counts, lod, loadErr, save, conflicts, actions);

  function renderCounts() {
    /** @type {Map<number|null, {human: number, proposed: number}>} */
    const m = new Map();
    let proposals = 0;
    for (const a of ws.store.rows.values()) {
      if (!isVisible(a)) continue;
      const e = m.get(a.label_class) || { human: 0, proposed: 0 };
      if (isProposal(a)) { e.proposed++; proposals++; } else e.human++;
      m.set(a.label_class, e);
    }
    fill(counts, ...ws.classes.map((/** @type {any} */ c) => {
      const e = m.get(c.id) || { human: 0, proposed: 0 };
      return h(`button.cls${ws.classId === c.id ? ".on" : ""}`, { testid: `class-${c.hotkey}`, onclick: () => ws.setClass(c.id), title: c.hint },
        h("kbd", null, c.hotkey), h("span.sw", { style: { background: c.color } }),
        h("span.nm", null, h("strong", null, c.name), c.hint ? h("small", null, c.hint) : null),
        h("span.ct", { testid: `count-${c.hotkey}` }, String(e.human)),
        e.proposed ? h("span.pc", { title: "open proposals" }, `+${e.proposed}`) : null);
    }), proposals ? h("div.proposals", null, h("span", { testid: "proposal-count" }, `${proposals} open proposal${proposals > 1 ? "s" : ""}`),
      h("button.small", { testid: "accept-all", onclick: () => ws.acceptAllInView() }, "Accept all in view (Shift+A)")) : null);
  }

  const saveText = h("span");
  const retryBtn = h("button.small", { testid: "retry-now", onclick: () => ws.queue.retryNow() }, "Retry now");
  save.append(saveText, " ", retryBtn);
  function renderSave() {
    const st = ws.queue.state();
    let cls = "ok", text = "✓ All changes saved", retry = false;
    if (st.conflicts.length) { cls = "bad"; text = `${st.conflicts.length} conflict(s) need your decision`; }
    else if (st.failed.length) { cls = "bad"; text = `${st.failed.length} change(s) refused by the server`; }
    else if (st.pending && st.nextRetryAt) {
      cls = "warn";
      const secs = Math.max(0, Math.round((st.nextRetryAt - Date.now()) / 1000));
      text = `${st.pending} unsaved change(s) kept in this browser — retrying in ${secs}s (${st.lastError})`;
      retry = true;
    } else if (st.pending || st.inFlight) { cls = "busy"; text = `Saving ${st.pending} change(s)…`; }
    save.className = `save ${cls}`;
    if (saveText.textContent !== text) saveText.textContent = text;
    retryBtn.hidden = !retry;
    save.dataset.pending = String(st.pending);
    renderConflicts(st);
  }

  /** @param {any} st */
  function renderConflicts(st) {
    const key = JSON.stringify([st.conflicts.map((/** @type {any} */ c) => c.id), st.failed.map((/** @type {any} */ f) => f.id)]);
    if (conflicts.dataset.key === key) return;
    conflicts.dataset.key = key;
    fill(conflicts, ...st.conflicts.map((/** @type {any} */ c) => h("div.conflict", { testid: "conflict" },
      h("p", null, "This label was changed by someone else since you loaded it",
        c.current?.updated_by ? ` (${c.current.updated_by})` : "", ". Which version should stay?"),
      h("p.small", null, `Theirs (v${c.current?.version ?? "?"}): ${describe(c.current)} · Mine: ${c.mine?.op === "upsert" ? describe({ ...ws.store.get(c.id), ...c.mine }) : c.mine?.op}`),
      h("div.row", null,
        h("button.small", { onclick: () => { ws.queue.resolve(c.id, "mine"); } }, "Keep mine"),
        h("button.small", { onclick: () => {
          const theirs = ws.queue.resolve(c.id, "theirs");
          if (theirs) ws.store.merge([normRow(theirs)]);
          ws.loadSoon(0);
        } }, "Take theirs"),
        h("button.small.link", { onclick: () => ws.showRow(c.id) }, "Show")))),
    ...st.failed.map((/** @type {any} */ f) => h("div.conflict", null, h("p", null, `The server refused a change (${f.status}): ${f.detail}`),
      h("button.small", { onclick: () => ws.queue.discardFailed(f.id) }, "Discard it"))));
  }

  /** @param {any} row */
  function describe(row) {
    if (!row) return "deleted";
    if (row.is_deleted) return "deleted";
    const cls = ws.classes.find((/** @type {any} */ k) => k.id === row.label_class)?.name || "no class";
    return `${cls}, ${row.status || "none"}`;
  }

  function renderActions() {
    fill(actions,
      h("button.primary", { testid: "submit", onclick: () => ws.finish("submit") }, "Submit task"),
      h("button", { testid: "skip", onclick: () => ws.finish("skip") }, "Skip"));
  }
  renderActions();
  renderCounts();

  return {
    el,
    renderCounts,
    renderSave,
    /** @param {string} text @param {boolean} active */
    renderTime(text, active) { time.textContent = text; time.classList.toggle("paused", !active); },
    /** @param {string} mode @param {any} data */
    renderLod(mode, data) {
      lod.textContent = mode && mode !== "features" ? `Zoomed out: showing ${mode === "bins" ? "density" : "centres"} of ${data?.count ?? "?"} labels — zoom in to edit` : "";
    },
    /** @param {string} msg */
    setLoadError(msg) { loadErr.textContent = msg ? `Could not load labels: ${msg}` : ""; },
    /** @param {string} s */
    setLive(s) { live.className = `live ${s}`; live.title = `Live updates: ${s}`; },
    /** @param {string} act */
    renderDone(act) {
      fill(actions, h("div.done", { testid: "task-done" }, act === "submit" ? "Task submitted." : "Task skipped."),
        h("a.button.primary", { href: `/app/annotate/${ws.projectId}/`, testid: "next-task" }, "Next task (N)"));
    },
  };
}

/** @param {any} ws */
export function overlayPanel(ws) {
  const v = ws.viewer;
  const hasIF = Boolean(ws.vinfo.overlayUrl);
  const opacity = h("input", { type: "range", min: "0", max: "1", step: "0.05", value: String(v.opacity), testid: "opacity", "aria-label": "IF overlay opacity" });
  const flickBtn = h("button.small", { testid: "flick", title: "Flick between H&E and IF (F)" }, "Flick H&E / IF (F)");
  const onBox = h("input", { type: "checkbox", checked: ws.overlayOn, testid: "overlay-toggle" });
  const modes = h("div.seg", { role: "group" });
  const chans = h("div.channels", { testid: "channels" });
  const state = h("span.muted.small", { testid: "overlay-state" });
  let timer = 0;

  function showState() {
    state.textContent = !ws.overlayOn ? "H&E only" : v.flicked ? "showing IF" : `IF at ${Math.round(v.opacity * 100)}%`;
    ws.viewer.el.dataset.overlay = ws.overlayOn ? (v.flicked ? "if" : "on") : "off";
  }
  function applyRender() {
    clearTimeout(timer);
    timer = setTimeout(() => { if (ws.overlayOn) v.setOverlayUrl(ws.overlayUrlNow()); }, 250);
  }
  opacity.addEventListener("input", () => {
    if (!ws.overlayOn) toggle(true);
    v.setOpacity(Number(/** @type {HTMLInputElement} */ (opacity).value));
    localStorage.setItem("laypath.opacity", /** @type {HTMLInputElement} */ (opacity).value);
    showState();
  });
  function flick() {
    if (!hasIF) { toast("This slide pair has no registered IF overlay yet", "warn"); return; }
    if (!ws.overlayOn) toggle(true);
    v.flick();
    showState();
  }
  /** @param {boolean} [on] */
  function toggle(on) {
    if (!hasIF) return;
    ws.overlayOn = on ?? !ws.overlayOn;
    /** @type {HTMLInputElement} */ (onBox).checked = ws.overlayOn;
    if (ws.overlayOn) { if (!v.ifItem) v.setOverlayUrl(ws.overlayUrlNow()); else v.ifItem.setOpacity(v.flicked ? 1 : v.opacity); }
    else v.ifItem?.setOpacity(0);
    showState();
  }
  /** @param {"overlay"|"swipe"|"lens"} m */
  function mode(m) {
    if (!hasIF) return;
    if (!ws.overlayOn) toggle(true);
    v.setMode(m);
    renderModes();
  }
  function renderModes() {
    fill(modes, ...[["overlay", "Blend"], ["swipe", "Swipe (W)"], ["lens", "Lens (L)"]].map(([m, label]) =>
      h(`button.small${v.mode === m ? ".on" : ""}`, { testid: `mode-${m}`, onclick: () => mode(/** @type {any} */ (m)) }, label)));
  }
  const defaults = new Map(ws.channels.map((/** @type {any} */ c) => [c.index, { min: c.min, max: c.max, gamma: c.gamma }]));
  /** Display window (min/max in the channel's own units, 16-bit included) and gamma of one channel. @param {any} c */
  function windowControls(c) {
    const num = (/** @type {string} */ key, /** @type {string} */ label) => h("label.small", null, `${label} `,
      h("input", { type: "number", value: String(c[key]), step: "any", testid: `chan-${c.index}-${key}`, "aria-label": `${c.name} ${label}`,
        onchange: (/** @type {any} */ e) => {
          const v = Number(e.target.value);
          const other = key === "min" ? c.max : c.min;
          if (!Number.isFinite(v) || (key === "min" ? v >= other : v <= other)) { e.target.value = String(c[key]); toast("Window min must stay below max", "warn"); return; }
          c[key] = v; applyRender();
        } }));
    const gammaOut = h("span.small", null, c.gamma.toFixed(2));
    const gamma = h("input", { type: "range", min: "0.2", max: "4", step: "0.05", value: String(c.gamma), testid: `chan-${c.index}-gamma`, "aria-label": `${c.name} gamma`,
      oninput: (/** @type {any} */ e) => { c.gamma = Number(e.target.value); gammaOut.textContent = c.gamma.toFixed(2); applyRender(); } });
    const reset = h("button.small", { testid: `chan-${c.index}-reset`, onclick: () => { Object.assign(c, defaults.get(c.index)); applyRender(); renderChannels(); } }, "Reset");
    return h("details.chan-window", null, h("summary.small", null, "Window"), h("div.row", null, num("min", "min"), num("max", "max")),
      h("label.row.small", null, "gamma ", gamma, gammaOut), reset);
  }
  function renderChannels() {
    fill(chans, ...ws.channels.map((/** @type {any} */ c) => h("div.chan", null,
      h("label", null,
        h("input", { type: "checkbox", checked: c.visible, testid: `chan-${c.index}`, onchange: (/** @type {any} */ e) => { c.visible = e.target.checked; applyRender(); } }),
        h("input", { type: "color", value: c.color, title: "Channel colour", onchange: (/** @type {any} */ e) => { c.color = e.target.value; applyRender(); } }),
        h("span", null, c.name)),
      windowControls(c))));
  }
  flickBtn.addEventListener("click", flick);
  onBox.addEventListener("change", () => toggle(/** @type {HTMLInputElement} */ (onBox).checked));
  renderModes();
  renderChannels();
  showState();
  const reg = ws.vinfo.registration;
  const el = h("section.panel.overlay", { testid: "overlay-panel" },
    h("h3", null, "IF overlay ", state),
    hasIF ? [
      h("label.row", null, onBox, " Show overlay (O)"),
      h("label.row", null, "Opacity ", opacity),
      h("div.row", null, flickBtn),
      modes,
      ws.channels.length ? [h("h4", null, "Channels"), chans] : null,
      reg ? h("p.muted.small", null, `Registration: ${reg.status || "?"}${reg.error_um ? ` · ~${Number(reg.error_um).toFixed(1)} µm` : ""}`) : null,
    ] : h("p.muted", null, "No registered IF slide for this pair yet — you see the H&E only."));
  return { el, flick, toggle, mode, encode: () => encodeRender(ws.channels) };
}
