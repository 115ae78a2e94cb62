/** NDJSON framing: the line reader and the backpressure-respecting writer, in memory. */

import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";

import { LineReader, LineWriter, LineTooLongError, serialize, WriteClosedError } from "../src/ndjson.js";

function collect(options = {}): { reader: LineReader; lines: string[]; overflows: LineTooLongError[] } {
  const lines: string[] = [];
  const overflows: LineTooLongError[] = [];
  const reader = new LineReader((line) => lines.push(line.toString("utf8")), {
    ...options,
    onOverflow: (e) => overflows.push(e),
  });
  return { reader, lines, overflows };
}

/** A LineWriter over a sink that records each write it gets, as one string per write. */
function recordingWriter(): { writes: string[]; writer: LineWriter } {
  const writes: string[] = [];
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: string, _enc, callback) {
      writes.push(chunk);
      callback();
    },
  });
  return { writes, writer: new LineWriter(sink) };
}

describe("LineReader", () => {
  it("splits lines within and across chunks", () => {
    const { reader, lines } = collect();
    reader.push(Buffer.from('{"a":1}\n{"b"'));
    assert.deepEqual(lines, ['{"a":1}']);
    reader.push(Buffer.from(":2"));
    reader.push(Buffer.from("}\n\n{}\n"));
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', "", "{}"]);
    assert.equal(reader.buffered, 0);
  });

  it("strips a trailing carriage return and keeps multi-byte characters split across chunks", () => {
    const { reader, lines } = collect();
    const bytes = Buffer.from('"héllo ✓"\r\n', "utf8");
    for (let i = 0; i < bytes.length; i++) reader.push(bytes.subarray(i, i + 1));
    assert.deepEqual(lines, ['"héllo ✓"']);
  });

  it("hands out an unterminated last line at end of stream", () => {
    const { reader, lines } = collect();
    reader.push(Buffer.from("one\ntwo"));
    reader.end();
    assert.deepEqual(lines, ["one", "two"]);
  });

  it("drops an over-long line, reports it once, and carries on at the next newline", () => {
    const { reader, lines, overflows } = collect({ maxLineBytes: 10 });
    reader.push(Buffer.from("short\n" + "x".repeat(8)));
    reader.push(Buffer.from("x".repeat(8)));
    reader.push(Buffer.from("x".repeat(8) + "\nnext\n"));
    assert.deepEqual(lines, ["short", "next"]);
    assert.equal(overflows.length, 1);
    assert.equal(overflows[0]!.limit, 10);
    // a long line that arrives whole is refused too
    reader.push(Buffer.from("y".repeat(11) + "\nok\n"));
    assert.deepEqual(lines, ["short", "next", "ok"]);
    assert.equal(overflows.length, 2);
  });

  it("frames a 50 MB line arriving in 64 KiB chunks at the cost of one concatenation", () => {
    const payload = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { text: "z".repeat(50 * 1024 * 1024) } }) + "\n";
    const bytes = Buffer.from(payload);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 65536) chunks.push(bytes.subarray(i, i + 65536));
    // Baseline in the same run (so a loaded machine slows both): one concatenation and one parse.
    const b0 = performance.now();
    JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const baseline = performance.now() - b0;
    let got: Buffer | undefined;
    const reader = new LineReader((line) => {
      got = line;
    });
    const t0 = performance.now();
    for (const chunk of chunks) reader.push(chunk);
    const framed = performance.now() - t0;
    const parsed = JSON.parse(got!.toString("utf8")) as { result: { text: string } };
    const total = performance.now() - t0;
    assert.equal(parsed.result.text.length, 50 * 1024 * 1024);
    // Copying the buffered prefix on every chunk would be ~800 copies of up to 50 MB: tens of times the baseline.
    assert.ok(total < 3 * baseline + 150, `framing + parse took ${total.toFixed(0)} ms, concat + parse ${baseline.toFixed(0)} ms`);
    assert.ok(framed < 2 * baseline + 100, `framing took ${framed.toFixed(0)} ms, concat + parse ${baseline.toFixed(0)} ms`);
  });

  it("does linear work: ten times the chunks costs about ten times, not a hundred", () => {
    const time = (n: number): number => {
      const reader = new LineReader(() => undefined);
      const chunk = Buffer.alloc(4096, 0x61);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) reader.push(chunk);
      reader.push(Buffer.from("\n"));
      return performance.now() - t0;
    };
    time(500); // warm-up
    const small = Math.max(time(1000), 0.5);
    const large = time(10000);
    assert.ok(large < small * 40, `1k chunks ${small.toFixed(1)} ms, 10k chunks ${large.toFixed(1)} ms`);
  });
});

/** A writable that accepts `capacity` bytes, then says "full" until `release()` drains it. */
class SlowSink extends Writable {
  readonly received: string[] = [];
  writesWhileFull = 0;
  private full = false;
  private pendingCallbacks: Array<() => void> = [];

