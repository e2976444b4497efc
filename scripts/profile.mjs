// CPU-profiles the Worker's isolate under `wrangler dev` while a shell
// command runs, through the inspector, and prints where the time went
// (self time per function; the wasm names survive the release build).
//
//   node scripts/profile.mjs [--inspector 9229] [--runs 5] [--settle-ms 400] [--json] -- '<command>'
//
// The command runs `--runs` times, each inside its own profile that goes
// on `--settle-ms` after it (so work the Worker does after its response,
// in `waitUntil`, counts too). Whatever must not be measured (a cache
// purge, say) belongs in a command of its own run before this one, or in
// `--before '<command>'`, run outside the profile before each run. Writes
// the merged profile to target/profile.cpuprofile (Chrome DevTools opens it).
// `--warmup N` (default 1) runs `--before` and the command N times first,
// unprofiled, so the isolate's lazy compilation of the code they reach is
// not counted. V8's profiler samples wall time: "busy" is time the
// isolate's thread was not idle, CPU time only on an otherwise quiet machine.
// With `--json`, prints only one JSON line, `{busy_ms, idle_ms, runs}` (the
// isolate's busy and idle time per run), for the benchmark's CPU table.

import { execSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import WebSocket from "ws";

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && at < process.argv.indexOf("--") ? process.argv[at + 1] : fallback;
}
const dash = process.argv.indexOf("--");
const command = dash > 0 ? process.argv.slice(dash + 1).join(" ") : "";
if (!command) {
  console.error("usage: node scripts/profile.mjs [--inspector PORT] [--runs N] [--settle-ms MS] [--before CMD] -- CMD");
  process.exit(2);
}
const port = option("inspector", "9229");
const runs = Number(option("runs", "5"));
const settle = Number(option("settle-ms", "400"));
const before = option("before", "");
const asJson = process.argv.indexOf("--json") > 0 && process.argv.indexOf("--json") < dash;
// The command's own output would mix with the JSON line.
const commandStdio = asJson ? ["ignore", "ignore", "inherit"] : "inherit";

const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
ws.on("error", (e) => {
  console.error(`cannot reach the inspector on port ${port} (start wrangler dev with --inspector-port ${port}): ${e.message}`);
  process.exit(1);
});
let next = 0;
const waiting = new Map();
const send = (method, params = {}) => new Promise((resolve) => {
  next += 1;
  waiting.set(next, resolve);
  ws.send(JSON.stringify({ id: next, method, params }));
});
ws.on("message", (m) => {
  const d = JSON.parse(m);
  if (waiting.has(d.id)) {
    waiting.get(d.id)(d.result ?? d.error);
    waiting.delete(d.id);
  }
});
await new Promise((r) => ws.on("open", r));
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 100 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (let i = 0; i < Number(option("warmup", "1")); i++) {
  if (before) execSync(before, { stdio: commandStdio });
  execSync(command, { stdio: commandStdio });
}

const self = new Map();
const merged = { nodes: [], startTime: 0, endTime: 0, samples: [], timeDeltas: [] };
let busy = 0;
let idle = 0;
for (let i = 0; i < runs; i++) {
  if (before) execSync(before, { stdio: commandStdio });
  await sleep(settle);
  await send("Profiler.start");
  const started = Date.now();
  execSync(command, { stdio: commandStdio });
  const ms = Date.now() - started;
  await sleep(settle);
  const { profile } = await send("Profiler.stop");
  if (!asJson) console.log(`run ${i + 1}: the command took ${ms} ms`);
  const offset = merged.nodes.reduce((m, n) => Math.max(m, n.id), 0);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) {
    merged.nodes.push({ ...n, id: n.id + offset, children: (n.children || []).map((c) => c + offset) });
  }
  profile.samples.forEach((id, k) => {
    const frame = byId.get(id).callFrame;
    const us = profile.timeDeltas[k] || 0;
    merged.samples.push(id + offset);
    merged.timeDeltas.push(us);
    merged.endTime += us;
    if (frame.functionName === "(idle)") {
      idle += us;
      return;
    }
    busy += us;
    const name = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop()}${frame.lineNumber >= 0 ? `:${frame.lineNumber}` : ""}`;
    self.set(name, (self.get(name) || 0) + us);
  });
}
ws.close();
mkdirSync("target", { recursive: true });
writeFileSync("target/profile.cpuprofile", JSON.stringify(merged));
if (asJson) {
  console.log(JSON.stringify({ busy_ms: busy / 1000 / runs, idle_ms: idle / 1000 / runs, runs }));
  process.exit(0);
}
console.log(`\nisolate busy ${(busy / 1000 / runs).toFixed(1)} ms per run (idle ${(idle / 1000 / runs).toFixed(1)} ms); self time per run:`);
for (const [name, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${(us / 1000 / runs).toFixed(1).padStart(9)} ms  ${name}`);
}
