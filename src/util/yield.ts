/**
 * Lets the event loop run between training steps: without it a long synchronous loop never sees a
 * SIGINT handler, a timer or (in a browser) a repaint. A macrotask, not a microtask, on purpose.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
