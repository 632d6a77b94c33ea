// The workspace's run panel follows its job as the job page does
// (live-section.js): refreshed when the job changes, not polled every second.
// Called each time the panel is drawn; it watches the panel's job while that
// job is not final, and stops when a new run replaces it.

import { keepSectionLive } from "./live-section.js";

let watching = null;

export function keepRunPanelLive(panel) {
  const jobId = panel?.hasAttribute("data-poll") && window.htmx ? panel.dataset.job : null;
  if (watching?.jobId === jobId) return;
  watching?.stop();
  watching = jobId
    ? { jobId, stop: keepSectionLive({ jobId, url: panel.getAttribute("hx-get"), selector: "#run-panel" }) }
    : null;
}
