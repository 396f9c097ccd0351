
// ---- checkpoints: 'local' in browsers (src/bindings/js/api.js explains this layer) ----
// The web entries' 'local' checkpoint store, handed to the wasm as a `{get, set, remove}` store
// (src/platform/browser/storage.rs, `JsCheckpoints`) like a page's own; the mini-program build
// has no such file and keeps its wx storage in the wasm. IndexedDB (asynchronous, no 5 MB limit,
// shared by a site's tabs), opened when the client is made, falling back to localStorage where IndexedDB
// cannot be opened (some private modes, sandboxed frames), else keeping nothing. Each call is
// bounded by the engine (src/engine/checkpoint.rs).

/** Prefix of every key this SDK writes, so it never touches the page's own entries. */
const smh$KEY_PREFIX = 'smh-upload:';
/** The IndexedDB database and its one object store. */
const smh$DB_NAME = 'smh-upload';
const smh$DB_STORE = 'checkpoints';
/** Longest wait for IndexedDB to open (another tab blocking it, a browser that never answers in
 *  some private modes) before records go to localStorage instead. */
const smh$OPEN_TIMEOUT_MS = 5000;

/** An `IDBRequest` as a promise of its result. */
function smh$request(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** `localStorage` when it exists and takes a write (Safari's private mode has one that throws). */
function smh$localStorage() {
  try {
    const storage = globalThis.localStorage;
    storage.setItem(smh$KEY_PREFIX + 'probe', '1');
    storage.removeItem(smh$KEY_PREFIX + 'probe');
    return storage;
  } catch (e) {
    return undefined;
  }
}

/** Where records go: `{db}`, `{storage}` or `{}` (nowhere). */
function smh$openBackend() {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, smh$OPEN_TIMEOUT_MS);
    try {
      const open = indexedDB.open(smh$DB_NAME, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(smh$DB_STORE);
      smh$request(open).then(resolve, () => resolve());
    } catch (e) {
      resolve();
    }
  }).then(db => (db ? { db } : { storage: smh$localStorage() }));
}

/** A new 'local' store (one per client, as each client opens its own connection). The database
 *  is opened now, not by the first upload: an upload reads its record before its first request,
 *  and opening (creating, the first time) takes a few ms more that nothing else then overlaps.
 *  Opening reads no file and keeps one idle connection: cheap for a page that never uploads. */
function smh$localCheckpoints() {
  const backend = smh$openBackend();
  /** `idb(objectStore, key, value)` or `local(localStorage, key, value)` on the chosen backend. */
  const on = (mode, idb, local) => (key, value) =>
    backend.then(({ db, storage }) => {
      key = smh$KEY_PREFIX + key;
      if (db) return smh$request(idb(db.transaction(smh$DB_STORE, mode).objectStore(smh$DB_STORE), key, value));
      return storage && local(storage, key, value);
    });
  return {
    // Other clients of the page use the same database: the engine serialises their index updates.
    __smhPageWide: true,
    get: on('readonly', (store, key) => store.get(key), (storage, key) => storage.getItem(key)),
    set: on('readwrite', (store, key, value) => store.put(value, key), (storage, key, value) => storage.setItem(key, value)),
    remove: on('readwrite', (store, key) => store.delete(key), (storage, key) => storage.removeItem(key)),
  };
}
