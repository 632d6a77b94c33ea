// Live parts of a page (htmx polls, marked data-poll: the job page's status,
// the history's running rows) pause while the tab is hidden, and refresh at
// once when it is shown again.
//
// The CSP allows no eval, so htmx trigger filters are out: a poll is canceled
// here instead.

document.addEventListener("htmx:confirm", (event) => {
  const element = event.detail.elt;
  if (element?.hasAttribute?.("data-poll") && document.visibilityState !== "visible") {
    event.preventDefault();
  }
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible" || !window.htmx) return;
  for (const element of document.querySelectorAll("[data-poll]")) {
    window.htmx.ajax("GET", element.getAttribute("hx-get"), { source: element, target: element, swap: "outerHTML" });
  }
});
