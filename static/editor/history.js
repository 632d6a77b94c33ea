// The history and trash pages.
//
// "Delete selected for good" asks for confirmation only when there is
// something to delete. With nothing ticked the request goes out unconfirmed,
// and the server's answer ("No job was selected ...") shows in the messages
// region (see messages.js).

document.addEventListener("htmx:confirm", (event) => {
  const form = event.detail.elt.closest?.("#history-selection, #trash-selection");
  if (!form || !event.detail.question) return;
  if (!form.querySelector("input[name=jobs]:checked")) {
    event.preventDefault();
    event.detail.issueRequest(true);
  }
});

// On a small screen the filters fold away (they are open in the markup, so
// they show without JavaScript), unless one of them is in use.
const filters = document.querySelector("details.more-filters");
if (filters && !filters.hasAttribute("data-in-use") && window.matchMedia("(max-width: 700px)").matches) {
  filters.open = false;
}
