#!/usr/bin/env node
/**
 * RPC throughput: getArtifact through ArtifactStoreClient against the real daemon, versus the
 * baseline "msgspec echo": a Python child that reads each line (readline), decodes it with msgspec
 * into a JSON-RPC envelope as the daemon must, and writes it back (one write + flush per line),
 * driven from Node over the same kind of pipes by a minimal FIFO caller. Also the client alone
 * against a byte-substituting JSON-RPC echo (client overhead). Sequential and with --inflight calls
 * in flight (default 64).
 *
 * For information, not the target: the same minimal caller against an echo that decodes the same
 * way but answers with a reply of the daemon's size (`echo_server.py --decode --result FILE`, the
 * daemon's getArtifact result), which shows how much of the gap is the bigger reply (Node's
 * JSON.parse, the pipe) rather than the daemon.
 *
 * Rounds are interleaved (each round: a fresh daemon and fresh echoes, a warm-up, then the four
 * measured in --blocks blocks each (default 10), alternating block by block in rotating order, so
 * a slow spell of a shared machine falls on all four alike) and the ratios are taken within each
 * round; printed as median and range over --repeat rounds (default 7). The whole run is pinned to one CPU with `taskset` when it
 * exists (the client and the server then share it, as the target's definition assumes). Besides
 * the rates, the CPU time per call of Node and of the server child (Linux: /proc/PID/task/TID/schedstat,
 * nanoseconds; else /proc/PID/stat's 10 ms ticks) is printed: on a loaded machine it moves less than the wall-clock rates do.
 *
 *   npm run build && node bench/rpc.mjs [--requests 20000] [--inflight 64] [--repeat 7] [--blocks 10] [--python P] [--cpu 0]
 */

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "20000" },
    inflight: { type: "string", default: "64" },
    python: { type: "string" },
    repeat: { type: "string", default: "7" },
    blocks: { type: "string", default: "10" },
    cpu: { type: "string", default: "0" },
  },
});

if (!process.env.QB_BENCH_PINNED && spawnSync("taskset", ["-V"]).status === 0) {
  const r = spawnSync("taskset", ["-c", args.cpu, process.execPath, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, QB_BENCH_PINNED: `cpu ${args.cpu}` },
  });
  process.exit(r.status ?? 1);
}

const { ArtifactStoreClient, resolvePython } = await import(path.join(here, "..", "dist", "src", "index.js"));
const N = Number(args.requests);
const INFLIGHT = Number(args.inflight);
const REPEAT = Math.max(1, Number(args.repeat));
const BLOCKS = Math.max(1, Number(args.blocks));
const BLOCK = Math.max(1, Math.round(N / BLOCKS));
const PER_ROUND = BLOCK * BLOCKS; // calls per target and round (N, rounded to whole blocks)
const python = args.python ?? resolvePython().executable;
const ECHO = path.join(here, "echo_server.py");

/** The msgspec echo: send(line) resolves with the echoed line, parsed as the client would. FIFO. */
function startEcho(extra = []) {
  const child = spawn(python, [ECHO, "--decode", ...extra], { stdio: ["pipe", "pipe", "inherit"] });
  const waiting = [];
  let parts = [];
  child.stdout.on("data", (chunk) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        if (start < chunk.length) parts.push(chunk.subarray(start));
        return;
      }
      const piece = chunk.subarray(start, nl);
      const line = parts.length ? Buffer.concat([...parts, piece]) : piece;
      parts = [];
      start = nl + 1;
      waiting.shift()(JSON.parse(line.toString("utf8")));
    }
  });
  let id = 0;
  return {
    pid: child.pid,
    call(params) {
      const msg = JSON.stringify({ jsonrpc: "2.0", id: ++id, method: "getArtifact", params }) + "\n";
      return new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin.write(msg);
      });
    },
    close() {
      child.stdin.end();
      return new Promise((resolve) => child.on("exit", resolve));
    },
  };
}

/** Seconds for n calls, one after another. */
async function sequential(call, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await call();
  return (performance.now() - t0) / 1000;
}

/** Seconds for n calls, `inflight` at a time. */
async function concurrent(call, n, inflight) {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      next += 1;
      await call();
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  return (performance.now() - t0) / 1000;
}

const TICKS_PER_S = 100; // USER_HZ: the unit of /proc/PID/stat's utime and stime on Linux

/** Per-thread CPU in nanoseconds (/proc/PID/task/TID/schedstat) where this kernel has it; else 10 ms ticks. */
const SCHEDSTAT = (() => {
  try {
    readFileSync(`/proc/${process.pid}/schedstat`, "utf8");
    return true;
  } catch {
    return false;
  }
})();

/**
 * [CPU seconds the process `pid` has used so far, its thread ids]: the sum of its threads'
 * schedstat (nanoseconds), else /proc/PID/stat (user + system, 10 ms ticks); undefined where /proc
 * is missing. The same source for every reading, so two readings subtract.
 */
function processCpu(pid) {
  try {
    if (!SCHEDSTAT) {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      return [(Number(fields[11]) + Number(fields[12])) / TICKS_PER_S, ""];
    }
    let ns = 0;
    const threads = [];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
        threads.push(tid);
      } catch {
        // the thread ended meanwhile: the thread ids differ, and measured() says NaN
      }
    }
    return [ns / 1e9, threads.join(",")];
  } catch {
    return undefined;
  }
}

/**
 * Runs `run(call)` and returns [seconds, Node CPU s, server CPU s]; the server's CPU is NaN when it
 * cannot be read or a thread of it ended between the readings (an ended thread's time is gone).
 */
