// A button with data-copy="#selector" copies that element's text to the
// clipboard and says so next to it. (The Clipboard API does this in one call;
// no library needed.)
for (const button of document.querySelectorAll("button[data-copy]")) {
  const status = button.parentElement.querySelector("[data-copy-status]");
  button.addEventListener("click", async () => {
    const source = document.querySelector(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      if (status) status.textContent = "Copied.";
    } catch {
      // No clipboard access (an insecure origin, a refused permission):
      // select the text so Ctrl+C copies it.
      getSelection().selectAllChildren(source);
      if (status) status.textContent = "Selected: press Ctrl+C to copy.";
    }
  });
}
