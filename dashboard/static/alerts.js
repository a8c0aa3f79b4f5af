/* Alerts page: alert groups, silences (create/expire), acknowledge, notification log.
 * Text is only written with textContent; links only for http(s) URLs. Writes carry the session's CSRF token
 * in X-CSRF-Token (the server rejects cookie-authenticated writes without it). */
(function () {
  "use strict";

  const root = document.getElementById("alerts-page");
  if (!root) return;
  const API = document.body.dataset.apiBase || "";
  const CSRF = root.dataset.csrf || "";
  const CAN_OPERATE = root.dataset.canOperate === "true";
  const REFRESH_MS = 5000;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function safeLink(url, text) {
    let parsed = null;
    try { parsed = new URL(url, window.location.href); } catch (e) { parsed = null; }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) return el("span", text);
    const a = el("a", text);
    a.href = parsed.href;
    a.rel = "noopener noreferrer";
    return a;
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(API + path, {
      method: method, credentials: "same-origin", headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const msg = data && typeof data === "object" && data.error ? data.error : (typeof data === "string" ? data : "");
      throw new Error("HTTP " + resp.status + (msg ? ": " + msg : ""));
    }
    return data;
  }

  function labelText(labels) {
    return Object.keys(labels || {}).sort().map(function (k) { return k + '="' + labels[k] + '"'; }).join(", ");
  }

  function when(iso) {
    const t = new Date(iso);
    return Number.isNaN(t.getTime()) ? String(iso) : t.toLocaleString();
  }

  /* -- alert groups ------------------------------------------------------------------------------------- */

  async function ack(fingerprint, button) {
    button.disabled = true;
    try {
      await call("POST", "/api/v2/paramedic/ack?" + new URLSearchParams({ fingerprint: fingerprint }).toString());
      button.textContent = "Acknowledged";
    } catch (e) {
      button.disabled = false;
      button.title = e.message;
      button.textContent = "Ack failed";
    }
  }

  function renderGroups(groups) {
    const box = document.getElementById("alert-groups");
    const status = document.getElementById("groups-status");
    box.replaceChildren();
    const count = groups.reduce(function (n, g) { return n + g.alerts.length; }, 0);
    status.textContent = count ? count + " alerts in " + groups.length + " groups" : "No alerts.";
    groups.forEach(function (g) {
      const section = el("div", null, "alert-group");
      const head = el("h3", labelText(g.labels) || "(all)");
      head.appendChild(el("span", " → " + ((g.receiver && g.receiver.name) || ""), "hint"));
      section.appendChild(head);
      const list = el("ul", null, "alerts");
      g.alerts.forEach(function (a) {
        const li = el("li", null, "sev-" + String((a.labels && a.labels.severity) || "none").replace(/[^a-z0-9_-]/gi, ""));
        if (a.status && a.status.state === "suppressed") li.classList.add("suppressed");
        li.appendChild(el("b", (a.labels && a.labels.alertname) || "alert"));
        li.appendChild(el("span", " " + labelText(a.labels), "labels"));
        const ann = a.annotations || {};
        if (ann.summary) li.appendChild(el("span", ann.summary, "summary"));
        if (ann.description) li.appendChild(el("span", ann.description, "summary"));
        const meta = el("div", null, "alert-meta");
        meta.appendChild(el("time", "since " + when(a.startsAt)));
        meta.appendChild(el("span", " " + ((a.status && a.status.state) || "") + " "));
        if (a.generatorURL) meta.appendChild(safeLink(a.generatorURL, "source"));
        if (ann.runbook_url) { meta.appendChild(el("span", " ")); meta.appendChild(safeLink(ann.runbook_url, "runbook")); }
        if (CAN_OPERATE) {
          const b = el("button", "Acknowledge", "ack");
          b.type = "button";
          b.dataset.fingerprint = a.fingerprint;
          b.addEventListener("click", function () { ack(a.fingerprint, b); });
          meta.appendChild(el("span", " "));
          meta.appendChild(b);
        }
        li.appendChild(meta);
        list.appendChild(li);
      });
      section.appendChild(list);
      box.appendChild(section);
    });
  }

  /* -- silences ------------------------------------------------------------------------------------------ */

  function matcherText(m) {
    const op = m.isRegex ? (m.isEqual === false ? "!~" : "=~") : (m.isEqual === false ? "!=" : "=");
    return m.name + op + '"' + m.value + '"';
  }

  function renderSilences(silences) {
    const body = document.querySelector("#silences tbody");
    body.replaceChildren();
    if (!silences.length) {
      const tr = el("tr");
      const td = el("td", "No silences.", "empty");
      td.colSpan = 7;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    silences.forEach(function (s) {
      const state = (s.status && s.status.state) || "";
      const tr = el("tr", null, "silence state-" + state.replace(/[^a-z]/g, ""));
      tr.dataset.id = s.id;
      tr.appendChild(el("td", state, "silence-state"));
      tr.appendChild(el("td", (s.matchers || []).map(matcherText).join(", "), "series"));
      tr.appendChild(el("td", when(s.startsAt)));
      tr.appendChild(el("td", when(s.endsAt)));
      tr.appendChild(el("td", s.createdBy));
      tr.appendChild(el("td", s.comment));
      const cell = el("td");
      if (CAN_OPERATE && state !== "expired") {
        const b = el("button", "Expire", "expire");
        b.type = "button";
        b.addEventListener("click", async function () {
          b.disabled = true;
          try { await call("DELETE", "/api/v2/silence/" + encodeURIComponent(s.id)); } catch (e) { b.title = e.message; }
          refresh();
        });
        cell.appendChild(b);
      }
      tr.appendChild(cell);
      body.appendChild(tr);
    });
  }

  const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^,"]*?))\s*(?:,|$)/;

  function parseMatchers(text) {
    const out = [];
    let rest = text.trim().replace(/^\{/, "").replace(/\}$/, "");
    while (rest.trim()) {
      const m = MATCHER.exec(rest);
      if (!m) throw new Error("cannot parse matchers near: " + rest.trim());
      const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : m[4];
      out.push({ name: m[1], value: value, isRegex: m[2] === "=~" || m[2] === "!~", isEqual: m[2] === "=" || m[2] === "=~" });
      rest = rest.slice(m[0].length);
    }
    if (!out.length) throw new Error("give at least one matcher, e.g. alertname=\"X\"");
    return out;
  }

  const UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

  function parseDuration(text) {
    const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
    const clean = text.replace(/\s+/g, "");
    let total = 0, used = 0, m;
    while ((m = re.exec(clean)) !== null) { total += parseFloat(m[1]) * UNITS[m[2]]; used += m[0].length; }
    if (!clean || used !== clean.length || total <= 0) throw new Error("duration like 30m, 2h or 1h30m");
    return total;
  }

  function silenceForm() {
    const form = document.getElementById("silence-form");
    if (!form) return;
    const error = document.getElementById("silence-error");
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      error.textContent = "";
      try {
        const now = new Date();
        const ends = new Date(now.getTime() + parseDuration(form.elements.duration.value) * 1000);
        await call("POST", "/api/v2/silences", {
          matchers: parseMatchers(form.elements.matchers.value),
          startsAt: now.toISOString(),
          endsAt: ends.toISOString(),
          createdBy: root.dataset.user || "dashboard",
          comment: form.elements.comment.value,
        });
        form.elements.comment.value = "";
        refresh();
      } catch (e) {
        error.textContent = e.message;
      }
    });
  }

  /* -- notification log ------------------------------------------------------------------------------- */

  function renderNotifications(entries) {
    const body = document.querySelector("#notifications tbody");
    body.replaceChildren();
    entries.slice().sort(function (a, b) { return String(b.timestamp).localeCompare(String(a.timestamp)); })
      .slice(0, 100).forEach(function (n) {
        const tr = el("tr");
        [n.receiver, n.integration, n.groupKey, when(n.timestamp), (n.firing || []).length, (n.resolved || []).length]
          .forEach(function (v) { tr.appendChild(el("td", v)); });
        body.appendChild(tr);
      });
  }

  async function refresh() {
    const status = document.getElementById("groups-status");
    try { renderGroups(await call("GET", "/api/v2/alerts/groups")); } catch (e) { status.textContent = "Alerts unavailable: " + e.message; }
    try { renderSilences(await call("GET", "/api/v2/silences")); } catch (e) { /* shown as empty */ }
    try { renderNotifications(await call("GET", "/api/v2/paramedic/notifications")); } catch (e) { /* optional */ }
    root.dataset.loaded = String(Date.now());
  }

  silenceForm();
  refresh();
  window.setInterval(refresh, REFRESH_MS);
})();
