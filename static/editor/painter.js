// Mask painter: mark the area to change over an image, at the image's full resolution.
//
// The mask lives in an off-screen canvas the size of the image that is sent
// (larger than the picture when the canvas is extended to outpaint); the
// visible canvas only shows it, zoomed and panned, over the picture. Every
// edit is an operation in a list (mask-ops.js), so undo/redo replays the list
// instead of keeping a full-resolution copy of the mask per step (a 4096²
// image would need 64 MB each). Operations are kept in the picture's own
// pixels, so extending the canvas later moves them along.

import { composeMask, marksAnything, maskToBlob } from "./feather.js";
import { copyOf, drawOp, maskArea } from "./mask-ops.js";
import { handlePainterKey } from "./painter-keys.js";
import { bindPointerInput } from "./painter-pointer.js";
import { renderPainter } from "./painter-render.js";
import { SelectionGesture } from "./selection.js";

const MIN_SCALE = 0.02;
const MAX_SCALE = 32;
const TOOL_HINTS = {
  brush: "Brush selected: paint the area to change.",
  eraser: "Eraser selected: paint to take area out of the mask.",
  rectangle: "Rectangle selected: drag to add a box to the mask; hold Alt to take it out.",
  lasso: "Lasso selected: draw around an area to add it; hold Alt to take it out.",
  polygon:
    "Polygon selected: click the corners, then click the first one, double-click or press Enter to close (Alt takes it out, Escape cancels).",
  pan: "Pan selected: drag to move the picture.",
};

export class MaskPainter {
  /**
   * @param {HTMLElement} root  the painter element (toolbar + stage)
   * @param {{onChange?: () => void, announce?: (text: string) => void}} options
   */
  constructor(root, options = {}) {
    this.root = root;
    this.canvas = root.querySelector("canvas");
    this.stage = root.querySelector(".painter-stage");
    this.sizeInput = root.querySelector("#brush-size");
    this.sizeOutput = root.querySelector("#brush-size-value");
    this.featherInput = root.querySelector("#feather");
    this.featherOutput = root.querySelector("#feather-value");
    this.opacityInput = root.querySelector("#overlay-opacity");
    this.opacityOutput = root.querySelector("#overlay-opacity-value");
    this.zoomOutput = root.querySelector("#zoom-value");
    this.onChange = options.onChange || (() => {});
    this.announce = options.announce || (() => {});
    this.imageListeners = [];
    this.context = this.canvas.getContext("2d");
    this.image = null;
    // The picture inside the image that is sent (all of it unless extended).
    this.frame = { x: 0, y: 0, width: 0, height: 0 };
    this.sentWidth = 0;
    this.sentHeight = 0;
    // What was painted (opaque), and what is shown and sent (with the
    // extension and the feather); the second is rebuilt when `stale`.
    this.painted = null;
    this.paintedContext = null;
    this.effective = null;
    this.stale = true;
    this.ops = [];
    this.undone = [];
    this.tool = "brush";
    this.overlayVisible = true;
    // Selections take out of the mask (a touch screen has no Alt key).
    this.subtracting = false;
    this.view = { scale: 1, x: 0, y: 0 };
    this.fitted = true;
    this.stroke = null;
    this.selection = null;
    // The mask as it was when the current stroke began (see preview()).
    this.before = null;
    this.spaceHeld = false;
    this.cursor = null;
    this.animationFrame = 0;
    // On a phone the edge and overlay settings start folded, so the picture
    // stays within reach; their keys work either way.
    const look = root.querySelector("#mask-look");
    if (look && window.matchMedia("(max-width: 600px)").matches) look.open = false;
    this.bind();
  }

  /** The picture's own size (what a loaded mask must match). */
  get width() {
    return this.image ? this.image.width : 0;
  }

  get height() {
    return this.image ? this.image.height : 0;
  }

  get brushSize() {
    return Number(this.sizeInput.value);
  }

  /** Width of the soft edge, in image pixels (0 = hard). */
  get feather() {
    return Number(this.featherInput.value);
  }

  get overlayOpacity() {
    return Number(this.opacityInput.value) / 100;
  }

  /** The canvas is larger than the picture (outpainting). */
  get extended() {
    return Boolean(this.image) && (this.sentWidth !== this.width || this.sentHeight !== this.height);
  }

  /** Call `listener` whenever a new picture is shown. */
  onImage(listener) {
    this.imageListeners.push(listener);
  }

