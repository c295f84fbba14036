// SPDX-License-Identifier: GPL-2.0-or-later
// Runs the kv store suites against one backend:
//   node run.mjs embedded   conformance suite + kill -9 crash test on the embedded store
//   node run.mjs cfkv       the same suite against Workers KV served by miniflare (workerd)
//                           running worker.js, plus coalescing, 429, outage and crash tests
//   node run.mjs bench      prints the benchmark table (bench/kv_bench.sh)
// Exits 77 (skip) when miniflare is not installed (./argobox deps installs it).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const mode = process.argv[2] || "embedded";
const build = process.env.AB_BUILD_DIR || join(here, "../../../build");
const tool = process.env.KV_TOOL || join(build, "tests/integration/kv/kv_tool");
if (!existsSync(tool)) { console.log(`skip: ${tool} not built`); process.exit(77); }
const tmp = mkdtempSync(join(tmpdir(), "ab-kv-"));
let mf = null;
const children = new Set();

async function cleanup() {
  for (const c of children) try { c.kill("SIGKILL"); } catch {}
  if (mf) await mf.dispose().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}
process.on("SIGTERM", async () => { await cleanup(); process.exit(1); });

function run(args, { stdoutFile } = {}) {
  return new Promise((resolve) => {
    const out = stdoutFile ? openSync(stdoutFile, "w") : "inherit";
    const c = spawn(tool, args, { stdio: ["ignore", out, "inherit"] });
    children.add(c);
    c.on("exit", (code, sig) => { children.delete(c); if (stdoutFile) closeSync(out); resolve({ code, sig }); });
    if (stdoutFile) c.ackFile = stdoutFile;
    run.last = c;
  });
}

function countAcks(file) {
  try { return readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("ack ")).length; } catch { return 0; }
}

async function crashTest(config, label) {
  const acks = join(tmp, `acks-${label}.txt`);
  const p = run(["writer", config], { stdoutFile: acks });
  const child = run.last;
  const deadline = Date.now() + 60000;
  while (countAcks(acks) < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGKILL");
  const r = await p;
  const n = countAcks(acks);
  console.log(`crash ${label}: writer killed by ${r.sig} after ${n} acks`);
  if (r.sig !== "SIGKILL" || n < 300) return false;
  const v = await run(["verify", config, acks]);
  return v.code === 0;
}

let failed = 0, passed = 0;
function result(name, ok) { console.log(`${ok ? "ok  " : "FAIL"} ${name}`); ok ? passed++ : failed++; }

try {
  if (mode === "embedded") {
    const config = join(tmp, "kv.json");
    writeFileSync(config, JSON.stringify({ backend: "embedded", dir: join(tmp, "store") }));
    result("embedded conformance suite", (await run(["suite", config])).code === 0);
    const crash = join(tmp, "crash.json");
    writeFileSync(crash, JSON.stringify({ backend: "embedded", dir: join(tmp, "crash") }));
    result("embedded kill -9 keeps every acknowledged write", await crashTest(crash, "embedded"));
  } else {
    let Miniflare;
    try {
      ({ Miniflare } = await import(join(here, "node_modules/miniflare/dist/src/index.js")));
    } catch (e) {
      console.log(`skip: miniflare is not installed in ${here} (run ./argobox deps): ${e.message}`);
      await cleanup();
      process.exit(77);
    }
    const token = "test-token-" + Math.random().toString(36).slice(2);
    const account = "0123456789abcdef0123456789abcdef", ns = "fedcba9876543210fedcba9876543210";
    mf = new Miniflare({
      modules: true, script: readFileSync(join(here, "worker.js"), "utf8"), host: "127.0.0.1", port: 0,
      kvNamespaces: ["NS"], bindings: { API_TOKEN: token, ACCOUNT_ID: account, NAMESPACE_ID: ns },
    });
    const url = await mf.ready;
    const base = new URL("/client/v4", url).href;
    const control = new URL("/__control", url).href;
    const cfg = (dir, extra = {}) => JSON.stringify({
      backend: "cfkv", dir: join(tmp, dir),
      cf: { base_url: base, account_id: account, namespace_id: ns, api_token: token, ...extra },
    });
    const config = join(tmp, "kv.json");
    writeFileSync(config, cfg("store"));
    if (mode === "bench") {
      const secs = process.env.KV_BENCH_SECONDS || "60";
      process.exitCode = (await run(["bench-rate", config, control, secs])).code;
    } else {
      result("cfkv conformance suite (miniflare)", (await run(["suite", config])).code === 0);
      result("cfkv coalescing, 429, outage, queue bound", (await run(["cf-suite", config, control])).code === 0);
      const crash = join(tmp, "crash.json");
      writeFileSync(crash, cfg("crash"));
      result("cfkv kill -9 keeps every acknowledged write (queue, then service)", await crashTest(crash, "cfkv"));
    }
  }
} catch (e) {
  console.error(e);
  failed++;
} finally {
  await cleanup();
}
if (mode !== "bench") {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
