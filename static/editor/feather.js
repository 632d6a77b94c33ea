// The mask as it is shown and sent: what was painted, plus the area an
// outpaint adds, with the edge softened by the feather.
//
// The feather is a Gaussian blur (the canvas's own `filter`), so the preview
// and the mask sent are the same pixels. The blur would fade a selection that
// touches the picture's border (it averages with the transparent outside), so
// the border pixels are first stretched outwards into a margin.

import { PAINT } from "./mask-ops.js";

/** The Gaussian's standard deviation for a feather of `width` px (0 to 100 % over about that width). */
export function featherSigma(width) {
  return width / 3;
}

/**
 * Draw the effective mask on `target` (already the size of the sent image).
 * @param {HTMLCanvasElement} target
 * @param {HTMLCanvasElement} painted  the painted mask, the size of the sent image
 * @param {{x: number, y: number, width: number, height: number}} frame  the original image inside it
 * @param {number} feather  width of the soft edge, in image pixels (0 = hard)
 */
export function composeMask(target, painted, frame, feather) {
  const context = target.getContext("2d");
  const { width, height } = target;
  context.clearRect(0, 0, width, height);
  const added = addedAreas(frame, width, height);
  if (feather > 0) {
    const margin = Math.ceil(featherSigma(feather) * 3) + 1;
    const union = document.createElement("canvas");
    union.width = width;
    union.height = height;
    const unionContext = union.getContext("2d");
    unionContext.drawImage(painted, 0, 0);
    fillAreas(unionContext, added);
    const padded = withStretchedEdges(union, margin);
    context.filter = `blur(${featherSigma(feather)}px)`;
    context.drawImage(padded, -margin, -margin);
    context.filter = "none";
  } else {
    context.drawImage(painted, 0, 0);
  }
  // The new area has no picture at all: it is always to be made, fully.
  fillAreas(context, added);
}

/** The parts of the sent image outside the original picture. */
export function addedAreas(frame, width, height) {
  const areas = [
    [0, 0, width, frame.y],
    [0, frame.y + frame.height, width, height - frame.y - frame.height],
    [0, frame.y, frame.x, frame.height],
    [frame.x + frame.width, frame.y, width - frame.x - frame.width, frame.height],
  ];
  return areas.filter(([, , w, h]) => w > 0 && h > 0);
}

function fillAreas(context, areas) {
  context.save();
  context.globalCompositeOperation = "source-over";
  context.fillStyle = PAINT;
  for (const [x, y, w, h] of areas) context.fillRect(x, y, w, h);
  context.restore();
}

/** `canvas` inside a margin filled by stretching its outermost rows and columns. */
function withStretchedEdges(canvas, margin) {
  const { width, height } = canvas;
  const out = document.createElement("canvas");
  out.width = width + 2 * margin;
  out.height = height + 2 * margin;
  const context = out.getContext("2d");
  context.imageSmoothingEnabled = false;
  const m = margin;
  context.drawImage(canvas, m, m);
  // Sides: the edge row or column, stretched.
  context.drawImage(canvas, 0, 0, width, 1, m, 0, width, m);
  context.drawImage(canvas, 0, height - 1, width, 1, m, m + height, width, m);
  context.drawImage(canvas, 0, 0, 1, height, 0, m, m, height);
  context.drawImage(canvas, width - 1, 0, 1, height, m + width, m, m, height);
  // Corners: the corner pixel, stretched.
  context.drawImage(canvas, 0, 0, 1, 1, 0, 0, m, m);
  context.drawImage(canvas, width - 1, 0, 1, 1, m + width, 0, m, m);
  context.drawImage(canvas, 0, height - 1, 1, 1, 0, m + height, m, m);
  context.drawImage(canvas, width - 1, height - 1, 1, 1, m + width, m + height, m, m);
  return out;
}

/**
 * A mask canvas as the server reads it: an opaque PNG, white = change,
 * black = keep. A feathered edge keeps its greys (`keepGreys`); without a
 * feather the brush's antialiased rim is cut at half, so the mask is as crisp
 * as painted.
 */
export function maskToBlob(effective, { keepGreys }) {
  const out = document.createElement("canvas");
  out.width = effective.width;
  out.height = effective.height;
  const source = effective.getContext("2d").getImageData(0, 0, out.width, out.height);
  const pixels = source.data;
  for (let index = 0; index < pixels.length; index += 4) {
    const alpha = pixels[index + 3];
    const value = keepGreys ? alpha : alpha >= 128 ? 255 : 0;
    pixels[index] = value;
    pixels[index + 1] = value;
    pixels[index + 2] = value;
    pixels[index + 3] = 255;
  }
  out.getContext("2d").putImageData(source, 0, 0);
  return new Promise((resolve) => out.toBlob(resolve, "image/png"));
}

/** Whether the effective mask marks any pixel (at least half) for change. */
export function marksAnything(effective) {
  const data = effective.getContext("2d").getImageData(0, 0, effective.width, effective.height).data;
  for (let index = 3; index < data.length; index += 4) {
    if (data[index] >= 128) return true;
  }
  return false;
}
