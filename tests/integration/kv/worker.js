// SPDX-License-Identifier: GPL-2.0-or-later
// A Worker that serves the Cloudflare Workers KV REST API paths over a real KV namespace
// binding (NS), for the kv integration tests. Run by miniflare (workerd) from run.mjs.
//   GET|PUT|DELETE /client/v4/accounts/:a/storage/kv/namespaces/:n/values/:key
//   GET            /client/v4/accounts/:a/storage/kv/namespaces/:n/keys?prefix=&cursor=&limit=
// Test switches (POST /__control JSON): {"reset":true} clears counters, {"outage":bool} makes
// every API call fail with 503, {"fail429":N} rejects the next N writes with 429 + Retry-After.
// GET /__control returns {"puts":{key:count}, "deletes":n, "rejected429":n, "requests":n}.
let state = { outage: false, fail429: 0, puts: {}, deletes: 0, rejected429: 0, requests: 0 };

function cfJson(status, result, extra = {}) {
  const ok = status >= 200 && status < 300;
  return new Response(JSON.stringify({ success: ok, errors: ok ? [] : [{ code: status, message: extra.message || "error" }], messages: [], result, ...extra.body }), {
    status, headers: { "content-type": "application/json", ...(extra.headers || {}) },
  });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/__control") {
      if (request.method === "POST") {
        const c = await request.json();
        if (c.reset) state = { outage: false, fail429: 0, puts: {}, deletes: 0, rejected429: 0, requests: 0 };
        if ("outage" in c) state.outage = !!c.outage;
        if ("fail429" in c) state.fail429 = c.fail429 | 0;
      }
      return Response.json(state);
    }
    const m = url.pathname.match(/^\/client\/v4\/accounts\/([^/]+)\/storage\/kv\/namespaces\/([^/]+)\/(values\/(.+)|keys)$/);
    if (!m) return cfJson(404, null, { message: "no route" });
    state.requests++;
    if (request.headers.get("authorization") !== `Bearer ${env.API_TOKEN}`)
      return cfJson(401, null, { message: "Authentication error" });
    if (m[1] !== env.ACCOUNT_ID || m[2] !== env.NAMESPACE_ID)
      return cfJson(404, null, { message: "namespace not found" });
    if (state.outage) return new Response("service unavailable", { status: 503 });

    if (m[3] === "keys") {
      if (request.method !== "GET") return cfJson(405, null);
      const limit = Math.max(10, Math.min(1000, parseInt(url.searchParams.get("limit") || "1000", 10)));
      const opts = { prefix: url.searchParams.get("prefix") || undefined, limit };
      const cursor = url.searchParams.get("cursor");
      if (cursor) opts.cursor = cursor;
      const r = await env.NS.list(opts);
      const result = r.keys.map((k) => {
        const e = { name: k.name };
        if (k.expiration) e.expiration = k.expiration;
        if (k.metadata !== undefined && k.metadata !== null) e.metadata = k.metadata;
        return e;
      });
      return cfJson(200, result, { body: { result_info: { count: result.length, cursor: r.list_complete ? "" : r.cursor } } });
    }

    const key = decodeURIComponent(m[4]);
    if (request.method === "GET") {
      const v = await env.NS.get(key, { type: "arrayBuffer" });
      if (v === null) return cfJson(404, null, { message: "key not found" });
      return new Response(v, { headers: { "content-type": "application/octet-stream" } });
    }
    if (request.method === "DELETE") {
      state.deletes++;
      await env.NS.delete(key);
      return cfJson(200, null);
    }
    if (request.method === "PUT") {
      if (state.fail429 > 0) {
        state.fail429--;
        state.rejected429++;
        return cfJson(429, null, { message: "Too many requests", headers: { "retry-after": "1" } });
      }
      const opts = {};
      const ttl = url.searchParams.get("expiration_ttl");
      if (ttl) {
        if (parseInt(ttl, 10) < 60) return cfJson(400, null, { message: "expiration_ttl must be at least 60" });
        opts.expirationTtl = parseInt(ttl, 10);
      }
      let value;
      const ct = request.headers.get("content-type") || "";
      if (ct.startsWith("multipart/form-data")) {
        const form = await request.formData();
        const v = form.get("value");
        value = typeof v === "string" ? v : await v.arrayBuffer();
        const meta = form.get("metadata");
        if (meta) opts.metadata = JSON.parse(typeof meta === "string" ? meta : await meta.text());
      } else {
        value = await request.arrayBuffer();
      }
      await env.NS.put(key, value, opts);
      state.puts[key] = (state.puts[key] || 0) + 1;
      return cfJson(200, null);
    }
    return cfJson(405, null);
  },
};
