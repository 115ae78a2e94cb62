/**
 * Drift check: regenerating src/generated/ from ../schemas must give exactly the committed files.
 * Fix a failure with `npm run gen` (after `python scripts/gen_contract.py` at the repo root).
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";

import { PACKAGE_ROOT, REPO_ROOT, tempDir } from "./helpers.js";

it("src/generated matches a fresh generation from schemas/", () => {
  const { dir, cleanup } = tempDir("qb-drift-");
  try {
    execFileSync(
      process.execPath,
      [path.join(PACKAGE_ROOT, "scripts", "gen-types.mjs"), "--schemas", path.join(REPO_ROOT, "schemas"), "--out", dir],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const committedDir = path.join(PACKAGE_ROOT, "src", "generated");
    const fresh = readdirSync(dir).sort();
    const committed = readdirSync(committedDir).sort();
    assert.deepEqual(committed, fresh, "src/generated has different files than the generator writes; run `npm run gen`");
    const drifted = fresh.filter(
      (name) => readFileSync(path.join(dir, name), "utf8") !== readFileSync(path.join(committedDir, name), "utf8"),
    );
    assert.deepEqual(drifted, [], `generated files out of date: ${drifted.join(", ")}; run \`npm run gen\``);
  } finally {
    cleanup();
  }
});
