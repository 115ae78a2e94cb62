// bridge ui: a small single-page app over the JSON endpoints of bridge/ui/app.py.
// No framework, no inline scripts or styles (the CSP forbids them), DOM built with h().
"use strict";

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

function h(tag, attrs, ...kids) {
  const svg = tag.startsWith("svg:");
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const S = (tag, attrs, ...kids) => h("svg:" + tag, attrs, ...kids);
// Element.append without the nulls and falses (append(null) would print "null").
function put(el, ...kids) {
  for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined && k !== false) el.append(k);
  return el;
}
const axisFmt = (v) => (v === null ? "" : Math.abs(v) >= 1e6 || (Math.abs(v) < 1e-4 && v !== 0) ? v.toExponential(2) : String(Number(v.toPrecision(6))));

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.type = body?.error?.type || "Error";
  }
}

async function api(path, options) {
  const res = await fetch(path, { credentials: "same-origin", ...options });
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = { error: { message: text } }; }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    return Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(3) : v.toFixed(digits);
  }
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(2) + "%");
const isoMs = (ms) => (ms === null || ms === undefined ? "—" : new Date(ms).toISOString().replace(".000Z", "Z"));

function copyButton(text) {
  return h("button", {
    class: "copy", title: "copy " + text, "aria-label": "copy",
    onclick: async (e) => {
      e.stopPropagation(); e.preventDefault();
      try { await navigator.clipboard.writeText(text); e.target.textContent = "copied"; }
      catch { window.prompt("copy:", text); }
      setTimeout(() => { e.target.textContent = "copy"; }, 1200);
    },
  }, "copy");
}

// A full id: shortened on screen, whole in the title, in a link, with a copy button.
function idCell(id, href, n = 12) {
  const shown = id.length > n + 1 ? id.slice(0, n) + "…" : id;
  return h("span", { class: "mono" }, href ? h("a", { href, title: id }, shown) : h("span", { title: id }, shown),
    copyButton(id));
}

const pill = (text, cls) => h("span", { class: `pill st-${cls || text}` }, text);

function kvTable(pairs) {
  return h("table", { class: "kv" }, pairs.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v instanceof Node ? v : fmt(v)))));
}

function errorBox(err) {
  return h("div", { class: "error", role: "alert" }, `${err.type || "Error"}: ${err.message}`);
}

// A table whose columns sort on click (client side, over the rows it has).
function sortableTable(columns, rows, { onRow, rowClass, initial } = {}) {
  let key = initial?.key ?? null, dir = initial?.dir ?? 1;
  const table = h("table", { class: "sortable" });
  function render() {
    const sorted = key === null ? rows : [...rows].sort((a, b) => {
      const col = columns.find((c) => c.key === key);
      const va = col.value ? col.value(a) : a[key], vb = col.value ? col.value(b) : b[key];
      if (va === vb) return 0;
      if (va === null || va === undefined) return 1;
      if (vb === null || vb === undefined) return -1;
      return (va < vb ? -1 : 1) * dir;
    });
    table.replaceChildren(
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", {
        class: ["sort", c.num ? "n" : "", key === c.key ? (dir > 0 ? "asc" : "desc") : ""].join(" "),
        onclick: () => { if (key === c.key) dir = -dir; else { key = c.key; dir = 1; } render(); },
      }, c.label)))),
      h("tbody", {}, sorted.map((r) => h("tr", {
        class: [onRow ? "click" : "", rowClass ? rowClass(r) : ""].join(" "),
        onclick: onRow ? () => onRow(r) : null,
      }, columns.map((c) => h("td", { class: c.num ? "n" : "" }, c.render ? c.render(r) : fmt(c.value ? c.value(r) : r[c.key])))))),
    );
  }
  render();
  return table;
}

// ---------------------------------------------------------------------------------------------
// router
// ---------------------------------------------------------------------------------------------

const main = () => document.getElementById("main");

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "artifacts", args: parts.slice(1), query: new URLSearchParams(qs || "") };
}

function go(page, args = [], query = null) {
  const qs = query && [...query].length ? "?" + query.toString() : "";
  location.hash = "#/" + [page, ...args.map(encodeURIComponent)].join("/") + qs;
}

const PAGES = {};
let renderToken = 0;

async function route() {
  const { page, args, query } = parseHash();
  for (const a of document.querySelectorAll("header nav a")) {
    const nav = a.dataset.nav;
    a.classList.toggle("on", nav === page || (nav === "runs" && (page === "run" || page === "compare"))
      || (nav === "artifacts" && page === "artifact") || (nav === "sweeps" && page === "sweep"));
  }
  const token = ++renderToken;
  const root = h("div", { id: "page", "data-page": page });
  main().replaceChildren(root);
  const fn = PAGES[page];
  if (!fn) { put(root, errorBox({ message: `no page ${page}` })); return; }
  try {
    await fn(root, args, query, () => token === renderToken);
  } catch (err) {
    if (token === renderToken) put(root, errorBox(err));
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  // the token came in the URL: the server set its cookie, so drop it from the address bar
  if (location.search.includes("token=")) history.replaceState(null, "", location.pathname + location.hash);
  route();
});

// ---------------------------------------------------------------------------------------------
// artifacts
// ---------------------------------------------------------------------------------------------

const ART_COLUMNS = [
  ["artifactId", "id", null], ["artifactType", "type", null], ["logicalKey", "logical key", "logical_key"],
  ["status", "status", null], ["rowCount", "rows", "row_count"], ["minTs", "from", null], ["maxTs", "to", null],
  ["createdAt", "created", "created_at"],
];

