// The memory inspector: a hash-routed page over the REST API. Every value
// from the server is written as text (never as HTML), and the API key lives
// in sessionStorage only, for this browser tab's session.
"use strict";

const KEY = "memory-inspector-key";
const KINDS = ["fact", "preference", "event", "summary", "profile", "message"];
const view = () => document.getElementById("view");

// ---- DOM and formatting helpers ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function when(t) {
  if (!t) return "—";
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

const num = (x, digits = 2) => (x === null || x === undefined ? "—" : Number(x).toFixed(digits));
const link = (href, text, attrs) => h("a", { href, ...(attrs || {}) }, text);
const enc = encodeURIComponent;

function table(headers, rows, attrs) {
  return h("div", { class: "scroll" },
    h("table", attrs || {},
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "empty" }, "Nothing here.")))));
}

function row(...cells) {
  return h("tr", {}, cells.map((c) => h("td", {}, c)));
}

function show(title, name, ...content) {
  document.title = `${title} · memory inspector`;
  view().dataset.view = name;
  view().replaceChildren(h("h2", {}, title), ...content);
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.toggleAttribute("aria-current", a.dataset.nav === name.split("-")[0]);
  }
}

// A message to show once the next view is up (after a delete or a forget
// moved the page elsewhere).
let flash = null;

function say(message, kind) {
  const s = document.getElementById("status");
  s.hidden = !message;
  s.className = kind || "error";
  s.textContent = message ? (kind === "ok" ? "✓ " : "Error: ") + message : "";
}

// ---- the API ----

class ApiError extends Error {
  constructor(status, kind, message) {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

async function api(path, options) {
  const key = sessionStorage.getItem(KEY);
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  const init = { method: "GET", ...(options || {}), headers };
  if (init.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(init.body);
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = (body && body.error) || {};
    throw new ApiError(res.status, e.kind || String(res.status), e.message || text || res.statusText);
  }
  return body;
}

// ---- views ----

function login(reason) {
  document.getElementById("nav").hidden = true;
  const input = h("input", { id: "key", type: "password", autocomplete: "off", name: "key" });
  const form = h("form", { id: "login", class: "card" },
    h("p", {}, "The inspector shows what an API key may see. The key is kept for this browser session only."),
    h("label", { for: "key" }, "API key"), input,
    h("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    try {
      await api("/v1/stats");
      say("");
      if (location.hash === "#/users") route();
      else location.hash = "#/users";
    } catch (e) {
      sessionStorage.removeItem(KEY);
      say(e.message);
    }
  });
  show("Log in", "login", reason ? h("p", {}, reason) : null, form);
  input.focus();
}

async function users(cursor) {
  const q = cursor ? `?limit=20&cursor=${enc(cursor)}` : "?limit=20";
  const page = await api(`/v1/users${q}`);
  const counts = page.items.map((u) => h("span", { "data-memories": u.id }, "…"));
  const rows = page.items.map((u, i) => row(
    link(`#/user/${enc(u.id)}`, u.id),
    u.display_name || "—",
    when(u.first_seen_at), when(u.last_seen_at), String(u.message_count), counts[i]));
  show("Users", "users",
    table(["User", "Name", "First seen", "Last seen", "Messages", "Memories"], rows, { id: "users" }),
    page.next_cursor ? h("button", { type: "button", onclick: () => users(page.next_cursor) }, "Next page") : null);
  await Promise.all(page.items.map(async (u, i) => {
    const s = await api(`/v1/users/${enc(u.id)}/stats`).catch(() => null);
    counts[i].textContent = s ? String(s.memories) : "?";
  }));
}

function memoryFilter(form) {
  const d = new FormData(form);
  const all = [];
  if (d.get("kind")) all.push({ kind: d.get("kind") });
  if (d.get("min")) all.push({ importance: { gte: Number(d.get("min")) } });
  if (d.get("from")) all.push({ created_at: { gte: new Date(d.get("from")).toISOString() } });
  if (d.get("to")) all.push({ created_at: { lt: new Date(d.get("to")).toISOString() } });
  return { filter: all.length ? { and: all } : null, superseded: d.get("superseded") === "on" };
}

async function user(id) {
  const stats = await api(`/v1/users/${enc(id)}/stats`);
  const profile = await api(`/v1/users/${enc(id)}`).catch(() => null);
  const list = h("div", { id: "memories" });
  const form = h("form", { id: "memory-filters", class: "filters" },
    h("label", {}, "Kind ", h("select", { name: "kind" }, h("option", { value: "" }, "any"),
      KINDS.map((k) => h("option", { value: k }, k)))),
    h("label", {}, "Importance ≥ ", h("input", { name: "min", type: "number", min: 1, max: 10, step: "any", size: 4 })),
    h("label", {}, "From ", h("input", { name: "from", type: "date" })),
    h("label", {}, "To ", h("input", { name: "to", type: "date" })),
    h("label", {}, h("input", { name: "superseded", type: "checkbox" }), " include superseded"),
    h("button", { type: "submit" }, "Apply"));
  const load = async (cursor) => {
    const f = memoryFilter(form);
    let q = `/v1/memories?user_id=${enc(id)}&limit=20&include_superseded=${f.superseded}`;
    if (f.filter) q += `&filter=${enc(JSON.stringify(f.filter))}`;
    if (cursor) q += `&cursor=${enc(cursor)}`;
    const page = await api(q);
    const rows = page.items.map((m) => row(
      link(`#/memory/${m.id}`, m.content, { class: "content" }), m.kind, num(m.importance, 1),
      when(m.created_at), m.superseded_by ? "superseded" : "current"));
    list.replaceChildren(
      table(["Memory", "Kind", "Importance", "Created", "State"], rows),
      h("div", { class: "pager" },
        cursor ? h("button", { type: "button", onclick: () => load(null) }, "First page") : null,
        page.next_cursor ? h("button", { type: "button", id: "next", onclick: () => load(page.next_cursor) }, "Next page") : null));
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(null).catch(fail); });
  const sessions = await api(`/v1/sessions?user_id=${enc(id)}&limit=50`);
  show(`User ${id}`, "user",
    h("p", { class: "facts", id: "user-stats" },
      `${stats.memories} memories · ${stats.superseded} superseded · ${stats.messages} messages · ${stats.sessions} sessions`,
      profile && profile.display_name ? ` · name: ${profile.display_name}` : ""),
    h("h3", {}, "Memories"), form, list,
    h("h3", {}, "Sessions"),
    table(["Session", "Title", "Started", "Ended"], sessions.items.map((s) => row(
      link(`#/session/${enc(s.id)}`, s.id), s.title || "—", when(s.started_at), when(s.ended_at)))),
    h("h3", {}, "Forget"),
    confirmBox(`Delete everything about ${id}: memories, messages, profile. Other people's messages stay.`,
      `Forget ${id}`, id, async () => {
        const r = await api(`/v1/users/${enc(id)}`, { method: "DELETE" });
        flash = `forgot ${id}: ${r.memories.length} memories, ${r.messages} messages`;
        location.hash = "#/users";
      }));
  await load(null);
}

