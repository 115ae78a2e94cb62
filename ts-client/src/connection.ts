/**
 * JSON-RPC 2.0 over a pair of byte streams: ids, pending calls, timeouts, cancellation, progress.
 *
 * Knows nothing about processes or artifacts; the client wires it to the daemon's stdio, and the
 * unit tests wire it to in-memory streams.
 */

import type { Readable, Writable } from "node:stream";

import {
  ProtocolError,
  RequestAbortedError,
  RequestTimeoutError,
  RequestTooLargeError,
  ResponseTooLargeError,
  rpcErrorFromWire,
  type ArtifactStoreError,
} from "./errors.js";
import { LineReader, LineWriter, serializeValue, type LineTooLongError } from "./ndjson.js";

export const CANCEL_METHOD = "$/cancelRequest";
export const PROGRESS_METHOD = "$/progress";

/** How long a failed write waits for the exit handler's better error. */
const WRITE_FAILURE_GRACE_MS = 500;

/** A `$/progress` notification for one request. */
export interface Progress {
  done: number;
  total?: number | null;
  message?: string | null;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborting sends `$/cancelRequest` and rejects with RequestAbortedError. */
  signal?: AbortSignal;
  /** Milliseconds without a reply before `$/cancelRequest` and RequestTimeoutError; 0 = none. */
  timeoutMs?: number;
  /** Called for each `$/progress` notification about this call. */
  onProgress?: (progress: Progress) => void;
}

export interface Logger {
  debug?(message: string, ...args: unknown[]): void;
  info?(message: string, ...args: unknown[]): void;
  warn?(message: string, ...args: unknown[]): void;
  error?(message: string, ...args: unknown[]): void;
}

export interface ConnectionOptions {
  /** Timeout for calls that do not pass one; 0 = none. */
  defaultTimeoutMs?: number;
  /** A progress notification restarts the call's timeout (long work that reports stays alive). */
  resetTimeoutOnProgress?: boolean;
  maxLineBytes?: number;
  logger?: Logger;
  /** Tail of the peer's stderr, attached to errors. */
  stderrTail?: () => string | undefined;
  /** Lines that are not JSON-RPC, oversized lines. The connection carries on. */
  onProtocolError?: (error: ProtocolError) => void;
  /** Largest request line the peer accepts (bytes, newline excluded); larger ones are refused here. */
  maxRequestBytes?: number;
  /** Number of pending calls went 0 → 1 (busy = true) or 1 → 0 (busy = false). */
  onBusyChange?: (busy: boolean) => void;
}

interface Pending {
  id: number;
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timeoutMs: number;
  /** performance.now() past which the call times out (Infinity: no timeout). */
  deadline: number;
  signal: AbortSignal | undefined;
  onProgress: ((progress: Progress) => void) | undefined;
}

type Message = {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
  result?: unknown;
  error?: unknown;
};

