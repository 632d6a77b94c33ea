// Elapsed-time counters ("Waiting for the provider · 12 s") count on by
// themselves between the server's updates, which now come only when the job
// changes. An element marked data-elapsed="12" shows 12 when drawn and one
// more each second after; the browser's clock is never compared with the
// server's.

const drawnAt = new WeakMap();

function tick() {
  const now = performance.now();
  for (const counter of document.querySelectorAll("[data-elapsed]")) {
    if (!drawnAt.has(counter)) drawnAt.set(counter, now - Number(counter.dataset.elapsed) * 1000);
    const shown = String(Math.floor((now - drawnAt.get(counter)) / 1000));
    if (counter.textContent !== shown) counter.textContent = shown;
  }
}

// Four times a second, so a counter is first seen soon after it is drawn and
// turns over within a quarter second of each whole second.
setInterval(tick, 250);
