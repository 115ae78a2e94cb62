/**
 * Process lifecycle against small fake daemons (test/fixtures/fake_daemon.py): crashes, garbage
 * on stdout, protocol-version refusal, auto-restart, close escalation, python discovery.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync, chmodSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";

import { DaemonClient, type DaemonClientOptions } from "../src/daemon-client.js";
import { resolvePython, PYTHON_ENV_VAR } from "../src/discovery.js";
import { StderrTail } from "../src/process.js";
import {
  ClientClosedError,
  DaemonExitedError,
  DaemonStartError,
  ProtocolError,
  ProtocolVersionError,
  RequestAbortedError,
  RequestTimeoutError,
} from "../src/errors.js";
import { PROTOCOL_VERSION } from "../src/protocol.js";
import { FIXTURES, REPO_PYTHON, processExists, tempDir, waitFor, within } from "./helpers.js";

const FAKE = path.join(FIXTURES, "fake_daemon.py");
const clients: DaemonClient[] = [];

function fake(args: string[] = [], options: DaemonClientOptions = {}): DaemonClient {
  const client = new DaemonClient({
    pythonPath: REPO_PYTHON,
    serverArgs: [FAKE, "--protocol-version", PROTOCOL_VERSION, ...args],
    ...options,
  });
  clients.push(client);
  return client;
}

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe("lifecycle with a fake daemon", () => {
  it("starts, answers, and closes gracefully leaving no process", async () => {
    const client = fake();
    const info = await client.start();
    assert.equal(info.protocolVersion, PROTOCOL_VERSION);
    const pid = client.pid!;
    assert.ok(processExists(pid));
    assert.deepEqual(await client.requestUntyped("echo", { a: 1 }), { a: 1 });
    await within(client.close(), 5000, "close");
    assert.equal(client.state, "closed");
    assert.ok(!processExists(pid), "daemon is gone after close()");
    await assert.rejects(client.requestUntyped("echo", {}), ClientClosedError);
  });

  it("sends the lake's backend options (manifest, artifact store, S3 endpoint) in initialize", async () => {
    const plain = fake();
    const info0 = (await plain.start()) as unknown as { echoedParams: Record<string, unknown> };
    assert.equal(info0.echoedParams.lake, undefined); // nothing named: the daemon's own configuration
    const client = fake([], {
      manifest: "postgresql://research@db/lake",
      artifacts: "s3://bucket/team",
      s3Endpoint: "http://127.0.0.1:9000",
    });
    const info = (await client.start()) as unknown as { echoedParams: Record<string, unknown> };
    assert.deepEqual(info.echoedParams.lake, {
      manifest: "postgresql://research@db/lake",
      artifacts: "s3://bucket/team",
      s3Endpoint: "http://127.0.0.1:9000",
    });
  });

  it("a crash rejects every pending call at once with exit code and stderr tail", async () => {
    const client = fake();
    await client.start();
    const pending = Array.from({ length: 25 }, () => client.requestUntyped("sleep", { ms: 5000 }).catch((e: unknown) => e));
    const crash = client.requestUntyped("crash", { code: 7 }).catch((e: unknown) => e);
    const t0 = Date.now();
    const errors = await within(Promise.all([...pending, crash]), 3000, "pending calls to fail");
    assert.ok(Date.now() - t0 < 2000);
    for (const e of errors) {
      assert.ok(e instanceof DaemonExitedError, String(e));
      assert.equal(e.exitCode, 7);
      assert.match(e.stderrTail ?? "", /crashing on purpose/);
      assert.match(e.message, /exited with code 7[\s\S]*Traceback: boom/);
    }
    assert.equal(client.state, "exited");
    await assert.rejects(client.requestUntyped("echo", {}), DaemonExitedError);
  });

  it("a daemon that dies at start-up reports its exit code and stderr", async () => {
    const client = fake(["--crash-on-start", "4"]);
    const err = await client.start().catch((e: unknown) => e);
    assert.ok(err instanceof DaemonExitedError, String(err));
    assert.equal(err.exitCode, 4);
    assert.match(err.message, /during start-up/);
    assert.match(err.stderrTail ?? "", /cannot start/);
  });

  it("a python that does not exist gives a DaemonStartError naming it", async () => {
    const client = new DaemonClient({ pythonPath: "/nonexistent/python3" });
    const err = await client.start().catch((e: unknown) => e);
    assert.ok(err instanceof DaemonStartError, String(err));
    assert.match(err.message, /\/nonexistent\/python3.*pythonPath/);
  });

  it("refuses a daemon with an unsupported protocol version and stops it", async () => {
    const client = fake(["--protocol-version", "999"]);
    const err = await client.start().catch((e: unknown) => e);
    assert.ok(err instanceof ProtocolVersionError, String(err));
    assert.equal(err.offered, "999");
    assert.match(err.message, /999.*supports/);
    assert.equal(client.pid, undefined, "the refused daemon was stopped");
  });

  it("garbage on stdout is reported and calls keep working", async () => {
    const client = fake(["--garbage-on-start"]);
    const seen: ProtocolError[] = [];
    client.on("protocolError", (e) => seen.push(e));
    await client.start();
    assert.equal(await client.requestUntyped("garbage", {}), "after garbage");
    assert.deepEqual(await client.requestUntyped("echo", { b: 2 }), { b: 2 });
    assert.equal(seen.length, 2);
    assert.match(seen[0]!.message, /Welcome banner/);
    assert.match(seen[1]!.message, /this is not json/);
  });

  it("timeout and abort send $/cancelRequest; the daemon answers -32800 and stays usable", async () => {
    const client = fake();
    await client.start();
    const t = await client.requestUntyped("sleep", { ms: 3000, steps: 1 }, { timeoutMs: 100 }).catch((e: unknown) => e);
    assert.ok(t instanceof RequestTimeoutError);
    const controller = new AbortController();
    const progress: number[] = [];
    const call = client.requestUntyped("sleep", { ms: 3000, steps: 300 }, { signal: controller.signal, onProgress: (p) => progress.push(p.done) });
    await waitFor(() => progress.length >= 2, 3000, "progress");
    controller.abort();
    await assert.rejects(call, RequestAbortedError);
    assert.deepEqual(await client.requestUntyped("echo", { still: "alive" }), { still: "alive" });
  });

  it("auto-restarts with backoff up to the cap", async () => {
    const client = fake([], { autoRestart: { maxRestarts: 2, initialDelayMs: 20, maxDelayMs: 100 } });
    const restarts: number[] = [];
    const exits: DaemonExitedError[] = [];
    client.on("restart", (r) => restarts.push(r.attempt));
    client.on("exit", (e) => exits.push(e));
    await client.start();
    const firstPid = client.pid;
    await assert.rejects(client.requestUntyped("crash", { code: 9 }), DaemonExitedError);
    // a call made while restarting waits for the new daemon
    assert.deepEqual(await within(client.requestUntyped("echo", { n: 1 }), 5000, "call after restart"), { n: 1 });
    assert.notEqual(client.pid, firstPid);
    await assert.rejects(client.requestUntyped("crash", { code: 9 }), DaemonExitedError);
    assert.deepEqual(await within(client.requestUntyped("echo", { n: 2 }), 5000, "second restart"), { n: 2 });
    assert.deepEqual(restarts, [1, 2]);
    await assert.rejects(client.requestUntyped("crash", { code: 9 }), DaemonExitedError);
    // cap reached: no third restart
    await waitFor(() => client.state === "failed" || client.state === "exited", 3000, "give up");
    await assert.rejects(client.requestUntyped("echo", {}), DaemonExitedError);
    assert.equal(exits.length, 3);
  });

  it("close escalates to SIGKILL when the daemon ignores shutdown, EOF and SIGTERM", async () => {
    const client = fake(["--ignore-shutdown"], { closeTimeouts: { shutdownMs: 150, exitMs: 150, terminateMs: 150 } });
    await client.start();
    const pid = client.pid!;
    const pending = client.requestUntyped("sleep", { ms: 60000, steps: 1 }, { timeoutMs: 0 }).catch((e: unknown) => e);
    const t0 = Date.now();
    await within(client.close(), 3000, "close");
    assert.ok(Date.now() - t0 >= 400, "waited through shutdown, exit and terminate");
    assert.ok(!processExists(pid));
    const err = await pending;
    assert.ok(err instanceof ClientClosedError, String(err));
  });

  it("1,000 interleaved concurrent calls are correlated by id", async () => {
    const client = fake();
    await client.start();
    const calls = Array.from({ length: 1000 }, (_, i) =>
      i % 3 === 0
        ? client.requestUntyped("fail", { code: -32001, message: `no ${i}`, data: { i } }).then(
            () => assert.fail("should reject"),
            (e: { data: { i: number } }) => assert.equal(e.data.i, i),
          )
        : client.requestUntyped("echo", { i }).then((r) => assert.deepEqual(r, { i })),
    );
    await within(Promise.all(calls), 20_000, "1,000 calls");
    assert.equal(client.pendingCount, 0);
  });

  it("a 50 MB reply arrives through the pipe and is framed and parsed at about the cost of parsing it", async () => {
    const client = fake();
    await client.start();
    const size = 50 * 1024 * 1024;
    const reply = (await client.requestUntyped("big", { bytes: size })) as { text: string };
    assert.equal(reply.text.length, size);
    // time only the client's side: from the first byte of the reply to the resolved promise
    const stdout = (client as unknown as { daemon: { stdout: NodeJS.ReadableStream } }).daemon.stdout;
    let firstByte = 0;
    const onData = (): void => {
      if (!firstByte) firstByte = performance.now();
    };
    stdout.on("data", onData);
    const again = (await client.requestUntyped("big", { bytes: size })) as { text: string };
    const clientSide = performance.now() - firstByte;
    stdout.off("data", onData);
    assert.equal(again.text.length, size);
    // Baseline in the same run, so a loaded machine slows both: serialising and parsing the reply once.
    const b0 = performance.now();
    JSON.parse(JSON.stringify({ jsonrpc: "2.0", id: 3, result: again }));
    const baseline = performance.now() - b0;
    const bound = Math.max(1500, 8 * baseline);
    assert.ok(clientSide < bound, `client side of a 50 MB reply took ${clientSide.toFixed(0)} ms (includes pipe transfer), ` +
      `bound ${bound.toFixed(0)} ms from a ${baseline.toFixed(0)} ms serialise+parse`);
  });

  it("python discovery: option, venv, env var, cwd venv, package venv, python3", () => {
    const { dir, cleanup } = tempDir();
    try {
      const nested = path.join(dir, "a", "b");
      mkdirSync(nested, { recursive: true });
      assert.deepEqual(resolvePython({ pythonPath: "/x/py", env: {} }), { executable: "/x/py", source: "pythonPath" });
      assert.equal(resolvePython({ venv: "/v", env: {} }).executable, "/v/bin/python");
      assert.deepEqual(resolvePython({ env: { [PYTHON_ENV_VAR]: "/e/py" }, cwd: nested }), { executable: "/e/py", source: "env" });
      // nothing around the cwd: falls back to the package's own directory (the repo venv here)
      const fromPackage = resolvePython({ env: {}, cwd: nested });
      assert.deepEqual(fromPackage, { executable: REPO_PYTHON, source: "package-venv" });
      assert.deepEqual(resolvePython({ env: {}, cwd: nested, packageDir: nested }), { executable: "python3", source: "path" });
      mkdirSync(path.join(dir, "a", ".venv", "bin"), { recursive: true });
      writeFileSync(path.join(dir, "a", ".venv", "bin", "python"), "");
      chmodSync(path.join(dir, "a", ".venv", "bin", "python"), 0o755);
      assert.deepEqual(resolvePython({ env: {}, cwd: nested }), {
        executable: path.join(dir, "a", ".venv", "bin", "python"),
        source: "cwd-venv",
      });
    } finally {
      cleanup();
    }
  });
});

describe("StderrTail", () => {
  it("keeps only the last bytes, starting at a whole line", () => {
    const tail = new StderrTail(1000);
    for (let i = 0; i < 500; i++) tail.push(Buffer.from(`log line ${i} ${"x".repeat(20)}\n`));
    const text = tail.text()!;
    assert.ok(text.length <= 1000, `kept ${text.length} bytes`);
    assert.match(text, /^log line \d+ x+\n/);
    assert.match(text, /log line 499 x+$/);
    assert.equal(new StderrTail(1000).text(), undefined);
  });

  it("a crash after lots of stderr attaches only a bounded tail", async () => {
    const client = fake([], { stderrTailBytes: 4096 });
    await client.start();
    await client.requestUntyped("stderr", { text: "noise\n".repeat(50_000) });
    const err = await client.requestUntyped("crash", { code: 2 }).catch((e: unknown) => e);
    assert.ok(err instanceof DaemonExitedError);
    assert.ok((err.stderrTail ?? "").length <= 4096);
    assert.match(err.stderrTail ?? "", /Traceback: boom$/);
  });
});

describe("no orphans when the Node process ends without close()", () => {
  for (const mode of ["exit", "idle"]) {
    it(`kills the daemon on ${mode === "exit" ? "process.exit() with a call in flight" : "a natural end of an idle process"}`, async () => {
      const child = spawn(process.execPath, [path.join(FIXTURES, "forgetful.mjs"), mode, REPO_PYTHON, PROTOCOL_VERSION], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const code = await within(new Promise<number | null>((resolve) => child.on("exit", resolve)), 10000, "node to end");
      assert.equal(code, 0);
      const pid = Number(out.trim());
      assert.ok(pid > 0, `printed pid: ${out}`);
      await waitFor(() => !processExists(pid), 3000, `daemon ${pid} to be gone`);
    });
  }
});
