// Outpainting: extend the canvas around the first image, by pixels on each
// side or to an aspect ratio. The painter shows and sends the larger image
// (the new area transparent) with the new area in the mask; the form's
// `frame` field tells the server where the original sits in it
// ("x,y,width,height"), so results can be cropped back to the user's frame.
// The editor sends it from MaskPainter.exportExtendedImage(); the form's
// hidden input, where the page has one, shows the same value.

const SIDES = ["left", "top", "right", "bottom"];
// Where the picture stays when the canvas grows to a ratio: the share of the
// added width (and height) that goes to the left (and top).
const ANCHORS = {
  centre: [0.5, 0.5],
  left: [0, 0.5],
  right: [1, 0.5],
  top: [0.5, 0],
  bottom: [0.5, 1],
};

/**
 * Pixels to add on each side so `width`×`height` becomes `ratioW`:`ratioH`,
 * growing only (never cropping), the picture placed by `anchor`.
 */
export function extensionForRatio(width, height, ratioW, ratioH, anchor = "centre") {
  const [shareX, shareY] = ANCHORS[anchor] || ANCHORS.centre;
  let newWidth = width;
  let newHeight = height;
  if (width * ratioH < height * ratioW) newWidth = Math.round((height * ratioW) / ratioH);
  else newHeight = Math.round((width * ratioH) / ratioW);
  const left = Math.round((newWidth - width) * shareX);
  const top = Math.round((newHeight - height) * shareY);
  return { left, top, right: newWidth - width - left, bottom: newHeight - height - top };
}

