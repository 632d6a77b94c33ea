// Where the editor's workspace is kept between visits: IndexedDB (through
// idb-keyval), which takes image blobs as they are, survives a reload, Back
// and a crashed tab, and is private to this browser. One entry per user, so
// two people sharing a browser never see each other's work.
import { createStore, del, get, set } from "../vendor/idb-keyval/index.js";

const store = createStore("darkroom", "workspace");
const SAVE_DELAY_MS = 300;

export function workspaceStore(key, { onSaved = () => {} } = {}) {
  let timer = null;
  let collect = null;
  let saving = Promise.resolve();

  async function write() {
    timer = null;
    if (!collect) return;
    const snapshot = await collect();
    await set(key, snapshot, store);
    onSaved();
  }

  return {
    load: () => get(key, store).catch(() => undefined),
    /** Save what ``snapshot()`` returns, once changes pause. */
    schedule(snapshot) {
      collect = snapshot;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => (saving = saving.then(write).catch(() => {})), SAVE_DELAY_MS);
    },
    /** Save now (the page is being hidden or left). */
    flush() {
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
      await del(key, store);
    },
    whenSaved: () => saving,
  };
}
