// Minhu admin console: small enhancements over server-rendered pages (works without them).
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  // forms with data-confirm ask first
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // JSON API calls from the console carry the session's CSRF token in a header
  window.minhuApi = async function (method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  };

  // training progress: <div data-job="ID"> is polled until the job ends, then the page reloads
  const job = document.querySelector("[data-job]");
  if (job) {
    const id = job.getAttribute("data-job");
    const bar = job.querySelector(".bar > span");
    const label = job.querySelector(".stage");
    const tick = async () => {
      try {
        const state = await window.minhuApi("GET", `/api/v1/admin/nlu/jobs/${id}`);
        bar.style.width = `${Math.round(state.progress * 100)}%`;
        label.textContent = state.stage_label || state.stage;
        if (state.status === "done" || state.status === "failed") {
          window.location.reload();
          return;
        }
      } catch (error) {
        label.textContent = `查询进度失败：${error.message}`;
      }
      window.setTimeout(tick, 700);
    };
    tick();
  }
  // running clocks: <span class="clock" data-since="ISO"> shows the time since then; the
  // server's clock (data-server-now on it or an ancestor) sets the offset, so a fake or
  // skewed clock still reads right
  const offsetOf = (el) => {
    const host = el.closest("[data-server-now]");
    const server = host ? Date.parse(host.getAttribute("data-server-now")) : NaN;
    return Number.isNaN(server) ? 0 : server - Date.now();
  };
  const span = (seconds) => {
    const s = Math.max(0, Math.floor(seconds));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), r = s % 60;
    if (d) return `${d}天${h}小时`;
    if (h) return `${h}小时${m}分`;
    return `${m}分${String(r).padStart(2, "0")}秒`;
  };
  const clocks = Array.from(document.querySelectorAll(".clock[data-since], .clock[data-due]"));
  if (clocks.length) {
    const offsets = clocks.map(offsetOf);
    const tick = () => {
      clocks.forEach((el, i) => {
        const now = Date.now() + offsets[i];
        if (el.hasAttribute("data-since")) {
          el.textContent = span((now - Date.parse(el.getAttribute("data-since"))) / 1000);
          return;
        }
        const left = (Date.parse(el.getAttribute("data-due")) - now) / 1000;
        el.textContent = left >= 0 ? `剩余 ${span(left)}` : `已超时 ${span(-left)}`;
        el.classList.toggle("late", left < 0);
      });
    };
    tick();
    window.setInterval(tick, 1000);
  }

  // the handoff inbox reloads itself (new residents waiting) unless staff are typing
  const inbox = document.querySelector("[data-refresh]");
  if (inbox) {
    const every = Number(inbox.getAttribute("data-refresh")) * 1000;
    window.setInterval(() => {
      if (!document.activeElement || document.activeElement === document.body) window.location.reload();
    }, every);
  }

  // a live handoff: poll new messages, send replies without a reload
  const chat = document.getElementById("live-chat");
  if (chat) {
    const id = chat.getAttribute("data-handoff");
    let after = Number(chat.getAttribute("data-after") || 0);
    const seen = new Set();
    const kind = { staff: "out", system: "sys", resident: "in" };
    const add = (m) => {
      if (seen.has(m.id) || m.id <= Number(chat.getAttribute("data-after") || 0)) return;
      seen.add(m.id);
      after = Math.max(after, m.id);
      const div = document.createElement("div");
      div.className = `msg ${kind[m.sender] || "in"}`;
      const time = document.createElement("time");
      time.textContent = m.time; // the community's local time, as the server renders it
      const who = document.createElement("b");
      who.textContent = m.sender_label;
      div.append(time, " ", who, `：${m.text}`);
      chat.append(div);
      div.scrollIntoView({ block: "nearest" });
    };
    const statusEl = document.getElementById("handoff-status");
    const ownerEl = document.getElementById("handoff-owner");
    const poll = async () => {
      try {
        const data = await window.minhuApi("GET", `/api/v1/handoffs/${id}/messages?after=${after}`);
        data.messages.forEach(add);
        if (statusEl) statusEl.textContent = data.status_label;
        if (ownerEl && data.taken_by_name) ownerEl.textContent = data.taken_by_name;
        if (data.status === "closed") return;
      } catch (error) {
        if (statusEl) statusEl.textContent = `连接中断，重试中（${error.message}）`;
      }
      window.setTimeout(poll, 2000);
    };
    if (chat.getAttribute("data-open")) window.setTimeout(poll, 2000);
    const form = document.getElementById("reply-form");
    if (form) {
      const box = form.querySelector("textarea");
      const state = document.getElementById("reply-state");
      const send = async (event) => {
        event.preventDefault();
        const text = box.value.trim();
        if (!text) return;
        state.textContent = "发送中…";
        try {
          add(await window.minhuApi("POST", `/api/v1/handoffs/${id}/messages`, { text }));
          box.value = "";
          state.textContent = "已发送";
        } catch (error) {
          state.textContent = `发送失败：${error.message}`;
        }
      };
      form.addEventListener("submit", send);
      box.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) send(event);
      });
    }
  }
})();
