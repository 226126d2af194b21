import type { Job, JobsOptions, Queue } from 'bullmq';
import type { JobEnvelope } from '../shared/contracts/envelope.ts';
import { queueFor, type JobsQueue } from './job-router.ts';

/** Work after the ack waits at most this long for the requests still being acked (BENCHMARKS.md, ack). */
export const POST_ACK_MAX_WAIT_MS = 300;
/** …and for this long without a new request once the last one was acked: a burst often pauses between acks. */
export const POST_ACK_QUIET_MS = 10;

/**
 * Acks first, Redis work after: a burst of slash commands is acked before any of them is enqueued,
 * and then their jobs go to Redis together, one `addBulk` round trip per queue instead of one per
 * command. `begin()` marks a request between its arrival and its ack (the HTTP server calls it);
 * enqueues wait until no request has been in that state for POST_ACK_QUIET_MS, or
 * POST_ACK_MAX_WAIT_MS at most, so a steady stream of requests never starves them. A bot that dies in that gap loses nothing silently: each
 * acked command was recorded in the ack's one Redis call (awaited-jobs.ts, acceptedRecord).
 */
export class PostAck {
  private inFlight = 0;
  private waiting: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private quiet: NodeJS.Timeout | undefined;
  private pending: { jobs: JobsQueue; name: string; data: JobEnvelope; opts: JobsOptions; resolve: (job: Job) => void; reject: (err: unknown) => void }[] = [];

  constructor(
    private readonly maxWaitMs = POST_ACK_MAX_WAIT_MS,
    private readonly quietMs = POST_ACK_QUIET_MS,
  ) {}

  /** A request arrived; call the returned function once its ack is sent (idempotent). */
  begin(): () => void {
    this.inFlight += 1;
    clearTimeout(this.quiet);
    this.quiet = undefined;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight -= 1;
      if (this.inFlight === 0 && this.waiting.length) this.armQuiet();
    };
  }

  /** Resolves once no request has waited for its ack for quietMs (at the latest after maxWaitMs). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.timer ??= setTimeout(() => this.release(), this.maxWaitMs);
      if (this.inFlight === 0 && !this.quiet) this.armQuiet();
    });
  }

  private armQuiet(): void {
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.release(), this.quietMs);
  }

  private release(): void {
    clearTimeout(this.timer);
    clearTimeout(this.quiet);
    this.timer = undefined;
    this.quiet = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  /** Enqueues after the acks of the burst, batched with the other enqueues of that moment. */
  enqueue(jobs: JobsQueue, name: string, data: JobEnvelope, opts: JobsOptions): Promise<Job> {
    return new Promise<Job>((resolve, reject) => {
      this.pending.push({ jobs, name, data, opts, resolve, reject });
      if (this.pending.length === 1) void this.idle().then(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    const byQueue = new Map<Queue, typeof batch>();
    for (const item of batch) {
      try {
        // The router's liveness check ran before the ack; approved jobs never come this way.
        const q = await queueFor(item.jobs, item.data.target, true);
        byQueue.set(q, [...(byQueue.get(q) ?? []), item]);
      } catch (err) {
        item.reject(err);
      }
    }
    await Promise.all(
      [...byQueue].map(async ([q, items]) => {
        try {
          const added = await q.addBulk(items.map((i) => ({ name: i.name, data: i.data, opts: i.opts })));
          items.forEach((item, k) => {
            const job = added[k]!;
            // What Queue.add announces (and addBulk does not): the bot's lost-job tracking listens.
            q.emit('waiting', job);
            item.resolve(job);
          });
        } catch (err) {
          for (const item of items) item.reject(err);
        }
      }),
    );
  }
}
