/**
 * The one periodic-sweep loop of cdb (approval sweeper, rollback/restore/rotation recovery):
 * a pass at start, then one every `everyMs` after the previous pass ended (passes never overlap),
 * a failing pass is reported and the next one tries again, and `stop()` waits for a running pass.
 * Sweeps keep their state in Redis, so a restarted process just picks up.
 */
export interface SweepLoopOptions {
  readonly everyMs: number;
  readonly sweep: () => Promise<unknown>;
  /** Told of a failing pass (the loop goes on). */
  readonly onError: (err: unknown) => void;
}

export interface SweepLoop {
  /** No pass starts after this; resolves once the running pass (if any) ended. */
  stop(): Promise<void>;
}

export function startSweepLoop(opts: SweepLoopOptions): SweepLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const pass = (): void => {
    running = (async () => {
      try {
        await opts.sweep();
      } catch (err) {
        opts.onError(err);
      }
    })().finally(schedule);
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(pass, opts.everyMs);
    // A process that is otherwise done must not be kept alive by its sweeps.
    timer.unref();
  };
  pass();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
