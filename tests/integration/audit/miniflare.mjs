// SPDX-License-Identifier: GPL-2.0-or-later
// Workers KV on the Workers runtime's local simulator (miniflare running workerd) for the
// audit mirror's test (audit_test.py mirror_cfkv): serves tests/integration/kv/worker.js (the
// Workers KV REST paths over a real KV namespace, with its /__control outage switch), prints
// one JSON line {"base_url","control","account_id","namespace_id","api_token"} and runs until
// its stdin closes. Exits 77 when miniflare is not installed (./argobox deps test).
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const kvdir = join(dirname(fileURLToPath(import.meta.url)), "../kv");
let Miniflare;
try {
  ({ Miniflare } = await import(join(kvdir, "node_modules/miniflare/dist/src/index.js")));
} catch (e) {
  console.log(JSON.stringify({ skip: `miniflare is not installed in ${kvdir}: ${e.message}` }));
  process.exit(77);
}
const token = "audit-test-" + Math.random().toString(36).slice(2);
const account = "0123456789abcdef0123456789abcdef", ns = "fedcba9876543210fedcba9876543210";
const mf = new Miniflare({
  modules: true, script: readFileSync(join(kvdir, "worker.js"), "utf8"), host: "127.0.0.1", port: 0,
  kvNamespaces: ["NS"], bindings: { API_TOKEN: token, ACCOUNT_ID: account, NAMESPACE_ID: ns },
});
const url = await mf.ready;
console.log(JSON.stringify({
  base_url: new URL("/client/v4", url).href, control: new URL("/__control", url).href,
  account_id: account, namespace_id: ns, api_token: token,
}));
process.stdin.resume();
process.stdin.on("end", async () => { await mf.dispose().catch(() => {}); process.exit(0); });
process.on("SIGTERM", async () => { await mf.dispose().catch(() => {}); process.exit(0); });
