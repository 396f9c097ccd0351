// Web Locks for src/platform/browser/locks.rs (inlined into the package's glue): written
// in JavaScript because the callbacks the API takes cost far more wasm than these lines.

/**
 * Requests the lock `name` if no one holds it. Resolves with a function that releases it, or
 * with null while another tab, worker or client of the origin holds it; where the API is
 * missing or refuses to work (an opaque origin), with a function that does nothing.
 */
export function smhHoldLock(name) {
  const locks = globalThis.navigator?.locks;
  if (typeof locks?.request !== 'function') return Promise.resolve(() => {});
  return new Promise(granted => {
    const held = lock => (lock ? new Promise(release => granted(release)) : granted(null));
    try {
      // Rejects only if the page goes away while it holds the lock: nothing to do then.
      locks.request(name, { ifAvailable: true }, held).catch(() => granted(() => {}));
    } catch {
      granted(() => {});
    }
  });
}

/** Whether a tab, worker or client of the origin holds the lock `name` now (false where the API
 *  is missing or refuses to work). Asks without taking it: a lock taken to ask is released
 *  asynchronously, and would make an upload started right after think another tab has it. */
export function smhLockHeld(name) {
  const locks = globalThis.navigator?.locks;
  if (typeof locks?.query !== 'function') return Promise.resolve(false);
  return locks.query().then(
    state => state.held.some(lock => lock.name === name),
    () => false,
  );
}
