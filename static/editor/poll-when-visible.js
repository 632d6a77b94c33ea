// Polling (hx-trigger="every 1s" on an element marked data-poll) pauses while
// the tab is hidden, and coming back refreshes at once. The CSP allows no
// eval, so htmx trigger filters are out: the request is canceled here instead.
document.addEventListener("htmx:confirm", (event) => {
  const element = event.detail.elt;
  if (element?.hasAttribute?.("data-poll") && document.visibilityState !== "visible") {
    event.preventDefault();
  }
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible" || !window.htmx) return;
  for (const element of document.querySelectorAll("[data-poll][hx-get]")) {
    window.htmx.ajax("GET", element.getAttribute("hx-get"), { source: element, target: element, swap: "outerHTML" });
  }
});