PAGES.artifacts = async (root, _args, query, alive) => {
  const q = new URLSearchParams(query);
  if (!q.get("sort")) q.set("sort", "-created_at");
  const types = await api("/api/types");
  if (!alive()) return;
  const field = (name, label, input) => h("label", {}, label, input);
  const val = (k) => q.get(k) || "";
  const typeSel = h("select", { name: "type" }, h("option", { value: "" }, "any type"),
    types.types.map((t) => h("option", { value: t.artifactType, selected: val("type") === t.artifactType },
      `${t.artifactType} (${t.total.toLocaleString("en-US")})`)));
  const statusSel = h("select", { name: "status" }, ["", "active", "superseded", "tombstoned"].map((s) =>
    h("option", { value: s, selected: val("status") === s }, s || "any status")));
  const inputs = {
    q: h("input", { name: "q", type: "search", placeholder: "id prefix or key text", value: val("q"), size: 22 }),
    type: typeSel, status: statusSel,
    prefix: h("input", { name: "prefix", placeholder: "token=…", value: val("prefix"), size: 18 }),
    tag: h("input", { name: "tag", placeholder: "key=value", value: val("tag"), size: 14 }),
    from: h("input", { name: "from", placeholder: "2026-01-01T00:00:00Z", value: val("from"), size: 20 }),
    to: h("input", { name: "to", placeholder: "2026-02-01T00:00:00Z", value: val("to"), size: 20 }),
    limit: h("select", { name: "limit" }, [25, 50, 100, 200].map((n) => h("option", { value: n, selected: (val("limit") || "50") === String(n) }, n))),
  };
  const apply = (e) => {
    e?.preventDefault();
    const next = new URLSearchParams();
    for (const [k, el] of Object.entries(inputs)) if (el.value) next.set(k, el.value);
    next.set("sort", q.get("sort"));
    go("artifacts", [], next);
  };
  const form = h("form", { class: "filters", onsubmit: apply },
    field("q", "search", inputs.q), field("type", "type", inputs.type), field("status", "status", inputs.status),
    field("prefix", "key prefix", inputs.prefix), field("tag", "tag", inputs.tag),
    field("from", "time from", inputs.from), field("to", "time to", inputs.to), field("limit", "per page", inputs.limit),
    h("button", { type: "submit", class: "primary", id: "apply-filters" }, "Filter"),
    h("button", { type: "button", onclick: () => go("artifacts") }, "Clear"));
  put(root, h("h1", {}, "Artifacts"), form);

  const params = new URLSearchParams(q);
  params.delete("prev");
  const page = await api("/api/artifacts?" + params.toString());
  if (!alive()) return;
  const sort = q.get("sort");
  const head = h("tr", {}, ART_COLUMNS.map(([key, label, order]) => {
    if (!order) return h("th", {}, label);
    const cls = sort === order ? "asc" : sort === "-" + order ? "desc" : "";
    return h("th", {
      class: `sort ${cls} ${key === "rowCount" ? "n" : ""}`, title: "sort",
      onclick: () => { const n = new URLSearchParams(q); n.set("sort", sort === order ? "-" + order : order); n.delete("cursor"); n.delete("prev"); go("artifacts", [], n); },
    }, label);
  }));
  const rows = page.items.map((a) => h("tr", { "data-id": a.artifactId },
    h("td", {}, idCell(a.artifactId, `#/artifact/${a.artifactId}`)),
    h("td", {}, a.artifactType), h("td", { class: "mono" }, a.logicalKey),
    h("td", {}, pill(a.status)), h("td", { class: "n" }, fmt(a.rowCount)),
    h("td", { class: "mono" }, a.minTs || "—"), h("td", { class: "mono" }, a.maxTs || "—"),
    h("td", { class: "mono" }, a.createdAt)));
  put(root, h("div", { class: "scroll" }, h("table", { id: "artifacts-table" }, h("thead", {}, head), h("tbody", {}, rows))));
  if (!page.items.length) put(root, h("p", { class: "muted" }, "no artifact matches these filters"));
  // cursor pagination: the manifest's cursors forward, a stack of them back
  const prev = (q.get("prev") || "").split(",").filter(Boolean);
  const nav = h("div", { class: "filters" });
  if (q.get("cursor")) {
    nav.append(h("button", { onclick: () => { const n = new URLSearchParams(q); const p = [...prev]; const c = p.pop(); if (c && c !== "-") n.set("cursor", c); else n.delete("cursor"); if (p.length) n.set("prev", p.join(",")); else n.delete("prev"); go("artifacts", [], n); } }, "◀ previous"));
  }
  if (page.nextCursor) {
    nav.append(h("button", { id: "next-page", onclick: () => { const n = new URLSearchParams(q); n.set("prev", [...prev, q.get("cursor") || "-"].join(",")); n.set("cursor", page.nextCursor); go("artifacts", [], n); } }, "next ▶"));
  }
  nav.append(h("span", { class: "muted" }, `${page.items.length} shown`));
  put(root, nav);
};

// ---------------------------------------------------------------------------------------------
// one artifact
// ---------------------------------------------------------------------------------------------

PAGES.artifact = async (root, [id], _query, alive) => {
  const d = await api(`/api/artifacts/${encodeURIComponent(id)}`);
  if (!alive()) return;
  const a = d.artifact;
  put(root, h("h1", {}, a.artifactType, " ", pill(a.status), d.stale.length ? [" ", pill("stale", "stale")] : null),
    h("div", { class: "mono" }, a.artifactId, copyButton(a.artifactId)));
  if (d.stale.length) {
    put(root, h("h2", {}, "Stale"), h("ul", {}, d.stale.map((r) => h("li", {},
      `input ${r.inputArtifactId} is ${r.inputStatus}; path `, r.path.map((p, i) => [i ? " › " : "", h("a", { href: `#/artifact/${p}`, class: "mono", title: p }, p.slice(0, 10) + "…")])))));
  }
  const tagText = Object.entries(a.tags || {}).map(([k, vs]) => vs.map((v) => `${k}=${v}`).join(", ")).join(", ");
  const link = (x) => x ? h("span", {}, h("a", { href: `#/artifact/${x}`, class: "mono" }, x), copyButton(x)) : "—";
  put(root, h("div", { class: "grid2" },
    h("div", {}, h("h2", {}, "Manifest entry"), kvTable([
      ["type", `${a.artifactType} v${a.schemaVersion}`], ["logical key", h("span", { class: "mono" }, a.logicalKey, copyButton(a.logicalKey))],
      ["rows", a.rowCount], ["time range", `${a.minTs || "—"} → ${a.maxTs || "—"}`], ["created", a.createdAt],
      ["tags", tagText || "—"], ["content hash", h("span", { class: "mono" }, a.contentHash.slice(0, 24) + "…", copyButton(a.contentHash))],
      ["file hash", h("span", { class: "mono" }, a.fileHash.slice(0, 24) + "…", copyButton(a.fileHash))],
      ["file", h("span", { class: "mono" }, a.pathParquet, copyButton(a.pathParquet))],
      ["supersedes", link(a.supersedes)], ["superseded by", link(a.supersededBy)],
      ["inputs", a.inputArtifactIds.length],
    ])),
    h("div", {}, h("h2", {}, "Provenance"), kvTable([
      ["writer", `${d.provenance.writerName ?? "—"} ${d.provenance.writerVersion ?? ""}`],
      ["git", `${d.provenance.gitCommit ?? "—"}${d.provenance.gitDirty ? " (dirty)" : ""}`],
      ["canonical form", d.provenance.canonicalForm], ["params", h("code", {}, JSON.stringify(d.provenance.params ?? {}))],
    ]))));

  const graphBox = h("div", { id: "lineage" }, h("p", { class: "muted" }, "loading the lineage graph…"));
  put(root, h("h2", {}, "Lineage"), graphBox);

  if (d.spec) {
    put(root, h("h2", {}, "Schema"), d.spec.doc ? h("p", { class: "muted" }, d.spec.doc) : null,
      h("table", {}, h("tr", {}, h("th", {}, "column"), h("th", {}, "type"), h("th", {}, "nullable"), h("th", {}, "about")),
        d.spec.columns.map((c) => h("tr", {}, h("td", { class: "mono" }, c.name), h("td", {}, c.type), h("td", {}, c.nullable ? "yes" : ""), h("td", { class: "muted" }, c.doc)))),
      h("p", { class: "note" }, `sort key: ${d.spec.sortKey.join(", ")}${d.spec.uniqueKey.length ? " · unique: " + d.spec.uniqueKey.join(", ") : ""}`));
  }
  if (d.fileError) put(root, h("p", { class: "bad" }, "cannot read the file: " + d.fileError));
  if (d.stats) {
    put(root, h("h2", {}, "Column statistics"), h("p", { class: "note" }, "from the Parquet footer (no data read)"),
      h("table", {}, h("tr", {}, ["column", "type", "nulls", "min", "max"].map((x) => h("th", {}, x))),
        d.stats.map((s) => h("tr", {}, h("td", { class: "mono" }, s.name), h("td", {}, s.type), h("td", { class: "n" }, fmt(s.null_count)),
          h("td", { class: "mono" }, fmt(s.min)), h("td", { class: "mono" }, fmt(s.max))))));
  }
  if (d.preview) {
    put(root, h("h2", {}, `First ${d.preview.rows.length} rows`), h("div", { class: "scroll" },
      h("table", { id: "preview" }, h("tr", {}, d.preview.columns.map((c) => h("th", {}, c))),
        d.preview.rows.map((r) => h("tr", {}, r.map((v) => h("td", { class: typeof v === "number" ? "n" : "mono" }, fmt(v))))))));
  }
  // the graph loads after the rest of the page, a level at a time
  lineageGraph(graphBox, a.artifactId).catch((err) => graphBox.replaceChildren(errorBox(err)));
};

