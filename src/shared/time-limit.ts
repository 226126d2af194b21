/**
 * Runs `work` against a deadline. Past it, the signal handed to `work` aborts with the error
 * `onTimeout` makes, and the returned promise rejects with that error at once, whether or not
 * `work` listens to the signal. The one time-limit race of the code base (worker jobs and the
 * CLI's inline jobs use it).
 */
export async function withTimeLimit<T>(ms: number, onTimeout: () => Error, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = onTimeout();
      abort.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([work(abort.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