async function measured(run, call, pid) {
  const server0 = processCpu(pid);
  const node0 = process.cpuUsage(); // (after the server's reading: that is not the caller's work)
  const seconds = await run(call);
  const node = process.cpuUsage(node0);
  const server1 = processCpu(pid);
  const server = server0 === undefined || server1 === undefined || server0[1] !== server1[1] ? NaN : server1[0] - server0[0];
  return [seconds, (node.user + node.system) / 1e6, server];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs, digits = 2) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "qb-bench-"));
  const lake = path.join(tmp, "lake");
  const modes = [
    ["sequential", (call) => sequential(call, BLOCK)],
    [`${INFLIGHT} in flight`, (call) => concurrent(call, BLOCK, INFLIGHT)],
  ];
  const names = ["echo", "sizedEcho", "clientEcho", "daemon"];
  const results = Object.fromEntries(modes.map(([m]) => [m, Object.fromEntries(names.map((k) => [k, { rate: [], node: [], server: [] }]))]));
  try {
    let artifactId;
    const resultFile = path.join(tmp, "result.json");
    {
      const c = new ArtifactStoreClient({ pythonPath: python, lake, timeoutMs: 0 });
      await c.start();
      artifactId = (await c.publishDataFrame({
        artifactType: "alerts", schemaVersion: 1, logicalKey: "bench/rpc", dataFrame: benchRows(),
        writerName: "bench-rpc", writerVersion: "1", gitCommit: "0000000", gitDirty: false,
      })).artifactId;
      writeFileSync(resultFile, JSON.stringify(await c.getArtifact(artifactId)));
      await c.close();
    }
    const params = { artifactId };
    for (let r = 0; r < REPEAT; r++) {
      const client = new ArtifactStoreClient({ pythonPath: python, lake }); // the default per-call timeout, as users get it
      const echoClient = new ArtifactStoreClient({ pythonPath: python, serverArgs: [ECHO, "--jsonrpc"] });
      const echo = startEcho();
      const sizedEcho = startEcho(["--result", resultFile]);
      try {
        await client.start();
        await echoClient.start();
        const calls = {
          echo: [() => echo.call(params), echo.pid],
          sizedEcho: [() => sizedEcho.call(params), sizedEcho.pid],
          clientEcho: [() => echoClient.getArtifact(artifactId), echoClient.pid],
          daemon: [() => client.getArtifact(artifactId), client.pid],
        };
        for (const [call] of Object.values(calls)) await sequential(call, 1000); // warm-up (JIT, caches)
        const order = Object.keys(calls);
        for (let k = 0; k < r % order.length; k++) order.push(order.shift()); // rotate per round
        for (const [mode, run] of modes) {
          // The round's calls in BLOCKS blocks per target, the targets alternating block by block
          // (their order rotating): a slow spell of the machine falls on all four alike.
          const sums = Object.fromEntries(order.map((name) => [name, [0, 0, 0]]));
          for (let b = 0; b < BLOCKS; b++) {
            for (const name of order) {
              const [call, pid] = calls[name];
              const m = await measured(run, call, pid);
              for (let i = 0; i < 3; i++) sums[name][i] += m[i];
            }
            order.push(order.shift());
          }
          for (const [name, [seconds, node, server]] of Object.entries(sums)) {
            results[mode][name].rate.push(PER_ROUND / seconds);
            results[mode][name].node.push((node * 1e6) / PER_ROUND);
            results[mode][name].server.push((server * 1e6) / PER_ROUND);
          }
        }
      } finally {
        await client.close();
        await echoClient.close();
        await echo.close();
        await sizedEcho.close();
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`getArtifact, ${PER_ROUND} calls per target and round in ${BLOCKS} alternating blocks, ${REPEAT} interleaved rounds (fresh processes each), ` +
    `${process.env.QB_BENCH_PINNED ? `pinned to ${process.env.QB_BENCH_PINNED}` : "not pinned (no taskset)"}; ` +
    `node ${process.version}, python ${python}, ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? "?"})`);
  console.log("baseline: msgspec echo (bench/echo_server.py --decode: readline, msgspec envelope decode, write+flush per line)");
  console.log("median (min–max) over rounds; ratios taken within each round");
  console.log("mode             echo calls/s           daemon calls/s         daemon/echo (target >= 0.6)   client-only/echo   sized-echo/echo");
  for (const [mode] of modes) {
    const { echo, sizedEcho, clientEcho, daemon } = results[mode];
    const per = (xs) => xs.rate.map((x, i) => x / echo.rate[i]);
    console.log(`${mode.padEnd(15)}  ${fmt(echo.rate, 0).padEnd(21)}  ${fmt(daemon.rate, 0).padEnd(21)}  ${fmt(per(daemon)).padEnd(28)}  ` +
      `${fmt(per(clientEcho)).padEnd(17)}  ${fmt(per(sizedEcho))}`);
  }
  console.log("CPU µs per call, median (min–max): Node (the caller) + the server child");
  console.log("mode             echo                     sized echo               TS client + JSON-RPC echo   TS client + daemon");
  for (const [mode] of modes) {
    const cell = (x) => `${fmt(x.node, 1)} + ${fmt(x.server, 1)}`;
    const { echo, sizedEcho, clientEcho, daemon } = results[mode];
    console.log(`${mode.padEnd(15)}  ${cell(echo).padEnd(23)}  ${cell(sizedEcho).padEnd(23)}  ${cell(clientEcho).padEnd(26)}  ${cell(daemon)}`);
  }
}

/** A few rows of the minimal `alerts` v1 type. */
function benchRows() {
  return Array.from({ length: 10 }, (_, i) => ({
    alert_id: `bench-${i}`,
    alert_ts: `2026-01-01T00:00:${String(i).padStart(2, "0")}Z`,
    token_address: `So1anaToken${i}`,
    chain: "solana",
    caller: "bench",
    source: "bench",
    text: `alert ${i}`,
  }));
}

await main();