// An expandable lineage graph: the root in the middle, inputs to the left, outputs to the right.
async function lineageGraph(box, rootId) {
  const W = 250, H = 46, GX = 90, GY = 14;
  const nodes = new Map(); // id -> {id, info, col, expanded: {upstream, downstream}}
  const edges = new Set(); // "child>input"
  const more = new Map();  // "id:dir" -> hidden count
  const rootInfo = await api(`/api/artifacts/${encodeURIComponent(rootId)}/node`);
  nodes.set(rootId, { id: rootId, info: rootInfo, col: 0, expanded: {} });

  async function expand(id, dir) {
    const n = nodes.get(id);
    if (n.expanded[dir]) return;
    n.expanded[dir] = true;
    const res = await api(`/api/lineage/${encodeURIComponent(id)}?direction=${dir}`);
    for (const x of res.nodes) {
      if (!nodes.has(x.artifactId)) {
        nodes.set(x.artifactId, {
          id: x.artifactId, col: n.col + (dir === "upstream" ? -1 : 1), expanded: {},
          info: { artifactId: x.artifactId, artifactType: x.artifactType, logicalKey: x.logicalKey, status: x.status, stale: x.stale, inputs: x.inputs ?? 0, outputs: x.outputs ?? 0 },
        });
      }
      edges.add(dir === "upstream" ? `${id}>${x.artifactId}` : `${x.artifactId}>${id}`);
    }
    if (res.total > res.nodes.length) more.set(`${id}:${dir}`, res.total - res.nodes.length);
    draw();
  }

  function draw() {
    const cols = new Map();
    for (const n of nodes.values()) {
      if (!cols.has(n.col)) cols.set(n.col, []);
      cols.get(n.col).push(n);
    }
    const colKeys = [...cols.keys()].sort((a, b) => a - b);
    const PER = 12; // a level with more nodes wraps into several sub-columns
    const maxRows = Math.min(PER, Math.max(...[...cols.values()].map((c) => c.length)));
    const pos = new Map();
    let x = 30;
    for (const c of colKeys) {
      const list = cols.get(c);
      const subs = Math.ceil(list.length / PER);
      // upstream levels fill their sub-columns from the right (nearest the root), downstream from the left
      list.forEach((n, i) => {
        const sub = Math.floor(i / PER), row = i % PER;
        const inSub = Math.min(PER, list.length - sub * PER);
        const offset = ((maxRows - inSub) * (H + GY)) / 2;
        const slot = c < 0 ? subs - 1 - sub : sub;
        pos.set(n.id, { x: x + slot * (W + 70), y: 16 + offset + row * (H + GY) });
      });
      x += subs * (W + 70) + GX - 70;
    }
    const width = x + 30, height = 40 + maxRows * (H + GY);
    const svg = S("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "lineage graph" });
    for (const e of edges) {
      const [child, input] = e.split(">");
      const a = pos.get(input), b = pos.get(child);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      svg.append(S("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)" }));
    }
    svg.prepend(S("defs", {}, S("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" },
      S("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9aa5c4" }))));
    for (const n of nodes.values()) {
      const p = pos.get(n.id), i = n.info;
      const cls = ["node", n.id === rootId ? "root" : "", i.status !== "active" ? i.status : "", i.stale ? "stale" : ""].join(" ");
      const key = i.logicalKey.length > 38 ? i.logicalKey.slice(0, 37) + "…" : i.logicalKey;
      const flag = i.status !== "active" ? ` · ${i.status}` : i.stale ? " · stale" : "";
      const g = S("g", { class: cls, "data-id": n.id, transform: `translate(${p.x},${p.y})` },
        S("title", {}, `${i.artifactType} ${i.status}${i.stale ? " (stale)" : ""}\n${n.id}\n${i.logicalKey}\nclick to open`),
        S("rect", { width: W, height: H, rx: 6 }),
        S("text", { class: "label", x: 10, y: 18, onclick: () => go("artifact", [n.id]) }, S("tspan", { "font-weight": 600 }, i.artifactType), flag),
        S("text", { x: 10, y: 35, fill: "#667085" }, key || n.id.slice(0, 16)));
      if (i.inputs > 0 && !n.expanded.upstream) {
        g.append(S("g", { class: "exp", "data-dir": "upstream", transform: `translate(-26,${H / 2 - 10})`, onclick: () => expand(n.id, "upstream") },
          S("title", {}, `show its ${i.inputs} input(s)`), S("rect", { width: 24, height: 20, rx: 4 }), S("text", { x: 4, y: 14 }, `◀${i.inputs > 9 ? "" : i.inputs}`)));
      }
      if (i.outputs > 0 && !n.expanded.downstream) {
        g.append(S("g", { class: "exp", "data-dir": "downstream", transform: `translate(${W + 2},${H / 2 - 10})`, onclick: () => expand(n.id, "downstream") },
          S("title", {}, `show the ${i.outputs} artifact(s) made from it`), S("rect", { width: 24, height: 20, rx: 4 }), S("text", { x: 4, y: 14 }, `${i.outputs > 9 ? "" : i.outputs}▶`)));
      }
      for (const dir of ["upstream", "downstream"]) {
        const m = more.get(`${n.id}:${dir}`);
        if (m) g.append(S("text", { x: dir === "upstream" ? -4 : W + 4, y: H + 11, "text-anchor": dir === "upstream" ? "end" : "start", fill: "#b26a00" }, `+${m} more ${dir === "upstream" ? "inputs" : "outputs"}`));
      }
      svg.append(g);
    }
    const old = box.querySelector(".graph");
    const keep = old && old.dataset.placed ? [old.scrollLeft, old.scrollTop] : null;
    box.replaceChildren(
      h("div", { class: "legend" }, h("span", {}, "◀ / ▶ expand inputs / outputs"), h("span", {}, "click a name to open it"),
        h("span", { class: "warn" }, "orange: stale"), h("span", {}, "dashed: superseded"), h("span", { class: "bad" }, "red: tombstoned"),
        h("button", { id: "expand-all", onclick: () => expandAll() }, "expand one more level")),
      h("div", { class: "graph" }, svg));
    const gr = box.querySelector(".graph"), rp = pos.get(rootId);
    if (keep) [gr.scrollLeft, gr.scrollTop] = keep;
    else if (rp && nodes.size > 1) {  // start with the root in view
      gr.scrollLeft = Math.max(0, rp.x - gr.clientWidth / 2 + W / 2);
      gr.scrollTop = Math.max(0, rp.y - gr.clientHeight / 2 + H / 2);
      gr.dataset.placed = "1";
    }
    gr.addEventListener("scroll", () => { gr.dataset.placed = "1"; });
  }

  async function expandAll() {
    const todo = [];
    for (const n of [...nodes.values()]) {
      if (n.info.inputs > 0 && !n.expanded.upstream && n.col <= 0) todo.push(expand(n.id, "upstream"));
      if (n.info.outputs > 0 && !n.expanded.downstream && n.col >= 0) todo.push(expand(n.id, "downstream"));
    }
    await Promise.all(todo);
  }

  draw();
  const first = [];
  if (rootInfo.inputs > 0) first.push(expand(rootId, "upstream"));
  if (rootInfo.outputs > 0) first.push(expand(rootId, "downstream"));
  await Promise.all(first);
}

// ---------------------------------------------------------------------------------------------
// charts (uPlot, vendored)
// ---------------------------------------------------------------------------------------------

const COLORS = ["#2456c8", "#d9480f", "#2b8a3e", "#9c36b5", "#0b7285", "#e67700", "#c2255c", "#5c940d"];

function chartWidth(el) { return Math.max(480, Math.min(1300, (el.clientWidth || main().clientWidth || 1000) - 10)); }

