/**
 * Finding the Python interpreter that runs the daemon.
 *
 * Order: an explicit `pythonPath`, then a `venv` directory, then the `QUANTBOT_PYTHON`
 * environment variable, then the nearest `.venv` walking up from the working directory, then the
 * nearest `.venv` walking up from this package's own directory (the repository's venv when the
 * package lives in the repository), then `python3` on PATH.
 */

import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const PYTHON_ENV_VAR = "QUANTBOT_PYTHON";

export type PythonSource = "pythonPath" | "venv" | "env" | "cwd-venv" | "package-venv" | "path";

export interface ResolvedPython {
  /** Executable to spawn. */
  executable: string;
  /** Where it came from, for error messages. */
  source: PythonSource;
}

export interface DiscoveryOptions {
  pythonPath?: string;
  venv?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Directory to walk up from as "the package's own directory" (tests override it). */
  packageDir?: string;
}

const isWindows = process.platform === "win32";

/** The interpreter inside a virtualenv directory. */
export function venvPython(venvDir: string): string {
  return isWindows ? path.join(venvDir, "Scripts", "python.exe") : path.join(venvDir, "bin", "python");
}

/** The nearest `.venv/bin/python` at or above `start`, or undefined. */
export function findVenvUpwards(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    const candidate = venvPython(path.join(dir, ".venv"));
    if (isExecutableFile(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** This package's root directory (where its package.json is), found from the running module. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.dirname(fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Picks the Python executable per the module's documented order. */
export function resolvePython(options: DiscoveryOptions = {}): ResolvedPython {
  if (options.pythonPath) return { executable: options.pythonPath, source: "pythonPath" };
  if (options.venv) return { executable: venvPython(path.resolve(options.cwd ?? ".", options.venv)), source: "venv" };
  const env = options.env ?? process.env;
  const fromEnv = env[PYTHON_ENV_VAR];
  if (fromEnv) return { executable: fromEnv, source: "env" };
  const fromCwd = findVenvUpwards(options.cwd ?? process.cwd());
  if (fromCwd) return { executable: fromCwd, source: "cwd-venv" };
  const fromPackage = findVenvUpwards(options.packageDir ?? packageRoot());
  if (fromPackage) return { executable: fromPackage, source: "package-venv" };
  return { executable: isWindows ? "python" : "python3", source: "path" };
}

function isExecutableFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
