// weir UI: a single page over weir's JSON API. No framework, nothing loaded from the internet.
"use strict";

const KINDS = ["Kustomization", "HelmRelease", "GitRepository", "OCIRepository", "HelmRepository", "HelmChart", "Bucket",
  "ExternalArtifact", "Alert", "Provider", "Receiver", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation"];
let session = null;
const state = { route: "", listCache: {}, refresh: null };

// el builds an element; children are nodes or strings (always text, never HTML).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
const main = () => document.getElementById("main");
function flat(nodes) { return nodes.flat(Infinity).filter(n => n !== null && n !== undefined && n !== false); }
function show(...nodes) { main().replaceChildren(...flat(nodes)); }

async function api(path, opts) {
  const o = Object.assign({ headers: {} }, opts || {});
  if (o.method && o.method !== "GET" && session && session.csrf) o.headers["X-CSRF-Token"] = session.csrf;
  if (o.body && typeof o.body !== "string") { o.body = JSON.stringify(o.body); o.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, o);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function plural(kind) { return kind.endsWith("y") ? kind.slice(0, -1) + "ies" : kind + "s"; }
function pill(s) { return el("span", { class: "pill s-" + s }, s); }
function objLink(kind, ns, name, text) { return el("a", { href: `#/obj/${kind}/${ns}/${name}` }, text || `${kind}/${ns}/${name}`); }
function idLink(id) { const [k, ns, n] = id.split("/"); return objLink(k, ns, n, id); }
function ago(t) {
  if (!t) return "";
  const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
  if (s < 60) return Math.round(s) + "s ago"; if (s < 3600) return Math.round(s / 60) + "m ago";
  if (s < 86400) return Math.round(s / 3600) + "h ago"; return Math.round(s / 86400) + "d ago";
}

function renderNav() {
  const nav = document.getElementById("nav");
  const links = [["#/", "Overview"], ...["Kustomization", "HelmRelease", "GitRepository", "OCIRepository", "HelmRepository"].map(k => [`#/list/${k}`, plural(k)]),
    ["#/kinds", "All kinds"], ["#/graph", "Graph"], ["#/trace", "Trace"]];
  nav.replaceChildren(...links.map(([h, t]) => el("a", { href: h, class: location.hash === h ? "active" : "" }, t)));
  const u = document.getElementById("user");
  u.replaceChildren();
  if (session && session.signedIn) {
    u.append(session.user + (session.local ? " (kubeconfig)" : ""), " ");
    if (!session.local) u.append(el("a", { href: "#/", onclick: async e => { e.preventDefault(); await api("/api/logout", { method: "POST" }); location.reload(); } }, "sign out"));
  }
}

// ---- views ----

async function viewOverview() {
  const d = await api("/api/overview");
  const cards = el("div", { class: "cards" }, d.counts.map(c => el("div", { class: "card" },
    el("a", { href: `#/list/${c.kind}` }, el("div", {}, c.kind), el("div", { class: "n" }, c.total)),
    el("div", {}, Object.entries(c.states).map(([s, n]) => el("a", { href: `#/list/${c.kind}?state=${s}` }, pill(`${s} ${n}`)))))));
  const attention = d.attention.length === 0 ? el("p", { class: "muted", id: "attention" }, "Nothing needs attention.") :
    el("table", { id: "attention" }, el("tr", {}, el("th", {}, "Object"), el("th", {}, "Reason"), el("th", {}, "Message"), el("th", {}, "Since")),
      d.attention.map(s => el("tr", {}, el("td", {}, objLink(s.kind, s.namespace, s.name, `${s.kind}/${s.namespace}/${s.name}`), s.stalled ? " (stalled)" : ""),
        el("td", {}, s.reason || ""), el("td", { class: "msg" }, s.message || ""), el("td", {}, ago(s.since)))));
  const events = el("table", {}, el("tr", {}, el("th", {}, "When"), el("th", {}, "Type"), el("th", {}, "Object"), el("th", {}, "Reason"), el("th", {}, "Message")),
    (d.events || []).slice(0, 25).map(e => el("tr", {}, el("td", {}, ago(e.time)), el("td", {}, e.type), el("td", {}, idLink(e.object)),
      el("td", {}, e.reason), el("td", { class: "msg" }, e.message))));
  show(el("h1", {}, "Overview"),
    el("p", { class: "muted" }, `weir ${d.version || ""}`, d.controllers && d.controllers.length ? ` · controllers: ${d.controllers.join(", ")}` : ""),
    cards, el("h2", {}, "Needs attention"), attention, el("h2", {}, "Recent activity"), events);
}

function viewKinds() {
  show(el("h1", {}, "All kinds"), el("div", { class: "cards" }, KINDS.map(k => el("div", { class: "card" }, el("a", { href: `#/list/${k}` }, k)))));
}

async function viewList(kind, params) {
  const d = await api("/api/objects?kind=" + encodeURIComponent(kind));
  const items = d.items;
  const namespaces = [...new Set(items.map(i => i.namespace))].sort();
  const sources = [...new Set(items.map(i => i.source).filter(Boolean))].sort();
  // Filters survive live refreshes of the same list.
  state.filters = state.filters || {};
  const f = state.filters[kind] && !params.toString() ? state.filters[kind] :
    { q: params.get("q") || "", ns: params.get("ns") || "", state: params.get("state") || "", source: params.get("source") || "", label: params.get("label") || "" };
  state.filters[kind] = f;
  let sortKey = "name", sortDir = 1;
  const tbody = el("tbody");
  const count = el("span", { class: "muted" });
  const cols = [["namespace", "Namespace"], ["name", "Name"], ["state", "State"], ["revision", "Revision"], ["source", "Source"], ["message", "Message"], ["since", "Since"]];
  const head = el("tr", {}, cols.map(([k, t]) => el("th", { onclick: () => { sortDir = sortKey === k ? -sortDir : 1; sortKey = k; draw(); } }, t)));
  function matches(i) {
    if (f.ns && i.namespace !== f.ns) return false;
    if (f.state && i.state !== f.state) return false;
    if (f.source && i.source !== f.source) return false;
    if (f.label) { const [k, v] = f.label.split("="); if (!i.labels || (v === undefined ? !(k in i.labels) : i.labels[k] !== v)) return false; }
    if (f.q) { const q = f.q.toLowerCase(); if (!(`${i.namespace}/${i.name} ${i.message || ""} ${i.revision || ""}`.toLowerCase().includes(q))) return false; }
    return true;
  }
  function draw() {
    const rows = items.filter(matches).sort((a, b) => String(a[sortKey] || "").localeCompare(String(b[sortKey] || "")) * sortDir);
    const frag = document.createDocumentFragment();
    for (const i of rows) {
      frag.append(el("tr", { "data-id": `${i.kind}/${i.namespace}/${i.name}` }, el("td", {}, i.namespace), el("td", {}, objLink(i.kind, i.namespace, i.name, i.name)),
        el("td", {}, pill(i.state)), el("td", {}, i.revision || ""), el("td", {}, i.source || ""), el("td", { class: "msg" }, i.message || ""), el("td", {}, ago(i.since))));
    }
    tbody.replaceChildren(frag);
    count.textContent = `${rows.length} of ${items.length}`;
  }
  const input = (key, attrs) => el("input", Object.assign({ value: f[key], oninput: e => { f[key] = e.target.value; draw(); } }, attrs));
  const select = (key, label, values) => el("select", { onchange: e => { f[key] = e.target.value; draw(); } },
    el("option", { value: "" }, label), values.map(v => el("option", { value: v, selected: v === f[key] }, v)));
  show(el("h1", {}, plural(kind)), el("div", { class: "filters" }, input("q", { placeholder: "search", id: "search" }),
    select("ns", "all namespaces", namespaces), select("state", "all states", ["ready", "failing", "reconciling", "suspended", "unknown"]),
    select("source", "all sources", sources), input("label", { placeholder: "label key=value" }), count),
    el("table", { id: "list" }, el("thead", {}, head), tbody));
  draw();
}

function yamlPre(text) { return el("pre", {}, text || ""); }
function diffPre(text) {
  return el("pre", { class: "diff" }, (text || "").split("\n").filter(l => !l.startsWith("--- ") && !l.startsWith("+++ ")).map(l =>
    el("div", { class: l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : "" }, l)));
}

async function viewObject(kind, ns, name) {
  const d = await api(`/api/object?kind=${encodeURIComponent(kind)}&namespace=${encodeURIComponent(ns)}&name=${encodeURIComponent(name)}`);
  const s = d.summary;
  const msg = el("div", { id: "action-result" });
  async function act(action) {
    msg.replaceChildren();
    try { await api("/api/action", { method: "POST", body: { kind, namespace: ns, name, action } }); msg.append(el("p", { class: "muted" }, `${action}: requested`)); }
    catch (e) { msg.append(el("p", { class: "error" }, e.message)); }
  }
  const actions = el("div", { class: "actions" },
    el("button", { class: "primary", id: "btn-reconcile", disabled: !d.canAct, title: d.canAct ? "" : "your Kubernetes RBAC does not allow patching this object", onclick: () => act("reconcile") }, "Reconcile"),
    s.source ? el("button", { disabled: !d.canAct, onclick: () => act("reconcile-with-source") }, "Reconcile with source") : null,
    d.kindInfo.suspendable ? el("button", { id: "btn-suspend", disabled: !d.canAct, onclick: () => act(s.state === "suspended" ? "resume" : "suspend") }, s.state === "suspended" ? "Resume" : "Suspend") : null,
    (kind === "Kustomization" || kind === "HelmRelease") ? el("button", { onclick: () => loadDiff() }, "Drift") : null,
    (kind === "Kustomization" && (s.source || "").startsWith("GitRepository/")) ? [el("input", { id: "branch", placeholder: "branch to plan" }),
      el("button", { id: "btn-plan", onclick: () => loadPlan(document.getElementById("branch").value) }, "Plan branch")] : null);
  async function loadPlan(ref) {
    diffBox.replaceChildren(el("p", { class: "muted" }, `Planning ${ref}…`));
    try {
      const p = await api(`/api/plan?namespace=${encodeURIComponent(ns)}&name=${encodeURIComponent(name)}&ref=${encodeURIComponent(ref)}`);
      const rows = [];
      for (const u of p.units || []) for (const c of u.changes || []) if (c.action !== "unchanged") rows.push([u, c]);
      diffBox.replaceChildren(...flat([el("h2", {}, `If ${ref} merges`),
        el("p", { class: "muted", id: "plan-summary" }, `${p.summary.created} created, ${p.summary.changed} changed, ${p.summary.pruned} pruned; ${p.summary.problems} problems`),
        (p.problems || []).map(x => el("p", { class: "error" }, `[${x.check}] ${x.file || ""} ${x.object || ""}: ${x.message}`)),
        rows.map(([u, c]) => el("div", {}, el("p", {}, `${c.action}: ${c.object} (${u.kind}/${u.namespace}/${u.name})`), c.diff ? diffPre(c.diff) : null))]));
    } catch (e) { diffBox.replaceChildren(el("p", { class: "error" }, e.message)); }
  }
  const diffBox = el("div", { id: "diff" });
  async function loadDiff() {
    diffBox.replaceChildren(el("p", { class: "muted" }, "Comparing with the cluster…"));
    try {
      const r = await api(`/api/diff?kind=${kind}&namespace=${encodeURIComponent(ns)}&name=${encodeURIComponent(name)}`);
      diffBox.replaceChildren(...flat([el("h2", {}, `Drift from ${r.revision || "the source"}`), r.error ? el("p", { class: "error" }, r.error) : null,
        (r.changes || []).length === 0 ? el("p", { class: "muted" }, "The live objects match what it declares.") :
          r.changes.map(c => el("div", {}, el("p", {}, `${c.action}: ${c.object}`), c.diff ? diffPre(c.diff) : null))]));
    } catch (e) { diffBox.replaceChildren(el("p", { class: "error" }, e.message)); }
  }
  const kv = el("dl", { class: "kv" }, el("dt", {}, "State"), el("dd", { id: "state" }, pill(s.state), s.stalled ? " stalled" : ""),
    el("dt", {}, "Revision"), el("dd", {}, s.revision || "—"),
    el("dt", {}, "Last attempted"), el("dd", {}, d.lastAttemptedRevision || "—"),
    el("dt", {}, "Source"), el("dd", {}, s.source ? idLink(s.source) : "—"),
    el("dt", {}, "Depends on"), el("dd", {}, (s.dependsOn || []).length ? s.dependsOn.map(x => [idLink(x), " "]) : "—"),
    el("dt", {}, "Message"), el("dd", { id: "message" }, s.message || "—"),
    el("dt", {}, "Since"), el("dd", {}, s.since ? `${new Date(s.since).toLocaleString()} (${ago(s.since)})` : "—"));
  const conds = el("table", {}, el("tr", {}, ["Type", "Status", "Reason", "Message", "Changed"].map(t => el("th", {}, t))),
    (d.conditions || []).map(c => el("tr", {}, el("td", {}, c.type), el("td", {}, c.status), el("td", {}, c.reason), el("td", { class: "msg" }, c.message), el("td", {}, ago(c.lastTransitionTime)))));
  const inv = (d.inventory || []).length === 0 ? el("p", { class: "muted" }, "No inventory.") :
    el("table", { id: "inventory" }, el("tr", {}, ["Kind", "Namespace", "Name", ""].map(t => el("th", {}, t))),
      d.inventory.map(e => el("tr", {}, el("td", {}, e.kind), el("td", {}, e.namespace), el("td", {}, e.name),
        el("td", {}, el("a", { href: `#/owner?apiVersion=${encodeURIComponent((e.group ? e.group + "/" : "") + e.version)}&kind=${e.kind}&namespace=${e.namespace}&name=${e.name}` }, "trace")))));
  const events = el("table", {}, el("tr", {}, ["When", "Type", "Reason", "Message"].map(t => el("th", {}, t))),
    (d.events || []).map(e => el("tr", {}, el("td", {}, ago(e.time)), el("td", {}, e.type), el("td", {}, e.reason), el("td", { class: "msg" }, e.message))));
  const hist = (d.history || []).length === 0 ? null : [el("h2", {}, "History"), yamlPre(JSON.stringify(d.history, null, 2))];
  show(el("h1", {}, `${kind} ${ns}/${name}`), actions, msg, kv, diffBox, el("h2", {}, "Conditions"), conds, hist,
    el("h2", {}, "Inventory"), inv, el("h2", {}, "Events"), events, el("h2", {}, "Spec"), yamlPre(d.spec),
    el("details", {}, el("summary", {}, "YAML"), yamlPre(d.yaml)));
}

function esc(s) { return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }

async function viewGraph() {
  const d = await api("/api/graph");
  const nodes = d.nodes, idOf = n => `${n.kind}/${n.namespace}/${n.name}`, byId = new Map(nodes.map(n => [idOf(n), n]));
  const up = new Map(), down = new Map();
  for (const n of nodes) for (const dep of n.dependsOn || []) if (byId.has(dep)) {
    (up.get(idOf(n)) || up.set(idOf(n), []).get(idOf(n))).push(dep);
    (down.get(dep) || down.set(dep, []).get(dep)).push(idOf(n));
  }
  const depth = new Map();
  function depthOf(id, seen) {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    let d0 = 0;
    for (const dep of up.get(id) || []) d0 = Math.max(d0, depthOf(dep, seen) + 1);
    depth.set(id, d0); return d0;
  }
  nodes.forEach(n => depthOf(idOf(n), new Set()));
  const cols = []; for (const [id, dd] of depth) (cols[dd] = cols[dd] || []).push(id);
  const W = 230, H = 26, GX = 60, GY = 8, pos = new Map();
  cols.forEach((ids, x) => ids.sort().forEach((id, y) => pos.set(id, [x * (W + GX) + 10, y * (H + GY) + 10])));
  const width = cols.length * (W + GX) + 20, height = Math.max(...cols.map(c => c.length), 1) * (H + GY) + 20;
  const colors = { ready: "#15803d", failing: "#b91c1c", reconciling: "#b45309", suspended: "#6b7280", unknown: "#6b7280" };
  // One string of markup, escaped, parsed at once: thousands of nodes render fast.
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`];
  for (const [id, ups] of up) {
    const [x2, y2] = pos.get(id);
    for (const dep of ups) { const [x1, y1] = pos.get(dep); parts.push(`<line x1="${x1 + W}" y1="${y1 + H / 2}" x2="${x2}" y2="${y2 + H / 2}" data-from="${esc(dep)}" data-to="${esc(id)}"/>`); }
  }
  for (const n of nodes) {
    const id = idOf(n), [x, y] = pos.get(id);
    const label = `${n.kind === "HelmRelease" ? "hr" : "ks"} ${n.namespace}/${n.name}`.slice(0, 36);
    parts.push(`<g data-id="${esc(id)}"><rect x="${x}" y="${y}" width="${W}" height="${H}" fill="${colors[n.state] || "#6b7280"}"/>` +
      `<text x="${x + 8}" y="${y + 17}">${esc(label)}</text><title>${esc(`${id}: ${n.state}${n.message ? " — " + n.message : ""}`)}</title></g>`);
  }
  parts.push("</svg>");
  const box = el("div", { id: "graph" });
  box.innerHTML = parts.join("");
  const svg = box.firstChild;
  let lit = [];
  function highlight(id) {
    lit.forEach(e => e.classList.remove("keep", "hot")); lit = [];
    svg.classList.toggle("focus", !!id);
    if (!id) return;
    const keep = new Set([id]);
    const walk = (x, m) => { for (const y of m.get(x) || []) if (!keep.has(y)) { keep.add(y); walk(y, m); } };
    walk(id, up); walk(id, down);
    for (const k of keep) { const g = svg.querySelector(`g[data-id="${CSS.escape(k)}"]`); if (g) { g.classList.add("keep"); lit.push(g); } }
    for (const k of keep) for (const dep of up.get(k) || []) if (keep.has(dep)) {
      const l = svg.querySelector(`line[data-from="${CSS.escape(dep)}"][data-to="${CSS.escape(k)}"]`); if (l) { l.classList.add("hot"); lit.push(l); }
    }
  }
  svg.addEventListener("mouseover", e => { const g = e.target.closest("g"); highlight(g ? g.dataset.id : null); });
  svg.addEventListener("mouseleave", () => highlight(null));
  svg.addEventListener("click", e => { const g = e.target.closest("g"); if (g) { const [k, ns, n] = g.dataset.id.split("/"); location.hash = `#/obj/${k}/${ns}/${n}`; } });
  window.weirGraphHighlight = highlight;
  const blocked = nodes.filter(n => n.state !== "ready" && (n.dependsOn || []).some(dep => byId.has(dep) && byId.get(dep).state !== "ready"));
  show(el("h1", {}, "Dependency graph"), el("p", { class: "muted" }, `${nodes.length} Kustomizations and HelmReleases; ${blocked.length} waiting on a dependency that is not ready. Hover to follow the chain, click to open.`), box);
}

