// navigator.onLine for src/platform/browser/online.rs (inlined into the package's glue).

/** `navigator.onLine`, true where there is no navigator or it does not say. */
export function smhOnline() {
  return globalThis.navigator?.onLine !== false;
}
