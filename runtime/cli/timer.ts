// A timer for any delay: Node's setTimeout takes at most 2^31-1 ms (24.8
// days) and fires at once for more, so longer delays are a chain of timers.

/** The longest delay one Node timer takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` once after `ms` milliseconds; returns a function that cancels it. */
export function setLongTimeout(fn: () => void, ms: number, maxStep = MAX_TIMER_MS): () => void {
  const due = performance.now() + ms;
  let timer: ReturnType<typeof setTimeout>;
  const arm = () => {
    const left = due - performance.now();
    timer = left > maxStep ? setTimeout(arm, maxStep) : setTimeout(fn, Math.max(0, left));
  };
  arm();
  return () => clearTimeout(timer);
}