async function viewTrace(params) {
  const input = el("input", { id: "revision", placeholder: "commit hash or OCI digest", value: params.get("rev") || "", size: 48 });
  const out = el("div", { id: "trace" });
  const go = async () => {
    out.replaceChildren(el("p", { class: "muted" }, "Tracing…"));
    try {
      const d = await api("/api/trace?revision=" + encodeURIComponent(input.value.trim()));
      d.sources = d.sources || []; d.appliers = d.appliers || [];
      out.replaceChildren(...flat([el("h2", {}, "Sources"), d.sources.length ? el("ul", {}, d.sources.map(s => el("li", {}, objLink(s.kind, s.namespace, s.name), " ", s.revision))) : el("p", { class: "muted" }, "No source holds this revision."),
        el("h2", {}, "Applied by"), d.appliers.length === 0 ? el("p", { class: "muted" }, "Nothing applied it.") :
          d.appliers.map(a => el("div", {}, el("h3", {}, objLink(a.kind, a.namespace, a.name), " ", pill(a.state), " ", a.revision || ""),
            el("table", {}, el("tr", {}, ["Kind", "Namespace", "Name", "Health", "Message"].map(t => el("th", {}, t))),
              (a.objects || []).map(o => el("tr", { "data-object": `${o.kind}/${o.namespace}/${o.name}` }, el("td", {}, o.kind), el("td", {}, o.namespace), el("td", {}, o.name), el("td", {}, o.health), el("td", { class: "msg" }, o.message))))))]));
    } catch (e) { out.replaceChildren(el("p", { class: "error" }, e.message)); }
  };
  show(el("h1", {}, "Trace a revision"), el("div", { class: "filters" }, input, el("button", { class: "primary", id: "trace-go", onclick: go }, "Trace")), out);
  if (input.value) go();
}

