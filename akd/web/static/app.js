// akd web UI: small enhancements over server-rendered pages, which work without this file.
// - live prints on a running session's page (polls an HTML fragment; see akd/web/prints.py)
// - "send test request" forms that call a webhook and show its answer
// - confirmation of destructive actions, filters that apply on change
"use strict";

const FINAL = new Set(["completed", "error", "stopped"]);
const POLL_MS = 700;
const HIDDEN_POLL_MS = 5000; // a background tab still follows, slowly
const MAX_LINES = 5000; // older lines leave the page (the full list: akctl session prints)

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

  async function poll() {
    let delay = POLL_MS;
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
      if (html.trim()) append(html);
      after = res.headers.get("X-Next-After") || after;
      const next = res.headers.get("X-Session-State") || state;
      if (next !== state) {
        state = next;
        showState(next);
      }
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

function webhookTest(form) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = form.querySelector("output");
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
      const eventId = res.headers.get("AutoKitteh-Event-ID");
      out.className = "result " + (res.ok ? "ok" : "bad");
      out.textContent = res.status + " " + res.statusText + (eventId ? " · event " : "");
      if (eventId) {
        const link = document.createElement("a");
        link.href = "/events/" + encodeURIComponent(eventId);
        link.textContent = eventId;
        out.appendChild(link);
      }
    } catch (err) {
      out.className = "result bad";
      out.textContent = "request failed: " + err;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live-prints]").forEach(livePrints);
  document.querySelectorAll("form[data-webhook-test]").forEach(webhookTest);
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
