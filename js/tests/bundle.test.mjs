// The js/lib files are concatenated into the widget's single ES module with the leading
// `export ` of each top-level declaration removed (anywidget loads the module from a blob:
// URL, where relative imports do not resolve). These tests hold every lib file to the rules
// that keep that concatenation valid, and run the concatenation itself.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

import { evaluateWorklet } from "./worklet-scope.mjs";

const LIB = fileURLToPath(new URL("../lib/", import.meta.url));
const FILES = readdirSync(LIB)
  .filter((name) => name.endsWith(".js"))
  .sort();

/** The assembly rule: drop `export ` at the start of a line. */
function strip(text) {
  return text.replace(/^export /gm, "");
}

/**
 * Lines at column 0 are top level (the sources are formatted with indented blocks): they may
 * only open comments, declare an export, or close a declaration.
 */
const TOP_LEVEL = [
  /^\/\//,
  /^\/\*\*?(\s|$)/,
  /^export (function|class|const) [A-Za-z_$][\w$]* ?[({=]/,
  /^export function [A-Za-z_$][\w$]*\($/,
  /^export const [A-Za-z_$][\w$]* =/,
  /^(\}|\]|\))+[;,]?$/,
  /^\}\)\);$/,
];

function declaredNames(text) {
  return [...text.matchAll(/^export (?:function|class|const) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
}

describe("js/lib assembly convention", () => {
  it("finds the lib files", () => {
    assert.deepEqual(FILES, ["chunker.js", "pcm.js", "player.js", "resample.js", "worklets.js"]);
  });

  for (const file of FILES) {
    const text = readFileSync(path.join(LIB, file), "utf8");

    it(`${file}: no imports, no module-relative features`, () => {
      assert.doesNotMatch(text, /^\s*import[\s{*]/m, "no import statements");
      assert.doesNotMatch(text, /\bimport\s*\(/, "no dynamic import");
      assert.doesNotMatch(text, /import\.meta/, "no import.meta");
      assert.doesNotMatch(text, /\brequire\s*\(/, "no require");
    });

    it(`${file}: only export declarations at top level`, () => {
      text.split("\n").forEach((line, i) => {
        if (line === "" || /^\s/.test(line)) return;
        assert.ok(
          TOP_LEVEL.some((re) => re.test(line)),
          `${file}:${i + 1} is not an allowed top-level line: ${line}`,
        );
      });
      assert.doesNotMatch(text, /^export (default|\{|\*|let|var|async)/m);
    });

    it(`${file}: declares exactly what it exports`, async () => {
      const module = await import(pathToFileURL(path.join(LIB, file)).href);
      assert.deepEqual(declaredNames(text).sort(), Object.keys(module).sort());
    });
  }

  it("top-level names are unique across the lib files", () => {
    const seen = new Map();
    for (const file of FILES) {
      for (const name of declaredNames(readFileSync(path.join(LIB, file), "utf8"))) {
        assert.ok(!seen.has(name), `${name} is declared in ${seen.get(name)} and ${file}`);
        seen.set(name, file);
      }
    }
  });
});

describe("the concatenated module", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "rtw-bundle-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function loadBundle() {
    const texts = FILES.map((file) => readFileSync(path.join(LIB, file), "utf8"));
    const names = texts.flatMap(declaredNames);
    // Any order works: no lib file uses another's names at evaluation time. Reverse it to
    // make sure.
    const body = texts.map(strip).reverse().join("\n");
    const file = path.join(dir, `bundle-${Date.now()}.mjs`);
    writeFileSync(file, `${body}\nexport { ${names.join(", ")} };\n`);
    const before = new Set(Object.getOwnPropertyNames(globalThis));
    const module = await import(pathToFileURL(file).href);
    const added = Object.getOwnPropertyNames(globalThis).filter((k) => !before.has(k));
    return { module, names, added };
  }

  it("loads as one ES module, exports every declaration, and touches no globals", async () => {
    const { module, names, added } = await loadBundle();
    assert.deepEqual(Object.keys(module).sort(), [...names].sort());
    assert.deepEqual(added, []);
  });

  it("builds worklet sources from its own helpers", async () => {
    const { module } = await loadBundle();
    const source = module.audioWorkletSource(module);
    const scope = evaluateWorklet(source, 44100);
    assert.deepEqual([...scope.registry.keys()], ["rtw-capture", "rtw-playback"]);
    const capture = scope.create("rtw-capture");
    const block = new Float32Array(128).fill(0.25);
    for (let i = 0; i < 200; i++) capture.process([[block, block]], [[]], {});
    assert.ok(capture.port.ofType("chunk").length >= 6);
  });
});