async function viewOwner(params) {
  const d = await api("/api/owner?" + params.toString());
  const o = d.object;
  show(el("h1", {}, `${o.kind} ${o.namespace ? o.namespace + "/" : ""}${o.name}`), el("dl", { class: "kv", id: "owner" },
    el("dt", {}, "Health"), el("dd", {}, o.health, o.message ? " — " + o.message : ""),
    el("dt", {}, "Applied by"), el("dd", {}, d.applier ? objLink(d.applier.kind, d.applier.namespace, d.applier.name) : (d.message || "—")),
    el("dt", {}, "Revision"), el("dd", {}, d.applier ? d.applier.revision || "—" : "—"),
    el("dt", {}, "Source"), el("dd", {}, d.source ? objLink(d.source.kind, d.source.namespace, d.source.name) : "—", d.url ? ` (${d.url})` : ""),
    el("dt", {}, "File"), el("dd", { id: "file" }, d.file || "—")));
}

function viewLogin() {
  const ta = el("textarea", { id: "token", placeholder: "a Kubernetes bearer token" });
  const msg = el("p");
  show(el("div", { class: "login" }, el("h1", {}, "Sign in to weir"),
    session.oidc ? el("p", {}, el("a", { href: "/auth/oidc/login" }, el("button", { class: "primary" }, "Sign in with OIDC"))) : null,
    el("p", { class: "muted" }, "Or paste a Kubernetes token (kubectl create token …):"), ta,
    el("p", {}, el("button", { class: "primary", id: "login", onclick: async () => {
      try { await api("/api/login", { method: "POST", body: { token: ta.value } }); location.reload(); }
      catch (e) { msg.replaceChildren(el("span", { class: "error" }, e.message)); }
    } }, "Sign in")), msg));
}

