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
})();
