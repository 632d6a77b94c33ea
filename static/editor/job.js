// The job page: the before/after slider, and pausing the progress polling
// (htmx, see job.html) while the tab is hidden.
//
// Listeners sit on the document, so results swapped in by htmx work without
// being set up again.

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