  /** Show a new image; the mask starts empty and the canvas unextended. */
  setImage(bitmap) {
    this.image = bitmap;
    this.ops = [];
    this.undone = [];
    this.selection = null;
    this.resizeSent({ left: 0, top: 0, right: 0, bottom: 0 });
    // A brush that suits the picture: about a twentieth of its short side.
    const short = Math.min(bitmap.width, bitmap.height);
    const long = Math.max(bitmap.width, bitmap.height);
    this.sizeInput.max = String(Math.max(50, Math.round(long / 4)));
    this.setBrushSize(Math.max(4, Math.round(short / 20)));
    this.featherInput.max = String(Math.max(20, Math.round(short / 4)));
    this.layout();
    this.fit();
    this.updateButtons();
    for (const listener of this.imageListeners) listener(bitmap);
  }

  /**
   * Extend the canvas by whole pixels on each side (all 0: the picture alone).
   * What was painted stays on the picture; the new area is part of the mask.
   */
  setExtension(extension) {
    if (!this.image) return;
    this.resizeSent(extension);
    this.fit();
    this.changed();
  }

  resizeSent({ left, top, right, bottom }) {
    this.frame = { x: left, y: top, width: this.width, height: this.height };
    this.sentWidth = this.width + left + right;
    this.sentHeight = this.height + top + bottom;
    this.painted = document.createElement("canvas");
    this.painted.width = this.sentWidth;
    this.painted.height = this.sentHeight;
    this.paintedContext = this.painted.getContext("2d", { willReadFrequently: true });
    this.effective = document.createElement("canvas");
    this.effective.width = this.sentWidth;
    this.effective.height = this.sentHeight;
    this.replay();
  }

  /** Start from an existing mask (a file or an earlier job's mask). */
  loadMask(bitmap) {
    if (!this.image) return false;
    const fitsPicture = bitmap.width === this.width && bitmap.height === this.height;
    // A mask saved while the canvas was extended (exportBlob) fits it as it is.
    const fitsSent = this.extended && bitmap.width === this.sentWidth && bitmap.height === this.sentHeight;
    if (!fitsPicture && !fitsSent) return false;
    const at = fitsPicture ? [0, 0] : [-this.frame.x, -this.frame.y];
    this.apply({ type: "base", area: maskArea(bitmap), at });
    return true;
  }

  isEmpty() {
    if (!this.image) return true;
    return !marksAnything(this.effectiveMask());
  }

  /**
   * The mask the size of the sent image as an opaque PNG: white = area to
   * change, black = keep, greys along a feathered edge (what the server reads).
   */
  exportBlob() {
    return maskToBlob(this.effectiveMask(), { keepGreys: this.feather > 0 });
  }

  /**
   * What was painted, at the picture's own size, without the feather or the
   * extension (both are settings applied on top): the mask to keep, or to
   * carry over to the next image, so loading it back never softens it twice.
   */
  exportPaintedBlob() {
    const out = document.createElement("canvas");
    out.width = this.width;
    out.height = this.height;
    out.getContext("2d").drawImage(this.painted, -this.frame.x, -this.frame.y);
    return maskToBlob(out, { keepGreys: true });
  }

  /**
   * The picture placed in the extended canvas (the new area transparent), and
   * where the picture sits in it as "x,y,width,height"; null when not extended.
   */
  async exportExtendedImage() {
    if (!this.extended) return null;
    const out = document.createElement("canvas");
    out.width = this.sentWidth;
    out.height = this.sentHeight;
    out.getContext("2d").drawImage(this.image, this.frame.x, this.frame.y);
    const blob = await new Promise((resolve) => out.toBlob(resolve, "image/png"));
    const { x, y, width, height } = this.frame;
    return { blob, frame: `${x},${y},${width},${height}` };
  }

  effectiveMask() {
    if (this.stale) {
      // While a stroke is drawn the blur waits for the stroke to end: it
      // would redo the whole image's blur at every pointer move.
      composeMask(this.effective, this.painted, this.frame, this.stroke ? 0 : this.feather);
      this.stale = Boolean(this.stroke);
    }
    return this.effective;
  }

  // --- Operations ------------------------------------------------------------

  apply(op) {
    this.ops.push(op);
    this.undone = [];
    this.draw(op);
    this.changed();
  }

  draw(op) {
    this.paintedContext.setTransform(1, 0, 0, 1, this.frame.x, this.frame.y);
    drawOp(this.paintedContext, op);
    this.paintedContext.setTransform(1, 0, 0, 1, 0, 0);
    this.stale = true;
  }

  replay() {
    this.paintedContext.clearRect(0, 0, this.sentWidth, this.sentHeight);
    for (const op of this.ops) this.draw(op);
    this.stale = true;
  }

  undo() {
    if (!this.ops.length) return;
    this.undone.push(this.ops.pop());
    this.replay();
    this.changed();
    this.announce("Undone.");
  }

