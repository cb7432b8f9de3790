// @ts-check
/** Entry point: picks the screen module named by the page shell's data-page attribute. */
const root = document.getElementById("app");
const page = root?.dataset.page || "home";
/** @type {Record<string, () => Promise<{mount: (el: HTMLElement) => any}>>} */
const screens = {
  annotate: () => import("./screens/annotate.js"),
  manage: () => import("./screens/manage.js"),
  admin: () => import("./screens/admin.js"),
  review: () => import("./screens/review.js"),
  newproject: () => import("./screens/manage_people.js").then((m) => ({ mount: m.mountNewProject })),
};
const load = screens[page];
if (load && root) {
  load().then((m) => m.mount(root)).catch((err) => {
    root.textContent = `Could not load this screen: ${err}`;
  });
} else if (root) {
  root.textContent = `Unknown screen: ${page}`;
}
