// The history page: "Delete selected" asks for confirmation only when there is
// something to delete. With nothing ticked the request goes out unconfirmed,
// and the server's answer ("No job was selected ...") shows in the messages
// region (see messages.js).

document.addEventListener("htmx:confirm", (event) => {
  const form = event.detail.elt.closest?.("#history-selection");
  if (!form || !event.detail.question) return;
  if (!form.querySelector("input[name=jobs]:checked")) {
    event.preventDefault();
    event.detail.issueRequest(true);
  }
});