// Several series over their own time axes, merged on one x axis (seconds) for uPlot.
function lineChart(el, series, { title, height = 260, yFmt = axisFmt, area = false } = {}) {
  const xs = [...new Set(series.flatMap((s) => s.ts))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const data = [xs.map((x) => x / 1000)];
  for (const s of series) {
    const ys = new Array(xs.length).fill(null);
    s.ts.forEach((t, i) => { ys[index.get(t)] = s.values[i]; });
    data.push(ys);
  }
  const opts = {
    title, width: chartWidth(el), height,
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true } },
    series: [{}, ...series.map((s, i) => ({
      label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: 1.6, spanGaps: true,
      fill: area ? "rgba(179,38,30,0.15)" : undefined, value: (_u, v) => (v === null ? "—" : yFmt(v)),
    }))],
    axes: [{}, { values: (_u, vals) => vals.map(yFmt), size: 76 }],
  };
  const box = h("div", { class: "chart" });
  el.append(box);
  if (!xs.length) { box.append(h("p", { class: "muted" }, "no data")); return null; }
  const plot = new uPlot(opts, data, box);
  box.append(h("div", { class: "note" }, "drag to zoom, double-click to reset; hover for values"));
  return plot;
}

// Close, high and low of the trade's candles, entries (buy fills) and exits (sell fills) marked;
// without fills, the trade's own entry and exit.
function priceChart(el, candles, trade, fills = []) {
  const xs = [...candles.ts];
  const marks = fills.length ? fills : [{ side: "buy", ts: trade.entry_ts, price: trade.entry_price }, { side: "sell", ts: trade.exit_ts, price: trade.exit_price }];
  const all = [...new Set([...xs, ...marks.map((m) => m.ts)])].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const col = (name) => all.map((x) => (at.has(x) ? candles[name][at.get(x)] : null));
  const markAt = (side) => { const m = new Map(marks.filter((f) => f.side === side).map((f) => [f.ts, f.price])); return all.map((x) => (m.has(x) ? m.get(x) : null)); };
  const entry = markAt("buy"), exit = markAt("sell");
  const marker = (color) => ({ stroke: color, fill: color, width: 0, paths: () => null, points: { show: true, size: 12, fill: color, stroke: color } });
  const opts = {
    title: `${trade.token} · ${trade.exit_reason}`, width: chartWidth(el), height: 300,
    cursor: { drag: { x: true, y: false } }, scales: { x: { time: true } },
    series: [{}, { label: "close", stroke: "#2456c8", width: 1.4, spanGaps: true },
      { label: "high", stroke: "#b8c4e6", width: 1, spanGaps: true }, { label: "low", stroke: "#b8c4e6", width: 1, spanGaps: true },
      { label: "entry", ...marker("#2b8a3e") }, { label: "exit", ...marker("#b3261e") }],
    axes: [{}, { size: 80, values: (_u, v) => v.map(axisFmt) }],
  };
  const box = h("div", { class: "chart", id: "price-chart" });
  el.append(box);
  if (!xs.length) { box.append(h("p", { class: "muted" }, "no candles for this trade in the run's OHLCV inputs")); return; }
  new uPlot(opts, [all.map((x) => x / 1000), col("close"), col("high"), col("low"), entry, exit], box);
}

// ---------------------------------------------------------------------------------------------
// runs
// ---------------------------------------------------------------------------------------------

PAGES.runs = async (root, _args, query, alive) => {
  const q = new URLSearchParams(query);
  const inputs = {
    q: h("input", { name: "q", type: "search", value: q.get("q") || "", placeholder: "name, experiment or run id" }),
    status: h("select", { name: "status" }, ["", "completed", "failed", "running", "pending"].map((s) => h("option", { value: s, selected: (q.get("status") || "") === s }, s || "any status"))),
    sweep: h("input", { name: "sweep", value: q.get("sweep") || "", placeholder: "sweep id" }),
  };
  put(root, h("h1", {}, "Experiment runs"), h("form", {
    class: "filters", onsubmit: (e) => { e.preventDefault(); const n = new URLSearchParams(); for (const [k, el] of Object.entries(inputs)) if (el.value) n.set(k, el.value); go("runs", [], n); },
  }, h("label", {}, "search", inputs.q), h("label", {}, "status", inputs.status), h("label", {}, "sweep", inputs.sweep),
  h("button", { type: "submit", class: "primary" }, "Filter")));
  const data = await api("/api/runs?" + q.toString());
  if (!alive()) return;
  const selected = new Set();
  const compareBtn = h("button", { id: "compare", class: "primary", disabled: true, onclick: () => go("compare", [], new URLSearchParams({ runs: [...selected].join(",") })) }, "Compare selected");
  const update = () => { compareBtn.disabled = selected.size < 2; compareBtn.textContent = `Compare selected (${selected.size})`; };
  const columns = [
    { key: "sel", label: "", render: (r) => h("input", { type: "checkbox", "data-run": r.runId, onclick: (e) => { e.stopPropagation(); if (e.target.checked) selected.add(r.runId); else selected.delete(r.runId); update(); } }) },
    { key: "runId", label: "run", render: (r) => idCell(r.runId, `#/run/${r.runId}`, 28) },
    { key: "name", label: "name" }, { key: "status", label: "status", render: (r) => pill(r.status) },
    { key: "createdAt", label: "created" }, { key: "durationMs", label: "ms", num: true },
    ...data.metricKeys.map((k) => ({ key: k, label: k, num: true, value: (r) => r.metrics[k], render: (r) => (k.includes("return") || k.includes("rate") || k.includes("drawdown") ? pct(r.metrics[k]) : fmt(r.metrics[k])) })),
    { key: "sweepId", label: "sweep", render: (r) => (r.sweepId ? idCell(r.sweepId, `#/sweep/${r.sweepId}`, 14) : "") },
  ];
  put(root, h("div", { class: "filters" }, compareBtn, h("span", { class: "muted" }, `${data.runs.length} runs (newest first; click a header to sort)`)),
    h("div", { class: "scroll" }, sortableTable(columns, data.runs, { rowClass: (r) => (r.status === "failed" ? "bad" : "") })));
  update();
};

function metricRows(metrics) {
  return h("table", { id: "metrics" }, h("tr", {}, h("th", {}, "metric"), h("th", { class: "n" }, "value"), h("th", {}, "unit")),
    metrics.map((m) => h("tr", {}, h("td", {}, m.name), h("td", { class: "n" }, fmt(m.value)), h("td", { class: "muted" }, m.unit || ""))));
}

