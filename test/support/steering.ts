/** A promise with its resolve function, for steering concurrent work from a test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Waits until `condition` holds, checking every 50 ms: for states the test cannot be told about (a visibility
 * timeout expiring, a session waiting on a lock). Never an assertion on speed: the bound only turns a hang into a
 * failure that says what never happened.
 */
export async function until(what: string, condition: () => Promise<boolean>, boundMs = 60_000): Promise<void> {
  const giveUp = Date.now() + boundMs;
  while (!(await condition())) {
    if (Date.now() > giveUp) throw new Error(`gave up waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
