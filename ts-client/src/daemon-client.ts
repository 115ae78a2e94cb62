/**
 * The daemon's lifecycle as seen from Node: spawn, initialize, calls, crash handling, optional
 * restart with backoff, and graceful close. Method-specific typing lives in client.ts.
 */

import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";

import { JsonRpcConnection, type CallOptions, type Logger } from "./connection.js";
import { packageRoot, resolvePython, type ResolvedPython } from "./discovery.js";
import {
  ClientClosedError,
  DaemonExitedError,
  DaemonStartError,
  ProtocolError,
  ProtocolVersionError,
  RequestAbortedError,
  RpcError,
  type ArtifactStoreError,
} from "./errors.js";
import { DaemonProcess, type ExitInfo } from "./process.js";
import { ErrorCodes } from "./generated/errors.js";
import type { InitializeResult } from "./generated/types.js";
import { PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from "./protocol.js";

/** The daemon's "unsupported protocol version" code, from the contract's error table. */
const UNSUPPORTED_PROTOCOL_VERSION_CODE: number | undefined = (ErrorCodes as Record<string, number>)["UnsupportedProtocolVersion"];

export interface RestartOptions {
  /** Restarts allowed in a row before the client gives up (default 3). */
  maxRestarts?: number;
  /** Delay before the first restart; doubles each time (default 200 ms). */
  initialDelayMs?: number;
  /** Upper bound of the delay (default 5,000 ms). */
  maxDelayMs?: number;
  /** A daemon that ran this long resets the count (default 30,000 ms). */
  resetAfterMs?: number;
}

export interface CloseTimeouts {
  /** Wait for the `shutdown` reply (default 5,000 ms). */
  shutdownMs?: number;
  /** After `exit` and closing stdin, wait for the process to end (default 2,000 ms). */
  exitMs?: number;
  /** After SIGTERM, wait before SIGKILL (default 2,000 ms). */
  terminateMs?: number;
}

export interface DaemonClientOptions {
  /** Python executable. Default: found automatically (see `venv`). */
  pythonPath?: string;
  /**
   * A virtualenv directory whose python to use. Without `pythonPath` or `venv` the client uses
   * `$QUANTBOT_PYTHON`, else the nearest `.venv` above `cwd`, else the nearest `.venv` above this
   * package, else `python3`.
   */
  venv?: string;
  /** Lake root, passed as `--lake`. Default: the daemon's default. */
  lake?: string;
  /**
   * The lake's manifest: `sqlite:///path` or `postgresql://user@host/db` (a team lake; no password
   * here — the daemon reads PGPASSWORD or ~/.pgpass). Sent in `initialize`. Default: the lake
   * folder's `lake.toml`, else `$QUANTBOT_MANIFEST`, else the folder's SQLite file.
   */
  manifest?: string;
  /** The artifact store: a local folder or `s3://bucket/prefix` (credentials: the AWS variables or profile). */
  artifacts?: string;
  /** S3 endpoint of a non-AWS server, `http(s)://host:port`. */
  s3Endpoint?: string;
  /** S3 region. */
  s3Region?: string;
  /** Extra environment for the daemon (merged over `process.env`). */
  env?: Record<string, string | undefined>;
  /** Working directory of the daemon. */
  cwd?: string;
  /** Default per-call timeout in ms; 0 = none (default 60,000). Progress notifications restart it. */
  timeoutMs?: number;
  /** Timeout of spawn + `initialize` (default 30,000 ms). */
  startTimeoutMs?: number;
  /** Receives diagnostics; daemon stderr lines go to `debug`. */
  logger?: Logger;
  /** Daemon log level (`--log-level`). */
  logLevel?: string;
  /** Arguments after the python executable (default `-m bridge serve`). For tests and tools. */
  serverArgs?: string[];
  /** Restart a daemon that died unexpectedly: `true` for the defaults, or options. Default off. */
  autoRestart?: boolean | RestartOptions;
  closeTimeouts?: CloseTimeouts;
  /** Bytes of daemon stderr kept for error messages (default 16 KiB). */
  stderrTailBytes?: number;
  /** Largest accepted reply line (default 256 MiB). */
  maxLineBytes?: number;
  /**
   * Protocol version to ask for in `initialize` (default PROTOCOL_VERSION). For compatibility
   * checks and tests; the reply must still name a version in SUPPORTED_PROTOCOL_VERSIONS.
   */
  protocolVersion?: string;
  /** Sent in `initialize` (default this package's name and version). */
  clientInfo?: { name: string; version: string };
}

export type ClientState = "new" | "starting" | "running" | "restarting" | "exited" | "failed" | "closing" | "closed";

/** What `initialize` returned: protocol version, server info, capabilities, lake paths, limits. */
export type InitializeInfo = InitializeResult;

const DEFAULT_RESTART: Required<RestartOptions> = {
  maxRestarts: 3,
  initialDelayMs: 200,
  maxDelayMs: 5_000,
  resetAfterMs: 30_000,
};

export interface DaemonClientEvents {
  /** The daemon ended while the client did not expect it. */
  exit: [error: DaemonExitedError];
  /** A replacement daemon is initialized (`attempt` counts from 1). */
  restart: [info: { attempt: number; pid: number | undefined }];
  /** The daemon wrote something that is not JSON-RPC on stdout; the client carried on. */
  protocolError: [error: ProtocolError];
}

export class DaemonClient extends EventEmitter<DaemonClientEvents> {
  protected readonly options: DaemonClientOptions;
  private stateValue: ClientState = "new";
  private daemon: DaemonProcess | undefined;
  private conn: JsonRpcConnection | undefined;
  private ready: Promise<void> | undefined;
  private info: InitializeInfo | undefined;
  private lastError: ArtifactStoreError | undefined;
  private consecutiveRestarts = 0;
  private launchedAt = 0;
  private closing: Promise<void> | undefined;
  private readonly python: ResolvedPython;

  constructor(options: DaemonClientOptions = {}) {
    super();
    this.options = options;
    this.python = resolvePython({
      pythonPath: options.pythonPath,
      venv: options.venv,
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
    } as Parameters<typeof resolvePython>[0]);
  }

  get state(): ClientState {
    return this.stateValue;
  }

  /** The python executable the client spawns, and how it was chosen. */
  get pythonExecutable(): ResolvedPython {
    return this.python;
  }

  /** The `initialize` result of the current daemon. */
  get serverInfo(): InitializeInfo | undefined {
    return this.info;
  }

  /** Process id of the current daemon. */
  get pid(): number | undefined {
    return this.daemon?.alive ? this.daemon.pid : undefined;
  }

  /** Calls waiting for a reply. */
  get pendingCount(): number {
    return this.conn?.pendingCount ?? 0;
  }

  /** The daemon's recent stderr (bounded). */
  stderrTail(): string | undefined {
    return this.daemon?.stderr.text();
  }

  /**
   * Spawns the daemon and performs `initialize`. Idempotent; calls made before `start()` start
   * the daemon themselves. Rejects with DaemonStartError, DaemonExitedError or
   * ProtocolVersionError.
   */
  async start(): Promise<InitializeInfo> {
    if (this.stateValue === "closing" || this.stateValue === "closed") throw new ClientClosedError("the client is closed");
    if (this.stateValue === "new" || this.stateValue === "exited" || this.stateValue === "failed") {
      this.consecutiveRestarts = 0;
      this.stateValue = "starting";
      this.ready = this.launch().then(
        () => {
          this.stateValue = "running";
        },
        (error: ArtifactStoreError) => {
          this.stateValue = "new";
          this.ready = undefined;
          throw error;
        },
      );
    }
    await this.ready;
    return this.info!;
  }

  /** Sends a request with any method name and untyped params. Prefer the typed methods. */
  requestUntyped(method: string, params?: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.stateValue === "running") return this.conn!.request(method, params, options);
    return this.requestWhenReady(method, params, options);
  }

  /** Sends a notification. */
  async notify(method: string, params?: unknown): Promise<void> {
    if (this.stateValue !== "running") await this.start();
    return this.conn!.notify(method, params);
  }

  /**
   * Graceful close: `shutdown`, `exit`, close stdin, then SIGTERM, then SIGKILL, each with a
   * timeout. Pending calls end with their reply or with ClientClosedError. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdownSequence();
    return this.closing;
  }

  private async requestWhenReady(method: string, params: unknown, options: CallOptions): Promise<unknown> {
    switch (this.stateValue) {
      case "closing":
      case "closed":
        throw new ClientClosedError(`${method}: the client is closed`);
      case "failed":
      case "exited":
        throw this.lastError ?? new ClientClosedError(`${method}: the daemon is not running`);
      case "new":
        await abortable(this.start(), method, options.signal);
        break;
      default:
        await abortable(this.ready!, method, options.signal);
    }
    if (this.stateValue !== "running") return this.requestWhenReady(method, params, options);
    return this.conn!.request(method, params, options);
  }

  /** One daemon: spawn, wire, initialize, check the version. Kills it again on failure. */
  private async launch(): Promise<void> {
    const daemon = this.spawnDaemon();
    const conn = new JsonRpcConnection(daemon.stdout, daemon.stdin, {
      defaultTimeoutMs: this.options.timeoutMs ?? 60_000,
      maxLineBytes: this.options.maxLineBytes,
      logger: this.options.logger,
      stderrTail: () => daemon.stderr.text(),
      onProtocolError: (error) => this.emit("protocolError", error),
      onBusyChange: (busy) => daemon.setRef(busy),
    });
    this.daemon = daemon;
    this.conn = conn;
    void daemon.exited.then((exit) => this.onExit(daemon, conn, exit));
    try {
      const result = await this.initialize(conn, daemon);
      this.info = result;
      // The daemon answers an over-long line with an id-less error, so such a call would never
      // settle: refuse it here instead.
      conn.maxRequestBytes = result.limits?.maxLineBytes;
      this.launchedAt = Date.now();
    } catch (error) {
      daemon.kill("SIGKILL");
      await daemon.exited;
      throw error;
    }
  }

  private spawnDaemon(): DaemonProcess {
    const args = [...(this.options.serverArgs ?? ["-m", "bridge", "serve"])];
    if (this.options.lake !== undefined) args.push("--lake", path.resolve(this.options.cwd ?? ".", this.options.lake));
    if (this.options.logLevel !== undefined) args.push("--log-level", this.options.logLevel);
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONIOENCODING: "utf-8", PYTHONUNBUFFERED: "1" };
    for (const [key, value] of Object.entries(this.options.env ?? {})) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    return new DaemonProcess({
      executable: this.python.executable,
      args,
      cwd: this.options.cwd,
      env,
      stderrTailBytes: this.options.stderrTailBytes ?? 16 * 1024,
      logger: this.options.logger,
    });
  }

  private async initialize(conn: JsonRpcConnection, daemon: DaemonProcess): Promise<InitializeInfo> {
    const { manifest, artifacts, s3Endpoint, s3Region } = this.options;
    const lake =
      manifest ?? artifacts ?? s3Endpoint ?? s3Region
        ? { manifest, artifacts, s3Endpoint, s3Region }
        : undefined;
    const params = {
      protocolVersion: this.options.protocolVersion ?? PROTOCOL_VERSION,
      clientInfo: this.options.clientInfo ?? clientInfo(),
      ...(lake ? { lake } : {}),
    };
    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    let result: unknown;
    try {
      result = await conn.request("initialize", params, { timeoutMs });
    } catch (error) {
      throw await this.startFailure(error, daemon);
    }
    const offered = (result as { protocolVersion?: unknown } | null)?.protocolVersion;
    if (typeof offered !== "string" || !SUPPORTED_PROTOCOL_VERSIONS.includes(offered)) {
      throw new ProtocolVersionError(typeof offered === "string" ? offered : undefined, SUPPORTED_PROTOCOL_VERSIONS, {
        stderrTail: daemon.stderr.text(),
      });
    }
    return result as InitializeInfo;
  }

  /** Turns a failed `initialize` into the most telling error. */
  private async startFailure(error: unknown, daemon: DaemonProcess): Promise<Error> {
    if (error instanceof DaemonExitedError) {
      const exit = await daemon.exited;
      if (exit.spawnError) {
        return new DaemonStartError(
          `could not run ${this.python.executable} (python from ${this.python.source}): ${exit.spawnError.message}; ` +
            "pass pythonPath or venv, or set QUANTBOT_PYTHON",
          { cause: exit.spawnError },
        );
      }
      const stderrTail = daemon.stderr.text();
      if (stderrTail !== undefined && /No module named '?bridge'?/.test(stderrTail)) {
        return new DaemonStartError(noBridgeMessage(this.python), { stderrTail });
      }
      return new DaemonExitedError(exit.exitCode, exit.signal, {
        stderrTail,
        during: `during start-up (${this.python.executable} ${(this.options.serverArgs ?? ["-m", "bridge", "serve"]).join(" ")})`,
      });
    }
    if (error instanceof RpcError) {
      const data = (error.data ?? {}) as { supported?: unknown; requested?: unknown; supportedVersions?: unknown };
      const supported = data.supported ?? data.supportedVersions;
      if (error.code === UNSUPPORTED_PROTOCOL_VERSION_CODE || Array.isArray(supported)) {
        const offered = Array.isArray(supported) ? supported.join(", ") : undefined;
        return new ProtocolVersionError(offered, SUPPORTED_PROTOCOL_VERSIONS, {
          stderrTail: error.stderrTail,
          detail: error.message,
          cause: error,
        });
      }
    }
    if (error instanceof Error) return new DaemonStartError(`initialize failed: ${error.message}`, { cause: error, stderrTail: daemon.stderr.text() });
    return new DaemonStartError(`initialize failed: ${String(error)}`);
  }

  private onExit(daemon: DaemonProcess, conn: JsonRpcConnection, exit: ExitInfo): void {
    const stderrTail = daemon.stderr.text();
    if (this.stateValue === "closing" || this.stateValue === "closed") {
      conn.close(new ClientClosedError("the client was closed before the daemon replied", { stderrTail }));
      return;
    }
    const error = new DaemonExitedError(exit.exitCode, exit.signal, { stderrTail });
    conn.close(error);
    if (daemon !== this.daemon || this.stateValue !== "running") return; // a failed start reports itself
    this.lastError = error;
    this.emit("exit", error);
    const restart = this.restartOptions();
    if (!restart) {
      this.stateValue = "exited";
      return;
    }
    if (Date.now() - this.launchedAt >= restart.resetAfterMs) this.consecutiveRestarts = 0;
    this.stateValue = "restarting";
    this.ready = this.restartLoop(restart);
    this.ready.catch(() => undefined);
  }

  private async restartLoop(restart: Required<RestartOptions>): Promise<void> {
    while (this.consecutiveRestarts < restart.maxRestarts) {
      const delay = Math.min(restart.initialDelayMs * 2 ** this.consecutiveRestarts, restart.maxDelayMs);
      this.consecutiveRestarts += 1;
      await sleep(delay);
      if (this.stateValue !== "restarting") throw new ClientClosedError("the client was closed during a restart");
      try {
        await this.launch();
        this.stateValue = "running";
        this.emit("restart", { attempt: this.consecutiveRestarts, pid: this.daemon?.pid });
        return;
      } catch (error) {
        this.lastError = error as ArtifactStoreError;
        this.options.logger?.warn?.(`restart ${this.consecutiveRestarts} failed: ${(error as Error).message}`);
      }
    }
    if (this.stateValue === "restarting") this.stateValue = "failed";
    throw this.lastError!;
  }

  private restartOptions(): Required<RestartOptions> | undefined {
    const opt = this.options.autoRestart;
    if (!opt) return undefined;
    return { ...DEFAULT_RESTART, ...(opt === true ? {} : opt) };
  }

  private async shutdownSequence(): Promise<void> {
    const before = this.stateValue;
    this.stateValue = "closing";
    if (before === "starting" || before === "restarting") {
      await this.ready?.catch(() => undefined);
    }
    const daemon = this.daemon;
    const conn = this.conn;
    const timeouts = { shutdownMs: 5_000, exitMs: 2_000, terminateMs: 2_000, ...this.options.closeTimeouts };
    if (daemon && conn && daemon.alive) {
      daemon.setRef(true);
      try {
        await conn.request("shutdown", undefined, { timeoutMs: timeouts.shutdownMs });
        await conn.notify("exit");
      } catch (error) {
        this.options.logger?.debug?.(`shutdown: ${(error as Error).message}`);
      }
      daemon.stdin.end();
      if (!(await daemon.waitForExit(timeouts.exitMs))) {
        daemon.kill("SIGTERM");
        if (!(await daemon.waitForExit(timeouts.terminateMs))) {
          daemon.kill("SIGKILL");
          await daemon.exited;
        }
      }
    }
    conn?.close(new ClientClosedError("the client is closed", { stderrTail: daemon?.stderr.text() }));
    this.stateValue = "closed";
  }
}

