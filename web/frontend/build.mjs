// Copy the front-end libraries installed from the npm registry (through package-lock.json) into
// the Python package, so the web app serves them itself: no CDN at run time.
//
//   node build.mjs            (run by scripts/build-assets after `npm ci`)
//
// Output: src/envtrace/web/static/vendor/{echarts.min.js, htmx.min.js, maps/*.json, LICENSES.txt,
// manifest.json, .built}. Fails loudly when an expected file is missing.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "..", "..", "src", "envtrace", "web", "static", "vendor");

const files = [
  ["echarts/dist/echarts.min.js", "echarts.min.js"],
  ["htmx.org/dist/htmx.min.js", "htmx.min.js"],
  ["echarts4-maps/map/json/china.json", "maps/china.json"],
];
const provinceDir = join(modules, "echarts4-maps", "map", "json", "province");
if (!existsSync(provinceDir)) {
  throw new Error(`province boundary data missing at ${provinceDir}: run npm ci in web/frontend`);
}
for (const name of readdirSync(provinceDir).sort()) {
  if (name.endsWith(".json")) files.push([`echarts4-maps/map/json/province/${name}`, `maps/${name}`]);
}
const licences = [
  ["echarts", "echarts/LICENSE"],
  ["htmx.org", "htmx.org/LICENSE"],
  ["echarts4-maps (echarts 4.9.0 map data)", "echarts4-maps/LICENSE"],
];

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "maps"), { recursive: true });
const manifest = {};
for (const [src, dst] of files) {
  const from = join(modules, src);
  if (!existsSync(from)) throw new Error(`expected ${from} (from package-lock.json): run npm ci`);
  copyFileSync(from, join(out, dst));
  manifest[dst] = createHash("sha256").update(readFileSync(from)).digest("hex").slice(0, 16);
}
let text = "Third-party front-end assets bundled with envtrace (see docs/web.md).\n";
for (const [title, path] of licences) {
  const pkg = JSON.parse(readFileSync(join(modules, dirname(path), "package.json"), "utf8"));
  text += `\n===== ${title} ${pkg.version} (${pkg.license}) =====\n`;
  text += readFileSync(join(modules, path), "utf8");
}
writeFileSync(join(out, "LICENSES.txt"), text);
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
writeFileSync(join(out, ".built"), new Date().toISOString() + "\n");
console.log(`build-assets: ${files.length} files into ${out}`);
