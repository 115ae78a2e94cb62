/** Shared test helpers: paths, temporary lakes, bounded waits. */

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { packageRoot } from "../src/discovery.js";

export const PACKAGE_ROOT = packageRoot();
export const REPO_ROOT = path.dirname(PACKAGE_ROOT);
export const FIXTURES = path.join(PACKAGE_ROOT, "test", "fixtures");
export const REPO_PYTHON = path.join(REPO_ROOT, ".venv", "bin", "python");

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = "qb-ts-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Rejects if `promise` does not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what = "operation"): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns true, or fails after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what = "condition"): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** True if a process with this pid exists. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
