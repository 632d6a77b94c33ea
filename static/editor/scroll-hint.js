// A row that scrolls sideways (the mask tools on a phone) says so: its edge
// fades where more is hidden (darkroom.css, [data-more]), so a tool cut off at
// the edge reads as "scroll for more", not as the last one.

export function hintSidewaysScroll(row) {
  const update = () => {
    const hidden = [];
    // A pixel of slack: zoomed pages scroll to fractions.
    if (row.scrollLeft > 1) hidden.push("start");
    if (row.scrollLeft + row.clientWidth < row.scrollWidth - 1) hidden.push("end");
    if (hidden.length) row.dataset.more = hidden.join(" ");
    else delete row.dataset.more;
  };
  row.addEventListener("scroll", update, { passive: true });
  // Its own size, and its parts' (a panel in the row opening widens it).
  const resized = new ResizeObserver(update);
  for (const element of [row, ...row.children]) resized.observe(element);
  update();
}