PAGES.run = async (root, [id], _query, alive) => {
  const d = await api(`/api/runs/${encodeURIComponent(id)}`);
  if (!alive()) return;
  const r = d.run;
  put(root, h("h1", {}, r.name, " ", pill(r.status)),
    h("div", { class: "muted" }, "experiment ", idCell(r.experimentId, null, 40), " · run ", idCell(r.runId, null, 40),
      ` · started ${r.execution.startedAt || "—"} · ${fmt(r.execution.duration)} ms`, r.sweepId ? [" · sweep ", h("a", { href: `#/sweep/${r.sweepId}` }, r.sweepId)] : null));
  if (r.execution.error) put(root, h("p", { class: "bad" }, `error (${r.execution.errorType}): ${r.execution.error}`));
  put(root, h("div", { class: "grid2" },
    h("div", {}, h("h2", {}, "Strategy"), kvTable(Object.entries(d.strategy).map(([k, v]) => [k,
      Array.isArray(v) && v.length && typeof v[0] === "object"
        ? h("table", {}, h("tr", {}, Object.keys(v[0]).map((c) => h("th", {}, c))), v.map((row) => h("tr", {}, Object.values(row).map((x) => h("td", { class: "n" }, fmt(x))))))
        : v]))),
    h("div", {}, h("h2", {}, "Metrics"), metricRows(d.metrics))));
  const charts = h("div", {});
  put(root, h("h2", {}, "Equity and drawdown"), charts);
  lineChart(charts, [{ label: "equity", ts: d.equity.ts, values: d.equity.equity }], { title: "equity" });
  lineChart(charts, [{ label: "drawdown", ts: d.equity.ts, values: d.equity.drawdownPct.map((v) => -v) }], { title: "drawdown", height: 160, yFmt: (v) => (v * 100).toFixed(1) + "%", area: true });

  const priceBox = h("div", {}, h("p", { class: "muted" }, "click a trade to see its candles with the entry and exit"));
  const showTrade = async (t) => {
    for (const tr of root.querySelectorAll("#trades tr.sel")) tr.classList.remove("sel");
    root.querySelector(`#trades tr[data-trade="${CSS.escape(t.trade_id)}"]`)?.classList.add("sel");
    priceBox.replaceChildren(h("p", { class: "muted" }, "loading candles…"));
    try {
      const res = await api(`/api/runs/${encodeURIComponent(r.runId)}/trades/${encodeURIComponent(t.trade_id)}`);
      priceBox.replaceChildren(h("div", { class: "note" }, `entry ${isoMs(t.entry_ts)} at ${fmt(t.entry_price, 8)} → exit ${isoMs(t.exit_ts)} at ${fmt(t.exit_price, 8)} (${t.exit_reason}, pnl ${pct(t.pnl_pct)})`));
      priceChart(priceBox, res.candles, res.trade, res.fills);
      if (res.fills.length) priceBox.append(h("table", { class: "fills" }, h("tr", {}, ["time", "side", "reason", "leg", "qty", "price"].map((x) => h("th", {}, x))),
        res.fills.map((f) => h("tr", {}, h("td", { class: "mono" }, isoMs(f.ts)), h("td", { class: f.side === "buy" ? "good" : "bad" }, f.side), h("td", {}, f.reason),
          h("td", { class: "n" }, f.leg ?? ""), h("td", { class: "n" }, fmt(f.qty)), h("td", { class: "n" }, fmt(f.price, 8))))));
    } catch (err) { priceBox.replaceChildren(errorBox(err)); }
  };
  put(root, h("h2", {}, `Trades (${d.tradeCount})`), d.tradeCount > d.trades.length ? h("p", { class: "note" }, `the first ${d.trades.length}; the full list is the trades artifact`) : null,
    priceBox,
    h("div", { class: "scroll tall" }, h("table", { id: "trades" },
      h("tr", {}, ["entry", "exit", "token", "chain", "entry px", "exit px", "pnl", "pnl %", "hold s", "reason"].map((x) => h("th", {}, x))),
      d.trades.map((t) => h("tr", { class: "click", "data-trade": t.trade_id, onclick: () => showTrade(t) },
        h("td", { class: "mono" }, isoMs(t.entry_ts)), h("td", { class: "mono" }, isoMs(t.exit_ts)), h("td", {}, idCell(t.token, null, 10)),
        h("td", {}, t.chain), h("td", { class: "n" }, fmt(t.entry_price, 8)), h("td", { class: "n" }, fmt(t.exit_price, 8)),
        h("td", { class: `n ${t.pnl > 0 ? "good" : t.pnl < 0 ? "bad" : ""}` }, fmt(t.pnl, 4)), h("td", { class: "n" }, pct(t.pnl_pct)),
        h("td", { class: "n" }, fmt(t.duration_ms / 1000)), h("td", {}, t.exit_reason))))));
  if (d.fills.length) {
    put(root, h("h2", {}, `Fills (${d.fills.reduce((s, x) => s + x.fills, 0)})`), h("table", { id: "fills" }, h("tr", {}, h("th", {}, "side"), h("th", {}, "reason"), h("th", { class: "n" }, "fills")),
      d.fills.map((f) => h("tr", {}, h("td", {}, f.side), h("td", {}, f.reason), h("td", { class: "n" }, f.fills)))));
  }
  put(root, h("h2", {}, `Skipped alerts (${d.skipped.reduce((s, x) => s + x.alerts, 0)})`),
    h("table", {}, h("tr", {}, h("th", {}, "reason"), h("th", { class: "n" }, "alerts")), d.skipped.map((s) => h("tr", {}, h("td", {}, s.reason), h("td", { class: "n" }, s.alerts)))));
  if (d.warnings.length) put(root, h("h2", {}, "Warnings"), h("ul", {}, d.warnings.map((w) => h("li", {}, `${w.reason}: ${w.detail}`))));
  put(root, h("h2", {}, "Lineage"), r.projectionId ? h("p", { class: "muted" }, "projection ", h("code", {}, r.projectionId)) : null,
    h("table", {}, h("tr", {}, ["role", "artifact", "type", "logical key", "rows", "status"].map((x) => h("th", {}, x))),
      d.lineage.map((l) => h("tr", {}, h("td", {}, l.role), h("td", {}, idCell(l.artifact.artifactId, `#/artifact/${l.artifact.artifactId}`)),
        h("td", {}, `${l.artifact.artifactType} v${l.artifact.schemaVersion}`), h("td", { class: "mono" }, l.artifact.logicalKey),
        h("td", { class: "n" }, fmt(l.artifact.rowCount)), h("td", {}, pill(l.artifact.status))))));
};

PAGES.compare = async (root, _args, query, alive) => {
  const d = await api("/api/compare?" + query.toString());
  if (!alive()) return;
  const names = d.runs.map((r, i) => `${i + 1}. ${r.name}`);
  put(root, h("h1", {}, `Comparing ${d.runs.length} runs`),
    h("table", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "run"), h("th", {}, "experiment"), h("th", {}, "status")),
      d.runs.map((r, i) => h("tr", {}, h("td", {}, h("span", { class: "pill", title: "colour in the charts" }, String(i + 1))), h("td", {}, idCell(r.runId, `#/run/${r.runId}`, 28)), h("td", { class: "mono" }, r.experimentId), h("td", {}, pill(r.status))))));
  put(root, h("h2", {}, "Definitions: what differs"), d.diff.length
    ? h("div", { class: "scroll" }, h("table", { id: "diff" }, h("tr", {}, h("th", {}, "field"), names.map((n) => h("th", {}, n))),
      d.diff.map((row) => h("tr", {}, h("td", { class: "mono" }, row.path), row.values.map((v) => h("td", { class: "mono" }, Array.isArray(v) ? `[${v.length} items]` : fmt(v)))))))
    : h("p", { class: "muted" }, "the definitions are identical"));
  put(root, h("h2", {}, "Metrics"), h("p", { class: "note" }, "bold: the runs differ"), h("div", { class: "scroll" }, h("table", { id: "compare-metrics" },
    h("tr", {}, h("th", {}, "metric"), names.map((n) => h("th", { class: "n" }, n))),
    d.metrics.map((m) => {
      const differs = new Set(m.values.map((v) => JSON.stringify(v))).size > 1;
      return h("tr", { class: differs ? "differs" : "" }, h("td", {}, m.name), m.values.map((v) => h("td", { class: "n" }, fmt(v))));
    }))));
  const charts = h("div", { id: "compare-charts" });
  put(root, h("h2", {}, "Equity curves"), charts);
  lineChart(charts, d.equity.map((e, i) => ({ label: names[i], ts: e.ts, values: e.equity })), { title: "equity, overlaid" });
  lineChart(charts, d.equity.map((e, i) => ({ label: names[i], ts: e.ts, values: e.drawdownPct.map((v) => -v) })), { title: "drawdown", height: 200, yFmt: (v) => (v * 100).toFixed(1) + "%" });
};

// ---------------------------------------------------------------------------------------------
// sweeps
// ---------------------------------------------------------------------------------------------

PAGES.sweeps = async (root, _args, _query, alive) => {
  const d = await api("/api/sweeps");
  if (!alive()) return;
  put(root, h("h1", {}, "Sweeps"));
  if (!d.sweeps.length) { put(root, h("p", { class: "muted" }, "no sweeps yet: `bridge experiment sweep` makes one")); return; }
  put(root, sortableTable([
    { key: "sweep_id", label: "sweep", render: (s) => h("a", { href: `#/sweep/${s.sweep_id}` }, s.sweep_id) },
    { key: "experiment_id", label: "base experiment" },
    { key: "grid", label: "grid", value: (s) => Object.keys(s.grid).join(", "), render: (s) => Object.entries(s.grid).map(([k, v]) => `${k}: ${v.join(" / ")}`).join(" · ") },
    { key: "runs", label: "points", num: true }, { key: "completed", label: "completed", num: true }, { key: "created_at", label: "created" },
  ], d.sweeps));
};

