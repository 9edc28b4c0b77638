// akd web UI: small enhancements over server-rendered pages, which work without this file.
// - live prints on a running session's page (polls an HTML fragment; see akd/web/prints.py),
//   and its facts, print count and timeline (polls /sessions/{id}/summary)
// - lists that refresh themselves (they re-fetch their own page), with a pause toggle
// - "send test request" forms that call a webhook and show its answer (a sync webhook's
//   status, headers and body), and fill in or save a trigger's test payloads
// - confirmation of destructive actions, filters that apply on change
"use strict";

const FINAL = new Set(["completed", "error", "stopped"]);
const POLL_MS = 700;
const HIDDEN_POLL_MS = 5000; // a background tab still follows, slowly
const MAX_LINES = 5000; // older lines leave the page (the full list: akctl session prints)
const LIST_MS = 2000;
const HIDDEN_LIST_MS = 10000;

// -- live regions ------------------------------------------------------------------------
// A page marks the parts that change with data-live="name"; a refresh renders the same
// parts on the server and morphs the page's copy into the new one: only the nodes that
// differ change, children with data-key (table rows) are matched by key, so nothing is
// re-created, nothing flickers and the scroll position stays where the reader left it.

const live = { paused: false, refreshes: 0 };

function morph(node, next) {
  if (node.nodeType !== Node.ELEMENT_NODE) {
    if (node.nodeValue !== next.nodeValue) node.nodeValue = next.nodeValue;
    return;
  }
  for (const attr of Array.from(node.attributes)) {
    if (!next.hasAttribute(attr.name)) node.removeAttribute(attr.name);
  }
  for (const attr of Array.from(next.attributes)) {
    if (node.getAttribute(attr.name) !== attr.value) node.setAttribute(attr.name, attr.value);
  }
  morphChildren(node, next);
}

function sameKind(node, next) {
  if (!node || node.nodeType !== next.nodeType) return false;
  return node.nodeType !== Node.ELEMENT_NODE || (node.tagName === next.tagName && !node.dataset.key);
}

function morphChildren(parent, next) {
  const keyed = new Map();
  for (const child of parent.children) if (child.dataset.key) keyed.set(child.dataset.key, child);
  let cursor = parent.firstChild;
  for (const wanted of Array.from(next.childNodes)) {
    const key = wanted.nodeType === Node.ELEMENT_NODE ? wanted.dataset.key : "";
    const match = key ? keyed.get(key) : sameKind(cursor, wanted) ? cursor : null;
    if (!match) {
      if (key) wanted.classList.add("fresh");
      parent.insertBefore(wanted, cursor);
      continue;
    }
    if (match === cursor) cursor = cursor.nextSibling;
    else parent.insertBefore(match, cursor);
    morph(match, wanted);
  }
  while (cursor) {
    const stale = cursor;
    cursor = cursor.nextSibling;
    stale.remove();
  }
}

function applyRegions(fresh) {
  if (live.paused) return; // paused while this answer was on its way: a pause holds from the click on
  fresh.querySelectorAll("[data-live]").forEach((region) => {
    const here = document.querySelector('[data-live="' + region.dataset.live + '"]');
    if (here) morph(here, region);
  });
  live.refreshes += 1;
  document.body.dataset.liveRefreshes = String(live.refreshes);
}

function liveToggles() {
  document.querySelectorAll("[data-live-toggle]").forEach((button) => {
    button.addEventListener("click", () => {
      live.paused = !live.paused;
      document.querySelectorAll("[data-live-toggle]").forEach((b) => {
        b.setAttribute("aria-pressed", String(live.paused));
        b.textContent = live.paused ? "Resume live updates" : "Pause live updates";
      });
      document.body.classList.toggle("live-paused", live.paused);
    });
  });
}

function liveList(bar) {
  async function refresh() {
    if (!live.paused) {
      try {
        const res = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (res.ok && !new URL(res.url).pathname.startsWith("/login")) {
          applyRegions(new DOMParser().parseFromString(await res.text(), "text/html"));
        }
      } catch (err) {
        // the daemon may be restarting: try again at the next tick
      }
    }
    setTimeout(refresh, document.hidden ? HIDDEN_LIST_MS : Number(bar.dataset.liveRefresh) || LIST_MS);
  }
  setTimeout(refresh, Number(bar.dataset.liveRefresh) || LIST_MS);
}

