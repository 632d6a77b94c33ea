// The painter's keyboard shortcuts. Each key is also named in its control's
// title and aria-keyshortcuts (templates/editor/editor.html).

/** Act on `event` for `painter`; returns true when the key was used. */
export function handlePainterKey(painter, event) {
  if (!painter.image || painter.root.hidden) return false;
  const key = event.key;
  const mod = event.ctrlKey || event.metaKey;
  if (mod && (key === "z" || key === "Z")) {
    event.shiftKey ? painter.redo() : painter.undo();
    return true;
  }
  if (mod && (key === "y" || key === "Y")) {
    painter.redo();
    return true;
  }
  if (mod || event.altKey) return false;
  if (painter.selection && (key === "Enter" || key === "Escape")) {
    key === "Enter" ? painter.commitSelection() : painter.cancelSelection();
    return true;
  }
  if (painter.selection && key === "Backspace") {
    // Takes back the polygon's last corner, not the whole mask.
    painter.selection.removeLastCorner();
    painter.requestRender();
    return true;
  }
  const step = Math.max(1, Math.round(painter.brushSize * 0.15));
  const featherStep = Math.max(1, Math.round(painter.feather * 0.25));
  const keys = {
    b: () => painter.setTool("brush"),
    e: () => painter.setTool("eraser"),
    m: () => painter.setTool("rectangle"),
    l: () => painter.setTool("lasso"),
    p: () => painter.setTool("polygon"),
    h: () => painter.setTool("pan"),
    i: () => painter.invert(),
    o: () => painter.toggleOverlay(),
    "[": () => painter.setBrushSize(painter.brushSize - step),
    "]": () => painter.setBrushSize(painter.brushSize + step),
    "{": () => painter.setFeather(painter.feather - featherStep),
    "}": () => painter.setFeather(painter.feather + featherStep),
    "+": () => painter.zoomCentre(1.25),
    "=": () => painter.zoomCentre(1.25),
    "-": () => painter.zoomCentre(0.8),
    0: () => painter.fit(),
  };
  const handler = keys[key.length === 1 ? key.toLowerCase() : key];
  if (handler) {
    handler();
    return true;
  }
  if ((key === "Delete" || key === "Backspace") && document.activeElement === painter.canvas) {
    painter.clear();
    return true;
  }
  return false;
}
