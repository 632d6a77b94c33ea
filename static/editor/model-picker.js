// The model picker: the page's plain <select>, grouped by provider, made
// filterable by typing, with what each model can do and what it costs.
//
// The <select> stays the source of truth (the form posts it, htmx listens to
// its change event); Tom Select only draws and drives it.
import "../vendor/tom-select/tom-select.complete.min.js";

export function enhanceModelPicker(select) {
  const TomSelect = globalThis.TomSelect;
  if (!TomSelect) return { refresh() {}, focus: () => select.focus(), open() {} };
  const picker = new TomSelect(select, {
    maxOptions: null,
    // Type "mask", "openai" or "0.04" as well as a name.
    searchField: ["label", "provider", "abilities", "price"],
    lockOptgroupOrder: true,
    allowEmptyOption: false,
    hidePlaceholder: true,
    // A pick is final: close the list so it never covers the rest of the form.
    closeAfterSelect: true,
    // Tom Select opens on focus, and it focuses again (a tick later) after a
    // pick, which could open the list just closed. Open on click or typing
    // instead, as a combobox does.
    openOnFocus: false,
    render: {
      option: (data, escape) =>
        `<div class="model-option${data.disabled ? " is-disabled" : ""}">` +
        `<span class="model-label">${escape(data.label)}</span>` +
        `<span class="model-abilities">${escape(data.abilities || "")}</span>` +
        (data.price ? `<span class="model-price">${escape(data.price)}</span>` : "") +
        `</div>`,
      item: (data, escape) =>
        `<div class="model-item"><span class="model-label">${escape(data.label)}</span>` +
        `<span class="model-provider">${escape(data.provider)}</span>` +
        (data.price ? `<span class="model-price">${escape(data.price)}</span>` : "") +
        `</div>`,
      no_results: (data, escape) => `<div class="no-results">No model matches “${escape(data.input)}”.</div>`,
    },
  });
  picker.control_input.setAttribute("aria-label", "Filter the models by typing");
  // A click opens a closed list (a click on an open one closes it, as before).
  let wasOpen = false;
  picker.control.addEventListener("mousedown", () => (wasOpen = picker.isOpen), true);
  picker.control.addEventListener("click", () => {
    if (!wasOpen && !picker.isOpen) picker.open();
  });
  return {
    /**
     * Follow the <select> after the editor enabled or disabled options, or
     * chose another one, without rebuilding the picker (which would close it
     * under the user's pointer).
     */
    refresh() {
      let changed = false;
      for (const option of select.options) {
        const data = picker.options[option.value];
        if (data && Boolean(data.disabled) !== option.disabled) {
          // updateOption also drops the option's cached rendering.
          picker.updateOption(option.value, { ...data, disabled: option.disabled });
          changed = true;
        }
      }
      if (changed) picker.refreshOptions(false);
      if (picker.getValue() !== select.value) picker.setValue(select.value, true);
    },
    focus: () => picker.focus(),
    open: () => picker.open(),
  };
}
