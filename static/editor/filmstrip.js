// The session's lineage as a filmstrip: the image the session started from,
// then each result the user continued from. Clicking an earlier frame makes
// it the image to edit again.
export function renderFilmstrip(list, frames, current, onStep) {
  list.replaceChildren(
    ...frames.map((frame, index) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "frame";
      button.dataset.index = String(index);
      button.dataset.imageId = frame.sourceId || "";
      const label = index === 0 ? "Start" : `Step ${index}`;
      button.setAttribute("aria-label", `${label}: ${frame.width}×${frame.height}${index === current ? " (editing now)" : ""}`);
      if (index === current) button.setAttribute("aria-current", "step");
      const image = document.createElement("img");
      image.src = frame.thumb;
      image.alt = "";
      const caption = document.createElement("span");
      caption.className = "frame-label";
      caption.textContent = label;
      button.append(image, caption);
      button.addEventListener("click", () => onStep(index));
      item.append(button);
      return item;
    }),
  );
}
