// A Run the browser refuses must say why. Pressing Run on a form with an
// invalid field fires no submit at all: the browser focuses the field and
// shows its message beside it, but only if it can focus it. A field inside a
// closed panel (outpainting) or hidden by the page would leave Run doing
// nothing, with no word said. Panels around an invalid field are opened
// first; a field still hidden is explained in the form's error box instead.

export function explainInvalidFields(form, showFormError) {
  let explainedThisRound = false;
  form.addEventListener(
    "invalid",
    (event) => {
      const field = event.target;
      for (let panel = field.closest("details"); panel; panel = panel.parentElement?.closest("details")) {
        panel.open = true;
      }
      if (field.getClientRects().length) return;
      // Handled here, so the browser goes on to the next field it can show.
      event.preventDefault();
      if (explainedThisRound) return;
      explainedThisRound = true;
      // Every invalid field is told in the same task: the next Run starts over.
      setTimeout(() => (explainedThisRound = false));
      showFormError(`${fieldName(field)}: ${field.validationMessage}`);
    },
    true,
  );
}

/** The words its label starts with ("Top" of "Top [field] px"), else its name. */
function fieldName(field) {
  const words = [...(field.labels?.[0]?.childNodes || [])]
    .filter((node) => node.nodeType === Node.TEXT_NODE)
    .map((node) => node.textContent.trim())
    .find(Boolean);
  return words || field.getAttribute("aria-label") || field.name || "A field";
}
