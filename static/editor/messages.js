// Refusals of htmx requests (webapp/errors.py) come with HX-Retarget pointing at
// the page's messages region. htmx swaps no error response by default, so it
// is told to swap these: the person sees why nothing happened.

document.addEventListener("htmx:beforeSwap", (event) => {
  const { xhr } = event.detail;
  if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
    event.detail.shouldSwap = true;
  }
});

document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target?.id === "messages") {
    event.detail.target.scrollIntoView({ block: "nearest" });
  }
});