function abortable<T>(promise: Promise<T>, method: string, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new RequestAbortedError(method, null, signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new RequestAbortedError(method, null, signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let cachedClientInfo: { name: string; version: string } | undefined;

function clientInfo(): { name: string; version: string } {
  if (!cachedClientInfo) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { name: string; version: string };
      cachedClientInfo = { name: pkg.name, version: pkg.version };
    } catch {
      cachedClientInfo = { name: "@quantbot/artifact-store", version: "0.0.0" };
    }
  }
  return cachedClientInfo;
}

const PYTHON_SOURCES: Record<ResolvedPython["source"], string> = {
  pythonPath: "the pythonPath option",
  venv: "the venv option",
  env: "$QUANTBOT_PYTHON",
  "cwd-venv": "the nearest .venv above the working directory",
  "package-venv": "the nearest .venv above this package",
  path: "python3 on PATH, as no pythonPath, venv, $QUANTBOT_PYTHON or .venv was found",
};

/** What to do when the chosen interpreter has no `bridge` package: the most common first-run failure. */
function noBridgeMessage(python: ResolvedPython): string {
  return (
    `${python.executable} (from ${PYTHON_SOURCES[python.source]}) has no \`bridge\` module. ` +
    "Install the Python package into a virtualenv (python3 -m venv .venv && .venv/bin/pip install quantbot_bridge-*.whl) " +
    "and point the client at that python: new ArtifactStoreClient({ pythonPath: \"/path/to/.venv/bin/python\" }) " +
    "or { venv: \"/path/to/.venv\" }, or set QUANTBOT_PYTHON=/path/to/.venv/bin/python"
  );
}
