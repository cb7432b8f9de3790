// @ts-check
/** Review queue: items ordered by disagreement, shown with an empty state until the review API lands. */
import { getOptional, paths, post, rows } from "../api.js";
import { h, fill, toast, pill, emptyState } from "../ui.js";
import { events } from "../socket.js";

/** @param {HTMLElement} root */
export async function mount(root) {
  const projectId = Number(root.dataset.project);
  const box = h("section.card", { testid: "review" });
  fill(root, h("div.page", null, h("div.page-head", null, h("h1", null, "Review queue")), box));
  const load = async () => {
    let data;
    try { data = await getOptional(paths.reviewQueue(projectId)); } catch (err) { fill(box, h("p.error", null, String(/** @type {any} */ (err).message))); return; }
    if (data === null) {
      fill(box, emptyState("The review queue is not available yet", "It fills with cells where annotators disagree with each other or with the model, once the review API (/api/review/) is deployed."));
      return;
    }
    const items = rows(data);
    fill(box, items.length ? h("table.data", null, h("tr", null, ...["item", "disagreement", "status", "votes", ""].map((x) => h("th", null, x))),
      ...items.map((it) => h("tr", null, h("td", null, String(it.id)), h("td", null, Number(it.score ?? it.disagreement ?? 0).toFixed(2)), h("td", null, pill(it.status || "open")),
        h("td.small", null, JSON.stringify(it.votes ?? it.labels ?? "").slice(0, 80)),
        h("td", null, it.task ? h("a", { href: `/app/annotate/${projectId}/${it.task}/` }, "open task") : null, " ",
          h("button.small", { onclick: () => post(paths.reviewResolve(it.id), { decision: "accept" }).then(() => { toast("Resolved", "ok"); load(); }).catch((e) => toast(e.message, "error")) }, "Resolve")))))
      : emptyState("Nothing to review", "No disagreements are waiting."));
  };
  events().subscribe(projectId);
  events().on("review.changed", load);
  await load();
  root.dataset.ready = "1";
}
