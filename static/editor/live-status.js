// watchJob(jobId, onChange): call onChange({ final }) each time a job
// changes, until it is final. Returns a function that stops watching.
//
// Pushed when the server can (server-sent events from /jobs/<id>/events/);
// otherwise, or while the stream is down, a cheap poll of /jobs/<id>/status/
// that sends the ETag of what it last saw and mostly gets a bare 304.
// Polling pauses while the tab is hidden. Usable by any page that shows a job.

const POLL_MS = 1000;

export function watchJob(jobId, onChange, { pollMs = POLL_MS } = {}) {
  const statusUrl = `/jobs/${jobId}/status/`;
  let etag = null;
  let stopped = false;
  let pushing = false;
  let timer = null;
  let source = null;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    source?.close();
    document.removeEventListener("visibilitychange", onVisible);
  };

  // Back on the tab: ask at once instead of at the next tick.
  const onVisible = () => {
    if (document.visibilityState !== "visible" || stopped || pushing) return;
    clearTimeout(timer);
    poll();
  };
  document.addEventListener("visibilitychange", onVisible);

  const changed = (final) => {
    if (stopped) return;
    if (final) stop();
    onChange({ final });
  };

  const poll = async () => {
    timer = null;
    if (stopped || pushing) return;
    if (document.visibilityState === "visible") {
      try {
        const headers = { "HX-Request": "true" };
        if (etag) headers["If-None-Match"] = etag;
        const response = await fetch(statusUrl, { headers, credentials: "same-origin" });
        if (response.status === 404) {
          // Deleted, or moved to the trash: nothing more will change here.
          stop();
          return;
        }
        const seen = response.headers.get("ETag");
        if (response.status === 200 || response.status === 286) {
          const first = etag === null;
          etag = seen;
          // The first answer only tells what the page already shows.
          if (!first || response.status === 286) changed(response.status === 286);
        }
      } catch {
        // Offline for a moment: the next poll tries again.
      }
    }
    if (!stopped && !pushing) timer = setTimeout(poll, pollMs);
  };

  if ("EventSource" in window) {
    source = new EventSource(`/jobs/${jobId}/events/`);
    let first = true;
    source.addEventListener("open", () => {
      pushing = true;
      clearTimeout(timer);
    });
    source.addEventListener("change", (event) => {
      const { etag: pushed, final } = JSON.parse(event.data);
      etag = pushed;
      // The first event is the state at connection time, which the page
      // may already show; a reconnection may bring news, so it counts.
      if (!first || final) changed(final);
      first = false;
    });
    source.addEventListener("error", () => {
      // A 204 (no push here) closes the source for good; a dropped stream
      // reconnects by itself. Poll until it is back.
      pushing = false;
      if (source.readyState === EventSource.CLOSED) source = null;
      if (!stopped && timer === null) timer = setTimeout(poll, pollMs);
    });
  } else {
    timer = setTimeout(poll, pollMs);
  }
  return stop;
}
