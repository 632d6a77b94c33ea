// A custom size (gpt-image-2 takes any WxH within its rules) is checked as it
// is typed, with the server's own wording, so Run never sends one the model
// cannot make. The server checks again; this only saves the round trip.
const SIZE = /^(\d{1,5})x(\d{1,5})$/;

export function watchSizeFields(root) {
  for (const type of ["input", "change"]) {
    root.addEventListener(type, (event) => {
      if (event.target.matches?.("input[data-size-rule]")) check(event.target);
    });
  }
  for (const input of root.querySelectorAll("input[data-size-rule]")) check(input);
}

export function check(input) {
  const rule = JSON.parse(input.dataset.sizeRule);
  const choices = JSON.parse(input.dataset.sizeChoices);
  const text = input.value.trim().toLowerCase().replace(/\s+/g, "").replace("×", "x");
  let problem = null;
  if (text && !choices.includes(text)) {
    const match = SIZE.exec(text);
    problem = match ? sizeProblem(Number(match[1]), Number(match[2]), rule) : "write it as width x height, e.g. 2048x1152";
  }
  input.setCustomValidity(
    problem ? `${input.dataset.modelLabel} cannot make ${input.value}: ${problem}. It takes ${either(choices)}, or any size with ${ruleText(rule)}.` : "",
  );
  return !problem;
}

// The same checks, in the same order, as editor/parameters.py size_problem().
function sizeProblem(width, height, rule) {
  const pixels = width * height;
  if (rule.min_pixels && pixels < rule.min_pixels) {
    return `it has ${number(pixels)} pixels, fewer than the ${number(rule.min_pixels)} required`;
  }
  if (rule.max_pixels && pixels > rule.max_pixels) {
    return `it has ${number(pixels)} pixels, more than the ${number(rule.max_pixels)} allowed`;
  }
  if (rule.max_side && Math.max(width, height) > rule.max_side) {
    return `the longer side may be at most ${rule.max_side} px`;
  }
  if (rule.max_ratio && Math.max(width, height) > rule.max_ratio * Math.min(width, height)) {
    return `it may be at most ${rule.max_ratio}:1 either way`;
  }
  if (rule.multiple_of && (width % rule.multiple_of || height % rule.multiple_of)) {
    return `width and height must be multiples of ${rule.multiple_of}`;
  }
  return null;
}

function ruleText(rule) {
  const parts = [];
  if (rule.multiple_of) parts.push(`width and height multiples of ${rule.multiple_of}`);
  if (rule.max_side) parts.push(`the longer side at most ${rule.max_side} px`);
  if (rule.max_ratio) parts.push(`no longer than ${rule.max_ratio}:1 either way`);
  if (rule.min_pixels && rule.max_pixels) parts.push(`${number(rule.min_pixels)} to ${number(rule.max_pixels)} pixels in all`);
  return parts.join(", ");
}

function either(values) {
  return values.length > 1 ? `${values.slice(0, -1).join(", ")} or ${values.at(-1)}` : values.join("");
}

function number(value) {
  return value.toLocaleString("en");
}