export class JsonRpcConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly signalIds = new WeakMap<AbortSignal, Set<number>>();
  private readonly signalListeners = new WeakMap<AbortSignal, () => void>();
  private readonly reader: LineReader;
  private readonly writer: LineWriter;
  private closedError: Error | undefined;
  private readonly options: ConnectionOptions;
  /**
   * One timer for every call's timeout, due at the earliest deadline it has seen (a call's own
   * setTimeout + clearTimeout costs about as much as the rest of its client-side work). It stays
   * armed between calls, referenced only while a call is pending.
   */
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Number.POSITIVE_INFINITY;

  constructor(input: Readable, output: Writable, options: ConnectionOptions = {}) {
    this.options = options;
    this.maxRequestBytes = options.maxRequestBytes;
    this.reader = new LineReader((line) => this.onLine(line), {
      maxLineBytes: options.maxLineBytes ?? 256 * 1024 * 1024,
      onOverflow: (error) => this.onOverflow(error),
    });
    this.writer = new LineWriter(output);
    input.on("data", (chunk: Buffer) => this.reader.push(chunk));
    input.on("end", () => this.reader.end());
  }

  /** Largest request line the peer accepts; set from `initialize`'s `limits.maxLineBytes`. */
  maxRequestBytes: number | undefined;

  /** Calls waiting for a reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** True once `close` was called. */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  request(method: string, params: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const { signal } = options;
    if (signal?.aborted) {
      return Promise.reject(new RequestAbortedError(method, null, signal.reason, this.context()));
    }
    const id = this.nextId++;
    // The envelope written directly (the same text JSON.stringify gives for it): only the params
    // go through serializeValue (NaN, Infinity, bigint refused), and no envelope object is made.
    let line: string;
    try {
      const text = params === undefined ? undefined : serializeValue(params);
      line = `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)}${text === undefined ? "" : `,"params":${text}`}}\n`;
    } catch (error) {
      return Promise.reject(error);
    }
    const limit = this.maxRequestBytes;
    // UTF-8 needs at most 3 bytes per UTF-16 unit: count bytes only when the limit is in reach.
    if (limit !== undefined && (line.length - 1) * 3 > limit) {
      const bytes = Buffer.byteLength(line) - 1;
      if (bytes > limit) return Promise.reject(new RequestTooLargeError(method, bytes, limit));
    }
    return new Promise<unknown>((resolve, reject) => {
      const entry: Pending = {
        id,
        method,
        resolve,
        reject,
        timeoutMs: options.timeoutMs ?? this.options.defaultTimeoutMs ?? 0,
        deadline: Number.POSITIVE_INFINITY,
        signal,
        onProgress: options.onProgress,
      };
      this.track(entry);
      // alone: no other call pending (a sequential caller), so nothing to gather this tick
      this.writer.writeLine(line, this.onWritten, id, this.pending.size === 1);
    });
  }

  notify(method: string, params?: unknown): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    try {
      return this.writer.send(params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A request line was handed to the stream (no error), or could not be (see writeFailed). */
  private readonly onWritten = (error: Error | undefined, id?: number): void => {
    const entry = id === undefined ? undefined : this.pending.get(id);
    if (error && entry) this.writeFailed(entry.id, entry.method, error);
  };

  /**
   * A write failed (EPIPE: usually the daemon just died). The exit handler normally rejects the
   * call first with DaemonExitedError; if nothing does within a moment, reject it here.
   */
  private writeFailed(id: number, method: string, error: Error): void {
    if (!this.pending.has(id)) return;
    setTimeout(() => {
      this.settle(id, new ProtocolError(`could not send ${method} to the daemon: ${error.message}`, { ...this.context(), cause: error }));
    }, WRITE_FAILURE_GRACE_MS);
  }

  /** Sends `$/cancelRequest` for `id` and rejects the call with `error` at once. */
  cancel(id: number, error: Error): void {
    if (!this.pending.has(id)) return;
    this.settle(id, error);
    if (!this.closedError) {
      this.writer.send({ jsonrpc: "2.0", method: CANCEL_METHOD, params: { id } }).catch(() => undefined);
    }
  }

  /** Rejects every pending call with `error` (all at once) and refuses new ones. */
  close(error: Error): void {
    if (!this.closedError) this.closedError = error;
    this.writer.close(error);
    for (const id of [...this.pending.keys()]) this.settle(id, error);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweepAt = Number.POSITIVE_INFINITY;
  }

  private track(entry: Pending): void {
    this.pending.set(entry.id, entry);
    if (this.pending.size === 1) {
      this.sweepTimer?.ref();
      this.options.onBusyChange?.(true);
    }
    this.armTimer(entry);
    if (entry.signal) this.watchSignal(entry.signal, entry.id);
  }

  /**
   * One abort listener per signal, however many calls share it (no MaxListenersExceeded
   * warning when a thousand calls use one AbortController).
   */
  private watchSignal(signal: AbortSignal, id: number): void {
    let ids = this.signalIds.get(signal);
    if (!ids) {
      const watched = new Set<number>();
      ids = watched;
      this.signalIds.set(signal, watched);
      const onAbort = (): void => {
        this.signalIds.delete(signal);
        for (const pendingId of [...watched]) {
          const entry = this.pending.get(pendingId);
          if (entry) this.cancel(pendingId, new RequestAbortedError(entry.method, pendingId, signal.reason, this.context()));
        }
      };
      this.signalListeners.set(signal, onAbort);
      signal.addEventListener("abort", onAbort, { once: true });
    }
    ids.add(id);
  }

  private unwatchSignal(signal: AbortSignal, id: number): void {
    const ids = this.signalIds.get(signal);
    if (!ids) return;
    ids.delete(id);
    if (ids.size === 0) {
      this.signalIds.delete(signal);
      const onAbort = this.signalListeners.get(signal);
      this.signalListeners.delete(signal);
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }

  private armTimer(entry: Pending): void {
    if (entry.timeoutMs <= 0) return;
    entry.deadline = performance.now() + entry.timeoutMs;
    if (entry.deadline < this.sweepAt) this.scheduleSweep(entry.deadline);
  }

  private scheduleSweep(at: number): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepAt = at;
    this.sweepTimer = setTimeout(this.sweep, Math.max(1, Math.ceil(at - performance.now())));
    if (this.pending.size === 0) this.sweepTimer.unref();
  }

  /** Times out every call past its deadline, then waits for the earliest remaining one. */
  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    this.sweepAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const entry of [...this.pending.values()]) {
      if (entry.deadline <= now) {
        this.cancel(entry.id, new RequestTimeoutError(entry.method, entry.id, entry.timeoutMs, this.context()));
      } else if (entry.deadline < next) {
        next = entry.deadline;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.scheduleSweep(next);
  };

  private settle(id: number, error: Error | undefined, result?: unknown): void {
    const entry = this.pending.get(id);
    if (entry) this.finish(entry, error, result);
  }

  private finish(entry: Pending, error: Error | undefined, result?: unknown): void {
    const id = entry.id;
    this.pending.delete(id);
    if (entry.signal) this.unwatchSignal(entry.signal, id);
    if (this.pending.size === 0) {
      this.sweepTimer?.unref();
      this.options.onBusyChange?.(false);
    }
    if (error) entry.reject(error);
    else entry.resolve(result);
  }

  private onLine(line: Buffer): void {
    if (line.length === 0) return;
    let message: Message;
    try {
      message = JSON.parse(line.toString("utf8")) as Message;
    } catch {
      this.protocolError(`the daemon wrote a line that is not JSON: ${preview(line)}`);
      return;
    }
    if (Array.isArray(message)) {
      for (const item of message) this.dispatch(item as Message, line);
      return;
    }
    this.dispatch(message, line);
  }

  private dispatch(message: Message, line: Buffer): void {
    if (message === null || typeof message !== "object" || message.jsonrpc !== "2.0") {
      this.protocolError(`the daemon wrote a line that is not a JSON-RPC 2.0 message: ${preview(line)}`);
      return;
    }
    if (typeof message.method === "string") {
      this.onIncoming(message);
      return;
    }
    if ("result" in message || "error" in message) {
      this.onResponse(message, line);
      return;
    }
    this.protocolError(`the daemon wrote a JSON-RPC message with neither method, result nor error: ${preview(line)}`);
  }

  private onResponse(message: Message, line: Buffer): void {
    const id = message.id;
    const entry = typeof id === "number" ? this.pending.get(id) : undefined;
    if (entry === undefined) {
      if (id === null && message.error) {
        const error = message.error as { message?: unknown };
        this.protocolError(`the daemon reported an error for no request: ${String(error.message)}`);
      } else {
        // A reply to a call that timed out or was aborted: expected, not a fault.
        this.options.logger?.debug?.(`reply for id ${JSON.stringify(id)} with no pending call: ${preview(line)}`);
      }
      return;
    }
    if (message.error !== undefined) {
      const wire = (message.error ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
      this.finish(entry, rpcErrorFromWire(wire, entry.method, entry.id, this.context()));
    } else {
      this.finish(entry, undefined, message.result);
    }
  }

  private onIncoming(message: Message): void {
    if (message.method === PROGRESS_METHOD && message.id === undefined) {
      this.onProgress(message.params);
      return;
    }
    if (message.id !== undefined && message.id !== null) {
      // The daemon does not call the client; say so rather than leave it waiting.
      this.writer
        .send({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: `client has no method ${String(message.method)}` } })
        .catch(() => undefined);
      return;
    }
    this.options.logger?.debug?.(`ignored notification ${String(message.method)}`);
  }

  private onProgress(params: unknown): void {
    const p = (params ?? {}) as { id?: unknown; token?: unknown; done?: unknown; total?: unknown; message?: unknown };
    const id = p.id ?? p.token;
    const entry = typeof id === "number" ? this.pending.get(id) : undefined;
    if (!entry) return;
    if (this.options.resetTimeoutOnProgress !== false) this.armTimer(entry);
    if (!entry.onProgress) return;
    const progress: Progress = { done: typeof p.done === "number" ? p.done : 0 };
    if (p.total !== undefined) progress.total = p.total as number | null;
    if (p.message !== undefined) progress.message = p.message as string | null;
    try {
      entry.onProgress(progress);
    } catch (error) {
      this.options.logger?.warn?.(`onProgress callback for ${entry.method} threw: ${String(error)}`);
    }
  }

  /**
   * A line over maxLineBytes was dropped. If it was a reply, its call must not wait forever: the
   * daemon writes `{"jsonrpc":"2.0","id":N,...` first, so the head names the call, which fails
   * with ResponseTooLargeError. A head that names no id cannot be attributed: every pending call
   * fails then (one of them lost its reply, and waiting is worse than retrying).
   */
  private onOverflow(error: LineTooLongError): void {
    this.protocolError(error.message, error);
    const head = error.head.toString("latin1");
    const envelope = /^\s*\[?\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(-?\d+|null|")/.exec(head);
    if (envelope && envelope[1] !== "null" && envelope[1] !== '"') {
      const id = Number(envelope[1]);
      const entry = this.pending.get(id);
      if (entry) this.settle(id, new ResponseTooLargeError(entry.method, id, error.seen, error.limit, this.context()));
      return;
    }
    if (envelope || /^\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"method"/.test(head)) return; // id null or a string, or a notification
    for (const [id, entry] of [...this.pending]) {
      this.settle(id, new ResponseTooLargeError(entry.method, null, error.seen, error.limit, this.context()));
    }
  }

  private protocolError(message: string, cause?: unknown): void {
    const error = new ProtocolError(message, { ...this.context(), cause });
    this.options.logger?.warn?.(message);
    this.options.onProtocolError?.(error);
  }

  private context(): { stderrTail: string | undefined } {
    return { stderrTail: this.options.stderrTail?.() };
  }
}

function preview(line: Buffer): string {
  const text = line.subarray(0, 200).toString("utf8");
  return JSON.stringify(line.length > 200 ? `${text}…` : text);
}

export type { ArtifactStoreError };