// A destructive action asks for the name of what it destroys to be typed.
function confirmBox(explain, label, word, action) {
  const input = h("input", { name: "confirm", autocomplete: "off", "aria-label": `Type ${word} to confirm` });
  const form = h("form", { class: "danger", "data-confirm": label },
    h("p", {}, explain, " Type ", h("code", {}, word), " to confirm."), input,
    h("button", { type: "submit", class: "danger" }, label));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (input.value !== word) return say(`type ${word} to confirm`);
    action().catch(fail);
  });
  return form;
}

async function memory(id) {
  const m = await api(`/v1/memories/${enc(id)}`);
  const history = await api(`/v1/memories/${enc(id)}/history`);
  const owner = m.scope.user_id;
  const importance = h("input", { id: "importance", name: "importance", type: "number", min: 1, max: 10, step: "any", value: m.importance });
  const edit = h("form", { id: "edit-importance", class: "filters" },
    h("label", { for: "importance" }, "Importance "), importance, h("button", { type: "submit" }, "Save"));
  edit.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api(`/v1/memories/${enc(id)}`, {
        method: "PATCH",
        body: { importance: Number(importance.value), expected_version: m.version, reason: "edited in the inspector" },
      });
      say("importance saved", "ok");
      await memory(id);
    } catch (e) {
      fail(e);
    }
  });
  const field = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
  show("Memory", "memory",
    h("blockquote", { id: "memory-content" }, m.content),
    h("dl", { class: "fields" },
      field("Owner", [owner ? link(`#/user/${enc(owner)}`, owner) : "—",
        m.scope.agent_id ? ` · agent ${m.scope.agent_id}` : "", m.scope.session_id ? ` · session ${m.scope.session_id}` : ""]),
      field("Kind", m.kind), field("Importance", num(m.importance, 1)), field("Confidence", num(m.confidence)),
      field("Created", when(m.created_at)), field("Updated", when(m.updated_at)),
      field("Valid", `${when(m.valid_from)} → ${m.valid_until ? when(m.valid_until) : "now"}`),
      field("Superseded by", m.superseded_by ? link(`#/memory/${m.superseded_by}`, m.superseded_by) : "—"),
      field("Accessed", `${m.access_count} times, last ${when(m.last_accessed_at)}`),
      field("Vector", `${m.vector_state}${m.embedding_model ? " · " + m.embedding_model : ""}`),
      field("Version", String(m.version)),
      field("Metadata", h("code", {}, JSON.stringify(m.metadata)))),
    edit,
    h("h3", {}, "History"),
    h("ol", { class: "timeline", id: "history" }, history.map((e) => h("li", {},
      h("span", { class: `op op-${e.op}` }, e.op), " ", h("time", { datetime: e.created_at }, when(e.created_at)),
      e.reason ? ` — ${e.reason}` : "",
      e.old_content !== undefined && e.old_content !== null ? h("div", { class: "old" }, "was: ", e.old_content) : null,
      e.new_content !== undefined && e.new_content !== null ? h("div", { class: "new" }, "now: ", e.new_content) : null))),
    h("h3", {}, "Delete"),
    confirmBox("Delete this memory and its vectors.", "Delete memory", "delete", async () => {
      await api(`/v1/memories/${enc(id)}`, { method: "DELETE" });
      flash = "memory deleted";
      location.hash = owner ? `#/user/${enc(owner)}` : "#/users";
    }));
}

