/**
 * Commands the bot has acked and not finished (their enqueue, audit and response_url answer come
 * after the ack). A graceful stop waits for them, up to a bound, before it closes Redis: otherwise a
 * command acked "on its way" in the last few milliseconds would fail its enqueue on a closed
 * connection. A crash is covered elsewhere (the accepted record, awaited-jobs.ts).
 */
export class InFlight {
  private readonly running = new Set<Promise<unknown>>();

  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const forget = () => void this.running.delete(work);
    work.then(forget, forget);
    return work;
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves when everything tracked has settled, or after `maxMs`, whichever comes first. */
  async drain(maxMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
    try {
      while (this.running.size) {
        const settled = Promise.allSettled([...this.running]).then(() => 'settled' as const);
        if ((await Promise.race([settled, deadline.then(() => 'deadline' as const)])) === 'deadline') return;
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
