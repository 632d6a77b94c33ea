// keepSectionLive({ jobId, url, selector }): re-fetch the part of the page
// that shows a job (selector, swapped outerHTML from url) each time the job
// changes, as watchJob (live-status.js) learns of it: pushed, or a cheap ETag
// poll. The section's own htmx poll (hx-trigger="every 1s", data-poll) stays
// as the page's refresh without this module; while the module watches, those
// polls are cancelled. Returns a function that stops watching.

import { watchJob } from "./live-status.js";

const watched = new Set();
let refreshing = false;

document.addEventListener("htmx:confirm", (event) => {
  const element = event.detail.elt;
  if (refreshing || !element?.hasAttribute?.("data-poll")) return;
  if ([...watched].some((selector) => element.matches(selector))) event.preventDefault();
});

export function keepSectionLive({ jobId, url, selector }) {
  let inFlight = false;
  let again = false;
  // A change that came while the tab was hidden, fetched once it is shown.
  let missed = false;

  // htmx drops a request from an element that already has one in flight, so
  // a change that arrives while the last one is being fetched (running, then
  // succeeded a moment later) fetches again once that answer is in.
  const refresh = async () => {
    if (document.visibilityState !== "visible") {
      missed = true;
      return;
    }
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    do {
      again = false;
      const current = document.querySelector(selector);
      if (!current) break;
      let request;
      refreshing = true;
      try {
        request = window.htmx.ajax("GET", url, { source: current, target: current, swap: "outerHTML" });
      } finally {
        refreshing = false;
      }
      try {
        await request;
      } catch {
        // The next change, or the stream's periodic re-read, tries again.
      }
    } while (again);
    inFlight = false;
  };

  const onVisible = () => {
    if (document.visibilityState !== "visible" || !missed) return;
    missed = false;
    refresh();
  };

  watched.add(selector);
  document.addEventListener("visibilitychange", onVisible);
  const stopWatching = watchJob(jobId, refresh);
  return () => {
    watched.delete(selector);
    document.removeEventListener("visibilitychange", onVisible);
    stopWatching();
  };
}
