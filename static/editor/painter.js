// Mask painter: paint the area to change over an image, at the image's full resolution.
//
// The mask lives in an off-screen canvas the size of the image; the visible
// canvas only shows it (zoomed and panned) over the picture. Every edit is an
// operation in a list, so undo/redo replays the list instead of keeping a
// full-resolution copy of the mask per step (a 4096² image would need 64 MB each).

const PAINT = "rgb(255, 64, 64)";
const MIN_SCALE = 0.02;
const MAX_SCALE = 32;

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
    this.zoomOutput = root.querySelector("#zoom-value");
    this.onChange = options.onChange || (() => {});
    this.announce = options.announce || (() => {});
    this.context = this.canvas.getContext("2d");
    this.image = null;
    this.mask = null;
    this.maskContext = null;
    this.ops = [];
    this.undone = [];
    this.tool = "brush";
    this.view = { scale: 1, x: 0, y: 0 };
    this.fitted = true;
    this.pointers = new Map();
    this.stroke = null;
    // The mask as it was when the current stroke began (see preview()).
    this.before = null;
    this.gesture = null;
    this.spaceHeld = false;
    this.cursor = null;
    this.frame = 0;
    this.bind();
  }

  get width() {
    return this.image ? this.image.width : 0;
  }

  get height() {
    return this.image ? this.image.height : 0;
  }

  get brushSize() {
    return Number(this.sizeInput.value);
  }

  /** Show a new image; the mask starts empty. */
  setImage(bitmap) {
    this.image = bitmap;
    this.mask = document.createElement("canvas");
    this.mask.width = bitmap.width;
    this.mask.height = bitmap.height;
    this.maskContext = this.mask.getContext("2d");
    this.ops = [];
    this.undone = [];
    // A brush that suits the picture: about a twentieth of its short side.
    const short = Math.min(bitmap.width, bitmap.height);
    this.sizeInput.max = String(Math.max(50, Math.round(Math.max(bitmap.width, bitmap.height) / 4)));
    this.setBrushSize(Math.max(4, Math.round(short / 20)));
    this.layout();
    this.fit();
    this.updateButtons();
  }

  /** Start from an existing mask (a file or an earlier job's mask). */
  loadMask(bitmap) {
    if (!this.image) return false;
    if (bitmap.width !== this.width || bitmap.height !== this.height) return false;
    const area = maskArea(bitmap);
    this.apply({ type: "base", area });
    return true;
  }

  isEmpty() {
    if (!this.mask) return true;
    const data = this.maskContext.getImageData(0, 0, this.width, this.height).data;
    for (let index = 3; index < data.length; index += 4) {
      if (data[index] >= 128) return false;
    }
    return true;
  }

  /**
   * The mask at the image's full resolution as an opaque PNG:
   * white = area to change, black = keep (what the server reads).
   */
  exportBlob() {
    const out = document.createElement("canvas");
    out.width = this.width;
    out.height = this.height;
    const outContext = out.getContext("2d");
    const source = this.maskContext.getImageData(0, 0, this.width, this.height);
    const pixels = source.data;
    for (let index = 0; index < pixels.length; index += 4) {
      const value = pixels[index + 3] >= 128 ? 255 : 0;
      pixels[index] = value;
      pixels[index + 1] = value;
      pixels[index + 2] = value;
      pixels[index + 3] = 255;
    }
    outContext.putImageData(source, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }

  // --- Operations ------------------------------------------------------------

  apply(op) {
    this.ops.push(op);
    this.undone = [];
    this.draw(op);
    this.changed();
  }

  draw(op) {
    const context = this.maskContext;
    context.save();
    if (op.type === "stroke") {
      context.globalCompositeOperation = op.erase ? "destination-out" : "source-over";
      context.strokeStyle = PAINT;
      context.fillStyle = PAINT;
      context.lineWidth = op.size;
      context.lineCap = "round";
      context.lineJoin = "round";
      const [first, ...rest] = op.points;
      if (!rest.length) {
        context.beginPath();
        context.arc(first[0], first[1], op.size / 2, 0, Math.PI * 2);
        context.fill();
      } else {
        context.beginPath();
        context.moveTo(first[0], first[1]);
        for (const point of rest) context.lineTo(point[0], point[1]);
        context.stroke();
      }
    } else if (op.type === "clear") {
      context.clearRect(0, 0, this.width, this.height);
    } else if (op.type === "invert") {
      const before = document.createElement("canvas");
      before.width = this.width;
      before.height = this.height;
      before.getContext("2d").drawImage(this.mask, 0, 0);
      context.clearRect(0, 0, this.width, this.height);
      context.fillStyle = PAINT;
      context.fillRect(0, 0, this.width, this.height);
      context.globalCompositeOperation = "destination-out";
      context.drawImage(before, 0, 0);
    } else if (op.type === "base") {
      context.clearRect(0, 0, this.width, this.height);
      context.drawImage(op.area, 0, 0);
    }
    context.restore();
  }

  replay() {
    this.maskContext.clearRect(0, 0, this.width, this.height);
    for (const op of this.ops) this.draw(op);
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
    this.announce("Mask cleared.");
  }

  invert() {
    this.apply({ type: "invert" });
    this.announce("Mask inverted.");
  }

  changed() {
    this.updateButtons();
    this.requestRender();
    this.onChange();
  }

  updateButtons() {
    const button = (action) => this.root.querySelector(`[data-action="${action}"]`);
    button("undo").disabled = !this.ops.length;
    button("redo").disabled = !this.undone.length;
    button("clear").disabled = !this.ops.length;
    for (const toolButton of this.root.querySelectorAll("[data-tool]")) {
      toolButton.setAttribute("aria-pressed", String(toolButton.dataset.tool === this.tool));
    }
    this.canvas.dataset.tool = this.tool;
  }

  setTool(tool) {
    this.tool = tool;
    this.updateButtons();
    this.announce(`${tool[0].toUpperCase()}${tool.slice(1)} selected.`);
  }

  setBrushSize(size) {
    const clamped = Math.max(Number(this.sizeInput.min), Math.min(Number(this.sizeInput.max), size));
    this.sizeInput.value = String(Math.round(clamped));
    this.sizeOutput.textContent = this.sizeInput.value;
    this.requestRender();
  }

  // --- View ------------------------------------------------------------------

  /** Size the stage to the picture's shape, within the window. */
  layout() {
    if (!this.image) return;
    const width = this.stage.clientWidth || 600;
    const tallest = Math.max(240, window.innerHeight * 0.72);
    const height = Math.min(tallest, (width * this.height) / this.width);
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
    const scale = Math.min(width / this.width, height / this.height);
    this.view = {
      scale,
      x: (width - this.width * scale) / 2,
      y: (height - this.height * scale) / 2,
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
    // Exposed so tests and tools can map screen points to image pixels.
    this.canvas.dataset.scale = String(this.view.scale);
    this.canvas.dataset.offsetX = String(this.view.x);
    this.canvas.dataset.offsetY = String(this.view.y);
    this.requestRender();
  }

  toImage(screenX, screenY) {
    return [(screenX - this.view.x) / this.view.scale, (screenY - this.view.y) / this.view.scale];
  }

  requestRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const context = this.context;
    const ratio = window.devicePixelRatio || 1;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.image) return;
    const { scale, x, y } = this.view;
    context.setTransform(ratio * scale, 0, 0, ratio * scale, ratio * x, ratio * y);
    context.imageSmoothingEnabled = scale < 2;
    context.drawImage(this.image, 0, 0);
    context.globalAlpha = 0.55;
    context.drawImage(this.mask, 0, 0);
    context.globalAlpha = 1;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    // The painted area's edge would vanish on red pictures; a thin outline of the image helps.
    context.strokeStyle = "rgba(255,255,255,0.25)";
    context.lineWidth = 1;
    context.strokeRect(x - 0.5, y - 0.5, this.width * scale + 1, this.height * scale + 1);
    if (this.cursor && this.tool !== "pan" && !this.spaceHeld) {
      const radius = (this.brushSize * scale) / 2;
      context.beginPath();
      context.arc(this.cursor[0], this.cursor[1], Math.max(1, radius), 0, Math.PI * 2);
      context.strokeStyle = "rgba(0,0,0,0.8)";
      context.lineWidth = 3;
      context.stroke();
      context.strokeStyle = this.tool === "eraser" ? "#7cb7ff" : "#fff";
      context.lineWidth = 1.5;
      context.stroke();
    }
  }

  // --- Input -----------------------------------------------------------------

  bind() {
    const canvas = this.canvas;
    canvas.addEventListener("pointerdown", (event) => this.pointerDown(event));
    canvas.addEventListener("pointermove", (event) => this.pointerMove(event));
    canvas.addEventListener("pointerup", (event) => this.pointerUp(event));
    canvas.addEventListener("pointercancel", (event) => this.pointerUp(event, true));
    canvas.addEventListener("pointerleave", () => {
      this.cursor = null;
      this.requestRender();
    });
    canvas.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
        this.zoomAt(factor, event.offsetX, event.offsetY);
      },
      { passive: false },
    );
    this.root.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button || !this.root.contains(button)) return;
      if (button.dataset.tool) this.setTool(button.dataset.tool);
      const action = button.dataset.action;
      if (action) this.run(action);
    });
    this.sizeInput.addEventListener("input", () => this.setBrushSize(Number(this.sizeInput.value)));
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
      "zoom-in": () => this.zoomCentre(1.25),
      "zoom-out": () => this.zoomCentre(0.8),
      fit: () => this.fit(),
    };
    actions[action]?.();
  }

  /** Keyboard shortcuts; returns true when the key was used. */
  handleKey(event) {
    if (!this.image || this.root.hidden) return false;
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && (key === "z" || key === "Z")) {
      event.shiftKey ? this.redo() : this.undo();
      return true;
    }
    if (mod && (key === "y" || key === "Y")) {
      this.redo();
      return true;
    }
    if (mod || event.altKey) return false;
    const step = Math.max(1, Math.round(this.brushSize * 0.15));
    const keys = {
      b: () => this.setTool("brush"),
      e: () => this.setTool("eraser"),
      h: () => this.setTool("pan"),
      i: () => this.invert(),
      "[": () => this.setBrushSize(this.brushSize - step),
      "]": () => this.setBrushSize(this.brushSize + step),
      "+": () => this.zoomCentre(1.25),
      "=": () => this.zoomCentre(1.25),
      "-": () => this.zoomCentre(0.8),
      0: () => this.fit(),
    };
    const handler = keys[key.length === 1 ? key.toLowerCase() : key];
    if (handler) {
      handler();
      return true;
    }
    if ((key === "Delete" || key === "Backspace") && document.activeElement === this.canvas) {
      this.clear();
      return true;
    }
    return false;
  }

  setSpaceHeld(held) {
    this.spaceHeld = held;
    this.canvas.classList.toggle("panning", held);
    this.requestRender();
  }

  pointerDown(event) {
    if (!this.image) return;
    this.canvas.setPointerCapture(event.pointerId);
    this.pointers.set(event.pointerId, [event.offsetX, event.offsetY]);
    if (this.pointers.size === 2) {
      // A second finger turns a stroke that just began into a pinch.
      if (this.stroke && this.stroke.points.length < 4) {
        this.stroke = null;
        this.replay();
      } else {
        this.finishStroke();
      }
      this.gesture = this.pinchState();
      return;
    }
    if (this.pointers.size > 2) return;
    const panning =
      this.tool === "pan" || this.spaceHeld || event.button === 1 || event.button === 2;
    if (panning) {
      this.gesture = { pan: [event.offsetX, event.offsetY] };
      return;
    }
    if (event.button !== 0) return;
    const point = this.toImage(event.offsetX, event.offsetY);
    this.stroke = {
      type: "stroke",
      erase: this.tool === "eraser",
      size: this.brushSize,
      points: [point],
    };
    this.preview();
    event.preventDefault();
  }

  pointerMove(event) {
    this.cursor = [event.offsetX, event.offsetY];
    if (this.pointers.has(event.pointerId)) {
      this.pointers.set(event.pointerId, [event.offsetX, event.offsetY]);
    }
    if (this.gesture && this.pointers.size === 2 && this.gesture.distance) {
      const now = this.pinchState();
      this.panBy(now.centre[0] - this.gesture.centre[0], now.centre[1] - this.gesture.centre[1]);
      this.zoomAt(now.distance / this.gesture.distance, now.centre[0], now.centre[1]);
      this.gesture = now;
      return;
    }
    if (this.gesture && this.gesture.pan) {
      const [lastX, lastY] = this.gesture.pan;
      this.panBy(event.offsetX - lastX, event.offsetY - lastY);
      this.gesture.pan = [event.offsetX, event.offsetY];
      return;
    }
    if (this.stroke) {
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const each of events.length ? events : [event]) {
        this.stroke.points.push(this.toImage(each.offsetX, each.offsetY));
      }
      this.preview();
    }
    this.requestRender();
  }

  pointerUp(event, canceled = false) {
    this.pointers.delete(event.pointerId);
    if (this.pointers.size < 2 && this.gesture && this.gesture.distance) this.gesture = null;
    if (this.gesture && this.gesture.pan && !this.pointers.size) this.gesture = null;
    if (this.stroke) {
      if (canceled) {
        this.stroke = null;
        this.replay();
        this.requestRender();
      } else {
        this.finishStroke();
      }
    }
  }

  pinchState() {
    const [a, b] = [...this.pointers.values()];
    return {
      centre: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2],
      distance: Math.max(1, Math.hypot(a[0] - b[0], a[1] - b[1])),
    };
  }

  /**
   * Draw the stroke in progress over the mask as it was when the stroke
   * began: the whole stroke is one path, so overlapping segments never
   * build up extra coverage at their antialiased edges, and the eraser is exact.
   */
  preview() {
    this.before ||= document.createElement("canvas");
    if (this.stroke.points.length === 1) {
      this.before.width = this.width;
      this.before.height = this.height;
      this.before.getContext("2d").drawImage(this.mask, 0, 0);
    }
    this.maskContext.clearRect(0, 0, this.width, this.height);
    this.maskContext.drawImage(this.before, 0, 0);
    this.draw(this.stroke);
    this.requestRender();
  }

  finishStroke() {
    const stroke = this.stroke;
    this.stroke = null;
    if (!stroke) return;
    this.ops.push(stroke);
    this.undone = [];
    this.changed();
  }
}

/**
 * The area a mask image marks, as a canvas painted where the mask says "change".
 * Same conventions as the server: transparent pixels mark the area when the
 * mask has any; otherwise white (>= 128) marks it.
 */
function maskArea(bitmap) {
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
    const marked = transparent ? pixels[index + 3] === 0 : grey >= 128;
    pixels[index] = 255;
    pixels[index + 1] = 64;
    pixels[index + 2] = 64;
    pixels[index + 3] = marked ? 255 : 0;
  }
  context.putImageData(image, 0, 0);
  return canvas;
}