function colorScale(v, lo, hi) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "#eceef3";
  const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  // red (low) -> white -> green (high)
  const mix = (a, b, f) => Math.round(a + (b - a) * f);
  return t < 0.5 ? `rgb(${mix(214, 250, t * 2)},${mix(72, 250, t * 2)},${mix(60, 250, t * 2)})`
    : `rgb(${mix(250, 43, (t - 0.5) * 2)},${mix(250, 138, (t - 0.5) * 2)},${mix(250, 62, (t - 0.5) * 2)})`;
}

// Mean of `metric` over the points in each (x, y) cell (other parameters averaged over).
function heatMap(points, grid, px, py, metric, title) {
  const xs = grid[px], ys = grid[py];
  const cell = (x, y) => {
    const vals = points.filter((p) => p.params[px] === x && p.params[py] === y).map((p) => p.metrics[metric]).filter((v) => typeof v === "number");
    return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
  };
  const values = ys.map((y) => xs.map((x) => cell(x, y)));
  const flat = values.flat().filter((v) => v !== null);
  const lo = Math.min(...flat), hi = Math.max(...flat);
  const CW = 84, CH = 34, L = 110, T = 40;
  const svg = S("svg", { width: L + xs.length * CW + 20, height: T + ys.length * CH + 40, role: "img", "aria-label": title });
  svg.append(S("text", { x: L, y: 14, "font-weight": 600 }, title));
  svg.append(S("text", { x: L + (xs.length * CW) / 2, y: T + ys.length * CH + 30, "text-anchor": "middle" }, px));
  svg.append(S("text", { x: 6, y: T - 8 }, py));
  xs.forEach((x, i) => svg.append(S("text", { x: L + i * CW + CW / 2, y: T + ys.length * CH + 14, "text-anchor": "middle" }, fmt(x))));
  ys.forEach((y, j) => {
    svg.append(S("text", { x: L - 6, y: T + j * CH + CH / 2 + 4, "text-anchor": "end" }, fmt(y)));
    xs.forEach((x, i) => {
      const v = values[j][i];
      svg.append(S("g", {}, S("title", {}, `${px}=${x}, ${py}=${y}: ${metric} = ${fmt(v)}`),
        S("rect", { class: "cell", x: L + i * CW, y: T + j * CH, width: CW, height: CH, fill: colorScale(v, lo, hi) }),
        S("text", { x: L + i * CW + CW / 2, y: T + j * CH + CH / 2 + 4, "text-anchor": "middle" }, fmt(v, 3))));
    });
  });
  return svg;
}

PAGES.sweep = async (root, [id], query, alive) => {
  const d = await api(`/api/sweeps/${encodeURIComponent(id)}`);
  if (!alive()) return;
  const params = Object.keys(d.grid);
  const metricNames = [...new Set(d.points.flatMap((p) => Object.keys(p.metrics)))].sort();
  put(root, h("h1", {}, "Sweep ", h("span", { class: "mono" }, d.sweepId)),
    h("p", { class: "muted" }, `base experiment ${d.experimentId} · ${d.points.length} points · created ${d.createdAt}`));
  // in-sample vs out-of-sample: metrics named oos_* / is_* (or *_oos / *_is) pair up
  const oosOf = (m) => metricNames.find((n) => n === `oos_${m}` || n === `${m}_oos`);
  const hasOos = metricNames.some((n) => /(^|_)oos(_|$)/.test(n));
  const q = new URLSearchParams(query);
  const pick = (name, options, dflt) => h("select", { name, id: `heat-${name}` }, options.map((o) => h("option", { value: o, selected: (q.get(name) || dflt) === o }, o)));
  const baseMetrics = metricNames.filter((n) => !/(^|_)oos(_|$)/.test(n) && !/^is_|_is$/.test(n));
  const selX = pick("x", params, params[0]), selY = pick("y", params, params[1] || params[0]);
  // the heat map starts on the sweep's selection metric when it has one (as its HTML report does)
  const selection = d.validation && metricNames.includes(d.validation.metric) ? d.validation.metric : null;
  const selM = pick("metric", metricNames, selection || (metricNames.includes("total_return") ? "total_return" : metricNames[0]));
  const heat = h("div", { class: "heat", id: "heatmap" });
  const drawHeat = () => {
    heat.replaceChildren();
    if (!params.length || !metricNames.length) { heat.append(h("p", { class: "muted" }, "no completed points with metrics")); return; }
    const m = selM.value;
    heat.append(heatMap(d.points, d.grid, selX.value, selY.value, m, hasOos && oosOf(m) ? `in-sample ${m}` : m));
    if (hasOos && oosOf(m)) heat.append(heatMap(d.points, d.grid, selX.value, selY.value, oosOf(m), `out-of-sample ${m}`));
    if (params.length > 2) heat.append(h("p", { class: "note" }, "each cell averages the points over the other parameters"));
  };
  for (const s of [selX, selY, selM]) s.addEventListener("change", drawHeat);
  put(root, h("h2", {}, "Heat map"), h("div", { class: "filters" }, h("label", {}, "x parameter", selX), h("label", {}, "y parameter", selY), h("label", {}, "metric", selM)), heat);
  drawHeat();
  if (hasOos) {
    put(root, h("h2", {}, "In-sample vs out-of-sample metrics (mean over the points)"), h("table", { id: "is-oos" }, h("tr", {}, h("th", {}, "metric"), h("th", { class: "n" }, "mean in-sample"), h("th", { class: "n" }, "mean out-of-sample")),
      baseMetrics.filter(oosOf).map((m) => {
        const mean = (k) => { const v = d.points.map((p) => p.metrics[k]).filter((x) => typeof x === "number"); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null; };
        return h("tr", {}, h("td", {}, m), h("td", { class: "n" }, fmt(mean(m))), h("td", { class: "n" }, fmt(mean(oosOf(m)))));
      })));
  }
  const chosenIn = (p) => (d.validation ? d.validation.folds.filter((f) => f.experimentId === p.experimentId).map((f) => f.fold) : []);
  put(root, validationSection(d));
  put(root, h("h2", {}, "Grid"), h("div", { class: "scroll" }, sortableTable([
    { key: "runId", label: "run", render: (p) => idCell(p.runId, `#/run/${p.runId}`, 20) },
    { key: "status", label: "status", render: (p) => pill(p.status) },
    ...params.map((k) => ({ key: "p:" + k, label: k, num: true, value: (p) => p.params[k] })),
    ...metricNames.map((k) => ({ key: "m:" + k, label: k, num: true, value: (p) => p.metrics[k] })),
    ...(d.validation ? [{ key: "chosen", label: "chosen in folds", value: (p) => chosenIn(p).join(", ") || null }] : []),
  ], d.points, { initial: metricNames.includes("total_return") ? { key: "m:total_return", dir: -1 } : null })));
};

// The sweep's out-of-sample validation (its experiment_sweep_validation artifact): per fold the
// point chosen in-sample and its statistics in both samples, as bars and a table; then the
// deflated Sharpe ratio and the PBO, each explained. Definitions: docs/experiments.md.
const STATS = ["mean_return", "median_return", "total_pnl", "win_rate", "profit_factor", "expectancy", "trade_sharpe", "trade_count"];
const DOCS_OOS = "/docs/experiments#out-of-sample-sweeps", DOCS_GUARDS = "/docs/experiments#overfitting-guards";
const docLink = (href, text) => h("a", { href, target: "_blank", rel: "noopener" }, text);

