/**
 * Errors this package throws.
 *
 *     ArtifactStoreError               anything from this package; `stderrTail` when known
 *     ├── RpcError                     the daemon answered with a JSON-RPC error (`code`, `data`)
 *     │   ├── ParseError (-32700), InvalidRequestError (-32600), MethodNotFoundError (-32601),
 *     │   │   InvalidParamsError (-32602), InternalError (-32603)
 *     │   ├── RequestCancelledError (-32800)
 *     │   └── one class per application error code (generated, see generated/errors.ts)
 *     ├── RequestTimeoutError          no reply within the timeout; `$/cancelRequest` was sent
 *     ├── RequestAbortedError          the caller's AbortSignal fired; `$/cancelRequest` was sent
 *     ├── DaemonExitedError            the daemon process ended (`exitCode`, `signal`)
 *     ├── DaemonStartError             spawning or initializing the daemon failed
 *     ├── ProtocolVersionError         the daemon speaks a protocol version we do not
 *     ├── RequestTooLargeError         a request over the daemon's line limit (never sent)
 *     ├── ProtocolError                the daemon wrote something that is not JSON-RPC, or a write failed
 *     │   └── ResponseTooLargeError    a reply over the client's maxLineBytes was dropped; its call fails
 *     └── ClientClosedError            the client was closed (or never started)
 */

export interface ErrorContext {
  /** Last bytes the daemon wrote to stderr, when the error involves the daemon. */
  stderrTail?: string | undefined;
  cause?: unknown;
}

export class ArtifactStoreError extends Error {
  override name = "ArtifactStoreError";
  /** The last lines the daemon wrote to stderr (bounded), when known. */
  stderrTail: string | undefined;

  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.stderrTail = context.stderrTail;
  }
}

/** A JSON-RPC error reply. `code` and `data` come from the daemon unchanged. */
export class RpcError<D = unknown> extends ArtifactStoreError {
  override name = "RpcError";
  constructor(
    message: string,
    readonly code: number,
    readonly data: D,
    readonly method: string,
    readonly requestId: number | string | null,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

export class ParseError<D = unknown> extends RpcError<D> {
  static readonly code = -32700;
  override name = "ParseError";
}

export class InvalidRequestError<D = unknown> extends RpcError<D> {
  static readonly code = -32600;
  override name = "InvalidRequestError";
}

export class MethodNotFoundError<D = unknown> extends RpcError<D> {
  static readonly code = -32601;
  override name = "MethodNotFoundError";
}

export class InvalidParamsError<D = unknown> extends RpcError<D> {
  static readonly code = -32602;
  override name = "InvalidParamsError";
}

export class InternalError<D = unknown> extends RpcError<D> {
  static readonly code = -32603;
  override name = "InternalError";
}

/** The daemon confirmed it cancelled the request (it answered -32800). */
export class RequestCancelledError<D = unknown> extends RpcError<D> {
  static readonly code = -32800;
  override name = "RequestCancelledError";
}

export class RequestTimeoutError extends ArtifactStoreError {
  override name = "RequestTimeoutError";
  constructor(
    readonly method: string,
    readonly requestId: number,
    readonly timeoutMs: number,
    context: ErrorContext = {},
  ) {
    super(`${method} (id ${requestId}) got no reply within ${timeoutMs} ms; cancellation was sent to the daemon`, context);
  }
}

export class RequestAbortedError extends ArtifactStoreError {
  override name = "RequestAbortedError";
  constructor(
    readonly method: string,
    readonly requestId: number | null,
    readonly reason: unknown,
    context: ErrorContext = {},
  ) {
    super(
      requestId === null
        ? `${method} was aborted before it was sent`
        : `${method} (id ${requestId}) was aborted; cancellation was sent to the daemon`,
      { ...context, cause: reason },
    );
  }
}

export class DaemonExitedError extends ArtifactStoreError {
  override name = "DaemonExitedError";
  constructor(
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    context: ErrorContext & { during?: string } = {},
  ) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    const during = context.during ? ` ${context.during}` : "";
    const tail = context.stderrTail ? `; its stderr ends with:\n${context.stderrTail}` : "";
    super(`the bridge daemon ${how}${during}${tail}`, context);
  }
}

export class DaemonStartError extends ArtifactStoreError {
  override name = "DaemonStartError";
}

export class ProtocolVersionError extends ArtifactStoreError {
  override name = "ProtocolVersionError";
  constructor(
    readonly offered: string | undefined,
    readonly supported: readonly string[],
    context: ErrorContext & { detail?: string } = {},
  ) {
    super(
      `the daemon speaks protocol version ${offered ?? "(unknown)"}, this client supports ${supported.join(", ")}` +
        (context.detail ? ` (${context.detail})` : "") +
        "; install matching versions of the bridge and @quantbot/artifact-store",
      context,
    );
  }
}

/** The serialised request exceeds the daemon's `limits.maxLineBytes`; it was not sent. */
export class RequestTooLargeError extends ArtifactStoreError {
  override name = "RequestTooLargeError";
  constructor(
    readonly method: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `${method}: the request is ${bytes} bytes, over the daemon's line limit of ${limit} bytes; ` +
        "write big data to a CSV / Parquet / Arrow file and pass its path",
    );
  }
}

export class ProtocolError extends ArtifactStoreError {
  override name = "ProtocolError";
}

/**
 * The daemon's reply to this call was longer than the client's `maxLineBytes` and was dropped
 * unread; the call is rejected instead of left waiting. Ask for less (a `query` can write its
 * result to a file with `output`) or raise `maxLineBytes`.
 */
export class ResponseTooLargeError extends ProtocolError {
  override name = "ResponseTooLargeError";
  constructor(
    readonly method: string,
    readonly requestId: number | null,
    readonly bytes: number,
    readonly limit: number,
    context: ErrorContext = {},
  ) {
    super(
      `${method}${requestId === null ? "" : ` (id ${requestId})`}: the daemon's reply exceeded this client's line ` +
        `limit of ${limit} bytes (${bytes} bytes seen) and was dropped; ask for less (query: pass output to write ` +
        "the result to a file) or raise maxLineBytes",
      context,
    );
  }
}

export class ClientClosedError extends ArtifactStoreError {
  override name = "ClientClosedError";
}

export type RpcErrorClass = new (
  message: string,
  code: number,
  data: any,
  method: string,
  requestId: number | string | null,
  context?: ErrorContext,
) => RpcError;

const registry = new Map<number, RpcErrorClass>([
  [ParseError.code, ParseError],
  [InvalidRequestError.code, InvalidRequestError],
  [MethodNotFoundError.code, MethodNotFoundError],
  [InvalidParamsError.code, InvalidParamsError],
  [InternalError.code, InternalError],
  [RequestCancelledError.code, RequestCancelledError],
]);

/** Makes replies with `code` throw `cls`. Generated application errors register themselves. */
export function registerErrorClass(code: number, cls: RpcErrorClass): void {
  registry.set(code, cls);
}

/** The error for a JSON-RPC error object (an unknown code gives a plain RpcError). */
export function rpcErrorFromWire(
  error: { code?: unknown; message?: unknown; data?: unknown },
  method: string,
  requestId: number | string | null,
  context: ErrorContext = {},
): RpcError {
  const code = typeof error.code === "number" ? error.code : -32603;
  const message = typeof error.message === "string" ? error.message : `error ${code}`;
  const cls = registry.get(code) ?? RpcError;
  return new cls(message, code, error.data, method, requestId, context);
}