  redo() {
    if (!this.undone.length) return;
    const op = this.undone.pop();
    this.ops.push(op);
    this.draw(op);
    this.changed();
    this.announce("Redone.");
  }

  clear() {
    if (!this.ops.length) return;
    this.apply({ type: "clear" });
    this.announce(this.extended ? "Mask cleared (the added area stays in it)." : "Mask cleared.");
  }

  invert() {
    this.apply({ type: "invert" });
    this.announce("Mask inverted.");
  }

  changed() {
    this.stale = true;
    this.updateButtons();
    this.requestRender();
    this.onChange();
  }

  updateButtons() {
    const button = (action) => this.root.querySelector(`[data-action="${action}"]`);
    button("undo").disabled = !this.ops.length;
    button("redo").disabled = !this.undone.length;
    button("clear").disabled = !this.ops.length;
    button("overlay").setAttribute("aria-pressed", String(this.overlayVisible));
    button("subtract").setAttribute("aria-pressed", String(this.subtracting));
    for (const toolButton of this.root.querySelectorAll("[data-tool]")) {
      toolButton.setAttribute("aria-pressed", String(toolButton.dataset.tool === this.tool));
    }
    this.canvas.dataset.tool = this.tool;
  }

  setTool(tool) {
    this.cancelSelection();
    this.tool = tool;
    this.updateButtons();
    this.announce(TOOL_HINTS[tool]);
  }

  setBrushSize(size) {
    this.sizeInput.value = String(Math.round(this.clamp(this.sizeInput, size)));
    this.sizeOutput.textContent = this.sizeInput.value;
    this.requestRender();
  }

  setFeather(width) {
    this.featherInput.value = String(Math.round(this.clamp(this.featherInput, width)));
    this.featherOutput.textContent = this.featherInput.value;
    this.changed();
  }

  setOverlay({ visible = this.overlayVisible, opacity = this.overlayOpacity } = {}) {
    this.overlayVisible = visible;
    this.opacityInput.value = String(Math.round(opacity * 100));
    this.opacityOutput.textContent = `${this.opacityInput.value}%`;
    this.canvas.dataset.overlay = visible ? "shown" : "hidden";
    this.updateButtons();
    this.requestRender();
  }

  toggleOverlay() {
    this.setOverlay({ visible: !this.overlayVisible });
    this.announce(this.overlayVisible ? "Mask shown." : "Mask hidden (it is still sent).");
  }

  clamp(input, value) {
    return Math.max(Number(input.min), Math.min(Number(input.max), value));
  }

  // --- View ------------------------------------------------------------------

  /** Size the stage to the sent image's shape, within the window. */
  layout() {
    if (!this.image) return;
    const width = this.stage.clientWidth || 600;
    const tallest = Math.max(240, window.innerHeight * 0.72);
    const height = Math.min(tallest, (width * this.sentHeight) / this.sentWidth);
    this.stage.style.height = `${Math.round(Math.max(200, height))}px`;
    this.resizeCanvas();
  }