  constructor() {
    super({ highWaterMark: 64, decodeStrings: false });
  }

  override write(chunk: unknown, ...rest: unknown[]): boolean {
    if (this.writableNeedDrain) this.writesWhileFull += 1;
    return super.write(chunk as string, ...(rest as [BufferEncoding]));
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, callback: () => void): void {
    this.received.push(chunk.toString());
    if (this.full) this.pendingCallbacks.push(callback);
    else {
      this.full = true;
      this.pendingCallbacks.push(callback);
    }
  }

  release(): void {
    this.full = false;
    const callbacks = this.pendingCallbacks.splice(0);
    for (const cb of callbacks) cb();
  }
}

describe("LineWriter", () => {
  it("waits for drain when the stream is full and keeps the order", async () => {
    const sink = new SlowSink();
    const writer = new LineWriter(sink);
    const sends = Array.from({ length: 50 }, (_, i) => writer.send({ i, pad: "p".repeat(40) }));
    assert.ok(writer.queued > 0, "later lines are held back while the stream is full");
    while (writer.queued > 0 || sink.writableLength > 0) {
      sink.release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(sends);
    assert.equal(sink.writesWhileFull, 0, "no write() while the stream asked for drain");
    const order = sink.received.join("").trimEnd().split("\n").map((l) => (JSON.parse(l) as { i: number }).i);
    assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
  });

  it("rejects queued and later lines once the stream is closed", async () => {
    const sink = new SlowSink();
    const writer = new LineWriter(sink);
    const first = writer.send({ a: "x".repeat(100) });
    const queued = writer.send({ b: 1 });
    writer.close();
    await first;
    await assert.rejects(queued, WriteClosedError);
    await assert.rejects(writer.send({ c: 1 }), WriteClosedError);
  });

  it("writes a line at once and gathers the rest of the tick into one write", async () => {
    const { writes, writer } = recordingWriter();
    const done: (Error | undefined)[] = [];
    const tags: (number | undefined)[] = [];
    const onDone = (e: Error | undefined, tag?: number): void => {
      done.push(e);
      tags.push(tag);
    };
    for (let i = 0; i < 5; i++) writer.writeLine(`{"i":${i}}\n`, onDone, 10 + i);
    assert.deepEqual(writes, ['{"i":0}\n'], "the first line goes out at once");
    assert.equal(writer.queued, 4);
    await new Promise((resolve) => process.nextTick(resolve));
    assert.deepEqual(writes, ['{"i":0}\n', '{"i":1}\n{"i":2}\n{"i":3}\n{"i":4}\n'], "the rest in one write, in order");
    assert.deepEqual(done, [undefined, undefined, undefined, undefined, undefined]);
    assert.deepEqual(tags, [10, 11, 12, 13, 14], "one callback for every line: each told its own tag");
    await new Promise((resolve) => setImmediate(resolve));
    writer.writeLine('{"i":5}\n');
    assert.equal(writes.length, 3, "a later tick writes at once again");
  });

  it("a line written alone starts no gathering: the next line of the tick goes at once and gathers the rest", async () => {
    const { writes, writer } = recordingWriter();
    writer.writeLine('{"i":0}\n', undefined, undefined, true);
    assert.equal(writer.queued, 0);
    for (let i = 1; i < 4; i++) writer.writeLine(`{"i":${i}}\n`);
    assert.deepEqual(writes, ['{"i":0}\n', '{"i":1}\n'], "the line after a lone one goes out at once too");
    await new Promise((resolve) => process.nextTick(resolve));
    assert.deepEqual(writes, ['{"i":0}\n', '{"i":1}\n', '{"i":2}\n{"i":3}\n'], "and gathers the rest of the tick");
    for (let i = 4; i < 6; i++) writer.writeLine(`{"i":${i}}\n`, undefined, undefined, true);
    assert.equal(writes.length, 5, "lone lines in a tick with nothing queued each go out at once");
  });

  it("sends null, and NaN hidden beside a null still fails", () => {
    assert.equal(serialize({ a: null, b: "null" }), '{"a":null,"b":"null"}\n');
    assert.throws(() => serialize({ a: null, b: Number.NaN }), /NaN at key "b"/);
  });

  it("refuses NaN, Infinity and bigint instead of sending null", () => {
    assert.throws(() => serialize({ x: Number.NaN }), /NaN/);
    assert.throws(() => serialize({ y: [1, Number.POSITIVE_INFINITY] }), /Infinity/);
    assert.throws(() => serialize({ z: 10n }), /bigint/);
    assert.equal(serialize({ ok: 1.5, when: new Date(0) }), '{"ok":1.5,"when":"1970-01-01T00:00:00.000Z"}\n');
  });
});
