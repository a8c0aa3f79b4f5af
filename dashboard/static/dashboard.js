/* Paramedic dashboard: sparklines (overview), the synchronized app timeline and Explore.
 * No framework, no build step. Data comes from data-* attributes and the server's JSON APIs; text is only
 * ever written with textContent (never innerHTML), so nothing a label carries can become markup. */
(function () {
  "use strict";

  const body = document.body;
  const API = body.dataset.apiBase || "";
  const PALETTE = ["#2f7ed8", "#e4572e", "#17a398", "#f3a712", "#8e44ad", "#33658a", "#c0392b", "#6b8f71",
    "#d35400", "#7f8c8d"];
  const MARK_COLORS = { alert: "#e4572e", action: "#17a398", deployment: "#8e44ad", platform: "#2d6cdf" };

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
    if (!resp.ok || (data && data.status === "error")) {
      throw new Error((data && data.error) || ("HTTP " + resp.status));
    }
    return data;
  }

  const { human, tickLabels } = window.paramedicFormat;  // format.js

  function seriesName(labels) {
    const name = labels.__name__ || "";
    const rest = Object.keys(labels).filter((k) => k !== "__name__").sort()
      .map((k) => k + '="' + labels[k] + '"');
    return name + (rest.length ? "{" + rest.join(", ") + "}" : "") || "{}";
  }

  /* Query step: about one point per 2 CSS pixels of the plot (200..720 points), rounded up to a round step,
   * so a 24 h chart asks for ~300 points rather than 720: less to evaluate, send, parse and draw for no
   * visible difference. */
  const NICE_STEPS = [15, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200,
    86400];
  function stepFor(windowS, widthPx) {
    const points = Math.min(720, Math.max(200, Math.round((widthPx || 1440) / 2)));
    const raw = Math.max(15, Math.ceil(windowS / points));
    return NICE_STEPS.find((s) => s >= raw) || raw;
  }

  /* Aligns Prometheus matrices onto the grid start, start+step, ... end. */
  function align(grid, start, step, results, nameOf) {
    const data = [grid];
    const names = [];
    results.forEach((res, qi) => {
      (res || []).forEach((s) => {
        const col = new Array(grid.length).fill(null);
        for (const [t, v] of s.values) {
          const i = Math.round((t - start) / step);
          if (i >= 0 && i < grid.length) {
            const f = parseFloat(v);
            col[i] = Number.isFinite(f) ? f : null;
          }
        }
        data.push(col);
        names.push(nameOf(s.metric || {}, qi));
      });
    });
    return { data, names };
  }

  function markersPlugin(getEvents) {
    return {
      hooks: {
        draw: [(u) => {
          const events = getEvents();
          if (!events.length) return;
          const ctx = u.ctx;
          const { top, height } = u.bbox;
          ctx.save();
          ctx.lineWidth = 2 * devicePixelRatio;
          // Alerts last: their dashed line stays visible over an action taken in the same second (and the
          // action shows through the dashes).
          const alerts = events.filter((e) => e.kind === "alert");
          const ordered = events.filter((e) => e.kind !== "alert").concat(alerts);
          const flags = [];
          for (const ev of ordered) {
            const at = u.valToPos(ev.t, "x", true);
            const right = u.bbox.left + u.bbox.width;
            if (at < u.bbox.left || at > right) continue;
            // an event at the right edge ("now") is drawn whole, not half cut off by the canvas
            const x = Math.min(at, right - ctx.lineWidth / 2);
            ctx.strokeStyle = MARK_COLORS[ev.kind] || "#555";
            ctx.setLineDash(ev.kind === "alert" ? [6, 4] : []);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            if (ev.kind !== "alert") flags.push([x, ctx.strokeStyle]);
          }
          // An action or deployment taken in the same second as its alert sits under the alert's dashes: a
          // small flag at the top of its line, drawn over everything, keeps it visible.
          // Flags of events a few pixels apart (an action, then the platform's crash events of the restart it
          // made) are stacked downwards, none drawn over another.
          const side = 10 * devicePixelRatio;
          const placed = [];
          for (const [at, color] of flags) {
            // inside the plot: a flag at the right edge would be cut off (an action taken just now)
            const x = Math.min(at, u.bbox.left + u.bbox.width - side);
            let y = top;
            while (placed.some(([px, py]) => Math.abs(px - x) < side && py === y)) y += side;
            placed.push([x, y]);
            ctx.fillStyle = color;
            ctx.fillRect(x, y, side, side);
          }
          ctx.restore();
        }],
      },
    };
  }

  /* ---- overview sparklines ---- */
  function sparklines() {
    document.querySelectorAll(".spark[data-spark]").forEach((node) => {
      const [ts, vs] = JSON.parse(node.dataset.spark);
      if (!ts.length) return;
      new uPlot({
        width: node.clientWidth || 160, height: 36, legend: { show: false }, cursor: { show: false },
        scales: { x: { time: false } }, axes: [{ show: false }, { show: false }],
        series: [{}, { stroke: PALETTE[0], width: 1.5, fill: "rgba(47,126,216,0.12)" }],
      }, [ts, vs], node);
    });
  }

  /* ---- app timeline ---- */
  async function timeline(root) {
    const charts = JSON.parse(root.dataset.charts);
    const windowS = parseInt(root.dataset.windowS, 10);
    const firstPlot = root.querySelector(".chart .plot");
    const step = stepFor(windowS, firstPlot && firstPlot.clientWidth);
    const end = Math.floor(Date.now() / 1000 / step) * step;
    const start = end - Math.floor(windowS / step) * step;
    const grid = [];
    for (let t = start; t <= end; t += step) grid.push(t);
    let events = [];
    const plots = [];
    let syncing = false;
    let drawn = 0;

    function onDrawn() {
      drawn += 1;
      if (drawn === charts.length) {
        performance.mark("paramedic:charts-drawn");
        body.dataset.chartsDrawn = String(drawn);
      }
    }

    const evURL = root.dataset.eventsUrl + "?" + new URLSearchParams({ start, end }).toString();
    const evLoad = fetch(evURL, { credentials: "same-origin" }).then((r) => r.json())
      .then((d) => { events = d.events || []; listEvents(events, d.notes || []); plots.forEach((p) => p.redraw(false)); })
      .catch(() => {});

    await Promise.all(charts.map(async (c) => {
      const box = root.querySelector('.chart[data-key="' + CSS.escape(c.key) + '"]');
      const status = box.querySelector(".chart-status");
      let aligned;
      try {
        if (c.note) {
          status.textContent = c.note;
          aligned = { data: [grid], names: [] };
        } else if (c.logs.length) {
          const results = await Promise.all(c.logs.map((q) => getJSON("/api/v1/logs/histogram",
            { q, start, end: end + step, step: step + "s" }).then((d) => [{
            metric: {}, values: d.data.buckets.map((b) => [Date.parse(b.timestamp) / 1000, b.count]) }])
            .catch(() => [])));
          aligned = align(grid, start, step, results, (m, i) => c.logNames[i]);
        } else {
          const results = await Promise.all(c.queries.map((q) => getJSON("/api/v1/query_range",
            { query: q, start, end, step }).then((d) => d.data.result)));
          aligned = align(grid, start, step, results,
            (m, i) => c.names[i] || (c.legend && m[c.legend]) || seriesName(m));
        }
      } catch (err) {
        status.textContent = "Query failed: " + err.message;
        aligned = { data: [grid], names: [] };
      }
      if (aligned.names.length === 0 && !status.textContent) status.textContent = "No data in this range.";
      box.dataset.series = String(aligned.names.length);
      const plotEl = box.querySelector(".plot");
      const opts = {
        width: plotEl.clientWidth || 600, height: 170,
        cursor: { sync: { key: "timeline", setSeries: false }, drag: { x: true, y: false } },
        legend: { live: true },
        scales: { x: { min: start, max: end } },
        axes: [{}, { size: 70, values: (u, vals) => tickLabels(vals, c.unit) }],
        series: [{}].concat(aligned.names.map((n, i) => ({
          label: n, stroke: PALETTE[i % PALETTE.length], width: 1.25, spanGaps: false,
          value: (u, v) => human(v, c.unit),
        }))),
        plugins: [markersPlugin(() => events)],
        hooks: {
          setScale: [(u, key) => {
            if (key !== "x" || syncing) return;
            syncing = true;
            const { min, max } = u.scales.x;
            plots.forEach((p) => { if (p !== u) p.setScale("x", { min, max }); });
            syncing = false;
          }],
          ready: [() => onDrawn()],
        },
      };
      plots.push(new uPlot(opts, aligned.data, plotEl));
    }));
    await evLoad;

    document.getElementById("reset-zoom").addEventListener("click", () => {
      plots.forEach((p) => p.setScale("x", { min: start, max: end }));
    });
    window.addEventListener("resize", () => {
      plots.forEach((p) => p.setSize({ width: p.root.parentNode.clientWidth, height: 170 }));
    });
  }

  function listEvents(events, notes) {
    const root = document.getElementById("timeline");
    let list = document.getElementById("events");
    if (!list) {
      list = el("ul", null, "events");
      list.id = "events";
      root.after(list);
    }
    list.replaceChildren(...events.map((ev) => {
      const li = el("li", null, "ev ev-" + ev.kind);
      li.append(el("time", new Date(ev.t * 1000).toLocaleString()), el("b", ev.kind), el("span", ev.text));
      return li;
    }), ...notes.map((n) => el("li", n, "ev ev-note")));  // e.g. "platform events unavailable: ..."
  }

  /* ---- explore ---- */
  const FUNCS = ["rate", "irate", "increase", "sum", "avg", "min", "max", "count", "topk", "bottomk",
    "histogram_quantile", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "delta",
    "deriv", "predict_linear", "absent", "label_replace", "quantile_over_time", "by", "without"];

  function explore() {
    const form = document.getElementById("explore-form");
    const ta = document.getElementById("expr");
    const list = document.getElementById("suggest");
    const status = document.getElementById("explore-status");
    let metrics = [];
    let labels = [];
    let items = [];
    let active = -1;

    getJSON("/api/v1/label/__name__/values").then((d) => { metrics = d.data || []; }).catch(() => {});
    getJSON("/api/v1/labels").then((d) => { labels = (d.data || []).filter((l) => l !== "__name__"); })
      .catch(() => {});

    function context() {
      const before = ta.value.slice(0, ta.selectionStart);
      const m = /[A-Za-z_:][A-Za-z0-9_:]*$/.exec(before);
      const word = m ? m[0] : "";
      const open = before.lastIndexOf("{") > before.lastIndexOf("}");
      const inBy = /\b(by|without)\s*\([^)]*$/.test(before);
      return { word, pool: open || inBy ? labels : metrics.concat(FUNCS) };
    }

    function render() {
      list.replaceChildren(...items.map((s, i) => {
        const li = el("li", s, i === active ? "active" : "");
        li.setAttribute("role", "option");
        li.addEventListener("mousedown", (e) => { e.preventDefault(); accept(i); });
        return li;
      }));
      list.hidden = items.length === 0;
    }

    function suggest() {
      const { word, pool } = context();
      items = word ? pool.filter((s) => s.startsWith(word) && s !== word).slice(0, 12) : [];
      active = items.length ? 0 : -1;
      render();
    }

    function accept(i) {
      const { word } = context();
      const pos = ta.selectionStart;
      const choice = items[i];
      ta.value = ta.value.slice(0, pos - word.length) + choice + ta.value.slice(pos);
      const caret = pos - word.length + choice.length;
      ta.setSelectionRange(caret, caret);
      items = [];
      render();
      ta.focus();
    }

    ta.addEventListener("input", suggest);
    ta.addEventListener("blur", () => { items = []; render(); });
    ta.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); return; }
      if (!items.length) return;
      if (e.key === "ArrowDown") { active = (active + 1) % items.length; render(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = (active - 1 + items.length) % items.length; render(); e.preventDefault(); }
      else if (e.key === "Enter" || e.key === "Tab") { accept(active); e.preventDefault(); }
      else if (e.key === "Escape") { items = []; render(); }
    });

    document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => {
      const tab = b.dataset.tab;
      document.getElementById("tab").value = tab;
      document.querySelectorAll(".tabs button").forEach((x) => x.classList.toggle("active", x === b));
      document.getElementById("explore-chart").hidden = tab !== "chart";
      document.getElementById("explore-table").hidden = tab !== "table";
      const url = new URL(location.href);
      url.searchParams.set("tab", tab);
      history.replaceState(null, "", url);
    }));

    const expr = ta.value.trim();
    if (expr) run(expr, document.getElementById("range"), status);
  }

  const RANGE_S = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };

  async function run(expr, rangeSel, status) {
    const windowS = RANGE_S[rangeSel.value] || 3600;
    const step = stepFor(windowS);
    const end = Math.floor(Date.now() / 1000 / step) * step;
    const start = end - Math.floor(windowS / step) * step;
    status.textContent = "Running…";
    const tbody = document.querySelector("#result-table tbody");
    try {
      const [inst, range] = await Promise.all([
        getJSON("/api/v1/query", { query: expr }),
        getJSON("/api/v1/query_range", { query: expr, start, end, step }).catch((e) => ({ error: e })),
      ]);
      const r = inst.data;
      let rows = [];
      if (r.resultType === "vector") rows = r.result.map((s) => [seriesName(s.metric), s.value[1]]);
      else if (r.resultType === "scalar" || r.resultType === "string") rows = [["scalar", r.result[1]]];
      else if (r.resultType === "matrix") {
        rows = r.result.map((s) => [seriesName(s.metric), s.values.map((v) => v[1] + " @" + v[0]).join("\n")]);
      }
      tbody.replaceChildren(...rows.map(([k, v]) => {
        const tr = el("tr");
        tr.append(el("td", k, "series"), el("td", v, "value"));
        return tr;
      }));
      status.textContent = rows.length + " series";
      const plotEl = document.querySelector("#explore-chart .plot");
      plotEl.replaceChildren();
      if (range.error) {
        status.textContent += " · chart: " + range.error.message;
      } else {
        const grid = [];
        for (let t = start; t <= end; t += step) grid.push(t);
        const a = align(grid, start, step, [range.data.result], (m) => seriesName(m));
        new uPlot({
          width: plotEl.clientWidth || 800, height: 300, cursor: { drag: { x: true, y: false } },
          series: [{}].concat(a.names.map((n, i) => ({ label: n, stroke: PALETTE[i % PALETTE.length], width: 1.25 }))),
          axes: [{}, { size: 70, values: (u, vals) => tickLabels(vals, "") }],
          hooks: { ready: [() => { body.dataset.chartsDrawn = "1"; }] },
        }, a.data, plotEl);
      }
    } catch (err) {
      status.textContent = "Error: " + err.message;
      tbody.replaceChildren();
    }
  }

  function init() {
    const page = body.dataset.page;
    if (page === "overview") sparklines();
    const root = document.getElementById("timeline");
    if (root) timeline(root);
    if (document.getElementById("explore-form")) explore();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
