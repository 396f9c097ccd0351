// Timeouts for src/platform/browser/timer.rs (inlined into the package's glue).

/** A promise that resolves in `ms` ms, whose `smhClear()` cancels it. */
export function smhSleep(ms) {
  let id;
  const done = new Promise(resolve => (id = setTimeout(resolve, ms)));
  done.smhClear = () => clearTimeout(id);
  return done;
}