// ---- routing and live updates ----

async function route() {
  renderNav();
  if (!session.signedIn) { viewLogin(); return; }
  const hash = location.hash || "#/";
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  state.route = parts[0] || "";
  state.kind = parts[1];
  try {
    if (parts.length === 0) await viewOverview();
    else if (parts[0] === "list") await viewList(parts[1], params);
    else if (parts[0] === "obj") await viewObject(parts[1], parts[2], parts[3]);
    else if (parts[0] === "graph") await viewGraph();
    else if (parts[0] === "trace") await viewTrace(params);
    else if (parts[0] === "owner") await viewOwner(params);
    else if (parts[0] === "kinds") viewKinds();
    else show(el("p", {}, "Not found."));
  } catch (e) { show(el("p", { class: "error" }, e.message)); }
}

function relevant(ids) {
  switch (state.route) {
    case "": case "graph": return true;
    case "list": return ids.some(id => id.startsWith(state.kind + "/"));
    case "obj": { const p = location.hash.slice(1).split("/").filter(Boolean); return ids.includes(`${p[1]}/${p[2]}/${p[3]}`); }
    default: return false;
  }
}

function live() {
  const dot = document.getElementById("live");
  const es = new EventSource("/api/stream");
  es.onopen = () => dot.classList.add("on");
  es.onerror = () => dot.classList.remove("on");
  es.addEventListener("changed", ev => {
    const ids = JSON.parse(ev.data).changed || [];
    if (!relevant(ids)) return;
    // Keep what the user typed: lists re-render in place.
    if (state.route !== "trace" && state.route !== "owner") route();
  });
}

(async function start() {
  session = await api("/api/session");
  window.addEventListener("hashchange", route);
  await route();
  if (session.signedIn) live();
})();
