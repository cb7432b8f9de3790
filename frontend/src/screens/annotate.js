// @ts-check
/** Placeholder annotator screen until the browser issue lands. @param {HTMLElement} root */
export function mount(root) {
  root.innerHTML = "<p>Annotation workspace is loading…</p>";
}
