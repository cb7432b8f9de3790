// @ts-check
/** Entry point: picks the screen module named by the page shell's data-page attribute. */
const root = document.getElementById("app");
const page = root?.dataset.page || "home";
const screens = {
  annotate: () => import("./screens/annotate.js"),
};
const load = screens[/** @type {keyof typeof screens} */ (page)];
if (load && root) {
  load().then((m) => m.mount(root)).catch((err) => {
    root.textContent = `Could not load this screen: ${err}`;
  });
} else if (root) {
  root.textContent = `Unknown screen: ${page}`;
}
