// The editor page: images in order, the mask painter, the model picker, and
// the workspace around them (run in place, variations, continue, filmstrip).
//
// The plain <form> works without this script (Run then goes to the job page).
// With it, the script keeps the chosen images itself (a file input can't be
// reordered), builds the request body in the user's order with the painted
// mask, shows the run and its results beside the image, and keeps the whole
// workspace in IndexedDB so a reload, Back or a crashed tab loses nothing.
import "./elapsed.js";
import "./polling.js";
import { CompareOverlay } from "./compare.js";
import { watchEstimate } from "./cost-estimate.js";
import { renderFilmstrip } from "./filmstrip.js";
import { explainInvalidFields } from "./form-validity.js";
import { enhanceModelPicker } from "./model-picker.js";
import { watchOutpaint } from "./outpaint.js";
import { MaskPainter } from "./painter.js";
import { keepRunPanelLive } from "./run-panel-live.js";
import { hintSidewaysScroll } from "./scroll-hint.js";
import { watchSizeFields } from "./size-field.js";
import { workspaceStore } from "./workspace-store.js";

const FORMATS = { "image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP", "image/gif": "GIF" };
// The image as the browser shows it, turned upright by its EXIF orientation:
// the server stores it upright too, so the painted mask fits what is stored.
// Every decode (sizes, painter, masks) goes through these options.
const DECODE = { imageOrientation: "from-image" };
// The id the page puts in its URL templates (data-image-url and friends).
const PLACEHOLDER = "00000000-0000-0000-0000-000000000000";
const SNAPSHOT_VERSION = 1;

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
    onChange: () => {
      maskVersion += 1;
      edited();
    },
  });
  hintSidewaysScroll(painterRoot.querySelector(".painter-tools"));
  const outpaint = watchOutpaint(document.getElementById("outpaint"), { painter, form, maxPixels: limits.pixels });
  // Bumped whenever the mask changes, so a save encodes it only when it did.
  let maskVersion = 0;
  // Settles once the painter shows the current first image.
  let painterReady = Promise.resolve();
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
    if (added) dirty = true;
    changed();
  }

  function move(index, by) {
    const target = index + by;
    if (target < 0 || target >= items.length) return;
    const [item] = items.splice(index, 1);
    items.splice(target, 0, item);
    say(`“${item.name}” is now image ${target + 1} of ${items.length}.${target === 0 ? " The mask applies to it." : ""}`);
    dirty = true;
    changed(item.key, by < 0 ? "earlier" : "later");
  }

  function remove(index) {
    const [item] = items.splice(index, 1);
    if (item.file) URL.revokeObjectURL(item.url);
    say(`“${item.name}” removed.`);
    dirty = true;
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
    dirty = true;
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
    maskVersion += 1;
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
    // Before the button check: Shift+Enter continues even from a variation's button.
    if (!(event.ctrlKey || event.metaKey || event.altKey) && workspaceKey(event)) {
      event.preventDefault();
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
    painterReady = updatePainter().catch((error) => (painterStatus.textContent = error.message));
    checkImageCount();
    estimate.update();
    updateRunControls();
    scheduleSave();
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

  explainInvalidFields(form, showFormError);

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
      const sent = [...items];
      const body = await buildBody(current);
      const response = await send(body, (fraction) => {
        submitButton.textContent = fraction < 1 ? `Uploading ${Math.round(fraction * 100)}%` : "Starting…";
      });
      if (response.status === 201 && response.getResponseHeader("X-Darkroom-Job")) {
        clearFieldErrors();
        runStarted(sent, response.responseText);
        return;
      }
      const redirect = response.getResponseHeader("HX-Redirect");
      if (redirect) {
        dirty = false;
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
      } else if (item.sourceId) {
        // Once stored by a run, an image is referred to, not uploaded again.
        body.append("source_image", item.sourceId);
        order.push(item.sourceId);
      } else {
        body.append("images", item.file, item.file.name || "pasted.png");
        order.push("upload");
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
      // The run panel is the target: the server answers with it, not a redirect.
      request.setRequestHeader("HX-Target", "run-panel");
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
    clearFieldErrors();
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

  function clearFieldErrors() {
    for (const old of form.querySelectorAll(".field .errors")) old.remove();
    for (const field of form.querySelectorAll(".field.has-error")) field.classList.remove("has-error");
    document.getElementById("form-errors").replaceChildren();
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

  // --- Workspace: the run in place, variations, continue, filmstrip -------------

  const runArea = document.getElementById("run-area");
  const runActions = document.getElementById("run-actions");
  const continueButton = document.getElementById("continue-button");
  const keepMask = document.getElementById("keep-mask");
  const compareButton = document.getElementById("compare-button");
  const hideResultButton = document.getElementById("hide-result-button");
  const filmstripArea = document.getElementById("filmstrip-area");
  const filmstripList = document.getElementById("filmstrip");
  const workspaceStatus = document.getElementById("workspace-status");
  const parentInput = form.querySelector("input[name=parent]");
  const promptInput = form.querySelector("[name=prompt]");
  const overlay = new CompareOverlay(document.getElementById("painter-stage"), painter.canvas);
  const preview = document.getElementById("run-preview");
  const previewImage = preview.querySelector("img");
  // data-saved counts the saves, so a test (or a curious user) can see one landed.
  const store = workspaceStore(form.dataset.workspaceKey, {
    onSaved: () => (form.dataset.saved = String(Number(form.dataset.saved || 0) + 1)),
  });
  const urlFor = (template, id) => form.dataset[template].replace(PLACEHOLDER, id);

  /** @type {{jobId: string, selected: string|null} | null} */
  let run = null;
  /** The session's lineage: the image it started from, then each result continued from. */
  let frames = [];
  let currentFrame = -1;
  // Images, mask or prompt changed since the last run (leaving warns).
  let dirty = false;
  // Nothing is saved until the saved workspace is back, or it would be overwritten.
  let restored = false;

  const runPanel = () => document.getElementById("run-panel");
  const variations = () => [...runPanel().querySelectorAll(".variation")];
  const chosenVariation = () => variations().find((element) => element.dataset.imageId === run?.selected);

  function edited() {
    dirty = true;
    scheduleSave();
  }

  /** The job was created: show its run panel here and refer to its stored inputs. */
  function runStarted(sent, html) {
    const panel = runPanel();
    panel.outerHTML = html;
    const fresh = runPanel();
    window.htmx?.process(fresh);
    const stored = (fresh.dataset.inputIds || "").split(",").filter(Boolean);
    if (stored.length === sent.length) {
      sent.forEach((item, index) => {
        item.sourceId = stored[index];
      });
    }
    if (currentFrame < 0 && items.length && items[0].sourceId) {
      frames = [frameOf(items[0], parentInput.value)];
      currentFrame = 0;
    }
    run = { jobId: fresh.dataset.job, selected: null };
    dirty = false;
    overlay.hide();
    runUpdated();
    renderFrames();
    runArea.scrollIntoView({ block: "nearest" });
  }

  function frameOf(item, parent) {
    return {
      sourceId: item.sourceId,
      url: urlFor("imageUrl", item.sourceId),
      thumb: urlFor("thumbUrl", item.sourceId),
      width: item.width,
      height: item.height,
      name: item.name,
      parent: parent || "",
    };
  }

  /** After the run panel was drawn or refreshed: keep the choice, or choose the first result. */
  function runUpdated({ showChosen = true } = {}) {
    const panel = runPanel();
    keepRunPanelLive(panel);
    runArea.hidden = !panel.dataset.job && !frames.length;
    if (!panel.dataset.job || !run) return;
    const found = variations();
    if (found.length && !chosenVariation()) {
      chooseVariation(found[0].dataset.imageId, { show: showChosen });
    } else {
      markChosen();
    }
    runActions.hidden = !found.length;
    updateRunControls();
    scheduleSave();
  }

  function updateRunControls() {
    // Without an image to edit there is nothing to compare with or mask to keep.
    for (const control of [hideResultButton, compareButton, keepMask.closest("label")]) {
      control.hidden = !items.length;
    }
  }

  function markChosen() {
    for (const element of variations()) {
      element.setAttribute("aria-pressed", String(element.dataset.imageId === run?.selected));
    }
  }

  function chooseVariation(imageId, { show = true } = {}) {
    if (!run) return;
    run.selected = imageId;
    markChosen();
    const chosen = chosenVariation();
    if (show && chosen) showResult(chosen);
    scheduleSave();
  }

  function step(by) {
    const found = variations();
    if (!found.length) return;
    const index = found.findIndex((element) => element.dataset.imageId === run?.selected);
    const next = found[(Math.max(index, 0) + by + found.length) % found.length];
    chooseVariation(next.dataset.imageId);
    next.focus();
  }

  /** Lay the chosen result over the canvas, lined up with the image it came from. */
  function showResult(chosen) {
    const onCanvas = !painterRoot.hidden && Boolean(painter.image);
    preview.hidden = onCanvas;
    if (onCanvas) {
      overlay.show(chosen.dataset.src, { width: painter.width, height: painter.height }, chosen.getAttribute("aria-label"));
      return;
    }
    // No canvas to lay it over: show it in the run panel instead.
    previewImage.src = chosen.dataset.src;
    previewImage.alt = chosen.getAttribute("aria-label");
  }

  runArea.addEventListener("click", (event) => {
    const variation = event.target.closest(".variation");
    if (variation) chooseVariation(variation.dataset.imageId);
  });
  document.body.addEventListener("htmx:afterSettle", () => {
    if (runPanel().dataset.job) runUpdated({ showChosen: !overlay.shown && !painter.canvas.matches(":focus") });
  });

  continueButton.addEventListener("click", () => continueFromChosen());
  hideResultButton.addEventListener("click", () => overlay.hide());
  // Painting again means working on the mask: the result steps aside.
  painter.canvas.addEventListener("pointerdown", () => overlay.hide(), true);
  keepMask.addEventListener("change", () => scheduleSave());
  // Hold to compare, with a pointer or (Space, Enter) the keyboard.
  compareButton.addEventListener("pointerdown", () => holdCompare(true));
  for (const type of ["pointerup", "pointerleave", "pointercancel", "blur"]) {
    compareButton.addEventListener(type, () => holdCompare(false));
  }
  compareButton.addEventListener("keydown", (event) => {
    if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      holdCompare(true);
    }
  });
  compareButton.addEventListener("keyup", () => holdCompare(false));

  function holdCompare(held) {
    const chosen = chosenVariation();
    if (!preview.hidden && chosen) {
      const before = held ? items[0] : null;
      previewImage.src = before ? before.url : chosen.dataset.src;
      preview.classList.toggle("showing-before", Boolean(before));
      return;
    }
    if (held && !overlay.shown) {
      const chosen = chosenVariation();
      if (chosen) showResult(chosen);
    }
    overlay.hold(held);
  }

  /** The chosen result becomes the image to edit; prompt, references and (if asked) mask stay. */
  async function continueFromChosen() {
    const chosen = chosenVariation();
    if (!chosen || !run) return;
    if (currentFrame < 0 && items[0]?.sourceId) {
      frames = [frameOf(items[0], "")];
      currentFrame = 0;
    }
    const frame = {
      sourceId: chosen.dataset.imageId,
      url: chosen.dataset.src,
      thumb: chosen.dataset.thumb,
      width: Number(chosen.dataset.width),
      height: Number(chosen.dataset.height),
      name: chosen.getAttribute("aria-label").split(",")[0],
      parent: run.jobId,
    };
    // Going on from an earlier frame starts a new branch from there.
    frames = [...frames.slice(0, currentFrame + 1), frame];
    currentFrame = frames.length - 1;
    await makeBase(frame, `${frame.name} is now the image you edit.`);
  }

  async function stepBack(index) {
    if (index === currentFrame || !frames[index]) return;
    currentFrame = index;
    await makeBase(frames[index], `Back to ${index === 0 ? "the start" : `step ${index}`} of the session.`);
  }

  async function makeBase(frame, note) {
    const keep = keepMask.checked && !painterRoot.hidden && painter.image && !painter.isEmpty();
    const mask = keep ? await painter.exportPaintedBlob() : null;
    const item = {
      key: `k${nextKey++}`,
      file: null,
      sourceId: frame.sourceId,
      url: frame.url,
      thumb: frame.thumb,
      name: frame.name,
      width: frame.width,
      height: frame.height,
    };
    if (items.length) items[0] = item;
    else items.unshift(item);
    parentInput.value = frame.parent || "";
    overlay.hide();
    preview.hidden = true;
    dirty = true;
    changed();
    renderFrames();
    await painterReady;
    let maskNote = "";
    if (mask && painter.image) {
      const bitmap = await createImageBitmap(mask);
      maskNote = painter.loadMask(bitmap)
        ? " The mask is kept."
        : ` The mask (${bitmap.width}×${bitmap.height}) does not fit the new image (${painter.width}×${painter.height}), so it was cleared.`;
    }
    // Said once, where the user looks: over the canvas, or by the images without one.
    if (painterRoot.hidden) say(note);
    else painterStatus.textContent = `${note}${maskNote}`;
    scheduleSave();
  }

  function renderFrames() {
    filmstripArea.hidden = frames.length < 2;
    renderFilmstrip(filmstripList, frames, currentFrame, (index) => stepBack(index));
    runArea.hidden = !runPanel().dataset.job && frames.length < 2;
  }

  // --- Workspace: kept in IndexedDB -------------------------------------------------

  let savedMask = { version: -1, blob: null };
  let maskExport = null;

  function scheduleSave() {
    if (!restored) return;
    // Encoded now rather than when the save runs, so a page left right after
    // a stroke still finds the mask ready to save.
    exportMask();
    store.schedule(snapshot);
  }

  function exportMask() {
    if (savedMask.version === maskVersion) return Promise.resolve();
    if (maskExport?.version === maskVersion) return maskExport.done;
    const version = maskVersion;
    const empty = !painter.image || painter.isEmpty();
    const done = (empty ? Promise.resolve(null) : painter.exportPaintedBlob()).then((blob) => {
      // A stroke made meanwhile leaves this one a version behind, still
      // better saved than nothing; the next save encodes the newer one.
      if (version > savedMask.version) savedMask = { version, blob };
    });
    maskExport = { version, done };
    return done;
  }

  async function snapshot() {
    if (savedMask.version !== maskVersion) await exportMask();
    return {
      version: SNAPSHOT_VERSION,
      items: items.map(({ file, sourceId, name, width, height }) => ({ file, sourceId, name, width, height })),
      mask: items.length ? savedMask.blob : null,
      maskTools: { feather: painter.feather, outpaint: outpaint.state() },
      prompt: promptInput.value,
      model: select.value,
      parameters: parameterValues(),
      parent: parentInput.value,
      keepMask: keepMask.checked,
      run,
      resultShown: overlay.shown,
      frames,
      currentFrame,
      dirty,
    };
  }

  /** The part of the snapshot that can be written while the page is being left. */
  function textFields() {
    return {
      version: SNAPSHOT_VERSION,
      prompt: promptInput.value,
      model: select.value,
      parameters: parameterValues(),
      parent: parentInput.value,
      keepMask: keepMask.checked,
    };
  }

  function parameterValues() {
    const values = {};
    for (const input of form.querySelectorAll("#model-fields [name]")) {
      values[input.name] = input.type === "checkbox" ? input.checked : input.value;
    }
    return values;
  }

  function applyParameterValues(values) {
    for (const [name, value] of Object.entries(values || {})) {
      const input = form.querySelector(`#model-fields [name="${CSS.escape(name)}"]`);
      if (!input) continue;
      if (input.type === "checkbox") input.checked = Boolean(value);
      else input.value = value;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  /** Choose ``modelId`` in the picker and wait for its parameter fields. */
  function chooseModel(modelId) {
    if (select.value === modelId || ![...select.options].some((option) => option.value === modelId)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        document.body.removeEventListener("htmx:afterSettle", onSettle);
        resolve();
      };
      const onSettle = () => {
        if (document.getElementById("model-fields")?.dataset.model === modelId) done();
      };
      document.body.addEventListener("htmx:afterSettle", onSettle);
      setTimeout(done, 5000);
      select.value = modelId;
      picker.refresh();
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  async function restore(saved) {
    if (!saved || saved.version !== SNAPSHOT_VERSION) return;
    for (const kept of saved.items || []) {
      if (!kept.file && !kept.sourceId) continue;
      const url = kept.file ? URL.createObjectURL(kept.file) : urlFor("imageUrl", kept.sourceId);
      const thumb = kept.file ? url : urlFor("thumbUrl", kept.sourceId);
      items.push({ ...kept, key: `k${nextKey++}`, url, thumb });
    }
    promptInput.value = saved.prompt || "";
    parentInput.value = saved.parent || "";
    keepMask.checked = Boolean(saved.keepMask);
    frames = saved.frames || [];
    currentFrame = saved.currentFrame ?? -1;
    renderList();
    updateModels();
    await chooseModel(saved.model);
    applyParameterValues(saved.parameters);
    changed();
    await painterReady;
    if (painter.image && saved.maskTools) {
      painter.setFeather(saved.maskTools.feather || 0);
      outpaint.restore(saved.maskTools.outpaint);
    }
    if (saved.mask && painter.image) {
      try {
        painter.loadMask(await createImageBitmap(saved.mask));
      } catch {
        painterStatus.textContent = "The saved mask could not be read; paint it again.";
      }
    }
    renderFrames();
    if (saved.run?.jobId && window.htmx) {
      run = saved.run;
      try {
        await window.htmx.ajax("GET", urlFor("runUrl", run.jobId), { target: "#run-panel", swap: "outerHTML" });
      } catch {
        // The job is gone (deleted): the workspace goes on without it.
      }
      if (runPanel().dataset.job !== run.jobId) run = null;
      runUpdated({ showChosen: false });
      if (saved.resultShown && chosenVariation()) showResult(chosenVariation());
    }
    dirty = Boolean(saved.dirty);
    if (items.length || saved.prompt) workspaceStatus.textContent = "Workspace restored.";
  }

  function hasWork() {
    return items.length > 0 || promptInput.value.trim() !== "";
  }

  async function clearWorkspace() {
    if (dirty && hasWork() && !window.confirm("Empty the workspace? The images, mask and prompt not yet run will be gone.")) {
      return;
    }
    for (const item of items) if (item.file) URL.revokeObjectURL(item.url);
    items = [];
    promptInput.value = "";
    parentInput.value = "";
    keepMask.checked = false;
    run = null;
    frames = [];
    currentFrame = -1;
    overlay.hide();
    preview.hidden = true;
    const empty = document.createElement("div");
    empty.id = "run-panel";
    empty.className = "run-panel";
    runPanel().replaceWith(empty);
    runActions.hidden = true;
    dirty = false;
    await store.clear();
    changed();
    renderFrames();
    say("");
    workspaceStatus.textContent = "New workspace.";
  }

  document.getElementById("workspace-clear").addEventListener("click", () => clearWorkspace());
  promptInput.addEventListener("input", () => edited());
  form.addEventListener("change", (event) => {
    if (event.target.closest("#model-fields") || event.target === select) scheduleSave();
  });
  form.addEventListener("input", (event) => {
    if (event.target.closest("#model-fields")) scheduleSave();
  });
  window.addEventListener("beforeunload", (event) => {
    if (restored) store.flush(textFields());
    if (dirty && hasWork()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (restored && document.visibilityState === "hidden") store.flush(textFields());
  });

  const shortcuts = document.getElementById("shortcuts");
  document.getElementById("shortcuts-button").addEventListener("click", () => shortcuts.showModal());

  /** The workspace's own keys; true if the key was one of them. */
  function workspaceKey(event) {
    if (event.key === "?") {
      shortcuts.showModal();
      return true;
    }
    if (event.key === "\\") {
      if (!event.repeat) holdCompare(true);
      return true;
    }
    if (event.key === "," || event.key === ".") {
      step(event.key === "." ? 1 : -1);
      return true;
    }
    if (event.key === "Enter" && event.shiftKey && chosenVariation()) {
      continueFromChosen();
      return true;
    }
    if (event.key === "Escape" && overlay.shown) {
      overlay.hide();
      return true;
    }
    return false;
  }
  document.addEventListener("keyup", (event) => {
    if (event.key === "\\") holdCompare(false);
  });

  // --- Start -----------------------------------------------------------------------

  // A link (edit this result, run again) starts the workspace from its job;
  // otherwise the saved workspace comes back.
  const startedFromLink = items.length > 0 || Boolean(pendingMaskId) || window.location.search !== "";
  changed();
  (async () => {
    if (!startedFromLink) await restore(await store.load());
    else window.history.replaceState(null, "", window.location.pathname);
    restored = true;
    scheduleSave();
    form.dataset.workspace = "ready";
  })();
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
