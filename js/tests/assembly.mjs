// The widget's module text as realtime_widget/widget/frontend.py assembles it: js/lib/*.js in name
// order with the `export ` opening a line removed, then js/widget/*.js and js/widget.js as
// they are, each after a `// ---- <file>` line. A helper of the tests, not a test.

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const JS = fileURLToPath(new URL("../", import.meta.url));

/** The .js files of a folder of js/, in name order, as full paths. */
export function jsFiles(dir) {
  return readdirSync(path.join(JS, dir))
    .filter((name) => name.endsWith(".js"))
    .sort()
    .map((name) => path.join(JS, dir, name));
}

/** The widget's own files (not the lib), in assembly order. */
export const WIDGET_PARTS = [...jsFiles("widget"), path.join(JS, "widget.js")];

/** The assembled module's text. */
export function assembleWidget() {
  const parts = jsFiles("lib").map(
    (file) => `// ---- ${path.relative(JS, file)}\n${readFileSync(file, "utf8").replace(/^export /gm, "")}`,
  );
  for (const file of WIDGET_PARTS) parts.push(`// ---- ${path.relative(JS, file)}\n${readFileSync(file, "utf8")}`);
  return parts.join("\n");
}

/**
 * Where a line of the assembled text comes from.
 * @param {string} text the assembled module
 * @param {number} line 1-based
 * @returns {string} "file:line"
 */
export function sourceOf(text, line) {
  const lines = text.split("\n");
  for (let i = line - 1; i >= 0; i--) {
    const match = /^\/\/ ---- (.+)$/.exec(lines[i]);
    if (match) return `${match[1]}:${line - 1 - i}`;
  }
  return `assembled:${line}`;
}