function validationSection(d) {
  const box = h("div", { id: "validation" }, h("h2", {}, "In-sample vs out-of-sample"));
  const v = d.validation;
  if (!v) {
    return put(box, h("p", { class: "muted", id: "no-validation" },
      "No walk-forward validation for this sweep; run it with ",
      h("code", {}, `bridge experiment sweep DEFINITION --grid '${JSON.stringify(d.grid)}' --walk-forward 5`),
      " (or ", h("code", {}, "--split 0.7"), "; RPC ", h("code", {}, "runSweep {validation: {method: \"walkForward\", folds: 5}}"),
      ") to get one: folds with the point chosen in-sample and evaluated out-of-sample, the deflated Sharpe ratio and the PBO. ",
      docLink(DOCS_OOS, "How it works")));
  }
  const st = v.settings || {};
  const how = st.method === "split"
    ? `one split: the alerts before the cut are in-sample, the rest out-of-sample`
    : `${v.folds.length} walk-forward folds: the alerts, in time order, are cut into ${v.folds.length + 1} blocks of equal count; fold i learns on blocks 1…i and is tested on block i + 1, which it has not seen`;
  put(box, h("p", { class: "note" }, `${how}. In each fold the point with the best in-sample `, h("b", {}, v.metric),
    " is chosen; its out-of-sample value is what that choice would have earned. Out-of-sample far below in-sample means the choice was fitted to noise. ",
    docLink(DOCS_OOS, "Definitions"), " · ", idCell(v.artifactId, `#/artifact/${v.artifactId}`, 12)));
  const stats = STATS.filter((k) => v.folds.some((f) => k in f.inSample));
  const sel = h("select", { id: "wf-stat" }, stats.map((k) => h("option", { value: k, selected: k === v.metric }, k + (k === v.metric ? " (selection metric)" : ""))));
  const chart = h("div", { id: "wf-chart" });
  const table = h("div", { class: "scroll" });
  const minute = (ms) => (ms === null || ms === undefined ? "—" : new Date(ms).toISOString().slice(0, 16).replace("T", " "));
  const span = (a, b) => h("span", { title: `${isoMs(a)} (inclusive) → ${isoMs(b)} (exclusive)` }, `${minute(a)} → ${minute(b)}`);
  const draw = () => {
    const k = sel.value;
    chart.replaceChildren();
    foldBars(chart, v.folds, k);
    table.replaceChildren(h("table", { id: "wf-folds" },
      h("tr", {}, ["fold", "in-sample alerts (UTC)", "out-of-sample alerts (UTC)", "chosen point"].map((x) => h("th", {}, x)),
        h("th", { class: "n" }, `in-sample ${k}`), h("th", { class: "n" }, `out-of-sample ${k}`),
        h("th", { class: "n" }, "IS trades"), h("th", { class: "n" }, "OOS trades")),
      v.folds.map((f) => h("tr", { "data-fold": f.fold },
        h("td", {}, f.fold), h("td", { class: "mono" }, span(f.inSampleFrom, f.inSampleTo)), h("td", { class: "mono" }, span(f.outOfSampleFrom, f.outOfSampleTo)),
        h("td", {}, f.params ? h("span", { class: "mono" }, Object.entries(f.params).map(([p, x]) => `${p}=${fmt(x)}`).join(", ")) : null,
          " ", f.runId ? idCell(f.runId, `#/run/${f.runId}`, 10) : h("span", { class: "mono" }, f.experimentId)),
        h("td", { class: "n is" }, fmt(f.inSample[k])), h("td", { class: `n oos ${oosClass(f.inSample[k], f.outOfSample[k])}` }, fmt(f.outOfSample[k])),
        h("td", { class: "n" }, fmt(f.inSample.trade_count)), h("td", { class: "n" }, fmt(f.outOfSample.trade_count))))));
  };
  sel.addEventListener("change", draw);
  put(box, h("div", { class: "filters" }, h("label", {}, "statistic", sel)), chart, table);
  draw();
  put(box, overfitGuards(v.overfit));
  return box;
}

const oosClass = (a, b) => (typeof a !== "number" || typeof b !== "number" ? "" : b < a ? "bad" : "good");

// Grouped bars per fold: in-sample (left) and out-of-sample (right) of one statistic.
function foldBars(el, folds, stat) {
  const xs = folds.map((f) => f.fold);
  const is = folds.map((f) => f.inSample[stat] ?? null), oos = folds.map((f) => f.outOfSample[stat] ?? null);
  const all = [...is, ...oos].filter((x) => typeof x === "number");
  const box = h("div", { class: "chart" });
  el.append(box);
  if (!all.length) { box.append(h("p", { class: "muted" }, `no ${stat} in any fold`)); return null; }
  const lo = Math.min(0, ...all), hi = Math.max(0, ...all), pad = (hi - lo || 1) * 0.08;
  const bars = (align) => uPlot.paths.bars({ size: [0.34, 80], align });
  const opts = {
    title: `${stat} per fold: in-sample vs out-of-sample`, width: Math.min(chartWidth(el), 260 + 140 * xs.length), height: 240,
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    scales: { x: { time: false, range: [0.5, xs.length + 0.5] }, y: { range: [lo - (lo < 0 ? pad : 0), hi + pad] } },
    series: [{ label: "fold", value: (_u, x) => (x === null ? "—" : `fold ${x}`) },
      { label: "in-sample", fill: "rgba(36,86,200,0.55)", stroke: "#2456c8", width: 1, paths: bars(-1), points: { show: false }, value: (_u, y) => fmt(y) },
      { label: "out-of-sample", fill: "rgba(217,72,15,0.55)", stroke: "#d9480f", width: 1, paths: bars(1), points: { show: false }, value: (_u, y) => fmt(y) }],
    axes: [{ splits: () => xs, values: (_u, vals) => vals.map((x) => `fold ${x}`), grid: { show: false } },
      { size: 76, values: (_u, vals) => vals.map(axisFmt) }],
  };
  const plot = new uPlot(opts, [xs, is, oos], box);
  box.append(h("div", { class: "note" }, "hover a fold for its values"));
  return plot;
}

function overfitGuards(o) {
  const box = h("div", { id: "overfit" }, h("h2", {}, "Overfitting guards"));
  const val = (x, reason, id) => h("span", { class: "n", id }, x === null || x === undefined ? `not computed: ${reason || "undefined"}` : fmt(x, 4));
  const dsrVerdict = o.dsr === null ? "" : o.dsr > 0.95 ? "significant at 95 %" : "not significant at 95 %";
  const pboVerdict = o.pbo === null ? "" : o.pbo > 0.5 ? "the in-sample best is likely overfit" : o.pbo >= 0.25 ? "the in-sample choice carries little information" : "the in-sample choice tends to hold out of sample";
  put(box, h("table", { class: "kv" },
    h("tr", {}, h("th", {}, "deflated Sharpe ratio"), h("td", {}, val(o.dsr, o.dsrReason, "dsr"), " ",
      h("span", { id: "dsr-verdict", class: o.dsr !== null && o.dsr > 0.95 ? "good" : "warn" }, dsrVerdict))),
    h("tr", {}, h("th", {}, "best point (per-alert Sharpe)"), h("td", {}, h("span", { class: "mono" }, o.dsrExperimentId || "—"),
      ` · Sharpe ${fmt(o.sr, 4)} vs ${fmt(o.sr0, 4)} expected from the best of ${fmt(o.trials)} tries on noise`)),
    h("tr", {}, h("th", {}, "trials · observations"), h("td", {}, `${fmt(o.trials)} points · ${fmt(o.observations)} alerts · skew ${fmt(o.skew, 3)} · kurtosis ${fmt(o.kurtosis, 3)}`)),
    h("tr", {}, h("th", {}, "probability of backtest overfitting"), h("td", {}, val(o.pbo, o.pboReason, "pbo"), " ",
      h("span", { id: "pbo-verdict", class: o.pbo !== null && o.pbo < 0.25 ? "good" : "warn" }, pboVerdict))),
    h("tr", {}, h("th", {}, "CSCV"), h("td", {}, `${fmt(o.pboCombinations)} splits of ${fmt(o.cscvBlocks)} blocks`))));
  put(box, h("p", { class: "note explain" }, h("b", {}, "Deflated Sharpe ratio"),
    ": the probability that the best point's true Sharpe ratio is above zero, after allowing for how many points were tried (the best of many tries looks good by luck alone) and for skewed, fat-tailed returns. Above 0.95 is significant at 95 %."),
  h("p", { class: "note explain" }, h("b", {}, "Probability of backtest overfitting"),
    ": the alerts are cut into blocks and split into two halves in every possible way; PBO is the share of splits in which the point that was best in one half ranks at or below the median in the other. Near 0: picking the in-sample best generalises; near 0.5 or above: the pick is no better than chance."),
  h("p", { class: "note" }, "Formulas and sources (Bailey and López de Prado 2014; Bailey, Borwein, López de Prado and Zhu 2015): ",
    docLink(DOCS_GUARDS, "docs/experiments.md, Overfitting guards"), "."));
  return box;
}

