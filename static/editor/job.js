// The job page: the before/after slider (polling.js pauses the progress
// polling while the tab is hidden).
//
// Listeners sit on the document, so results swapped in by htmx work without
// being set up again.

document.addEventListener("input", (event) => {
  const range = event.target.closest?.(".compare-range");
  if (!range) return;
  range.closest(".compare").style.setProperty("--position", `${range.value}%`);
});