function bar(label, value, max, text) {
  const v = value === null || value === undefined ? null : Number(value);
  return h("div", { class: "bar" },
    h("span", { class: "bar-label" }, label),
    v === null ? h("span", { class: "bar-none" }, "—")
      : h("meter", { min: 0, max: max || 1, value: Math.max(0, v), "aria-label": `${label} ${text || num(v)}` }),
    h("span", { class: "bar-value" }, v === null ? "" : text || num(v)));
}

function hitView(hit, bestKeyword) {
  const x = hit.explain;
  const ranks = [x.vector_rank ? `vector rank ${x.vector_rank}` : null, x.keyword_rank ? `keyword rank ${x.keyword_rank}` : null]
    .filter(Boolean).join(" · ");
  return h("li", { class: "hit" },
    h("div", {}, link(`#/memory/${hit.memory.id}`, hit.memory.content, { class: "content" })),
    h("div", { class: "facts" }, `score ${num(hit.score, 3)} · ${hit.memory.kind} · ${hit.memory.scope.user_id || "—"}`, ranks ? ` · ${ranks}` : ""),
    h("div", { class: "bars" },
      bar("similarity", x.similarity, 1),
      bar("keyword", x.keyword_score, bestKeyword || 1, x.keyword_score === undefined ? null : num(x.keyword_score)),
      bar("relevance", x.relevance, 1), bar("recency", x.recency, 1), bar("importance", x.importance, 1),
      x.time_match !== undefined ? bar("time match", x.time_match, 1) : null,
      x.rerank !== undefined ? bar("rerank", x.rerank, 1) : null,
      bar("total", x.total, 1)));
}

function search() {
  const form = h("form", { id: "search", class: "filters" },
    h("label", {}, "Query ", h("input", { name: "query", type: "search", required: true, size: 30 })),
    h("label", {}, "User ", h("input", { name: "user", size: 10 })),
    h("label", {}, "Mode ", h("select", { name: "mode" }, ["hybrid", "semantic", "keyword"].map((m) => h("option", { value: m }, m)))),
    h("label", {}, "k ", h("input", { name: "k", type: "number", min: 1, max: 100, value: 10, size: 3 })),
    h("button", { type: "submit" }, "Search"));
  const out = h("ol", { id: "hits", class: "hits" });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const body = { query: d.get("query"), mode: d.get("mode"), k: Number(d.get("k")) };
    if (d.get("user")) body.user_id = d.get("user");
    try {
      const r = await api("/v1/memories/search", { method: "POST", body });
      const best = Math.max(0, ...r.hits.map((x) => x.explain.keyword_score || 0));
      out.replaceChildren(...(r.hits.length ? r.hits.map((x) => hitView(x, best)) : [h("li", { class: "empty" }, "No hits.")]));
      say(r.degraded && r.degraded.length ? `degraded: ${r.degraded.join(", ")}` : "");
    } catch (e) {
      fail(e);
    }
  });
  show("Search", "search", form, out);
}

