// The JSDoc types of the whole frontend, checked by TypeScript (strict, checkJs) on the
// module exactly as the kernel assembles it: the widget files share one scope there, so
// they can only be checked together. TypeScript is not a dependency of the package:
// `make nodetest` installs a pinned version into js/.tsc (gitignored); without it this test
// is skipped, saying so.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";

import { JS, assembleWidget, sourceOf } from "./assembly.mjs";

const TSC = path.join(JS, ".tsc", "node_modules", "typescript", "bin", "tsc");
const missing = existsSync(TSC) ? false : "typescript is not installed (make nodetest puts it in js/.tsc)";

describe("types", () => {
  it("the assembled module type-checks", { skip: missing }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), "rtw-types-"));
    try {
      const text = assembleWidget();
      writeFileSync(path.join(dir, "widget.js"), text);
      const config = { extends: path.join(JS, "tsconfig.json"), include: ["widget.js"] };
      writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(config));
      const run = spawnSync(process.execPath, [TSC, "-p", ".", "--pretty", "false"], { cwd: dir, encoding: "utf8" });
      const errors = run.stdout.replace(/^widget\.js\((\d+),(\d+)\)/gm, (_, line, col) => `${sourceOf(text, +line)}:${col}`);
      assert.equal(run.status, 0, `tsc found errors:\n${errors}${run.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