function livePrints(box) {
  const url = box.dataset.livePrints;
  let after = box.dataset.after;
  let state = box.dataset.state;
  let failures = 0;

  const nearBottom = () => box.scrollHeight - box.scrollTop - box.clientHeight < 40;

  function showState(next) {
    const badge = document.getElementById("state");
    if (badge) {
      badge.textContent = next;
      badge.className = "badge big st-" + next;
    }
  }

  function append(html) {
    const stick = nearBottom();
    const holder = document.createElement("template");
    holder.innerHTML = html; // server-rendered by an autoescaped template
    holder.content.querySelectorAll(".line").forEach((line) => line.classList.add("new"));
    box.appendChild(holder.content);
    while (box.childElementCount > MAX_LINES) box.firstElementChild.remove();
    const none = document.getElementById("no-prints");
    if (none) none.remove();
    if (stick) box.scrollTop = box.scrollHeight;
  }

  async function summary() {
    const res = await fetch(box.dataset.liveSummary, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!res.ok) return;
    const holder = document.createElement("template");
    holder.innerHTML = await res.text(); // server-rendered by autoescaped templates
    applyRegions(holder.content);
  }

  async function poll() {
    let delay = POLL_MS;
    if (live.paused) {
      setTimeout(poll, delay);
      return;
    }
    try {
      const res = await fetch(url + "?after=" + encodeURIComponent(after), {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (res.status === 401) {
        window.location.reload(); // the session expired: the page itself asks to sign in
        return;
      }
      if (!res.ok) throw new Error("HTTP " + res.status);
      failures = 0;
      const html = await res.text();
      if (live.paused) {
        setTimeout(poll, delay); // drop this answer; the cursor stays, so the next poll brings it again
        return;
      }
      if (html.trim()) append(html);
      after = res.headers.get("X-Next-After") || after;
      const next = res.headers.get("X-Session-State") || state;
      if (next !== state) {
        state = next;
        showState(next);
      }
      if (box.dataset.liveSummary && res.headers.get("X-More") !== "1") await summary();
      if (FINAL.has(state)) {
        setTimeout(() => window.location.reload(), 300); // show the outcome and full timeline
        return;
      }
      if (res.headers.get("X-More") === "1") delay = 0;
      else if (document.hidden) delay = HIDDEN_POLL_MS;
    } catch (err) {
      failures += 1;
      delay = Math.min(10000, POLL_MS * 2 ** failures); // the daemon may be restarting
    }
    setTimeout(poll, delay);
  }

  if (box.dataset.final !== "true") {
    box.scrollTop = box.scrollHeight;
    setTimeout(poll, POLL_MS);
  }
}

// A payload chosen from a trigger's saved or recent ones fills the form's JSON field.
function payloadPick(form, field) {
  const pick = form.querySelector("select[data-payload-pick]");
  if (!pick) return;
  pick.addEventListener("change", () => {
    const option = pick.selectedOptions[0];
    if (!option || !option.dataset.json) return;
    const area = form.querySelector(`textarea[name="${field}"]`);
    area.value = JSON.stringify(JSON.parse(option.dataset.json), null, 2);
    const saveAs = form.querySelector('input[name="save_as"]');
    if (saveAs && option.value.startsWith("saved:")) saveAs.value = option.value.slice(6);
  });
}

function appendText(parent, tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  node.textContent = text;
  parent.appendChild(node);
  return node;
}

// The webhook's answer: status, the event link, and (a sync webhook's response) its
// headers and body.
function showResponse(out, res, text) {
  const eventId = res.headers.get("AutoKitteh-Event-ID");
  out.className = "result " + (res.ok ? "ok" : "bad");
  out.textContent = "";
  const status = appendText(out, "div", "response-status", res.status + " " + res.statusText);
  if (eventId) {
    status.appendChild(document.createTextNode(" · event "));
    const link = document.createElement("a");
    link.href = "/events/" + encodeURIComponent(eventId);
    link.textContent = eventId;
    status.appendChild(link);
  }
  if (res.status === 202 && eventId) return; // an asynchronous webhook: nothing more to show
  const headers = appendText(out, "dl", "response-headers", "");
  res.headers.forEach((value, name) => {
    appendText(headers, "dt", "", name);
    appendText(headers, "dd", "mono", value);
  });
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    // not JSON: the text as received
  }
  appendText(out, "pre", "response-body", shown || "(empty body)");
}

async function savePayload(form, out) {
  const data = new FormData();
  data.set("csrf", form.dataset.csrf);
  data.set("save_as", String(new FormData(form).get("save_as") || ""));
  data.set("data", String(new FormData(form).get("body") || ""));
  out.className = "result";
  out.textContent = "saving…";
  try {
    const res = await fetch(form.dataset.saveUrl, { method: "POST", body: new URLSearchParams(data) });
    if (res.ok) {
      window.location.reload(); // the page lists the payload now
      return;
    }
    const page = new DOMParser().parseFromString(await res.text(), "text/html");
    const box = page.querySelector(".error-box");
    out.className = "result bad";
    out.textContent = "not saved: " + (box ? box.textContent : res.status + " " + res.statusText);
  } catch (err) {
    out.className = "result bad";
    out.textContent = "save failed: " + err;
  }
}

function webhookTest(form) {
  payloadPick(form, "body");
  const out = form.querySelector("output");
  const save = form.querySelector("button[data-save-payload]");
  if (save) save.addEventListener("click", () => savePayload(form, out));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const method = String(data.get("method") || "POST");
    const suffix = String(data.get("suffix") || "").replace(/^\/+/, "");
    const url = form.getAttribute("action") + (suffix ? "/" + suffix : "");
    const init = { method, credentials: "omit", headers: {} };
    if (method !== "GET" && method !== "HEAD") {
      init.body = String(data.get("body") || "");
      init.headers["Content-Type"] = String(data.get("content_type") || "text/plain");
    }
    out.className = "result";
    out.textContent = "sending…";
    try {
      const res = await fetch(url, init);
      showResponse(out, res, await res.text());
    } catch (err) {
      out.className = "result bad";
      out.textContent = "request failed: " + err;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  liveToggles();
  document.querySelectorAll("[data-live-refresh]").forEach(liveList);
  document.querySelectorAll("[data-live-prints]").forEach(livePrints);
  document.querySelectorAll("form[data-webhook-test]").forEach(webhookTest);
  document.querySelectorAll("form[data-payload-form]").forEach((form) => payloadPick(form, "data"));
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => {
      if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
    });
  });
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.querySelectorAll("a[data-back]").forEach((link) => {
    link.addEventListener("click", (ev) => {
      if (window.history.length > 1) {
        ev.preventDefault();
        window.history.back();
      }
    });
  });
});
