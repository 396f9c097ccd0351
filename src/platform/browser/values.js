// What the wasm reads of JS values (src/platform/browser/mod.rs), inlined into the package's
// glue: the type checks cost far more wasm than these lines.

/** A copy of the bytes of an ArrayBuffer or a Uint8Array (undefined for anything else). */
export function smhBytes(value) {
  if (value instanceof ArrayBuffer || value instanceof Uint8Array) return new Uint8Array(value);
}

/** The message of a thrown value: an Error's, a string itself, else a placeholder. */
export function smhMessage(value) {
  if (value instanceof Error) return value.message;
  return typeof value === 'string' ? value : 'unknown JavaScript error';
}
