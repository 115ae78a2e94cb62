/** JSON-RPC connection over an in-memory duplex: correlation, timeouts, cancel, progress, errors. */

import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";

import { JsonRpcConnection, type ConnectionOptions, type Progress } from "../src/connection.js";
import {
  ArtifactStoreError,
  ClientClosedError,
  InvalidParamsError,
  MethodNotFoundError,
  ProtocolError,
  RequestAbortedError,
  RequestCancelledError,
  RequestTimeoutError,
  RequestTooLargeError,
  ResponseTooLargeError,
  RpcError,
} from "../src/errors.js";
import { LineReader } from "../src/ndjson.js";
import { within } from "./helpers.js";

interface Msg {
  jsonrpc: string;
  id?: number;
  method?: string;
  params?: any;
}

/** A connection plus the peer end: `received` holds what the client wrote; `send` answers. */
function pair(options: ConnectionOptions = {}) {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const received: Msg[] = [];
  const waiters: Array<() => void> = [];
  const reader = new LineReader((line) => {
    received.push(JSON.parse(line.toString("utf8")) as Msg);
    for (const w of waiters.splice(0)) w();
  });
  toServer.on("data", (chunk: Buffer) => reader.push(chunk));
  const protocolErrors: ProtocolError[] = [];
  const conn = new JsonRpcConnection(toClient, toServer, {
    ...options,
    onProtocolError: (e) => protocolErrors.push(e),
  });
  const send = (message: unknown): void => {
    toClient.write(typeof message === "string" ? message : JSON.stringify(message) + "\n");
  };
  const until = async (check: () => boolean): Promise<void> => {
    while (!check()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { conn, received, send, until, protocolErrors };
}

describe("JsonRpcConnection", () => {
  it("correlates replies that arrive out of order", async () => {
    const { conn, received, send, until } = pair();
    const calls = [1, 2, 3, 4, 5].map((n) => conn.request("echo", { n }));
    await until(() => received.length === 5);
    for (const msg of [...received].reverse()) send({ jsonrpc: "2.0", id: msg.id, result: msg.params.n * 10 });
    assert.deepEqual(await Promise.all(calls), [10, 20, 30, 40, 50]);
    assert.equal(conn.pendingCount, 0);
    assert.equal(new Set(received.map((m) => m.id)).size, 5, "ids are unique");
  });

  it("maps error codes to typed classes carrying data", async () => {
    const { conn, received, send, until } = pair({ stderrTail: () => "last stderr line" });
    const bad = conn.request("getArtifact", { artifactId: 5 });
    const unknown = conn.request("nope", {});
    const app = conn.request("getArtifact", { artifactId: "x" });
    await until(() => received.length === 3);
    send({ jsonrpc: "2.0", id: received[0]!.id, error: { code: -32602, message: "invalid params", data: { path: "$.artifactId" } } });
    send({ jsonrpc: "2.0", id: received[1]!.id, error: { code: -32601, message: "no such method" } });
    send({ jsonrpc: "2.0", id: received[2]!.id, error: { code: -31999, message: "custom", data: { artifactId: "x" } } });
    const e1 = await bad.catch((e: unknown) => e);
    assert.ok(e1 instanceof InvalidParamsError);
    assert.ok(e1 instanceof RpcError && e1 instanceof ArtifactStoreError);
    assert.equal(e1.code, -32602);
    assert.deepEqual(e1.data, { path: "$.artifactId" });
    assert.equal(e1.method, "getArtifact");
    assert.equal(e1.stderrTail, "last stderr line");
    await assert.rejects(unknown, MethodNotFoundError);
    const e3 = await app.catch((e: unknown) => e);
    assert.ok(e3 instanceof RpcError && e3.constructor === RpcError, "unknown codes give a plain RpcError");
    assert.deepEqual((e3 as RpcError).data, { artifactId: "x" });
  });

  it("times out, sends $/cancelRequest, and ignores the late reply", async () => {
    const { conn, received, send, until } = pair({ defaultTimeoutMs: 50 });
    const call = conn.request("slow", {});
    const err = await call.catch((e: unknown) => e);
    assert.ok(err instanceof RequestTimeoutError);
    assert.equal(err.timeoutMs, 50);
    await until(() => received.some((m) => m.method === "$/cancelRequest"));
    const cancel = received.find((m) => m.method === "$/cancelRequest")!;
    assert.deepEqual(cancel.params, { id: received[0]!.id });
    assert.equal(cancel.id, undefined, "cancel is a notification");
    send({ jsonrpc: "2.0", id: received[0]!.id, error: { code: -32800, message: "cancelled" } });
    // still usable
    const next = conn.request("echo", {}, { timeoutMs: 0 });
    await until(() => received.length === 3);
    send({ jsonrpc: "2.0", id: received[2]!.id, result: "ok" });
    assert.equal(await next, "ok");
  });

  it("aborts via AbortSignal, before and after sending", async () => {
    const { conn, received, until } = pair();
    const controller = new AbortController();
    const call = conn.request("slow", {}, { signal: controller.signal });
    await until(() => received.length === 1);
    controller.abort(new Error("user gave up"));
    const err = await call.catch((e: unknown) => e);
    assert.ok(err instanceof RequestAbortedError);
    assert.equal(err.requestId, received[0]!.id);
    assert.match(String((err.cause as Error).message), /user gave up/);
    await until(() => received.length === 2);
    assert.equal(received[1]!.method, "$/cancelRequest");
    const pre = await conn.request("x", {}, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    assert.ok(pre instanceof RequestAbortedError && pre.requestId === null);
    assert.equal(received.length, 2, "an already-aborted call is never sent");
  });

  it("a thousand calls sharing one AbortSignal: one listener, all cancelled, no warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on("warning", onWarning);
    try {
      const { conn, received, send, until } = pair();
      const controller = new AbortController();
      const calls = Array.from({ length: 1000 }, (_, i) => conn.request("slow", { i }, { signal: controller.signal }).catch((e: unknown) => e));
      await until(() => received.length === 1000);
      // one call finishes normally: its watch is dropped, the others stay
      send({ jsonrpc: "2.0", id: received[0]!.id, result: "done" });
      assert.equal(await calls[0], "done");
      controller.abort();
      const errors = await Promise.all(calls.slice(1));
      assert.ok(errors.every((e) => e instanceof RequestAbortedError));
      await until(() => received.filter((m) => m.method === "$/cancelRequest").length === 999);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.filter((w) => w.name === "MaxListenersExceededWarning"), []);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("mixed timeouts each expire at their own time, answered calls never do", async () => {
    const { conn, received, send, until } = pair({ defaultTimeoutMs: 0 });
    const t0 = performance.now();
    const settledAt = new Map<string, number>();
    const watch = (name: string, call: Promise<unknown>) =>
      call.then(
        (value) => { settledAt.set(name, performance.now() - t0); return value; },
        (error: unknown) => { settledAt.set(name, performance.now() - t0); return error; },
      );
    // armed latest-first, so the timer must move earlier; an answered call's deadline must not fire
    const slow = watch("slow", conn.request("a", {}, { timeoutMs: 300 }));
    const answered = watch("answered", conn.request("b", {}, { timeoutMs: 60 }));
    const fast = watch("fast", conn.request("c", {}, { timeoutMs: 100 }));
    const none = watch("none", conn.request("d", {}));
    await until(() => received.length === 4);
    send({ jsonrpc: "2.0", id: received[1]!.id, result: "b" });
    assert.equal(await answered, "b");
    assert.ok((await fast) instanceof RequestTimeoutError);
    assert.ok((await slow) instanceof RequestTimeoutError);
    assert.ok(settledAt.get("fast")! >= 99 && settledAt.get("fast")! < 250, `fast at ${settledAt.get("fast")}`);
    assert.ok(settledAt.get("slow")! >= 299 && settledAt.get("slow")! < 450, `slow at ${settledAt.get("slow")}`);
    assert.ok(!settledAt.has("none"), "a call without a timeout is still pending");
    const cancels = received.filter((m) => m.method === "$/cancelRequest").map((m) => m.params.id);
    assert.deepEqual(cancels, [received[2]!.id, received[0]!.id]);
    send({ jsonrpc: "2.0", id: received[3]!.id, result: "d" });
    assert.equal(await none, "d");
  });

  it("many sequential calls with a timeout leave no timer per call behind", async () => {
    const { conn, received, send } = pair({ defaultTimeoutMs: 60_000 });
    for (let i = 0; i < 200; i++) {
      const call = conn.request("echo", { i });
      await new Promise((r) => setImmediate(r));
      send({ jsonrpc: "2.0", id: received[received.length - 1]!.id, result: i });
      assert.equal(await call, i);
    }
    const timers = (process as unknown as { getActiveResourcesInfo(): string[] })
      .getActiveResourcesInfo()
      .filter((r) => r === "Timeout");
    assert.ok(timers.length <= 1, `${timers.length} timers after 200 calls`);
    conn.close(new Error("done"));
  });

  it("delivers progress to the right call and restarts its timeout", async () => {
    const { conn, received, send, until } = pair();
    const seen: Progress[] = [];
    const other: Progress[] = [];
    const call = conn.request("long", {}, { timeoutMs: 150, onProgress: (p) => seen.push(p) });
    const call2 = conn.request("long2", {}, { onProgress: (p) => other.push(p) });
    await until(() => received.length === 2);
    const id = received[0]!.id;
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 80));
      send({ jsonrpc: "2.0", method: "$/progress", params: { id, done: i, total: 4, message: `step ${i}` } });
    }
    send({ jsonrpc: "2.0", id, result: "done" });
    assert.equal(await call, "done", "320 ms of work with a 150 ms timeout survived on progress");
    assert.deepEqual(seen.map((p) => p.done), [0, 1, 2, 3]);
    assert.deepEqual(seen[3], { done: 3, total: 4, message: "step 3" });
    assert.equal(other.length, 0);
    send({ jsonrpc: "2.0", id: received[1]!.id, error: { code: -32800, message: "cancelled" } });
    await assert.rejects(call2, RequestCancelledError);
  });

  it("reports garbage lines and keeps going", async () => {
    const { conn, received, send, until, protocolErrors } = pair();
    const call = conn.request("echo", {});
    await until(() => received.length === 1);
    send("Hello from a print() somewhere\n");
    send('{"no":"jsonrpc"}\n');
    send({ jsonrpc: "2.0", id: received[0]!.id, result: 1 });
    assert.equal(await call, 1);
    assert.equal(protocolErrors.length, 2);
    assert.match(protocolErrors[0]!.message, /not JSON.*Hello from a print/);
  });

  it("a reply over maxLineBytes is dropped and its call rejected, not left pending", async () => {
    const { conn, received, send, until, protocolErrors } = pair({ maxLineBytes: 1000, defaultTimeoutMs: 0 });
    const big = conn.request("query", { sql: "big" });
    const small = conn.request("query", { sql: "small" });
    await until(() => received.length === 2);
    const [bigId, smallId] = received.map((m) => m.id!);
    // the daemon's envelope order: jsonrpc, id, result; sent in pieces, as a pipe delivers it
    const line = `{"jsonrpc":"2.0","id":${bigId},"result":{"rows":[${'"x",'.repeat(2000)}"x"]}}\n`;
    for (let i = 0; i < line.length; i += 300) send(line.slice(i, i + 300));
    const error = await within(big.catch((e: unknown) => e), 5000, "the call whose reply was dropped");
    assert.ok(error instanceof ResponseTooLargeError && error instanceof ProtocolError, String(error));
    assert.equal(error.requestId, bigId);
    assert.equal(error.limit, 1000);
    assert.match(error.message, /query \(id \d+\).*line limit of 1000 bytes.*output/);
    assert.equal(conn.pendingCount, 1, "the other call still waits for its own reply");
    send({ jsonrpc: "2.0", id: smallId, result: 7 });
    assert.equal(await small, 7);
    assert.equal(protocolErrors.length, 1);
    // a dropped line that names no id: every pending call fails rather than hang
    const a = conn.request("a", {});
    const b = conn.request("b", {});
    await until(() => received.length === 4);
    send(`{"result":"${"y".repeat(2000)}"}\n`);
    for (const p of [a, b]) {
      assert.ok((await within(p.catch((e: unknown) => e), 5000, "an unattributed call")) instanceof ResponseTooLargeError);
    }
    // a dropped notification fails nothing
    const c = conn.request("c", {});
    await until(() => received.length === 5);
    send(`{"jsonrpc":"2.0","method":"$/progress","params":{"id":${received[4]!.id},"message":"${"z".repeat(2000)}"}}\n`);
    send({ jsonrpc: "2.0", id: received[4]!.id, result: "ok" });
    assert.equal(await c, "ok");
  });

  it("answers a request from the daemon with method-not-found", async () => {
    const { received, send, until } = pair();
    send({ jsonrpc: "2.0", id: "srv-1", method: "window/showMessage", params: {} });
    await until(() => received.length === 1);
    assert.equal(received[0]!.id as unknown, "srv-1");
    assert.equal((received[0] as any).error.code, -32601);
  });

  it("close rejects every pending call at once and refuses new ones", async () => {
    const { conn, received, until } = pair();
    const calls = Array.from({ length: 20 }, (_, i) => conn.request("slow", { i }).catch((e: unknown) => e));
    await until(() => received.length === 20);
    conn.close(new ClientClosedError("bye"));
    const errors = await Promise.all(calls);
    assert.ok(errors.every((e) => e instanceof ClientClosedError));
    await assert.rejects(conn.request("x", {}), ClientClosedError);
    assert.equal(conn.pendingCount, 0);
  });

  it("refuses a request over maxRequestBytes without sending it", async () => {
    const { conn, received } = pair({ maxRequestBytes: 200 });
    const err = await conn.request("publish", { rows: "é".repeat(150) }).catch((e: unknown) => e);
    assert.ok(err instanceof RequestTooLargeError, String(err));
    assert.ok(err.bytes > 200 && err.limit === 200);
    assert.equal(conn.pendingCount, 0);
    assert.equal(received.length, 0);
    // just under the limit in characters but over it in UTF-8 bytes is caught too; ASCII under it passes
    await assert.rejects(conn.request("p", { s: "é".repeat(80) }), RequestTooLargeError);
    void conn.request("p", { s: "a".repeat(100) });
    await new Promise((r) => setImmediate(r));
    assert.equal(received.length, 1);
  });

  it("writes each request as JSON.stringify of its envelope would", async () => {
    const toServer = new PassThrough();
    const chunks: Buffer[] = [];
    toServer.on("data", (c: Buffer) => chunks.push(c));
    const conn = new JsonRpcConnection(new PassThrough(), toServer);
    // methods and params with quotes, escapes, unicode, nulls, nesting, toJSON, and left-out values
    const cases: Array<[string, unknown]> = [
      ["getArtifact", { artifactId: "a".repeat(32) }],
      ['we"ird\\name\n', { s: 'q"uote \\ \u0001 é 😀', n: null, a: [1, -2.5, 1e21, true, null], o: { d: new Date(0) } }],
      ["noParams", undefined],
      ["emptyParams", {}],
      ["array", [1, "two", { three: 3 }]],
      ["dropped", { keep: 1, fn: () => 1, u: undefined, sym: Symbol("s") }],
      ["fnParams", () => 1],
    ];
    for (const [method, params] of cases) void conn.request(method, params).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    const lines = Buffer.concat(chunks).toString("utf8").split("\n");
    assert.equal(lines.pop(), "");
    assert.deepEqual(
      lines,
      cases.map(([method, params], i) =>
        JSON.stringify(params === undefined ? { jsonrpc: "2.0", id: i + 1, method } : { jsonrpc: "2.0", id: i + 1, method, params }),
      ),
    );
    conn.close(new Error("done"));
  });

  it("rejects a call whose line cannot be written, naming the method", async () => {
    const output = new PassThrough();
    output.end(); // the daemon's stdin is gone
    const conn = new JsonRpcConnection(new PassThrough(), output);
    const error = await conn.request("getArtifact", { artifactId: "a" }).catch((e: unknown) => e);
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /could not send getArtifact to the daemon/);
    assert.equal(conn.pendingCount, 0);
  });

  it("refuses unserialisable params without leaving a pending call", async () => {
    const { conn } = pair();
    await assert.rejects(conn.request("x", { v: Number.NaN }), /NaN/);
    assert.equal(conn.pendingCount, 0);
  });

  it("signals busy/idle transitions", async () => {
    const changes: boolean[] = [];
    const { conn, received, send, until } = pair({ onBusyChange: (b) => changes.push(b) });
    const a = conn.request("a", {});
    const b = conn.request("b", {});
    await until(() => received.length === 2);
    send({ jsonrpc: "2.0", id: received[0]!.id, result: 1 });
    send({ jsonrpc: "2.0", id: received[1]!.id, result: 2 });
    await Promise.all([a, b]);
    assert.deepEqual(changes, [true, false]);
  });
});
