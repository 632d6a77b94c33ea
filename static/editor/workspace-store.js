// Where the editor's workspace is kept between visits: IndexedDB (through
// idb-keyval), which takes image blobs as they are, survives a reload, Back
// and a crashed tab, and is private to this browser. One entry per user, so
// two people sharing a browser never see each other's work.
//
// A save is asynchronous (the mask is encoded first), and a page being left
// does not wait for one. So leaving also writes the text fields (prompt,
// model, parameters) to localStorage at once; a later load takes them when
// they are newer than the saved workspace.
import { createStore, del, get, set } from "../vendor/idb-keyval/index.js";

const store = createStore("darkroom", "workspace");
const SAVE_DELAY_MS = 300;

export function workspaceStore(key, { onSaved = () => {} } = {}) {
  const textKey = `darkroom:workspace-text:${key}`;
  let timer = null;
  let collect = null;
  let saving = Promise.resolve();

  async function write() {
    timer = null;
    if (!collect) return;
    const snapshot = { ...(await collect()), savedAt: Date.now() };
    await set(key, snapshot, store);
    onSaved();
  }

  return {
    async load() {
      const saved = await get(key, store).catch(() => undefined);
      const text = readText(textKey);
      if (!text || text.savedAt <= (saved?.savedAt ?? 0)) return saved;
      return { ...saved, ...text.fields };
    },
    /** Save what ``snapshot()`` returns, once changes pause. */
    schedule(snapshot) {
      collect = snapshot;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => (saving = saving.then(write).catch(() => {})), SAVE_DELAY_MS);
    },
    /** Save now (the page is being hidden or left); ``text`` is the snapshot's
     * text fields, written at once. */
    flush(text) {
      try {
        localStorage.setItem(textKey, JSON.stringify({ savedAt: Date.now(), fields: text }));
      } catch {
        // Storage full or refused: the asynchronous save still runs.
      }
      if (!timer) return saving;
      clearTimeout(timer);
      saving = saving.then(write).catch(() => {});
      return saving;
    },
    /** Forget the workspace (and any save still waiting). */
    async clear() {
      if (timer) clearTimeout(timer);
      timer = null;
      collect = null;
      await saving;
      localStorage.removeItem(textKey);
      await del(key, store);
    },
    whenSaved: () => saving,
  };
}

function readText(textKey) {
  try {
    return JSON.parse(localStorage.getItem(textKey) || "null");
  } catch {
    return null;
  }
}
