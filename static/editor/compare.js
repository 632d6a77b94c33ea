// Before/after on the image as it is shown: a result laid over the mask
// painter's canvas, at the painter's zoom and pan, so the two line up pixel
// for pixel. Holding compare (the button or the \ key) hides the result and
// shows the image underneath, the one the run started from.
//
// The painter publishes its view (data-scale, data-offset-x, data-offset-y on
// its canvas); this module only follows it, so it works whatever tools the
// painter grows.
// A phone has no \ key: there the badge only names the side shown (the
// "Hold to compare" button sits beside the picture).
const KEY_HINT = window.matchMedia("(hover: hover)").matches ? " · hold \\ to compare" : "";

export class CompareOverlay {
  /**
   * @param {HTMLElement} stage   the painter's stage (position: relative)
   * @param {HTMLCanvasElement} canvas  the painter's canvas
   */
  constructor(stage, canvas) {
    this.stage = stage;
    this.canvas = canvas;
    this.image = document.createElement("img");
    this.image.className = "compare-overlay";
    this.image.alt = "";
    this.image.hidden = true;
    this.label = document.createElement("span");
    this.label.className = "compare-badge";
    this.label.hidden = true;
    this.label.setAttribute("aria-live", "polite");
    stage.append(this.image, this.label);
    this.frame = null;
    this.holding = false;
    new MutationObserver(() => this.place()).observe(canvas, {
      attributes: true,
      attributeFilter: ["data-scale", "data-offset-x", "data-offset-y"],
    });
    new ResizeObserver(() => this.place()).observe(stage);
  }

  get shown() {
    return !this.image.hidden;
  }

  /**
   * Lay ``src`` over the image the painter shows; ``frame`` is that image's
   * size in pixels (a result of another shape is fitted inside it).
   */
  show(src, frame, name) {
    this.frame = frame;
    if (this.image.getAttribute("src") !== src) this.image.src = src;
    this.image.alt = name;
    this.image.hidden = false;
    this.label.hidden = false;
    this.hold(false);
    this.place();
  }

  hide() {
    this.image.hidden = true;
    this.label.hidden = true;
    this.hold(false);
  }

  /** While held, the result is hidden and the image before the run shows. */
  hold(held) {
    this.holding = held && this.shown;
    this.stage.classList.toggle("showing-before", this.holding);
    this.label.textContent = this.holding ? "Before" : `After${KEY_HINT}`;
  }

  place() {
    if (!this.frame || this.image.hidden) return;
    const { scale, offsetX, offsetY } = this.canvas.dataset;
    const zoom = Number(scale) || 1;
    Object.assign(this.image.style, {
      left: `${Number(offsetX) || 0}px`,
      top: `${Number(offsetY) || 0}px`,
      width: `${this.frame.width * zoom}px`,
      height: `${this.frame.height * zoom}px`,
    });
  }
}
