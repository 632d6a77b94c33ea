// The job page: the before/after slider, and pausing the progress polling
// (htmx, see job.html) while the tab is hidden.
//
// Listeners sit on the document, so results swapped in by htmx work without
// being set up again.

import { watchJob } from "./live-status.js";

document.addEventListener("input", (event) => {
  const range = event.target.closest?.(".compare-range");
  if (!range) return;
  range.closest(".compare").style.setProperty("--position", `${range.value}%`);
});

// The CSP allows no eval, so htmx trigger filters are out: a poll is canceled
// here instead while the tab is hidden, and coming back refreshes at once.
document.addEventListener("htmx:confirm", (event) => {
  const element = event.detail.elt;
  if (element?.hasAttribute?.("data-poll") && document.visibilityState !== "visible") {
    event.preventDefault();
  }
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  const status = document.querySelector("[data-poll]");
  if (status && window.htmx) {
    window.htmx.ajax("GET", status.getAttribute("hx-get"), { source: status, target: status, swap: "outerHTML" });
  }
});

// Live status: pushed (live-status.js) instead of htmx's one-second poll.
// The section's own hx-trigger stays as the page's refresh without this
// module; while the module watches, those polls are cancelled, and each
// change fetches the section once.
const liveSection = document.querySelector("[data-poll]");
const jobId = liveSection?.getAttribute("hx-get")?.match(/\/jobs\/([0-9a-f-]+)\//)?.[1];
if (jobId && window.htmx) {
  let refreshing = false;
  document.addEventListener("htmx:confirm", (event) => {
    if (!refreshing && event.detail.elt?.hasAttribute?.("data-poll")) event.preventDefault();
  });
  watchJob(jobId, () => {
    const current = document.querySelector("#job-status");
    if (!current) return;
    refreshing = true;
    try {
      window.htmx.ajax("GET", `/jobs/${jobId}/status/`, { source: current, target: current, swap: "outerHTML" });
    } finally {
      refreshing = false;
    }
  });
}
