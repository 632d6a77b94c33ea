// The job page's viewer: the before/after slider, zoom on click, and picking
// a variation from the thumbnails without leaving the page (polling.js pauses
// the progress polling while the tab is hidden).
//
// Listeners sit on the document, so results swapped in by htmx work without
// being set up again. Without JavaScript the thumbnails are links
// (?variation=N) that the server answers with that variation on show.

import "./elapsed.js";
import { keepSectionLive } from "./live-section.js";

document.addEventListener("input", (event) => {
  const range = event.target.closest?.(".compare-range");
  if (!range) return;
  range.closest(".viewer-stage").querySelector(".compare").style.setProperty("--position", `${range.value}%`);
});

document.addEventListener("click", (event) => {
  const compare = event.target.closest?.(".viewer-stage .compare");
  if (compare) {
    // Fitted to the screen, or at its own pixel size in a scrolling stage.
    const stage = compare.closest(".viewer-stage");
    stage.classList.toggle("zoomed");
    compare.title = stage.classList.contains("zoomed") ? "Click to fit the screen" : "Click to zoom";
    return;
  }
  const variation = event.target.closest?.("a.variation");
  if (variation && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    event.preventDefault();
    showVariation(variation);
  }
});

function showVariation(link) {
  const { number, src, width, height, download, format, edit, meta } = link.dataset;
  const image = document.getElementById("viewer-image");
  image.src = src;
  image.alt = `Result ${number}`;
  image.width = Number(width);
  image.height = Number(height);
  const compare = image.closest(".compare");
  compare.style.setProperty("--w", width);
  compare.style.setProperty("--h", height);
  document.getElementById("selected-meta").textContent = `Variation ${number}: ${meta}`;
  const downloadLink = document.getElementById("download-result");
  downloadLink.href = download;
  downloadLink.textContent = `Download ${format}`;
  document.getElementById("full-size").href = src;
  document.getElementById("edit-result").href = edit;
  for (const other of document.querySelectorAll("a.variation")) {
    other.toggleAttribute("aria-current", other === link);
    if (other === link) other.setAttribute("aria-current", "true");
  }
  // The address names the variation, so a reload or a shared link shows it.
  const url = new URL(window.location.href);
  url.searchParams.set("variation", number);
  window.history.replaceState(window.history.state, "", url);
}

// Live status: pushed (live-section.js) instead of htmx's one-second poll.
const liveSection = document.querySelector("#job-status[data-poll]");
const jobId = liveSection?.getAttribute("hx-get")?.match(/\/jobs\/([0-9a-f-]+)\//)?.[1];
if (jobId && window.htmx) {
  keepSectionLive({ jobId, url: `/jobs/${jobId}/status/`, selector: "#job-status" });
}
