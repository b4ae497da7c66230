// Web chat: the two-pane demo page (chat.html, client-chosen ids) and the production page
// (resident.html, one pane; the server's session cookie says who is talking).
"use strict";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text; // never innerHTML: user text is untrusted
  return node;
}

function makePane(root, getUserId) {
  const log = root.querySelector(".log");
  const form = root.querySelector("form");
  const input = root.querySelector(".text");
  const file = root.querySelector("input[type=file]");

  function show(reply, kind) {
    const box = el("div", "msg " + kind);
    if (kind === "push") box.appendChild(el("span", "tag", "推送"));
    box.appendChild(document.createTextNode(reply.text));
    if (reply.image) {
      const img = el("img");
      img.src = reply.image;
      img.alt = "照片";
      box.appendChild(img);
    }
    if (reply.buttons && reply.buttons.length) {
      const row = el("div", "buttons");
      for (const b of reply.buttons) {
        const btn = el("button", "", b.title);
        btn.type = "button";
        btn.addEventListener("click", () => send({ button: b.payload }, b.title));
        row.appendChild(btn);
      }
      box.appendChild(row);
    }
    log.appendChild(box);
    log.scrollTop = log.scrollHeight;
  }

  // getUserId() === null: no id is sent, the session cookie identifies the caller
  function withId(body) {
    const user_id = getUserId();
    return user_id === null ? body : Object.assign({ user_id }, body);
  }

  async function send(body, echo) {
    if (getUserId() === "") return;
    show({ text: echo }, "me");
    try {
      const res = await fetch("/api/v1/messages", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(withId(body)),
      });
      const data = await res.json();
      if (!res.ok) { show({ text: "出错了：" + (data.error || res.status) }, "bot"); return; }
      for (const r of data.replies) show(r, "bot");
    } catch (e) {
      show({ text: "网络错误，请稍后再试。" }, "bot");
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text }, text);
  });

  if (file) {
    file.addEventListener("change", async () => {
      if (!file.files.length) return;
      const fd = new FormData();
      if (getUserId() !== null) fd.append("user_id", getUserId());
      fd.append("file", file.files[0]);
      file.value = "";
      const res = await fetch("/api/v1/uploads", { method: "POST", body: fd });
      const data = await res.json();
      if (!res.ok) { show({ text: "照片上传失败：" + (data.error || res.status) }, "bot"); return; }
      send({ media: [data.media] }, "[照片]");
    });
  }

  async function poll() {
    const user_id = getUserId();
    if (user_id !== "") {
      try {
        const query = user_id === null ? "" : "?user_id=" + encodeURIComponent(user_id);
        const res = await fetch("/api/v1/messages" + query);
        if (res.ok) {
          const data = await res.json();
          for (const m of data.messages) show(m, "push");
        }
      } catch (e) { /* offline for a moment: try again next tick */ }
    }
    setTimeout(poll, 1500);
  }
  poll();
  return { clear: () => { log.textContent = ""; } };
}

async function initSession() {
  // one request first, so the server issues a single session cookie before polling starts
  const who = document.getElementById("who");
  try {
    const res = await fetch("/api/v1/session");
    const me = await res.json();
    if (me.kind === "worker") who.textContent = "当前身份：网格员 " + (me.worker || "");
  } catch (e) { /* the chat still works; the first message gets the session */ }
  makePane(document.getElementById("resident"), () => null);
}

async function init() {
  if (!document.getElementById("worker")) { initSession(); return; }
  const residentId = document.getElementById("resident-id");
  residentId.value = localStorage.getItem("minhu-resident") || "resident-" + Math.random().toString(36).slice(2, 8);
  localStorage.setItem("minhu-resident", residentId.value);
  residentId.addEventListener("change", () => localStorage.setItem("minhu-resident", residentId.value));

  const select = document.getElementById("worker-id");
  try {
    const res = await fetch("/api/v1/demo");
    const reg = await res.json();
    for (const w of reg.workers) {
      if (!w.web_user_id) continue;
      const roles = { grid_worker: "网格员", grid_leader: "网格长", community_staff: "社区工作人员" };
      const opt = el("option", "", `${w.name}（${roles[w.role] || w.role}${w.grid ? "·" + w.grid : ""}${w.on_duty ? "" : "·不在岗"}）`);
      opt.value = w.web_user_id;
      select.appendChild(opt);
    }
  } catch (e) { /* the page still works for residents */ }
  const saved = localStorage.getItem("minhu-worker");
  if (saved) select.value = saved;
  const workerPane = makePane(document.getElementById("worker"), () => select.value);
  select.addEventListener("change", () => { localStorage.setItem("minhu-worker", select.value); workerPane.clear(); });
  makePane(document.getElementById("resident"), () => residentId.value.trim());
}

init();
