/* Remediation pages: policies (mode switch), pending approvals (approve/reject), audit trail, action detail.
 * Text is only written with textContent; writes carry the session's CSRF token in X-CSRF-Token. */
(function () {
  "use strict";

  const API = document.body.dataset.apiBase || "";
  const BASE = (document.body.dataset.base || "/").replace(/\/$/, "");
  const page = document.getElementById("remediation-page") || document.getElementById("action-page");
  if (!page) return;
  const CSRF = page.dataset.csrf || "";
  const CAN_OPERATE = page.dataset.canOperate === "true";
  const CAN_ADMIN = page.dataset.canAdmin === "true"; // policy mode switches need admin
  // null: foundation-wide (the role decides); else the {org, space} the principal's operator grants cover
  // (space null: the whole org). The server refuses anything else; this only hides buttons it would refuse.
  let OPERATES = null;
  try { OPERATES = JSON.parse(page.dataset.operates || "null"); } catch (e) { OPERATES = []; }

  function tenantOf(a) {
    const t = a.target || {};
    const alert = (a.trigger && a.trigger.alert) || (a.request && a.request.trigger && a.request.trigger.alert) || {};
    const tenant = String(a.tenant || "").split("/");
    return {
      org: a.org || t.org || alert.org || tenant[0] || "",
      space: a.space || t.space || alert.space || tenant[1] || "",
    };
  }

  function operatesOn(a) {
    if (!CAN_OPERATE) return false;
    if (OPERATES === null) return true;
    const where = tenantOf(a);
    return where.org !== "" && OPERATES.some(function (g) {
      return g.org === where.org && (g.space === null || g.space === where.space);
    });
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") { headers["X-CSRF-Token"] = CSRF; headers["Content-Type"] = "application/json"; }
    const resp = await fetch(API + path, {
      method: method, credentials: "same-origin", headers: headers,
      body: method === "GET" ? undefined : JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) throw new Error("HTTP " + resp.status + (data && data.error ? ": " + data.error : ""));
    return data;
  }

  function when(iso) {
    const t = new Date(iso);
    return Number.isNaN(t.getTime()) ? String(iso) : t.toLocaleString();
  }

  function target(t) {
    if (!t) return "";
    return t.app + (t.instance !== null && t.instance !== undefined ? "/" + t.instance : "");
  }

  function actionLink(a) {
    const link = el("a", a.action);
    link.href = BASE + "/remediation/actions/" + encodeURIComponent(a.id);
    link.className = "action-link";
    return link;
  }

  function emptyRow(body, cols, text) {
    const tr = el("tr");
    const td = el("td", text, "empty");
    td.colSpan = cols;
    tr.appendChild(td);
    body.appendChild(tr);
  }

  /* -- overview page ------------------------------------------------------------------------------------- */

  async function setMode(name, mode, button) {
    button.disabled = true;
    const error = document.getElementById("policies-error");
    error.textContent = "";
    try { await call("POST", "/api/v1/policies/" + encodeURIComponent(name) + "/mode", { mode: mode }); }
    catch (e) { error.textContent = e.message; }
    refresh();
  }

  function renderPolicies(policies) {
    const body = document.querySelector("#policies tbody");
    body.replaceChildren();
    if (!policies.length) emptyRow(body, 5, "No policies.");
    policies.forEach(function (p) {
      const tr = el("tr", null, "policy");
      tr.dataset.policy = p.name;
      tr.appendChild(el("td", p.name, "name"));
      tr.appendChild(el("td", p.version));
      tr.appendChild(el("td", p.mode === "live" ? "live" : "dry-run", "mode mode-" + (p.mode === "live" ? "live" : "dry_run")));
      tr.appendChild(el("td", p.breaker + (p.open_breakers && p.open_breakers.length ? " (" + p.open_breakers.join(", ") + ")" : ""),
        "breaker-" + (p.breaker === "open" ? "open" : "closed")));
      const cell = el("td");
      if (CAN_ADMIN) {
        const next = p.mode === "live" ? "dry_run" : "live";
        const b = el("button", next === "live" ? "Switch to live" : "Switch to dry-run", "mode-switch");
        b.type = "button";
        b.addEventListener("click", function () { setMode(p.name, next, b); });
        cell.appendChild(b);
      }
      tr.appendChild(cell);
      body.appendChild(tr);
    });
  }

  async function decide(id, decision, button) {
    button.disabled = true;
    const error = document.getElementById("pending-error");
    error.textContent = "";
    try { await call("POST", "/api/v1/actions/" + encodeURIComponent(id) + "/" + decision, {}); }
    catch (e) { error.textContent = e.message; }
    refresh();
  }

  function renderPending(actions) {
    const body = document.querySelector("#pending tbody");
    body.replaceChildren();
    if (!actions.length) emptyRow(body, 5, "Nothing waiting for approval.");
    actions.forEach(function (a) {
      const tr = el("tr", null, "pending-action");
      tr.dataset.id = a.id;
      const first = el("td");
      first.appendChild(actionLink(a));
      tr.appendChild(first);
      tr.appendChild(el("td", target(a.target)));
      tr.appendChild(el("td", a.policy));
      tr.appendChild(el("td", when(a.created_at)));
      const cell = el("td");
      if (operatesOn(a)) {
        ["approve", "reject"].forEach(function (d) {
          const b = el("button", d === "approve" ? "Approve" : "Reject", d);
          b.type = "button";
          b.addEventListener("click", function () { decide(a.id, d, b); });
          cell.appendChild(b);
        });
      }
      tr.appendChild(cell);
      body.appendChild(tr);
    });
  }

  function renderAudit(actions) {
    const body = document.querySelector("#audit tbody");
    body.replaceChildren();
    if (!actions.length) emptyRow(body, 6, "No actions yet.");
    actions.forEach(function (a) {
      const tr = el("tr", null, "audit-row");
      tr.dataset.id = a.id;
      tr.appendChild(el("td", when(a.created_at)));
      const cell = el("td");
      cell.appendChild(actionLink(a));
      tr.appendChild(cell);
      tr.appendChild(el("td", target(a.target)));
      tr.appendChild(el("td", a.policy));
      tr.appendChild(el("td", a.mode));
      tr.appendChild(el("td", a.status, "status status-" + String(a.status).replace(/[^a-z_]/g, "")));
      body.appendChild(tr);
    });
  }

  async function refresh() {
    try { renderPolicies((await call("GET", "/api/v1/policies")).policies); }
    catch (e) { document.getElementById("policies-error").textContent = e.message; }
    try { renderPending((await call("GET", "/api/v1/actions?status=pending_approval&limit=200")).actions); }
    catch (e) { document.getElementById("pending-error").textContent = e.message; }
    try { renderAudit((await call("GET", "/api/v1/actions?limit=200")).actions); } catch (e) { /* shown empty */ }
    page.dataset.loaded = String(Date.now());
  }

  /* -- one action ----------------------------------------------------------------------------------------- */

  async function detail() {
    const id = page.dataset.actionId;
    try {
      const a = await call("GET", "/api/v1/actions/" + encodeURIComponent(id));
      const summary = document.querySelector("#action-summary tbody");
      summary.replaceChildren();
      [["Action", a.action], ["Target", target(a.target)], ["Policy", a.policy + " (version " + a.policy_version + ")"],
        ["Mode", a.mode], ["Status", a.status], ["Requested", when(a.created_at)], ["Updated", when(a.updated_at)]]
        .forEach(function (row) {
          const tr = el("tr");
          tr.appendChild(el("th", row[0]));
          tr.appendChild(el("td", row[1]));
          summary.appendChild(tr);
        });
      const events = document.querySelector("#action-events tbody");
      events.replaceChildren();
      (a.events || []).forEach(function (e) {
        const tr = el("tr", null, "audit-event");
        tr.appendChild(el("td", e.seq));
        tr.appendChild(el("td", e.kind, "kind"));
        tr.appendChild(el("td", when(e.at)));
        tr.appendChild(el("td", JSON.stringify(e.data), "value"));
        events.appendChild(tr);
      });
      document.getElementById("action-request").textContent = JSON.stringify(a.request, null, 2);
    } catch (e) {
      document.getElementById("action-error").textContent = e.message;
    }
    page.dataset.loaded = String(Date.now());
  }

  if (page.id === "action-page") {
    detail();
  } else {
    refresh();
    window.setInterval(refresh, 5000);
  }
})();
