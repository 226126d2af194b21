import type { Job } from 'bullmq';
import { JobRouter, type JobsQueue } from './job-router.ts';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { envelopeSchema, type Origin, type Reply } from '../shared/contracts/envelope.ts';
import type { ReplySink } from './reply-consumer.ts';

/** How often the bot looks for jobs it waits on that are gone. */
export const LOST_CHECK_MS = 5000;
/** A job must be missing this many checks in a row: one miss can be a job read mid-restart. */
const MISSES_BEFORE_LOST = 2;
/** Nobody waits a day for an answer; a job that old stops being tracked. */
const MAX_AGE_MS = 24 * 3600_000;

interface Awaited {
  readonly requestId: string;
  readonly command: string;
  readonly origin: Origin;
  readonly approved: boolean;
  readonly since: number;
  misses: number;
}

export function lostMessage(a: Pick<Awaited, 'command' | 'approved'>): string {
  const again = a.approved
    ? `It may or may not have run: check with \`/cdb status\` before asking again (a new request needs a new approval).`
    : `It may not have run. Nothing else is pending for it: run it again (\`/cdb ${a.command} …\`).`;
  return `\`/cdb ${a.command}\` was lost: its job disappeared from Redis before the worker answered (was Redis restarted without persistence?). ${again}`;
}

/**
 * The bot remembers every job it enqueued that a person waits on (in memory, and in Redis for a
 * restarted bot), until its answer is delivered. When such a job disappears (a Redis that keeps
 * nothing on disk was restarted, its data was flushed) the requester is told it was lost instead of
 * waiting forever. Memory is the point: after a Redis restart, Redis no longer knows what was asked.
 */
export class AwaitedJobs {
  private readonly awaited = new Map<string, Awaited>();
  private readonly key: string;

  constructor(private readonly deps: { jobs: JobsQueue; redis: Redis; keyPrefix: string; sink: ReplySink; log: Logger; checkMs?: number }) {
    this.key = `${deps.keyPrefix}:awaiting`;
  }

  /** Tracks every job this bot adds to the jobs queue (commands and approved requests alike). */
  attach(): void {
    const jobs = this.deps.jobs;
    if (jobs instanceof JobRouter) jobs.onWaiting((job: Job) => this.track(job));
    else jobs.on('waiting', (job: Job) => this.track(job));
  }

  track(job: Job): void {
    const parsed = envelopeSchema.safeParse(job.data);
    if (!parsed.success) return;
    const env = parsed.data;
    // Plans are awaited by the approval flow itself; scheduled runs have nobody waiting.
    if (env.origin.kind === 'plan' || env.origin.kind === 'schedule') return;
    const entry: Awaited = { requestId: env.requestId, command: env.command, origin: env.origin, approved: env.approval !== undefined, since: Date.now(), misses: 0 };
    this.awaited.set(entry.requestId, entry);
    void this.deps.redis
      .multi().hset(this.key, entry.requestId, JSON.stringify(entry)).expire(this.key, MAX_AGE_MS / 1000).exec()
      .catch(() => undefined);
  }

  settle(requestId: string): void {
    if (!this.awaited.delete(requestId)) return;
    void this.deps.redis.hdel(this.key, requestId).catch(() => undefined);
  }

  /** Picks up what a previous bot process was waiting on. */
  async load(): Promise<void> {
    const stored = await this.deps.redis.hgetall(this.key).catch(() => ({}) as Record<string, string>);
    for (const [id, raw] of Object.entries(stored)) {
      try {
        const a = JSON.parse(raw) as Awaited;
        if (!this.awaited.has(id)) this.awaited.set(id, { ...a, misses: 0 });
      } catch {
        void this.deps.redis.hdel(this.key, id).catch(() => undefined);
      }
    }
  }

  /** Wraps the sink: a delivered result or error ends the wait. */
  observe(inner: ReplySink): ReplySink {
    return {
      deliver: async (reply: Reply) => {
        await inner.deliver(reply);
        if (reply.type === 'result' || reply.type === 'error') this.settle(reply.requestId);
      },
    };
  }

  async check(): Promise<void> {
    const { jobs, redis, keyPrefix, sink, log } = this.deps;
    for (const a of [...this.awaited.values()]) {
      if (Date.now() - a.since > MAX_AGE_MS) {
        this.settle(a.requestId);
        continue;
      }
      // Answered through another bot process (the reply state is the Slack sink's).
      if (await redis.hget(`${keyPrefix}:reply:${a.requestId}`, 'done')) {
        this.settle(a.requestId);
        continue;
      }
      if (await jobs.getJob(a.requestId)) {
        a.misses = 0;
        continue;
      }
      a.misses += 1;
      if (a.misses < MISSES_BEFORE_LOST || !this.awaited.has(a.requestId)) continue;
      this.settle(a.requestId);
      log.warn({ requestId: a.requestId, cmd: a.command }, 'a job the bot was waiting on is gone from Redis; telling the requester');
      await sink.deliver({ type: 'error', requestId: a.requestId, command: a.command, origin: a.origin, code: 'JOB_LOST', message: lostMessage(a), durationMs: Date.now() - a.since });
    }
  }

  /** Checks on a timer until stopped. */
  start(): { stop(): Promise<void> } {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> = Promise.resolve();
    const schedule = (): void => {
      if (stopped) return;
      timer = setTimeout(() => {
        running = this.check()
          .catch((err: unknown) => this.deps.log.debug({ error: (err as Error).message }, 'lost-job check failed; next round retries'))
          .finally(schedule);
      }, this.deps.checkMs ?? LOST_CHECK_MS);
    };
    schedule();
    return {
      async stop() {
        stopped = true;
        clearTimeout(timer);
        await running;
      },
    };
  }

  get size(): number {
    return this.awaited.size;
  }
}