async function session(id) {
  const s = await api(`/v1/sessions/${enc(id)}`);
  const recent = await api(`/v1/sessions/${enc(id)}/messages?limit=10`);
  const transcript = await api(`/v1/sessions/${enc(id)}/transcript?limit=100`);
  const summaries = await api(`/v1/memories?session_id=${enc(id)}&filter=${enc(JSON.stringify({ kind: "summary" }))}&limit=1`);
  const message = (m) => h("li", { class: `msg msg-${m.role}` },
    h("span", { class: "role" }, m.author_name || m.role), " ", h("time", { datetime: m.created_at }, when(m.created_at)),
    m.answered ? " · answered" : "", h("div", {}, m.content));
  show(`Session ${id}`, "session",
    h("p", { class: "facts" }, `user ${s.user_id || "—"} · started ${when(s.started_at)} · ${s.ended_at ? "ended " + when(s.ended_at) : "open"}`,
      s.platform ? ` · ${s.platform}` : ""),
    h("h3", {}, "Summary"),
    h("p", { id: "summary" }, summaries.items.length ? summaries.items[0].content : "No summary yet."),
    h("h3", {}, "Recent window"), h("ol", { id: "recent", class: "messages" }, recent.map(message)),
    h("h3", {}, "Transcript"), h("ol", { id: "transcript", class: "messages" }, transcript.items.map(message)));
}

async function jobs() {
  const q = await api("/v1/jobs");
  const dead = await api("/v1/jobs?dead=true");
  const stats = await api("/v1/stats");
  show("Jobs", "jobs",
    h("p", { class: "facts", id: "outbox" },
      `vector outbox: ${stats.store.outbox_pending} pending · ${stats.store.outbox_failed} failed`),
    h("h3", {}, "Queue"),
    table(["Kind", "Queued", "Running", "Dead"], q.counts.map((c) => row(c.kind, String(c.queued), String(c.running), String(c.dead))), { id: "job-counts" }),
    h("h3", {}, "Waiting"),
    table(["Kind", "Due", "Attempts", "Last error"], q.jobs.map((j) => row(j.kind, when(j.due_at), String(j.attempts), j.last_error || "—"))),
    h("h3", {}, "Dead letters"),
    table(["Kind", "Failed", "Attempts", "Last error"], dead.jobs.map((j) => row(j.kind, when(j.finished_at), String(j.attempts), j.last_error || "—"))));
}

async function stats() {
  const s = await api("/v1/stats");
  const status = await api("/v1/status");
  const backend = (b) => (b ? `${b.scheme || b.model || ""} ${b.location || ""}`.trim() : "—");
  show("Stats", "stats",
    table(["Count", "Value"], Object.entries(s.store).map(([k, v]) => row(k.replace(/_/g, " "), String(v))), { id: "store-stats" }),
    h("h3", {}, "Backends"),
    table(["Role", "Backend"], [
      row("store", backend(status.store)), row("vectors", backend(status.vectors)), row("keywords", backend(status.keywords)),
      row("short-term", backend(status.short_term)), row("embedder", `${s.embedder} (${s.dimension} dimensions)`),
      row("language model", backend(status.language_model)),
    ]),
    h("p", { class: "facts" }, `vectors indexed: ${s.vectors ?? "—"} · short-term failures: ${s.short_term_failures}`));
}

// ---- routing ----

function fail(e) {
  if (e instanceof ApiError && e.status === 401) {
    sessionStorage.removeItem(KEY);
    return login("The key was refused; enter another.");
  }
  say(e instanceof ApiError ? `${e.kind}: ${e.message}` : String(e.message || e));
}

async function route() {
  if (sessionStorage.getItem(KEY) === null) return login();
  document.getElementById("nav").hidden = false;
  const [, name, arg] = (location.hash || "#/users").split("/");
  const id = arg ? decodeURIComponent(arg) : "";
  say(flash || "", "ok");
  flash = null;
  try {
    switch (name) {
      case "user": return await user(id);
      case "memory": return await memory(id);
      case "session": return await session(id);
      case "search": return search();
      case "jobs": return await jobs();
      case "stats": return await stats();
      default: return await users(null);
    }
  } catch (e) {
    fail(e);
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    location.hash = "";
    login("Logged out.");
  });
  route();
});
