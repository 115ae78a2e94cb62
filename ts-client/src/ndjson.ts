/**
 * Newline-delimited JSON framing: bytes in, lines out; messages in, bytes out.
 *
 * The reader scans each chunk once, only for the bytes it has not seen (no re-scanning of a
 * growing buffer, so a 50 MB line costs one `indexOf` pass plus one concat). The writer keeps
 * messages in order, gathers those of one tick into one write, and waits for `drain` when the
 * pipe says it is full.
 */

import type { Writable } from "node:stream";

const NEWLINE = 0x0a;

/** A line longer than the reader's limit. The reader drops it and carries on at the next newline. */
export class LineTooLongError extends Error {
  override readonly name = "LineTooLongError";
  constructor(
    readonly limit: number,
    readonly seen: number,
    /** The line's first bytes (at most HEAD_BYTES): enough to tell whose reply it was. */
    readonly head: Buffer = Buffer.alloc(0),
  ) {
    super(`a line from the daemon exceeded ${limit} bytes (${seen} bytes so far without a newline)`);
  }
}

/** How much of a dropped line LineTooLongError keeps. */
export const HEAD_BYTES = 512;

export interface LineReaderOptions {
  /** Largest accepted line in bytes, newline excluded. */
  maxLineBytes?: number;
  /** Called once per oversized line, when the limit is crossed. */
  onOverflow?: (error: LineTooLongError) => void;
}

/**
 * Splits a byte stream into lines. Feed it chunks with `push`; each complete line (without the
 * `\n`, and without a trailing `\r`) is handed to `onLine` as a Buffer.
 */
export class LineReader {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private discarding = false;
  private readonly maxLineBytes: number;

  constructor(
    private readonly onLine: (line: Buffer) => void,
    private readonly options: LineReaderOptions = {},
  ) {
    this.maxLineBytes = options.maxLineBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Bytes held for the current incomplete line. */
  get buffered(): number {
    return this.partBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        this.keep(chunk, start);
        return;
      }
      this.finish(chunk.subarray(start, nl));
      start = nl + 1;
    }
  }

  /** The stream ended: an unterminated last line is still a line. */
  end(): void {
    if (this.partBytes > 0 && !this.discarding) {
      this.finish(Buffer.alloc(0));
    }
    this.reset();
  }

  private keep(chunk: Buffer, start: number): void {
    if (start >= chunk.length || this.discarding) return;
    const tail = chunk.subarray(start);
    this.parts.push(tail);
    this.partBytes += tail.length;
    if (this.partBytes > this.maxLineBytes) {
      this.options.onOverflow?.(new LineTooLongError(this.maxLineBytes, this.partBytes, this.head()));
      this.discarding = true;
      this.parts = [];
    }
  }

  private finish(last: Buffer): void {
    if (this.discarding) {
      this.reset();
      return;
    }
    const total = this.partBytes + last.length;
    if (total > this.maxLineBytes) {
      this.options.onOverflow?.(new LineTooLongError(this.maxLineBytes, total, this.head(last)));
      this.reset();
      return;
    }
    let line = this.parts.length === 0 ? last : Buffer.concat([...this.parts, last], total);
    this.reset();
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    this.onLine(line);
  }

  /** The first HEAD_BYTES of the current line (held parts, then `last`). */
  private head(last?: Buffer): Buffer {
    const pieces: Buffer[] = [];
    let n = 0;
    for (const part of last ? [...this.parts, last] : this.parts) {
      if (n >= HEAD_BYTES) break;
      const piece = part.subarray(0, HEAD_BYTES - n);
      pieces.push(piece);
      n += piece.length;
    }
    return Buffer.concat(pieces, n);
  }

  private reset(): void {
    this.parts = [];
    this.partBytes = 0;
    this.discarding = false;
  }
}

/** The stream was destroyed or ended before a queued line could be written. */
export class WriteClosedError extends Error {
  override readonly name = "WriteClosedError";
}

/**
 * Called once per queued line: without an error once it was handed to the stream, else with the
 * error; `tag` is what the line was queued with (one callback can then serve every line).
 */
type LineDone = (error: Error | undefined, tag?: number) => void;

/**
 * Writes one JSON message per line, in order, honouring backpressure: when `write` returns
 * false, later lines wait for `drain`. A line goes to the stream at once when nothing is queued;
 * lines sent after it in the same tick are gathered and written together on the next tick (many
 * calls issued together cost the daemon one read, not one per line); a line written `alone`
 * (see writeLine) starts no gathering, so a sequential caller schedules nothing per call. `send`
 * resolves when the line was handed to the stream.
 */