// ---------------------------------------------------------------------------------------------
// coverage
// ---------------------------------------------------------------------------------------------

PAGES.coverage = async (root, _args, query, alive) => {
  const d = await api("/api/coverage?" + query.toString());
  if (!alive()) return;
  put(root, h("h1", {}, "Coverage: where candles are missing"));
  if (!d.report) { put(root, h("p", { class: "muted" }, "no coverage artifacts yet (bridge ohlcv coverage, alertForwardCoverage)")); return; }
  const sel = h("select", { id: "coverage-artifact", onchange: (e) => go("coverage", [], new URLSearchParams({ artifact: e.target.value })) },
    d.available.map((a) => h("option", { value: a.artifactId, selected: a.artifactId === d.report.artifactId }, `${a.artifactType} · ${a.logicalKey.slice(0, 70)} · ${a.createdAt}`)));
  const rep = d.report;
  put(root, h("div", { class: "filters" }, h("label", {}, "coverage artifact", sel), idCell(rep.artifactId, `#/artifact/${rep.artifactId}`)));
  put(root, h("h2", {}, "Per token"), h("div", { class: "scroll tall" }, sortableTable([
    { key: "token", label: "token", render: (t) => h("span", { class: "mono" }, t.token, copyButton(t.token)) },
    ...(rep.kind === "alert_forward_coverage" ? [{ key: "windows", label: "alert windows", num: true }, { key: "fullyCovered", label: "fully covered", num: true }] : []),
    ...(rep.kind === "coverage_gaps" ? [{ key: "gaps", label: "gaps", num: true }] : [{ key: "expected", label: "expected", num: true }, { key: "present", label: "present", num: true }]),
    { key: "missing", label: "missing candles", num: true, render: (t) => h("span", { class: t.missing ? "bad" : "good" }, fmt(t.missing)) },
    ...(rep.kind !== "coverage_gaps" ? [{ key: "ratio", label: "coverage", num: true, render: (t) => pct(t.ratio) }] : []),
  ], rep.tokens, { initial: { key: "missing", dir: -1 } })));
  if (rep.windows) {
    put(root, h("h2", {}, `Alert windows with missing candles (${rep.windowsWithGaps} of ${rep.rows})`), rep.windows.length ? h("div", { class: "scroll tall" }, sortableTable([
      { key: "alertTs", label: "alert", render: (w) => h("span", { class: "mono" }, isoMs(w.alertTs)) },
      { key: "horizonEnd", label: "window end", render: (w) => h("span", { class: "mono" }, isoMs(w.horizonEnd)) },
      { key: "token", label: "token", render: (w) => idCell(w.token, null, 12) },
      { key: "chain", label: "chain" }, { key: "expected", label: "expected", num: true }, { key: "present", label: "present", num: true },
      { key: "missing", label: "missing", num: true }, { key: "ratio", label: "coverage", num: true, render: (w) => pct(w.ratio) },
    ], rep.windows)) : h("p", { class: "good" }, "every alert window is fully covered"));
  }
  if (rep.gaps) {
    put(root, h("h2", {}, "Gaps (longest first)"), h("div", { class: "scroll tall" }, sortableTable([
      { key: "token", label: "token", render: (g) => h("span", { class: "mono" }, g.token) }, { key: "resolution", label: "res" },
      { key: "gapStart", label: "from", render: (g) => isoMs(g.gapStart) }, { key: "gapEnd", label: "to (excl.)", render: (g) => isoMs(g.gapEnd) },
      { key: "missing", label: "missing", num: true },
    ], rep.gaps)));
  }
};

// ---------------------------------------------------------------------------------------------
// projections and the SQL console
// ---------------------------------------------------------------------------------------------

PAGES.projections = async (root, _args, query, alive) => {
  const d = await api("/api/projections");
  if (!alive()) return;
  put(root, h("h1", {}, "Projections"));
  put(root, h("table", { id: "projections" }, h("tr", {}, ["projection", "tables", "rows", "mode", "built", "status"].map((x) => h("th", {}, x))),
    d.projections.map((p) => h("tr", {}, h("td", {}, idCell(p.projectionId, null, 20)), h("td", {}, p.tables.join(", ")),
      h("td", { class: "n" }, Object.entries(p.rowCount).map(([t, n]) => `${t} ${fmt(n)}`).join(", ")), h("td", {}, p.mode), h("td", { class: "mono" }, p.builtAt),
      h("td", {}, p.stale ? [pill("stale", "stale"), h("ul", {}, p.staleReasons.map((r) => h("li", { class: "note" }, `${r.table}: ${r.reason}`)))] : pill("current", "active"),
        p.file_present ? null : h("div", { class: "bad" }, "file missing: rebuild it"))))));
  if (!d.projections.length) { put(root, h("p", { class: "muted" }, "no projections yet")); return; }
  const sel = h("select", { id: "sql-projection" }, d.projections.map((p) => h("option", { value: p.projectionId, selected: query.get("p") === p.projectionId }, `${p.projectionId} (${p.tables.join(", ")})`)));
  const firstTable = d.projections[0].tables[0] || "t";
  const ta = h("textarea", { class: "sql", id: "sql", spellcheck: "false" }, query.get("sql") || `SELECT * FROM ${firstTable} LIMIT 20`);
  const out = h("div", { id: "sql-result" });
  const run = async () => {
    out.replaceChildren(h("p", { class: "muted" }, "running…"));
    try {
      const res = await api("/api/query", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ projectionId: sel.value, sql: ta.value }) });
      out.replaceChildren(
        h("p", { class: "note" }, `${res.rowCount} row(s)`, res.truncated ? ` — truncated at the ${res.truncatedBy === "bytes" ? d.limits.maxBytes.toLocaleString("en-US") + "-byte" : d.limits.maxRows + "-row"} limit` : ""),
        h("div", { class: "scroll tall" }, h("table", {}, h("tr", {}, res.columns.map((c) => h("th", { title: c.type }, c.name))),
          res.rows.map((r) => h("tr", {}, r.map((v) => h("td", { class: typeof v === "number" ? "n" : "mono" }, fmt(v))))))));
    } catch (err) { out.replaceChildren(errorBox(err)); }
  };
  put(root, h("h2", {}, "SQL console (read-only)"),
    h("p", { class: "note" }, `One statement through the projection sandbox: writes, settings and files outside the projection are refused; at most ${d.limits.maxRows} rows and ${d.limits.maxBytes.toLocaleString("en-US")} bytes come back.`),
    h("div", { class: "filters" }, h("label", {}, "projection", sel)), ta,
    h("div", { class: "filters" }, h("button", { class: "primary", id: "run-sql", onclick: run }, "Run"), h("span", { class: "note" }, "Ctrl+Enter runs")), out);
  ta.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } });
};
