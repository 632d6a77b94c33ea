// The edits a mask is made of, and how each one is drawn on the mask canvas.
//
// The mask canvas is painted opaque (one colour, alpha = marked): strokes and
// shapes that overlap never add up to a darker edge, and the overlay is drawn
// from it with one global alpha. Shapes are given in the original image's
// pixels; the caller translates the context when the canvas is extended.

export const PAINT = "rgb(255, 64, 64)";

/**
 * Draw one operation.
 * - stroke: {points, size, erase} a brush or eraser line
 * - shape:  {points, erase} a closed polygon (rectangle, lasso, polygon), filled
 * - clear, invert: the whole canvas
 * - base:   {area, at} a mask loaded from a file or an earlier job, its corner at `at`
 */
export function drawOp(context, op) {
  const { width, height } = context.canvas;
  context.save();
  context.globalCompositeOperation = op.erase ? "destination-out" : "source-over";
  context.strokeStyle = PAINT;
  context.fillStyle = PAINT;
  if (op.type === "stroke") {
    drawStroke(context, op);
  } else if (op.type === "shape") {
    context.beginPath();
    const [first, ...rest] = op.points;
    context.moveTo(first[0], first[1]);
    for (const point of rest) context.lineTo(point[0], point[1]);
    context.closePath();
    context.fill();
  } else if (op.type === "clear") {
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, width, height);
  } else if (op.type === "invert") {
    const before = copyOf(context.canvas);
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, width, height);
    context.fillRect(0, 0, width, height);
    context.globalCompositeOperation = "destination-out";
    context.drawImage(before, 0, 0);
  } else if (op.type === "base") {
    context.save();
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, width, height);
    context.restore();
    const [x, y] = op.at || [0, 0];
    context.drawImage(op.area, x, y);
  }
  context.restore();
}

function drawStroke(context, op) {
  context.lineWidth = op.size;
  context.lineCap = "round";
  context.lineJoin = "round";
  const [first, ...rest] = op.points;
  context.beginPath();
  if (!rest.length) {
    context.arc(first[0], first[1], op.size / 2, 0, Math.PI * 2);
    context.fill();
    return;
  }
  // The whole stroke is one path, so its own overlaps never build up.
  context.moveTo(first[0], first[1]);
  for (const point of rest) context.lineTo(point[0], point[1]);
  context.stroke();
}

export function copyOf(canvas) {
  const copy = document.createElement("canvas");
  copy.width = canvas.width;
  copy.height = canvas.height;
  copy.getContext("2d").drawImage(canvas, 0, 0);
  return copy;
}

/**
 * The area a mask image marks, as a canvas painted where the mask says "change"
 * (a soft edge stays soft). Same conventions as the server: when the mask has
 * fully transparent pixels, transparency marks the area; otherwise brightness.
 */
export function maskArea(bitmap) {
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const image = context.getImageData(0, 0, canvas.width, canvas.height);
  const pixels = image.data;
  let transparent = false;
  for (let index = 3; index < pixels.length; index += 4) {
    if (pixels[index] === 0) {
      transparent = true;
      break;
    }
  }
  for (let index = 0; index < pixels.length; index += 4) {
    const grey = 0.299 * pixels[index] + 0.587 * pixels[index + 1] + 0.114 * pixels[index + 2];
    const marked = transparent ? 255 - pixels[index + 3] : Math.round(grey);
    pixels[index] = 255;
    pixels[index + 1] = 64;
    pixels[index + 2] = 64;
    pixels[index + 3] = marked;
  }
  context.putImageData(image, 0, 0);
  return canvas;
}
