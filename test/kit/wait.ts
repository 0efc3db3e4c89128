/** One turn of the event loop: I/O callbacks queued now (socket closes, data) run first. */
export function turn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** `n` turns of the event loop. */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

/**
 * Waits, one event-loop turn at a time, until `condition` holds: for effects
 * the server applies when a socket event arrives. No timer, no sleep; it
 * gives up after a bounded number of turns with an error that says `what`
 * it was waiting for (and, if given, what it saw last).
 */
export async function waitUntil(
  condition: () => boolean,
  what = 'the condition held',
  options: { turns?: number; seen?: () => unknown } = {},
): Promise<void> {
  const limit = options.turns ?? 200_000;
  for (let i = 0; i < limit; i++) {
    if (condition()) return;
    await turn();
  }
  if (condition()) return;
  const seen = options.seen === undefined ? '' : ` (saw ${JSON.stringify(options.seen())})`;
  throw new Error(`gave up waiting until ${what} after ${limit} event-loop turns${seen}`);
}
