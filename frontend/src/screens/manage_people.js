// @ts-check
/** Manager: label classes (colour, hotkey, marker hint), members and roles, and the new-project form. */
import { del, get, patch, paths, post, rows } from "../api.js";
import { h, fill, toast, emptyState } from "../ui.js";

/** @param {HTMLElement} el */
const val = (el) => /** @type {HTMLInputElement} */ (el).value;

/** Inputs for one class. */
function classInputs() {
  return {
    name: h("input", { placeholder: "e.g. podocyte", testid: "cls-name", required: true }),
    color: h("input", { type: "color", value: "#2ecc71", testid: "cls-color" }),
    hotkey: h("input", { maxlength: "1", style: { width: "44px" }, testid: "cls-hotkey" }),
    channel: h("input", { placeholder: "WT1", style: { width: "90px" }, testid: "cls-channel" }),
    hint: h("input", { placeholder: "what it looks like in the IF", style: { width: "260px" }, testid: "cls-hint" }),
  };
}

/** @param {ReturnType<typeof classInputs>} f @param {number} project @param {number} order */
function classBody(f, project, order) {
  return { project, name: val(f.name).trim(), color: val(f.color), hotkey: val(f.hotkey), marker_channel: val(f.channel), marker_hint: val(f.hint), order };
}

/** @param {any} ctx */
export async function classesTab(ctx) {
  const list = rows(await get(paths.classes(ctx.projectId)));
  const f = classInputs();
  const add = async () => {
    if (!val(f.name).trim()) { toast("Give the class a name", "warn"); return; }
    try { await post(paths.classCreate, classBody(f, ctx.projectId, list.length)); toast("Class added", "ok"); ctx.refresh(); }
    catch (err) { toast(`Could not add: ${/** @type {any} */ (err).message}`, "error"); }
  };
  return h("section.card", { testid: "classes-tab" }, h("h2", null, "Label classes"),
    list.length ? h("table.data", null, h("tr", null, ...["", "class", "hotkey", "marker", "hint for annotators", ""].map((x) => h("th", null, x))),
      ...list.map((c) => h("tr", null, h("td", null, h("input", { type: "color", value: c.color, onchange: (/** @type {any} */ e) => patch(paths.classItem(c.id), { color: e.target.value }).then(() => toast("Saved", "ok")) })),
        h("td", null, h("strong", null, c.name)), h("td", null, h("kbd", null, c.hotkey || "—")), h("td", null, c.marker_channel || "—"),
        h("td", null, h("input", { value: c.marker_hint, style: { width: "100%" }, onchange: (/** @type {any} */ e) => patch(paths.classItem(c.id), { marker_hint: e.target.value }).then(() => toast("Saved", "ok")) })),
        h("td", null, h("button.small", { onclick: () => del(paths.classItem(c.id)).then(ctx.refresh).catch((e) => toast(e.message, "error")) }, "Remove")))))
      : emptyState("No classes yet", "Add the cell types annotators should label, with the marker that identifies each."),
    h("h3", null, "Add a class"),
    h("div.form-row", null, h("label", null, "Name", f.name), h("label", null, "Colour", f.color), h("label", null, "Key", f.hotkey),
      h("label", null, "Marker channel", f.channel), h("label", null, "Marker hint", f.hint), h("button.primary", { testid: "cls-add", onclick: add }, "Add class")));
}

/** @param {any} ctx */
export async function membersTab(ctx) {
  const list = rows(await get(paths.members(ctx.projectId)));
  const user = h("input", { placeholder: "username", testid: "member-username" });
  const role = roleSelect("annotator");
  const add = async () => {
    try { await post(paths.memberCreate, { project: ctx.projectId, username: val(user).trim(), role: val(role) }); toast("Member added", "ok"); ctx.refresh(); }
    catch (err) { toast(`Could not add: ${/** @type {any} */ (err).message}`, "error"); }
  };
  return h("section.card", { testid: "members-tab" }, h("h2", null, "Members"),
    list.length ? h("table.data", null, h("tr", null, ...["user", "role", "qualified", ""].map((x) => h("th", null, x))),
      ...list.map((m) => {
        const sel = roleSelect(m.role);
        sel.addEventListener("change", () => patch(paths.memberItem(m.id), { role: val(sel) }).then(() => toast("Role changed", "ok")).catch((e) => toast(e.message, "error")));
        return h("tr", null, h("td", null, m.username), h("td", null, sel), h("td", null, m.qualified ? "yes" : "no"),
          h("td", null, h("button.small", { onclick: () => del(paths.memberItem(m.id)).then(ctx.refresh).catch((e) => toast(e.message, "error")) }, "Remove")));
      })) : emptyState("No members yet"),
    h("h3", null, "Add a member"),
    h("div.form-row", null, h("label", null, "Username", user), h("label", null, "Role", role), h("button.primary", { testid: "member-add", onclick: add }, "Add")));
}

/** @param {string} current */
function roleSelect(current) {
  return h("select", { testid: "member-role" }, ...["annotator", "reviewer", "manager"].map((r) => h("option", { value: r, selected: r === current }, r)));
}

/** The new-project page: name, instructions, redundancy and the first classes. @param {HTMLElement} root */
export async function mountNewProject(root) {
  const name = h("input", { testid: "proj-name", placeholder: "e.g. Glomerular cells, batch 1", style: { width: "100%" } });
  const instructions = h("textarea", { testid: "proj-instructions", rows: "3", style: { width: "100%" }, placeholder: "What annotators should do" });
  const k = h("input", { type: "number", value: "3", min: "1", max: "50", testid: "proj-k", style: { width: "80px" } });
  const forms = [classInputs()];
  const classBox = h("div");
  const renderClasses = () => fill(classBox, ...forms.map((f, i) => h("div.form-row", { style: { marginBottom: "6px" } },
    h("label", null, `Class ${i + 1}`, f.name), h("label", null, "Colour", f.color), h("label", null, "Key", f.hotkey), h("label", null, "Marker", f.channel), h("label", null, "Hint", f.hint))));
  renderClasses();
  const create = async () => {
    if (!val(name).trim()) { toast("Name the project", "warn"); return; }
    try {
      const p = await post(paths.projects, { name: val(name).trim(), instructions: val(instructions), redundancy_k: Number(val(k)) });
      let order = 0;
      for (const f of forms) if (val(f.name).trim()) await post(paths.classCreate, classBody(f, p.id, order++));
      location.href = `/app/manage/${p.id}/#slides`;
    } catch (err) { toast(`Could not create: ${/** @type {any} */ (err).message}`, "error"); }
  };
  fill(root, h("div.page", null, h("section.card", { testid: "new-project" }, h("h1", null, "New project"),
    h("label", null, "Name", name), h("label", null, "Instructions for annotators", instructions),
    h("label", null, "Annotators per task (k) ", k),
    h("h3", null, "Classes"), classBox,
    h("button", { onclick: () => { const f = classInputs(); f.color.setAttribute("value", ["#e74c3c", "#f1c40f", "#3498db", "#9b59b6"][forms.length % 4]); forms.push(f); renderClasses(); } }, "+ another class"),
    h("div.actions", null, h("button.primary", { testid: "proj-create", onclick: create }, "Create project")))));
  root.dataset.ready = "1";
}
