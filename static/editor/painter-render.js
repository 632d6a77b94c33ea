// Drawing the painter's view: the picture (in its extended canvas), the mask
// overlay with one opacity, the outlines, and the brush or selection in progress.

import { drawOutline } from "./selection.js";

export function renderPainter(painter) {
  const context = painter.context;
  const ratio = window.devicePixelRatio || 1;
  context.setTransform(1, 0, 0, 1, 0, 0);
  context.clearRect(0, 0, painter.canvas.width, painter.canvas.height);
  if (!painter.image) return;
  const { scale, x, y } = painter.view;
  context.setTransform(ratio * scale, 0, 0, ratio * scale, ratio * x, ratio * y);
  if (painter.extended) {
    // The added area has no picture yet: a neutral grey says so.
    context.fillStyle = "#6b6b6b";
    context.fillRect(0, 0, painter.sentWidth, painter.sentHeight);
  }
  context.imageSmoothingEnabled = scale < 2;
  context.drawImage(painter.image, painter.frame.x, painter.frame.y);
  const mask = painter.effectiveMask();
  if (painter.overlayVisible) {
    // One alpha for the whole mask: overlapping strokes look the same as one.
    context.globalAlpha = painter.overlayOpacity;
    context.drawImage(mask, 0, 0);
    context.globalAlpha = 1;
  }
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  // The painted area's edge would vanish on red pictures; a thin outline of the image helps.
  context.strokeStyle = "rgba(255,255,255,0.25)";
  context.lineWidth = 1;
  context.strokeRect(x - 0.5, y - 0.5, painter.sentWidth * scale + 1, painter.sentHeight * scale + 1);
  if (painter.extended) {
    context.save();
    context.setLineDash([5, 4]);
    context.strokeStyle = "rgba(255,255,255,0.8)";
    const [frameX, frameY] = painter.toScreen([0, 0]);
    context.strokeRect(frameX, frameY, painter.width * scale, painter.height * scale);
    context.restore();
  }
  if (painter.selection) {
    drawOutline(context, painter.selection.outline().map((point) => painter.toScreen(point)), painter.selection.erase);
  } else if (painter.cursor && (painter.tool === "brush" || painter.tool === "eraser") && !painter.spaceHeld) {
    const radius = (painter.brushSize * scale) / 2;
    context.beginPath();
    context.arc(painter.cursor[0], painter.cursor[1], Math.max(1, radius), 0, Math.PI * 2);
    context.strokeStyle = "rgba(0,0,0,0.8)";
    context.lineWidth = 3;
    context.stroke();
    context.strokeStyle = painter.tool === "eraser" ? "#7cb7ff" : "#fff";
    context.lineWidth = 1.5;
    context.stroke();
  }
}