export function watchOutpaint(root, { painter, form, maxPixels }) {
  const modeSelect = root.querySelector("#outpaint-mode");
  const sideInputs = Object.fromEntries(SIDES.map((side) => [side, root.querySelector(`#outpaint-${side}`)]));
  const ratioSelect = root.querySelector("#outpaint-ratio");
  const anchorSelect = root.querySelector("#outpaint-anchor");
  const summary = root.querySelector("#outpaint-summary");
  const frameInput = form.querySelector("input[name=frame]");
  const modelSelect = form.querySelector("select[name=image_model]");
  let applied = "0,0,0,0";

  function extension() {
    if (!painter.image) return { left: 0, top: 0, right: 0, bottom: 0 };
    if (modeSelect.value === "ratio") {
      if (!ratioSelect.value) return { left: 0, top: 0, right: 0, bottom: 0 };
      const [ratioW, ratioH] = ratioSelect.value.split(":").map(Number);
      return extensionForRatio(painter.width, painter.height, ratioW, ratioH, anchorSelect.value);
    }
    return Object.fromEntries(
      SIDES.map((side) => [side, Math.max(0, Math.round(Number(sideInputs[side].value) || 0))]),
    );
  }

  function update() {
    for (const part of root.querySelectorAll("[data-outpaint-mode]")) {
      part.hidden = part.dataset.outpaintMode !== modeSelect.value;
    }
    if (!painter.image) return;
    const added = extension();
    const width = painter.width + added.left + added.right;
    const height = painter.height + added.top + added.bottom;
    const problem = width * height > maxPixels
      ? `${width}×${height} is ${formatPixels(width * height)}, more than the ${formatPixels(maxPixels)} Darkroom takes: extend less.`
      : "";
    // The form cannot be sent while the extension is too large: the control
    // of the mode shown says so (a hidden one could not show the message).
    const byRatio = modeSelect.value === "ratio";
    sideInputs.left.setCustomValidity(byRatio ? "" : problem);
    ratioSelect.setCustomValidity(byRatio ? problem : "");
    if (problem) {
      root.open = true;
      say(problem, "error");
      return;
    }
    const none = width === painter.width && height === painter.height;
    const key = SIDES.map((side) => added[side]).join(",");
    // Re-extending refits the view: only when the extension really changed.
    if (painter.extended ? key !== applied : !none) painter.setExtension(added);
    applied = key;
    if (frameInput) frameInput.value = none ? "" : `${added.left},${added.top},${painter.width},${painter.height}`;
    if (none) {
      say(`Sent as it is, ${painter.width}×${painter.height}.`);
      return;
    }
    const warning = modelWarning(width, height);
    say(
      `Sent as ${width}×${height}: the picture at ${added.left},${added.top}, the new area added to the mask.` +
        (warning ? ` ${warning}` : ""),
      warning ? "warning" : "",
    );
  }

  /** What the chosen model cannot do with a `width`×`height` image, in words; "" if it fits. */
  function modelWarning(width, height) {
    const option = modelSelect?.options[modelSelect.selectedIndex];
    const label = option?.dataset.label || "This model";
    const fields = form.querySelector("#model-fields");
    const custom = fields?.querySelector("input[data-size-rule]");
    const sizes = [];
    let maxSide = 0;
    let maxPixels = 0;
    if (custom) {
      const rule = JSON.parse(custom.dataset.sizeRule);
      maxSide = rule.max_side || 0;
      maxPixels = rule.max_pixels || 0;
      sizes.push(...JSON.parse(custom.dataset.sizeChoices));
    } else {
      const select = fields?.querySelector("select[name=size]");
      sizes.push(...[...(select?.options || [])].map((choice) => choice.value));
    }
    const fixed = sizes.map((size) => /^(\d+)x(\d+)$/.exec(size)).filter(Boolean).map((m) => [Number(m[1]), Number(m[2])]);
    if (!maxSide && fixed.length) maxSide = Math.max(...fixed.flat());
    if (maxSide && Math.max(width, height) > maxSide) {
      return `${label} makes images at most ${maxSide} px a side, so the result comes back smaller than ${width}×${height}.`;
    }
    if (maxPixels && width * height > maxPixels) {
      return `${label} makes at most ${formatPixels(maxPixels)}, so the result comes back smaller than ${width}×${height}.`;
    }
    if (!custom && fixed.length && !fixed.some(([w, h]) => w * height === h * width)) {
      const shapes = fixed.map(([w, h]) => `${w}×${h}`).join(", ");
      return `${label} makes only ${shapes}: the result is fitted to one of them, then cropped back to this frame.`;
    }
    return "";
  }

  function say(text, tone = "") {
    summary.textContent = text;
    summary.dataset.tone = tone;
  }

  function reset() {
    for (const side of SIDES) sideInputs[side].value = "0";
    ratioSelect.value = "";
    update();
  }

  root.addEventListener("input", update);
  root.addEventListener("change", update);
  root.querySelector("[data-action=outpaint-reset]").addEventListener("click", reset);
  modelSelect?.addEventListener("change", update);
  document.body.addEventListener("htmx:afterSwap", update);
  // A new first image (another image, or a result to continue from, which
  // is already the extended size) starts unextended.
  painter.onImage(() => {
    applied = "0,0,0,0";
    for (const side of SIDES) sideInputs[side].value = "0";
    ratioSelect.value = "";
    queueMicrotask(update);
  });
  update();
  return {
    update,
    reset,
    /** The extension as chosen, to keep with the workspace. */
    state: () => ({
      mode: modeSelect.value,
      sides: Object.fromEntries(SIDES.map((side) => [side, sideInputs[side].value])),
      ratio: ratioSelect.value,
      anchor: anchorSelect.value,
    }),
    /** Choose a kept extension again (after the image is back). */
    restore(saved) {
      if (!saved) return;
      modeSelect.value = saved.mode || "pixels";
      for (const side of SIDES) sideInputs[side].value = saved.sides?.[side] || "0";
      ratioSelect.value = saved.ratio || "";
      anchorSelect.value = saved.anchor || "centre";
      update();
    },
  };
}

function formatPixels(count) {
  if (count >= 1e6) return `${(count / 1e6).toFixed(1).replace(/\.0$/, "")} megapixels`;
  return `${count.toLocaleString("en")} pixels`;
}
