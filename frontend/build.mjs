// Build step: copy our ES modules and third-party code (from node_modules, never hand-edited)
// into dist/laypath, which Django serves as static files.
import { cpSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist", "laypath");
rmSync(join(here, "dist"), { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(join(here, "src"), out, { recursive: true });
const osd = join(here, "node_modules", "openseadragon", "build", "openseadragon");
if (!existsSync(osd)) {
  console.error("openseadragon is not installed: run npm ci first");
  process.exit(1);
}
cpSync(osd, join(out, "vendor", "openseadragon"), { recursive: true });
console.log(`built ${out}`);
