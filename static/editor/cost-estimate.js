// Keeps the "This run: ≈ $0.17" line in step with the editor: the server
// prices the run (one price table, in Python) from the model, its parameters,
// the number of images and the prompt's length; this module only tells it
// when those change.
export function watchEstimate(form, { countImages }) {
  const inputs = document.getElementById("estimate-inputs");
  if (!inputs) return { update() {} };
  const images = inputs.querySelector("[name=input_images]");
  const promptLength = inputs.querySelector("[name=prompt_length]");
  const prompt = form.querySelector("[name=prompt]");

  function update() {
    images.value = String(countImages());
    promptLength.value = String(prompt ? prompt.value.length : 0);
    document.body.dispatchEvent(new CustomEvent("estimate-changed"));
  }

  form.addEventListener("change", (event) => {
    if (event.target.closest("#model-fields")) update();
  });
  form.addEventListener("input", (event) => {
    if (event.target.closest("#model-fields")) update();
  });
  prompt?.addEventListener("change", update);
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target?.id === "model-fields") update();
  });
  return { update };
}
