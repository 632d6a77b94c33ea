// Mouse, pen and touch on the painter's canvas: strokes, selections, pan,
// wheel zoom and two-finger pinch. The painter does the drawing; this only
// turns pointer events into its verbs.

import { SELECTION_TOOLS } from "./selection.js";

export function bindPointerInput(painter) {
  const canvas = painter.canvas;
  const pointers = new Map();
  // A pan ({pan: [x, y]}) or a pinch ({centre, distance}) under way.
  let gesture = null;

  function pinchState() {
    const [a, b] = [...pointers.values()];
    return {
      centre: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2],
      distance: Math.max(1, Math.hypot(a[0] - b[0], a[1] - b[1])),
    };
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!painter.image) return;
    // preventDefault() below keeps the browser from focusing the canvas, and
    // the tool keys must reach it rather than the field used last.
    canvas.focus({ preventScroll: true });
    canvas.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, [event.offsetX, event.offsetY]);
    if (pointers.size === 2) {
      // A second finger turns a stroke or selection that just began into a pinch.
      painter.endStroke({ canceled: painter.stroke && painter.stroke.points.length < 4 });
      if (painter.selection?.tool !== "polygon") painter.cancelSelection();
      gesture = pinchState();
      return;
    }
    if (pointers.size > 2) return;
    const panning = painter.tool === "pan" || painter.spaceHeld || event.button === 1 || event.button === 2;
    if (panning) {
      gesture = { pan: [event.offsetX, event.offsetY] };
      return;
    }
    if (event.button !== 0) return;
    event.preventDefault();
    const point = painter.toImage(event.offsetX, event.offsetY);
    if (SELECTION_TOOLS.includes(painter.tool)) painter.selectionPoint(point, event.altKey);
    else painter.startStroke(point);
  });

  canvas.addEventListener("pointermove", (event) => {
    painter.cursor = [event.offsetX, event.offsetY];
    if (pointers.has(event.pointerId)) pointers.set(event.pointerId, [event.offsetX, event.offsetY]);
    if (gesture && pointers.size === 2 && gesture.distance) {
      const now = pinchState();
      painter.panBy(now.centre[0] - gesture.centre[0], now.centre[1] - gesture.centre[1]);
      painter.zoomAt(now.distance / gesture.distance, now.centre[0], now.centre[1]);
      gesture = now;
      return;
    }
    if (gesture && gesture.pan) {
      const [lastX, lastY] = gesture.pan;
      painter.panBy(event.offsetX - lastX, event.offsetY - lastY);
      gesture.pan = [event.offsetX, event.offsetY];
      return;
    }
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    const points = (events.length ? events : [event]).map((each) => painter.toImage(each.offsetX, each.offsetY));
    if (painter.selection) {
      // A polygon follows the pointer between clicks; the others while pressed.
      if (painter.selection.tool === "polygon" || pointers.has(event.pointerId)) {
        for (const point of points) painter.selection.move(point);
      }
    } else if (painter.stroke) {
      painter.extendStroke(points);
    }
    painter.requestRender();
  });

  function pointerUp(event, canceled) {
    pointers.delete(event.pointerId);
    if (pointers.size < 2 && gesture && gesture.distance) gesture = null;
    if (gesture && gesture.pan && !pointers.size) gesture = null;
    if (painter.selection && painter.selection.tool !== "polygon") {
      canceled ? painter.cancelSelection() : painter.commitSelection();
    }
    painter.endStroke({ canceled });
  }

  canvas.addEventListener("pointerup", (event) => pointerUp(event, false));
  canvas.addEventListener("pointercancel", (event) => pointerUp(event, true));
  canvas.addEventListener("dblclick", () => {
    if (painter.selection?.tool !== "polygon") return;
    // The double-click's second click added its corner twice.
    painter.selection.removeLastCorner();
    painter.commitSelection();
  });
  canvas.addEventListener("pointerleave", () => {
    painter.cursor = null;
    painter.requestRender();
  });
  canvas.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
      painter.zoomAt(factor, event.offsetX, event.offsetY);
    },
    { passive: false },
  );
}
