/* Paramedic Logs page: query, range, histogram (drag to zoom), results with highlighted matches and expandable
 * fields, context around a line, live tail (SSE) with pause, patterns (click to filter).
 * Log data is hostile: every string reaches the DOM through textContent / text nodes; matches are marked by
 * splitting the message into text nodes and <mark> elements; no HTML string is ever parsed. */
(function () {
  "use strict";

  const root = document.getElementById("logs-page");
  if (!root) return;
  const body = document.body;
  const API = body.dataset.apiBase || "";
  const RANGES = JSON.parse(root.dataset.ranges || "{}");
  const PAGE_SIZE = 100;
  const TAIL_MAX = 500;
  const TREND_POINTS = 30;
  const TREND_MAX = 20; // patterns whose trend is fetched (one histogram each)

  const state = {
    q: root.dataset.q || "",
    range: root.dataset.range || "1h",
    start: root.dataset.start ? parseFloat(root.dataset.start) : null,
    end: root.dataset.end ? parseFloat(root.dataset.end) : null,
    tab: root.dataset.tab || "results",
  };
  const $ = (id) => document.getElementById(id);
  const qInput = $("logs-q");
  const rangeSel = $("logs-range");
  const status = $("logs-status");
  let generation = 0; // bumps on every new search; late answers of older ones are dropped
  let cursor = null;
  let plot = null;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  async function getJSON(path, params) {
    const url = API + path + (params ? "?" + new URLSearchParams(params).toString() : "");
    const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    let data = null;
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok || !data || data.status === "error") {
      throw new Error((data && data.error) || ("HTTP " + resp.status));
    }
    return data.data;
  }

  /* ---- time range and URL ------------------------------------------------------------------------- */

  function window_() {
    if (state.start !== null && state.end !== null) return { start: state.start, end: state.end };
    const end = Date.now() / 1000;
    return { start: end - (RANGES[state.range] || 3600), end };
  }

  function localInput(ts) {
    const d = new Date(ts * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) +
      ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function syncControls() {
    qInput.value = state.q;
    const w = window_();
    $("logs-from").value = localInput(w.start);
    $("logs-to").value = localInput(w.end);
    const custom = state.start !== null;
    rangeSel.value = custom ? "custom" : state.range;
    $("logs-start").value = custom ? String(Math.floor(state.start)) : "";
    $("logs-end").value = custom ? String(Math.ceil(state.end)) : "";
    $("logs-tab").value = state.tab;
    document.querySelectorAll(".tabs button[data-tab]").forEach((b) => {
      b.classList.toggle("active", b.dataset.tab === state.tab);
    });
    ["results", "tail", "patterns"].forEach((t) => { $("tab-" + t).hidden = t !== state.tab; });
  }

  function pushURL(replace) {
    const p = new URLSearchParams();
    if (state.q) p.set("q", state.q);
    if (state.start !== null) {
      p.set("start", String(Math.floor(state.start)));
      p.set("end", String(Math.ceil(state.end)));
    } else {
      p.set("range", state.range);
    }
    p.set("tab", state.tab);
    const url = root.dataset.pageUrl + "?" + p.toString();
    if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  }

  /* ---- rendering a log line ----------------------------------------------------------------------- */

  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    const ms = String(d.getMilliseconds()).padStart(3, "0");
    return d.toLocaleDateString(undefined, { month: "short", day: "2-digit" }) + " " +
      d.toLocaleTimeString(undefined, { hour12: false }) + "." + ms;
  }

  // The message as text nodes and <mark>s; spans are [start, end) in code points (Array.from splits so).
  function highlighted(message, spans) {
    const frag = document.createDocumentFragment();
    const chars = Array.from(message);
    let at = 0;
    for (const [s, e] of spans || []) {
      if (s < at || e <= s || e > chars.length) continue;
      if (s > at) frag.appendChild(document.createTextNode(chars.slice(at, s).join("")));
      frag.appendChild(el("mark", chars.slice(s, e).join("")));
      at = e;
    }
    if (at < chars.length) frag.appendChild(document.createTextNode(chars.slice(at).join("")));
    return frag;
  }

  function fieldsTable(hit) {
    const marked = new Set((hit.highlight && hit.highlight.fields) || []);
    const table = el("table", null, "log-fields");
    const tb = el("tbody");
    const row = (group, k, v) => {
      const tr = el("tr", null, marked.has(k) ? "matched" : "");
      tr.appendChild(el("th", group + k));
      const td = el("td");
      const value = typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
      if (marked.has(k)) td.appendChild(el("mark", value)); else td.textContent = value;
      tr.appendChild(td);
      const filter = el("button", "filter", "link-button");
      filter.type = "button";
      filter.title = "Add to the query";
      filter.addEventListener("click", () => addFilter(k, v));
      const tdf = el("td");
      tdf.appendChild(filter);
      tr.appendChild(tdf);
      tb.appendChild(tr);
    };
    Object.keys(hit.labels || {}).sort().forEach((k) => row("", k, hit.labels[k]));
    Object.keys(hit.fields || {}).sort().forEach((k) => row("", k, hit.fields[k]));
    if (hit.pattern_id) row("", "pattern_id", hit.pattern_id);
    row("", "id", hit.id);
    table.appendChild(tb);
    return table;
  }

  function quoteTerm(v) {
    return '"' + String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }

  function addFilter(k, v) {
    if (k === "pattern_id") return;
    const clause = k + ":" + quoteTerm(v);
    state.q = state.q.trim() ? state.q.trim() + " AND " + clause : clause;
    state.tab = "results";
    run(false);
  }

  function logLine(hit, opts) {
    const li = el("li", null, "log-line");
    li.dataset.id = hit.id;
    const lvl = (hit.labels && hit.labels.level) || "";
    if (lvl) li.classList.add("lvl-" + lvl.replace(/[^a-z]/gi, "").toLowerCase());
    const head = el("div", null, "log-head");
    head.appendChild(el("time", fmtTime(hit.timestamp), "log-time"));
    const src = [hit.labels && hit.labels.app, hit.labels && hit.labels.instance].filter((x) => x).join("/");
    head.appendChild(el("span", src || (hit.labels && hit.labels.host) || "", "log-src"));
    if (lvl) head.appendChild(el("span", lvl, "log-level"));
    const msg = el("span", null, "log-msg");
    msg.appendChild(highlighted(hit.message, hit.highlight && hit.highlight.message));
    head.appendChild(msg);
    li.appendChild(head);
    if (opts && opts.plain) return li;
    const actions = el("div", null, "log-actions");
    const fieldsBtn = el("button", "fields", "link-button toggle-fields");
    fieldsBtn.type = "button";
    const ctxBtn = el("button", "show context", "link-button show-context");
    ctxBtn.type = "button";
    actions.appendChild(fieldsBtn);
    actions.appendChild(ctxBtn);
    li.appendChild(actions);
    let details = null;
    fieldsBtn.addEventListener("click", () => {
      if (details) { details.remove(); details = null; fieldsBtn.setAttribute("aria-expanded", "false"); return; }
      details = el("div", null, "log-details");
      details.appendChild(fieldsTable(hit));
      li.insertBefore(details, actions.nextSibling);
      fieldsBtn.setAttribute("aria-expanded", "true");
    });
    let ctx = null;
    ctxBtn.addEventListener("click", async () => {
      if (ctx) { ctx.remove(); ctx = null; ctxBtn.textContent = "show context"; return; }
      ctx = el("div", null, "log-context");
      ctx.appendChild(el("p", "Loading context…", "hint"));
      li.appendChild(ctx);
      ctxBtn.textContent = "hide context";
      const box = ctx;
      try {
        const d = await getJSON("/api/v1/logs/context", { id: hit.id, before: 5, after: 5 });
        box.textContent = "";
        const ol = el("ol", null, "log-lines context-lines");
        d.before.forEach((r) => ol.appendChild(logLine(r, { plain: true })));
        const me = logLine(d.hit, { plain: true });
        me.classList.add("context-hit");
        ol.appendChild(me);
        d.after.forEach((r) => ol.appendChild(logLine(r, { plain: true })));
        box.appendChild(ol);
        if (!d.before.length && !d.after.length) box.appendChild(el("p", "No neighbouring lines.", "hint"));
      } catch (err) {
        box.textContent = "";
        box.appendChild(el("p", "Context failed: " + err.message, "errors"));
      }
    });
    return li;
  }

  /* ---- results and histogram --------------------------------------------------------------------- */

  async function loadResults(gen, more) {
    const w = window_();
    const params = { q: state.q, start: w.start.toFixed(3), end: w.end.toFixed(3), limit: PAGE_SIZE,
      highlight: "true" };
    if (more && cursor) params.cursor = cursor;
    const list = $("logs-results");
    if (!more) { list.textContent = ""; status.textContent = "Searching…"; }
    try {
      const d = await getJSON("/api/v1/logs/search", params);
      if (gen !== generation) return;
      d.hits.forEach((h) => list.appendChild(logLine(h)));
      cursor = d.next_cursor;
      $("logs-more").hidden = !cursor;
      const shown = list.children.length;
      status.textContent = d.total === 0 ? "No log lines match in this range." :
        shown + " of " + d.total + " matching lines, newest first.";
      root.dataset.results = String(shown);
    } catch (err) {
      if (gen !== generation) return;
      status.textContent = "";
      status.appendChild(el("span", "Error: " + err.message, "errors"));
      root.dataset.results = "error";
    }
  }

  function stepFor(span) {
    const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
    const want = span / 80;
    return nice.find((s) => s >= want) || 86400;
  }

  async function loadHistogram(gen) {
    const w = window_();
    const step = stepFor(w.end - w.start);
    const hs = $("logs-histogram-status");
    hs.textContent = "";
    let xs = [], ys = [];
    try {
      const d = await getJSON("/api/v1/logs/histogram",
        { q: state.q, start: w.start.toFixed(3), end: w.end.toFixed(3), step: step + "s" });
      if (gen !== generation) return;
      xs = d.buckets.map((b) => Date.parse(b.timestamp) / 1000);
      ys = d.buckets.map((b) => b.count);
      $("logs-total").textContent = d.total + " lines";
    } catch (err) {
      if (gen !== generation) return;
      hs.textContent = "Histogram failed: " + err.message;
    }
    drawHistogram(xs, ys, w, step);
  }

  function drawHistogram(xs, ys, w, step) {
    const box = document.querySelector("#logs-histogram .plot");
    if (plot) { plot.destroy(); plot = null; }
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 40], align: 1 }) : undefined;
    const opts = {
      width: box.clientWidth || 900, height: 140,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      select: { show: true },
      scales: { x: { time: true, min: w.start, max: w.end + 0.001 } },
      axes: [{}, { size: 50 }],
      series: [{}, { label: "lines", stroke: "#2f7ed8", fill: "rgba(47,126,216,0.35)", paths: bars,
        points: { show: false } }],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 3) return;
          const lo = u.posToVal(u.select.left, "x");
          const hi = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          zoom(lo, Math.max(hi, lo + 1));
        }],
        ready: [() => { root.dataset.histogram = String(xs.length); }],
      },
    };
    plot = new uPlot(opts, [xs, ys], box);
    box.dataset.step = String(step);
  }

  function zoom(lo, hi) {
    state.start = Math.floor(lo);
    state.end = Math.ceil(hi);
    run(false);
  }

  /* ---- live tail ---------------------------------------------------------------------------------- */

  const tail = { source: null, paused: false, buffered: [], q: null };

  function tailState(text) { $("tail-state").textContent = text; }

  function tailAppend(hit) {
    const list = $("tail-lines");
    list.insertBefore(logLine(hit), list.firstChild);
    while (list.children.length > TAIL_MAX) list.removeChild(list.lastChild);
    root.dataset.tailLines = String(list.children.length);
  }

  function tailStart() {
    if (tail.source && tail.q === state.q) return;
    tailStop();
    tail.q = state.q;
    const url = API + "/api/v1/logs/tail?" + new URLSearchParams({ q: state.q, highlight: "true" }).toString();
    const es = new EventSource(url, { withCredentials: true });
    tail.source = es;
    tailState("Connecting…");
    es.addEventListener("open", () => { if (!tail.paused) tailState("Live: new lines appear at the top."); });
    es.addEventListener("log", (ev) => {
      let hit;
      try { hit = JSON.parse(ev.data); } catch (e) { return; }
      if (tail.paused) {
        tail.buffered.push(hit);
        if (tail.buffered.length > TAIL_MAX) tail.buffered.shift();
        const n = tail.buffered.length;
        tailState("Paused: " + n + (n === 1 ? " new line" : " new lines") + " held.");
        return;
      }
      tailAppend(hit);
    });
    es.addEventListener("dropped", (ev) => {
      let n = "";
      try { n = JSON.parse(ev.data).dropped; } catch (e) { /* ignore */ }
      tailState("Lines dropped (too slow): " + n);
    });
    es.addEventListener("error", () => {
      if (es.readyState === EventSource.CLOSED) tailState("Disconnected (the query may be invalid).");
      else tailState("Reconnecting…");
    });
  }

  function tailStop() {
    if (tail.source) { tail.source.close(); tail.source = null; }
  }

  $("tail-pause").addEventListener("click", () => {
    tail.paused = !tail.paused;
    $("tail-pause").textContent = tail.paused ? "Resume" : "Pause";
    root.dataset.tailPaused = tail.paused ? "true" : "false";
    if (tail.paused) {
      tailState("Paused: new lines are held.");
    } else {
      tail.buffered.forEach(tailAppend);
      tail.buffered = [];
      tailState("Live: new lines appear at the top.");
    }
  });
  $("tail-clear").addEventListener("click", () => { $("tail-lines").textContent = ""; });

  /* ---- patterns ----------------------------------------------------------------------------------- */

  function appOfQuery(q) {
    const m = /(?:^|[\s(])app:(?:"((?:[^"\\]|\\.)*)"|([^\s()"]+))/.exec(q);
    if (!m) return "";
    return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2];
  }

  // A query for the lines of a template: its app and the constant text between the <*> as phrases of
  // their letter/digit words (punctuation and underscores are not indexed as words by every store).
  function patternQuery(p) {
    const parts = String(p.template || "").split("<*>")
      .map((s) => (s.match(/[\p{L}\p{N}]+/gu) || []).join(" ")).filter((s) => s);
    const clauses = parts.map(quoteTerm);
    if (p.app) clauses.unshift("app:" + quoteTerm(p.app));
    return clauses.join(" AND ");
  }

  function sparkline(values) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "trend");
    svg.setAttribute("viewBox", "0 0 100 24");
    svg.setAttribute("preserveAspectRatio", "none");
    if (!values.length) return svg;
    const max = Math.max(...values, 1);
    const pts = values.map((v, i) => ((i / Math.max(values.length - 1, 1)) * 100).toFixed(1) + "," +
      (22 - (v / max) * 20).toFixed(1));
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", pts.join(" "));
    svg.appendChild(line);
    return svg;
  }

  // Trends of the most frequent patterns: the histogram of each pattern's query over the range.
  async function trends(items, w) {
    const step = Math.max(1, Math.ceil((w.end - w.start) / TREND_POINTS));
    const out = new Map();
    await Promise.all(items.slice(0, TREND_MAX).map(async (p) => {
      try {
        const d = await getJSON("/api/v1/logs/histogram",
          { q: patternQuery(p), start: w.start.toFixed(3), end: w.end.toFixed(3), step: step + "s" });
        out.set(p, d.buckets.map((b) => b.count));
      } catch (err) { /* no trend for this one */ }
    }));
    return out;
  }

  async function loadPatterns(gen) {
    const tbody = document.querySelector("#logs-patterns tbody");
    tbody.textContent = "";
    status.textContent = "Loading patterns…";
    const app = appOfQuery(state.q);
    const params = { limit: 200 };
    if (app) params.app = app;
    let items;
    try {
      items = (await getJSON("/api/v1/logs/patterns", params)).patterns;
    } catch (err) {
      if (gen !== generation) return;
      status.textContent = "";
      status.appendChild(el("span", "Patterns unavailable: " + err.message, "errors"));
      return;
    }
    const series = await trends(items, window_());
    if (gen !== generation) return;
    status.textContent = items.length ? items.length + " patterns" + (app ? " of " + app : "") +
      ", most frequent first. Click one to see its lines." : "No patterns yet.";
    for (const p of items) {
      const tr = el("tr", null, "pattern-row");
      tr.dataset.patternId = p.pattern_id;
      const tdT = el("td");
      const a = el("button", p.template, "link-button pattern-link");
      a.type = "button";
      a.title = "Show these lines";
      a.addEventListener("click", () => {
        state.q = patternQuery(p);
        state.tab = "results";
        run(false);
      });
      tdT.appendChild(a);
      tr.appendChild(tdT);
      tr.appendChild(el("td", p.app || ""));
      tr.appendChild(el("td", p.count, "num"));
      const tdTrend = el("td");
      const values = series.get(p);
      if (values && values.length) tdTrend.appendChild(sparkline(values)); else tdTrend.textContent = "—";
      tr.appendChild(tdTrend);
      tr.appendChild(el("td", p.first_seen ? fmtTime(p.first_seen) : "", "when"));
      tr.appendChild(el("td", p.sample || "", "sample"));
      tbody.appendChild(tr);
    }
    root.dataset.patterns = String(items.length);
  }

  /* ---- wiring ------------------------------------------------------------------------------------- */

  function run(replace) {
    generation += 1;
    const gen = generation;
    cursor = null;
    syncControls();
    pushURL(replace);
    loadHistogram(gen);
    if (state.tab === "results") { tailStop(); loadResults(gen, false); }
    else if (state.tab === "tail") { status.textContent = "Live tail ignores the time range."; tailStart(); }
    else { tailStop(); loadPatterns(gen); }
  }

  $("logs-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.q = qInput.value;
    run(false);
  });
  rangeSel.addEventListener("change", () => {
    if (rangeSel.value === "custom") return; // the From/To inputs set a custom range
    state.range = rangeSel.value;
    state.start = state.end = null;
    run(false);
  });
  ["logs-from", "logs-to"].forEach((id) => $(id).addEventListener("change", () => {
    const lo = Date.parse($("logs-from").value) / 1000;
    const hi = Date.parse($("logs-to").value) / 1000;
    if (isFinite(lo) && isFinite(hi) && hi > lo) { state.start = lo; state.end = hi; run(false); }
  }));
  $("logs-zoom-out").addEventListener("click", () => {
    const w = window_();
    const span = w.end - w.start;
    state.start = w.start - span / 2;
    state.end = Math.min(w.end + span / 2, Date.now() / 1000);
    run(false);
  });
  $("logs-more").addEventListener("click", () => loadResults(generation, true));
  document.querySelectorAll(".tabs button[data-tab]").forEach((b) => b.addEventListener("click", () => {
    state.tab = b.dataset.tab;
    run(false);
  }));
  window.addEventListener("popstate", () => {
    const p = new URLSearchParams(location.search);
    state.q = p.get("q") || "";
    state.range = p.get("range") || "1h";
    state.start = p.get("start") ? parseFloat(p.get("start")) : null;
    state.end = p.get("end") ? parseFloat(p.get("end")) : null;
    if (state.start === null || state.end === null) state.start = state.end = null;
    state.tab = p.get("tab") || "results";
    run(true);
  });
  window.addEventListener("resize", () => {
    if (plot) plot.setSize({ width: plot.root.parentNode.clientWidth, height: 140 });
  });

  function init() { run(true); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