export class LineWriter {
  private readonly queue: string[] = [];
  private readonly done: (LineDone | undefined)[] = [];
  private readonly tags: (number | undefined)[] = [];
  private waitingForDrain = false;
  private gathering = false;
  private closedError: Error | undefined;

  constructor(private readonly stream: Writable) {
    stream.on("drain", this.onDrain);
    stream.on("close", this.onClose);
    // An EPIPE after the child died must not become an uncaught exception.
    stream.on("error", this.onError);
  }

  /** Lines waiting for the next tick or for the stream to drain. */
  get queued(): number {
    return this.queue.length;
  }

  /** Serialises and queues one message; throws at once if it is not serialisable. */
  send(message: unknown): Promise<void> {
    return this.sendLine(serialize(message));
  }

  /** Queues an already serialised line (ending in `\n`). */
  sendLine(data: string): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<void>((resolve, reject) => {
      this.writeLine(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Queues an already serialised line (ending in `\n`) without a promise: `done` (optional) is
   * called with the error if the line cannot be written, and without one once it was handed over.
   * `alone`: the caller knows of no other line coming in this tick (a client with no other call
   * pending), so a line that can go out at once does so without starting a gathering for the
   * rest of the tick (no `nextTick` scheduled); a line that does come later in the tick is
   * written at once too and starts the gathering then.
   */
  writeLine(data: string, done?: LineDone, tag?: number, alone = false): void {
    if (this.closedError) {
      done?.(this.closedError, tag);
      return;
    }
    if (this.queue.length > 0 || this.waitingForDrain || this.gathering) {
      this.queue.push(data);
      this.done.push(done);
      this.tags.push(tag);
      return;
    }
    if (this.streamGone()) {
      done?.(this.closedError, tag);
      return;
    }
    if (!alone) {
      this.gathering = true;
      process.nextTick(this.endTick);
    }
    if (!this.stream.write(data)) this.waitingForDrain = true;
    done?.(undefined, tag);
  }

  /** Stops writing and rejects what is still queued. */
  close(error: Error = new WriteClosedError("the daemon's stdin is closed")): void {
    if (!this.closedError) this.closedError = error;
    this.failQueued();
    this.stream.off("drain", this.onDrain);
  }

  private streamGone(): boolean {
    if (this.closedError || this.stream.destroyed || this.stream.writableEnded) {
      this.closedError ??= new WriteClosedError("the daemon's stdin is closed");
      this.failQueued();
      return true;
    }
    return false;
  }

  /** Everything queued, as one write. */
  private flush(): void {
    if (this.queue.length === 0 || this.waitingForDrain || this.streamGone()) return;
    const data = this.queue.length === 1 ? this.queue[0]! : this.queue.join("");
    const done = this.done.splice(0);
    const tags = this.tags.splice(0);
    this.queue.length = 0;
    if (!this.stream.write(data)) this.waitingForDrain = true;
    for (let i = 0; i < done.length; i++) done[i]?.(undefined, tags[i]);
  }

  private failQueued(): void {
    const error = this.closedError!;
    const done = this.done.splice(0);
    const tags = this.tags.splice(0);
    this.queue.length = 0;
    for (let i = 0; i < done.length; i++) done[i]?.(error, tags[i]);
  }

  private readonly endTick = (): void => {
    this.gathering = false;
    this.flush();
  };

  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    this.flush();
  };

  private readonly onClose = (): void => {
    this.close();
  };

  private readonly onError = (error: Error): void => {
    this.close(new WriteClosedError(`writing to the daemon failed: ${error.message}`));
  };
}

/** JSON text of one message plus `\n`. NaN and Infinity are refused rather than sent as null. */
export function serialize(message: unknown): string {
  const text = serializeValue(message);
  if (text === undefined) throw new TypeError("message is not JSON-serialisable");
  return text + "\n";
}

/**
 * JSON text of one value (no newline), or undefined for what JSON.stringify leaves out (a
 * function, a symbol, undefined). NaN and Infinity are refused rather than sent as null.
 */
export function serializeValue(value: unknown): string | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined; // a bigint (or a cycle): the checking pass below says which
  }
  // JSON.stringify writes NaN and Infinity as null: only a text with a null can hide one, so only
  // then (or after an error) is the value walked again with the checking replacer.
  if (text === undefined || text.includes("null")) text = JSON.stringify(value, rejectNonFinite);
  return text;
}

function rejectNonFinite(this: unknown, key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new TypeError(`cannot send ${value} at key ${JSON.stringify(key)}: the wire has no NaN/Infinity`);
  }
  if (typeof value === "bigint") {
    throw new TypeError(`cannot send a bigint at key ${JSON.stringify(key)}: convert it to a number or string`);
  }
  return value;
}