  resizeCanvas() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.stage.clientWidth;
    const height = this.stage.clientHeight;
    this.canvas.width = Math.max(1, Math.round(width * ratio));
    this.canvas.height = Math.max(1, Math.round(height * ratio));
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    if (this.fitted) this.fit();
    this.requestRender();
  }

  fit() {
    if (!this.image) return;
    const width = this.stage.clientWidth;
    const height = this.stage.clientHeight;
    const scale = Math.min(width / this.sentWidth, height / this.sentHeight);
    this.view = {
      scale,
      x: (width - this.sentWidth * scale) / 2,
      y: (height - this.sentHeight * scale) / 2,
    };
    this.fitted = true;
    this.viewChanged();
  }

  zoomAt(factor, screenX, screenY) {
    const scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, this.view.scale * factor));
    const applied = scale / this.view.scale;
    this.view = {
      scale,
      x: screenX - (screenX - this.view.x) * applied,
      y: screenY - (screenY - this.view.y) * applied,
    };
    this.fitted = false;
    this.viewChanged();
  }

  zoomCentre(factor) {
    this.zoomAt(factor, this.stage.clientWidth / 2, this.stage.clientHeight / 2);
  }

  panBy(dx, dy) {
    this.view = { ...this.view, x: this.view.x + dx, y: this.view.y + dy };
    this.fitted = false;
    this.viewChanged();
  }

  viewChanged() {
    this.zoomOutput.textContent = `${Math.round(this.view.scale * 100)}%`;
    // Exposed so tests and tools can map screen points to the picture's
    // pixels: the offset is where the picture's top-left corner is shown.
    this.canvas.dataset.scale = String(this.view.scale);
    this.canvas.dataset.offsetX = String(this.view.x + this.frame.x * this.view.scale);
    this.canvas.dataset.offsetY = String(this.view.y + this.frame.y * this.view.scale);
    this.requestRender();
  }

  /** A point on screen, in the picture's own pixels. */
  toImage(screenX, screenY) {
    return [
      (screenX - this.view.x) / this.view.scale - this.frame.x,
      (screenY - this.view.y) / this.view.scale - this.frame.y,
    ];
  }

  toScreen([imageX, imageY]) {
    return [
      this.view.x + (imageX + this.frame.x) * this.view.scale,
      this.view.y + (imageY + this.frame.y) * this.view.scale,
    ];
  }

  requestRender() {
    if (this.animationFrame) return;
    this.animationFrame = requestAnimationFrame(() => {
      this.animationFrame = 0;
      this.render();
    });
  }

  render() {
    renderPainter(this);
  }

  // --- Input -----------------------------------------------------------------

  bind() {
    bindPointerInput(this);
    this.root.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button || !this.root.contains(button)) return;
      if (button.dataset.tool) this.setTool(button.dataset.tool);
      const action = button.dataset.action;
      if (action) this.run(action);
    });
    this.sizeInput.addEventListener("input", () => this.setBrushSize(Number(this.sizeInput.value)));
    this.featherInput.addEventListener("input", () => this.setFeather(Number(this.featherInput.value)));
    this.opacityInput.addEventListener("input", () =>
      this.setOverlay({ opacity: Number(this.opacityInput.value) / 100 }),
    );
    // A new width reshapes the stage (layout keeps the picture's proportions);
    // the height it sets settles on the next call, so this does not loop.
    new ResizeObserver(() => {
      if (this.image && !this.root.hidden) this.layout();
    }).observe(this.stage);
  }

  run(action) {
    const actions = {
      undo: () => this.undo(),
      redo: () => this.redo(),
      clear: () => this.clear(),
      invert: () => this.invert(),
      overlay: () => this.toggleOverlay(),
      subtract: () => {
        this.subtracting = !this.subtracting;
        this.updateButtons();
        this.announce(
          this.subtracting ? "Selections now take out of the mask." : "Selections now add to the mask.",
        );
      },
      "zoom-in": () => this.zoomCentre(1.25),
      "zoom-out": () => this.zoomCentre(0.8),
      fit: () => this.fit(),
    };
    actions[action]?.();
  }

  /** Keyboard shortcuts; returns true when the key was used. */
  handleKey(event) {
    return handlePainterKey(this, event);
  }

  setSpaceHeld(held) {
    this.spaceHeld = held;
    this.canvas.classList.toggle("panning", held);
    this.requestRender();
  }

  // --- Strokes and selections (driven by painter-pointer.js) ---------------

  startStroke(point) {
    this.stroke = { type: "stroke", erase: this.tool === "eraser", size: this.brushSize, points: [point] };
    this.before = copyOf(this.painted);
    this.preview();
  }

  extendStroke(points) {
    this.stroke.points.push(...points);
    this.preview();
  }

  /**
   * Draw the stroke in progress over the mask as it was when the stroke
   * began: the whole stroke is one path, so overlapping segments never
   * build up extra coverage at their antialiased edges, and the eraser is exact.
   */
  preview() {
    this.paintedContext.clearRect(0, 0, this.sentWidth, this.sentHeight);
    this.paintedContext.drawImage(this.before, 0, 0);
    this.draw(this.stroke);
    this.requestRender();
  }

  /** Keep the stroke in progress as an edit, or drop it when `canceled`. */
  endStroke({ canceled = false } = {}) {
    const stroke = this.stroke;
    this.stroke = null;
    if (!stroke) return;
    if (canceled) {
      this.replay();
      this.requestRender();
      return;
    }
    this.ops.push(stroke);
    this.undone = [];
    this.changed();
  }

  /** A press with a selection tool: a new selection, or a polygon's next corner. */
  selectionPoint(point, altKey) {
    if (!this.selection) {
      // Alt does the opposite of the mode for this one selection.
      this.selection = new SelectionGesture(this.tool, point, altKey !== this.subtracting);
    } else if (this.selection.addCorner(point, this.view.scale)) {
      this.commitSelection();
    }
    this.requestRender();
  }

  commitSelection() {
    const selection = this.selection;
    this.selection = null;
    const op = selection?.finish();
    if (op) {
      this.apply(op);
      const name = { rectangle: "Rectangle", lasso: "Lasso", polygon: "Polygon" }[selection.tool];
      this.announce(`${name} ${op.erase ? "taken out of" : "added to"} the mask.`);
    }
    this.requestRender();
  }

  cancelSelection() {
    if (!this.selection) return;
    this.selection = null;
    this.announce("Selection cancelled.");
    this.requestRender();
  }
}
