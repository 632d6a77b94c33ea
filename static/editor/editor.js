// The editor page: images in order, the mask painter, the model picker, and submit.
//
// The plain <form> works without this script. With it, the script keeps the
// chosen images itself (a file input can't be reordered), builds the request
// body in the user's order with the painted mask, and shows the server's
// answer without a reload.
import { watchEstimate } from "./cost-estimate.js";
import { enhanceModelPicker } from "./model-picker.js";
import { watchOutpaint } from "./outpaint.js";
import { MaskPainter } from "./painter.js";
import { watchSizeFields } from "./size-field.js";

const FORMATS = { "image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP", "image/gif": "GIF" };
// The image as the browser shows it, turned upright by its EXIF orientation:
// the server stores it upright too, so the painted mask fits what is stored.
// Every decode (sizes, painter, masks) goes through these options.
const DECODE = { imageOrientation: "from-image" };

const form = document.getElementById("job-form");
if (form) setUp(form);

function setUp(form) {
  document.documentElement.classList.add("js");
  const limits = {
    bytes: Number(form.dataset.maxBytes),
    pixels: Number(form.dataset.maxPixels),
    images: Number(form.dataset.maxImages),
  };
  const fileInput = form.querySelector("input[type=file][name=images]");
  const maskInput = form.querySelector("input[type=file][name=mask]");
  const list = document.getElementById("image-list");
  const status = document.getElementById("image-status");
  const firstNote = document.getElementById("first-note");
  const select = form.querySelector("select[name=image_model]");
  const modeNote = document.getElementById("model-mode-note");
  const painterRoot = document.getElementById("painter");
  const painterStatus = document.getElementById("painter-status");
  const maskUnsupported = document.getElementById("mask-unsupported");
  const maskEmptyNote = document.getElementById("mask-empty-note");
  const maskField = document.getElementById("field-mask");
  const sourceMask = form.querySelector("input[name=source_mask]");
  const submitButton = form.querySelector("button[type=submit]");

  /** @type {{key: string, file: Blob|null, sourceId: string|null, url: string, name: string, width: number, height: number}[]} */
  let items = [];
  let nextKey = 1;
  let painterKey = null;
  let sending = false;

  const painter = new MaskPainter(painterRoot, {
    announce: (text) => (painterStatus.textContent = text),
  });
  watchOutpaint(document.getElementById("outpaint"), { painter, form, maxPixels: limits.pixels });
  const picker = enhanceModelPicker(select);
  const estimate = watchEstimate(form, { countImages: () => items.length });
  watchSizeFields(form);
  // Whether the image status line holds the "too many images" warning, which
  // a model that takes more must clear.
  let countWarning = false;

  // Images the page started from (edit this result / run again).
  for (const element of list.querySelectorAll("li[data-source-id]")) {
    items.push({
      key: `k${nextKey++}`,
      file: null,
      sourceId: element.dataset.sourceId,
      url: element.dataset.src,
      thumb: element.querySelector("img")?.src || element.dataset.src,
      name: element.dataset.name,
      width: Number(element.dataset.width),
      height: Number(element.dataset.height),
    });
  }
  // The script sends the stored ids itself, in the user's order.
  const pendingMaskId = sourceMask && sourceMask.value;
  const pendingMaskUrl = form.dataset.sourceMaskUrl;

  // --- Model ---------------------------------------------------------------------

  function selectedOption() {
    return select.options[select.selectedIndex];
  }

  function model() {
    const option = selectedOption();
    if (!option) return null;
    return {
      label: option.dataset.label || option.textContent.trim(),
      canEdit: option.dataset.canEdit === "true",
      canGenerate: option.dataset.canGenerate === "true",
      supportsMask: option.dataset.supportsMask === "true",
      maxImages: Math.min(limits.images, Number(option.dataset.maxImages) || limits.images),
    };
  }

  function mode() {
    return items.length ? "edit" : "generate";
  }

  /** Offer only the models that fit the mode; switch away from one that doesn't. */
  function updateModels() {
    const current = mode();
    let firstUsable = null;
    for (const option of select.options) {
      const usable =
        current === "edit" ? option.dataset.canEdit === "true" : option.dataset.canGenerate === "true";
      option.disabled = !usable;
      if (usable && !firstUsable) firstUsable = option;
    }
    picker.refresh();
    const chosen = selectedOption();
    if (chosen && chosen.disabled) {
      if (firstUsable) {
        const why =
          current === "edit" ? "only generates from text" : "needs an image to edit";
        const before = chosen.dataset.label;
        select.value = firstUsable.value;
        picker.refresh();
        select.dispatchEvent(new Event("change", { bubbles: true }));
        // After the change handler, which clears what was said of the old model.
        modeNote.textContent = `${before} ${why}, so ${firstUsable.dataset.label} is chosen instead.`;
      } else {
        modeNote.textContent =
          current === "edit"
            ? "No model here edits images; remove the images to generate one."
            : "No model here generates from text; add an image to edit.";
      }
    } else {
      modeNote.textContent =
        current === "edit"
          ? "Edit mode: models that edit images are offered."
          : "Generate mode: add an image to edit it instead.";
    }
  }

  /** Parameters that apply to one mode only are hidden (and not sent) in the other. */
  function updateParameterModes() {
    form.dataset.mode = mode();
    for (const input of form.querySelectorAll("#model-fields [data-modes]")) {
      const applies = input.dataset.modes.split(" ").includes(mode());
      input.disabled = !applies;
      input.closest(".field")?.classList.toggle("mode-hidden", !applies);
    }
  }

  // --- Images --------------------------------------------------------------------

  function say(text, warning = false) {
    status.textContent = text;
    status.classList.toggle("warning", warning);
  }

  async function addFiles(files, how = "added") {
    const problems = [];
    let added = 0;
    const current = model();
    const cap = current ? current.maxImages : limits.images;
    for (const file of files) {
      const name = file.name || "pasted image";
      if (!FORMATS[file.type]) {
        problems.push(`“${name}” is not a PNG, JPEG, WebP or GIF image.`);
        continue;
      }
      if (file.size > limits.bytes) {
        problems.push(`“${name}” is ${formatBytes(file.size)}; the limit is ${formatBytes(limits.bytes)}.`);
        continue;
      }
      if (items.length >= cap) {
        problems.push(
          `${current ? current.label : "This model"} takes at most ${plural(cap, "image")}; “${name}” was not added.`,
        );
        continue;
      }
      let bitmap;
      try {
        bitmap = await createImageBitmap(file, DECODE);
      } catch {
        problems.push(`“${name}” could not be read as an image.`);
        continue;
      }
      const { width, height } = bitmap;
      bitmap.close();
      if (width * height > limits.pixels) {
        problems.push(
          `“${name}” is ${width}×${height} (${formatPixels(width * height)}); the limit is ${formatPixels(limits.pixels)}.`,
        );
        continue;
      }
      const url = URL.createObjectURL(file);
      items.push({ key: `k${nextKey++}`, file, sourceId: null, url, thumb: url, name, width, height });
      added += 1;
    }
    const summary = added ? `${plural(added, "image")} ${how}.` : "";
    say([summary, ...problems].filter(Boolean).join(" "), problems.length > 0);
    changed();
  }

  function move(index, by) {
    const target = index + by;
    if (target < 0 || target >= items.length) return;
    const [item] = items.splice(index, 1);
    items.splice(target, 0, item);
    say(`“${item.name}” is now image ${target + 1} of ${items.length}.${target === 0 ? " The mask applies to it." : ""}`);
    changed(item.key, by < 0 ? "earlier" : "later");
  }

  function remove(index) {
    const [item] = items.splice(index, 1);
    if (item.file) URL.revokeObjectURL(item.url);
    say(`“${item.name}” removed.`);
    changed(items[Math.min(index, items.length - 1)]?.key, "remove");
  }

  function renderList(focusKey, focusWhat) {
    list.replaceChildren();
    items.forEach((item, index) => {
      const li = document.createElement("li");
      li.className = "image-item" + (index === 0 ? " first" : "");
      li.dataset.key = item.key;
      li.draggable = true;
      const img = document.createElement("img");
      img.src = item.thumb;
      img.alt = `Image ${index + 1}: ${item.name}`;
      const caption = document.createElement("span");
      caption.className = "image-caption";
      caption.textContent = `${index + 1}${index === 0 ? " · mask applies here" : ""} · ${item.width}×${item.height}`;
      const tools = document.createElement("span");
      tools.className = "image-tools";
      tools.append(
        button("←", `Move image ${index + 1} (${item.name}) earlier`, "earlier", index === 0, () => move(index, -1)),
        button("→", `Move image ${index + 1} (${item.name}) later`, "later", index === items.length - 1, () =>
          move(index, 1),
        ),
        button("×", `Remove image ${index + 1} (${item.name})`, "remove", false, () => remove(index)),
      );
      li.append(img, caption, tools);
      list.append(li);
    });
    firstNote.hidden = !items.length;
    if (focusKey) {
      const li = list.querySelector(`[data-key="${focusKey}"]`);
      const target =
        li?.querySelector(`[data-role="${focusWhat}"]:not([disabled])`) ||
        li?.querySelector("button:not([disabled])");
      target?.focus();
    } else if (focusWhat === "remove") {
      fileInput.focus();
    }
  }

  function button(text, label, role, disabled, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.setAttribute("aria-label", label);
    element.title = label;
    element.dataset.role = role;
    element.disabled = disabled;
    element.addEventListener("click", onClick);
    return element;
  }

  // Drag to reorder within the list (the arrow buttons do the same by keyboard).
  let dragged = null;
  list.addEventListener("dragstart", (event) => {
    dragged = event.target.closest("li")?.dataset.key || null;
    event.dataTransfer.effectAllowed = "move";
  });
  list.addEventListener("dragover", (event) => {
    if (dragged) event.preventDefault();
  });
  list.addEventListener("drop", (event) => {
    if (!dragged) return;
    event.preventDefault();
    event.stopPropagation();
    const over = event.target.closest("li")?.dataset.key;
    const from = items.findIndex((item) => item.key === dragged);
    const to = items.findIndex((item) => item.key === over);
    dragged = null;
    if (from < 0 || to < 0 || from === to) return;
    const [item] = items.splice(from, 1);
    items.splice(to, 0, item);
    say(`“${item.name}” is now image ${to + 1} of ${items.length}.`);
    changed();
  });
  list.addEventListener("dragend", () => (dragged = null));

  fileInput.addEventListener("change", () => {
    const files = [...fileInput.files];
    // The script sends the files itself, in order.
    fileInput.value = "";
    addFiles(files);
  });

  const dropzone = form.querySelector(".inputs-panel");
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      if (dragged || !event.dataTransfer.types.includes("Files")) return;
      event.preventDefault();
      dropzone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropzone.addEventListener(type, () => dropzone.classList.remove("dragging"));
  }
  dropzone.addEventListener("drop", (event) => {
    if (dragged || !event.dataTransfer.files.length) return;
    event.preventDefault();
    addFiles([...event.dataTransfer.files], "dropped in");
  });

  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])].filter((file) => file.type.startsWith("image/"));
    if (!files.length) return;
    event.preventDefault();
    addFiles(files, "pasted");
  });

  // --- Mask ----------------------------------------------------------------------

  async function updatePainter() {
    const current = model();
    const first = items[0];
    const supports = current ? current.supportsMask : false;
    // Without an image there is nothing to paint on; say so rather than "no mask".
    maskEmptyNote.hidden = Boolean(first);
    maskUnsupported.hidden = !first || supports;
    maskUnsupported.textContent =
      first && current && !supports
        ? `${current.label} does not take a mask: it changes the whole picture as the prompt says.`
        : "";
    if (maskField) maskField.hidden = !supports || !first;
    painterRoot.hidden = !supports || !first;
    if (!first) {
      painterKey = null;
      return;
    }
    if (first.key === painterKey) return;
    const previous = painter.image ? { width: painter.width, height: painter.height } : null;
    const hadMask = painterKey && !painter.isEmpty();
    painterKey = first.key;
    const bitmap = await loadBitmap(first.file || first.url);
    if (painterKey !== first.key) return;
    painter.setImage(bitmap);
    if (hadMask) {
      painterStatus.textContent =
        previous && previous.width === bitmap.width && previous.height === bitmap.height
          ? "The first image changed, so the mask was cleared: paint it again over the new first image."
          : "The first image changed size, so the mask was cleared.";
    }
  }

  async function loadBitmap(source) {
    if (source instanceof Blob) return createImageBitmap(source, DECODE);
    const response = await fetch(source, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`Could not load the image (${response.status}).`);
    return createImageBitmap(await response.blob(), DECODE);
  }

  if (maskInput) {
    maskInput.addEventListener("change", async () => {
      const file = maskInput.files[0];
      maskInput.value = "";
      if (!file) return;
      if (!painter.image) {
        painterStatus.textContent = "Add the image first; the mask applies to the first image.";
        return;
      }
      try {
        const bitmap = await createImageBitmap(file, DECODE);
        const fits = painter.loadMask(bitmap);
        painterStatus.textContent = fits
          ? `Mask “${file.name}” loaded; you can keep painting on it.`
          : `The mask is ${bitmap.width}×${bitmap.height}; it must be the same size as the first image (${painter.width}×${painter.height}).`;
      } catch {
        painterStatus.textContent = `“${file.name}” could not be read as an image.`;
      }
    });
  }

  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    const typing = event.target.closest?.("input:not([type=range]):not([type=file]), textarea, select");
    if (typing) return;
    if (event.key === " " && !painterRoot.hidden && !event.repeat && event.target === painter.canvas) {
      event.preventDefault();
      painter.setSpaceHeld(true);
      return;
    }
    if (event.target.closest?.("button") && (event.key === "Enter" || event.key === " ")) return;
    if (painter.handleKey(event)) event.preventDefault();
  });
  document.addEventListener("keyup", (event) => {
    if (event.key === " ") painter.setSpaceHeld(false);
  });

  // --- Changes -------------------------------------------------------------------

  function changed(focusKey, focusWhat) {
    renderList(focusKey, focusWhat);
    updateModels();
    updateParameterModes();
    updatePainter().catch((error) => (painterStatus.textContent = error.message));
    checkImageCount();
    estimate.update();
  }

  /** Warn when the chosen model takes fewer images than chosen; false if so. */
  function checkImageCount() {
    const current = model();
    form.querySelector("[data-max-images-text]").textContent =
      current && !current.canEdit
        ? `${current.label} only generates; adding an image picks a model that edits`
        : `up to ${current ? current.maxImages : limits.images}`;
    if (current && items.length > current.maxImages) {
      const extra = items.length - current.maxImages;
      say(`${current.label} takes at most ${plural(current.maxImages, "image")}; remove ${plural(extra, "image")}.`, true);
      countWarning = true;
      return false;
    }
    if (countWarning) {
      say("");
      countWarning = false;
    }
    return true;
  }

  /** Errors the server gave for the previous model say nothing of the new one. */
  function clearModelErrors() {
    for (const id of ["field-images", "field-mask", "field-prompt", "field-image_model"]) {
      const field = document.getElementById(id);
      field?.classList.remove("has-error");
      for (const errors of field?.querySelectorAll(".errors") || []) errors.remove();
    }
    document.getElementById("form-errors").replaceChildren();
  }

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target?.id === "model-fields" || event.target.id === "model-fields") {
      updateParameterModes();
    }
  });
  select.addEventListener("change", () => {
    clearModelErrors();
    modeNote.textContent = "";
    updatePainter().catch((error) => (painterStatus.textContent = error.message));
    checkImageCount();
  });

  // --- Submit --------------------------------------------------------------------

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return;
    if (!form.reportValidity()) return;
    const current = model();
    if (!checkImageCount()) {
      status.scrollIntoView({ block: "center" });
      return;
    }
    sending = true;
    submitButton.disabled = true;
    const label = submitButton.textContent;
    submitButton.textContent = "Sending…";
    try {
      const body = await buildBody(current);
      const response = await send(body, (fraction) => {
        submitButton.textContent = fraction < 1 ? `Uploading ${Math.round(fraction * 100)}%` : "Starting…";
      });
      const redirect = response.getResponseHeader("HX-Redirect");
      if (redirect) {
        window.location.assign(redirect);
        return;
      }
      const retarget = response.getResponseHeader("HX-Retarget");
      if (retarget && document.querySelector(retarget)) {
        // A refusal (webapp/errors.py): shown where htmx would show it.
        showRefusal(document.querySelector(retarget), response.responseText);
      } else if (response.status === 400 || response.status === 413) {
        showErrors(response.responseText);
      } else if (new URL(response.responseURL).pathname !== new URL(form.action).pathname) {
        // Redirected elsewhere: the session ended and the login page answered.
        showFormError("You are logged out. Log in again in another tab, then press Run.");
      } else {
        showFormError(`The server could not take this job (HTTP ${response.status}). Try again in a moment.`);
      }
    } catch (error) {
      showFormError(`The job could not be sent: ${error.message || "the connection failed"}.`);
    } finally {
      sending = false;
      submitButton.disabled = false;
      submitButton.textContent = label;
    }
  });

  async function buildBody(current) {
    const body = new FormData(form);
    for (const name of ["images", "mask", "source_image", "image_order", "source_mask", "input_images", "prompt_length"]) {
      body.delete(name);
    }
    const order = [];
    // Outpainting: the first image goes as the extended canvas, with its frame.
    const masked = items.length && current && current.supportsMask && painter.image;
    const extended = masked ? await painter.exportExtendedImage() : null;
    body.delete("frame");
    if (extended) body.set("frame", extended.frame);
    for (const [index, item] of items.entries()) {
      if (index === 0 && extended) {
        body.append("images", extended.blob, "extended.png");
        order.push("upload");
      } else if (item.file) {
        body.append("images", item.file, item.file.name || "pasted.png");
        order.push("upload");
      } else {
        body.append("source_image", item.sourceId);
        order.push(item.sourceId);
      }
    }
    body.set("image_order", order.join(","));
    if (items.length && current && current.supportsMask && painter.image && !painter.isEmpty()) {
      body.append("mask", await painter.exportBlob(), "mask.png");
    }
    return body;
  }

  function send(body, onProgress) {
    // XMLHttpRequest rather than fetch: it reports upload progress for large images.
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("HX-Request", "true");
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      request.addEventListener("load", () => resolve(request));
      request.addEventListener("error", () => reject(new Error("the connection failed")));
      request.send(body);
    });
  }

  /** Show the server's field errors in place, keeping the images and the mask. */
  function showErrors(html) {
    const answer = new DOMParser().parseFromString(html, "text/html");
    for (const old of form.querySelectorAll(".field .errors")) old.remove();
    for (const field of form.querySelectorAll(".field.has-error")) field.classList.remove("has-error");
    let firstError = null;
    for (const field of answer.querySelectorAll(".field[id^='field-']")) {
      const errors = field.querySelector(".errors");
      const here = document.getElementById(field.id);
      if (!errors || !here) continue;
      here.classList.add("has-error");
      here.append(document.importNode(errors, true));
      firstError ||= here;
    }
    const formErrors = answer.getElementById("form-errors");
    document.getElementById("form-errors").innerHTML = formErrors ? formErrors.innerHTML : "";
    if (document.getElementById("form-errors").textContent.trim()) firstError = document.getElementById("form-errors");
    if (firstError) {
      firstError.scrollIntoView({ block: "center" });
      (firstError.querySelector("input:not([type=hidden]), textarea, select") || firstError).focus?.();
    }
  }

  function showRefusal(region, html) {
    region.innerHTML = html;
    region.scrollIntoView({ block: "nearest" });
  }

  function showFormError(text) {
    const box = document.getElementById("form-errors");
    box.innerHTML = "";
    const list = document.createElement("ul");
    list.className = "errors";
    list.setAttribute("role", "alert");
    const item = document.createElement("li");
    item.textContent = text;
    list.append(item);
    box.append(list);
  }

  // --- Start -----------------------------------------------------------------------

  changed();
  if (form.hasAttribute("data-pick-model")) {
    picker.focus();
    picker.open();
    modeNote.textContent = "Pick another model for the same images, mask and prompt.";
  }
  if (pendingMaskId && pendingMaskUrl) {
    // Run again: start from the earlier job's mask, still editable.
    (async () => {
      await waitFor(() => painter.image);
      try {
        const bitmap = await loadBitmap(pendingMaskUrl);
        if (painter.loadMask(bitmap)) painterStatus.textContent = "The earlier mask is loaded; you can change it.";
      } catch (error) {
        painterStatus.textContent = `The earlier mask could not be loaded: ${error.message}`;
      }
    })();
  }
}

function waitFor(test, timeout = 10000) {
  return new Promise((resolve) => {
    const started = performance.now();
    (function check() {
      if (test() || performance.now() - started > timeout) resolve();
      else setTimeout(check, 50);
    })();
  });
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function formatPixels(count) {
  if (count >= 1e6) return `${(count / 1e6).toFixed(1).replace(/\.0$/, "")} megapixels`;
  return `${count.toLocaleString("en")} pixels`;
}

function formatBytes(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}
