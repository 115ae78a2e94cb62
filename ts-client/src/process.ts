/**
 * The daemon as a child process: spawning, a bounded stderr tail, exit tracking, the
 * terminate-then-kill ladder, and killing every live daemon when the Node process exits.
 */

import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";

import type { Logger } from "./connection.js";
import { LineReader } from "./ndjson.js";

/** Keeps the last `maxBytes` of a stream, cut at a line start, for error messages. */
export class StderrTail {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private truncated = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    if (this.maxBytes <= 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes > this.maxBytes && this.chunks.length > 0) {
      const excess = this.bytes - this.maxBytes;
      const first = this.chunks[0]!;
      if (first.length <= excess) {
        this.chunks.shift();
        this.bytes -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.bytes -= excess;
      }
      this.truncated = true;
    }
  }

  /** The kept text; when older output was dropped, it starts at the first whole line. */
  text(): string | undefined {
    if (this.bytes === 0) return undefined;
    let text = Buffer.concat(this.chunks, this.bytes).toString("utf8");
    if (this.truncated) {
      const nl = text.indexOf("\n");
      if (nl !== -1 && nl < text.length - 1) text = text.slice(nl + 1);
    }
    return text.trimEnd() || undefined;
  }
}

export interface ExitInfo {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (e.g. ENOENT). */
  spawnError?: Error;
}

export interface SpawnSpec {
  executable: string;
  args: string[];
  cwd?: string | undefined;
  env: NodeJS.ProcessEnv;
  stderrTailBytes: number;
  logger?: Logger | undefined;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** On Node's exit, kill whatever daemons are still running: no orphans, whatever the caller forgot. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

/** Grace after 'exit' for the stdout pipe to deliver what the daemon wrote before it ended. */
const STDOUT_DRAIN_GRACE_MS = 250;

export class DaemonProcess {
  readonly child: ChildProcess;
  readonly stderr: StderrTail;
  /** Resolves once, when the process has ended and its stdout is read (or could not start). */
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(spec: SpawnSpec) {
    installExitHook();
    this.stderr = new StderrTail(spec.stderrTailBytes);
    this.child = spawn(spec.executable, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    live.add(this.child);
    this.forwardStderr(spec.logger);
    this.exited = new Promise<ExitInfo>((resolve) => this.trackExit(resolve));
  }

  get stdin(): Writable {
    return this.child.stdin!;
  }

  get stdout(): Readable {
    return this.child.stdout!;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True until the process has exited (or failed to spawn). */
  get alive(): boolean {
    return this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Whether this child keeps the Node event loop alive. Idle clients don't hold Node open. The
   * first `setRef(false)` unrefs the child and its pipes for good; from then on one timer that
   * never fires holds the loop while busy (its ref/unref is a flag, where the handles' would be
   * four native calls, twice per call of a sequential client).
   */
  setRef(ref: boolean): void {
    if (this.keepAlive === undefined) {
      if (ref) return; // handles are ref'd from the spawn on
      const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as unknown as Array<
        { unref?: () => void } | null
      >;
      for (const handle of handles) handle?.unref?.();
      this.keepAlive = setInterval(() => undefined, 1 << 30);
      if (this.exitInfo) clearInterval(this.keepAlive);
    }
    if (ref) this.keepAlive.ref();
    else this.keepAlive.unref();
  }

  /** Sends `signal`; the child is ref'd again so Node waits to observe its exit. */
  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.setRef(true);
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** Waits up to `ms` for the exit; true if it happened. */
  async waitForExit(ms: number): Promise<boolean> {
    if (this.exitInfo) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const done = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  private trackExit(resolve: (info: ExitInfo) => void): void {
    let exit: ExitInfo | undefined;
    let stdoutDone = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (this.exitInfo || !exit) return;
      if (grace) clearTimeout(grace);
      this.exitInfo = exit;
      if (this.keepAlive) clearInterval(this.keepAlive);
      live.delete(this.child);
      resolve(exit);
    };
    this.child.stdout!.once("close", () => {
      stdoutDone = true;
      finish();
    });
    this.child.once("exit", (exitCode, signal) => {
      exit = { exitCode, signal };
      if (stdoutDone) finish();
      else grace = setTimeout(finish, STDOUT_DRAIN_GRACE_MS);
    });
    this.child.once("error", (error) => {
      // Spawn failures (ENOENT, EACCES) come here without an 'exit'.
      if (this.child.pid === undefined) {
        exit = { exitCode: null, signal: null, spawnError: error };
        finish();
      }
    });
  }

  private forwardStderr(logger: Logger | undefined): void {
    const stderr = this.child.stderr!;
    const lines = logger?.debug
      ? new LineReader((line) => logger.debug!(`[daemon] ${line.toString("utf8")}`), { maxLineBytes: 64 * 1024 })
      : undefined;
    stderr.on("data", (chunk: Buffer) => {
      this.stderr.push(chunk);
      lines?.push(chunk);
    });
    stderr.on("end", () => lines?.end());
    stderr.on("error", () => undefined);
    this.child.stdout!.on("error", () => undefined);
  }
}
