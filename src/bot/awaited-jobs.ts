import { randomBytes } from 'node:crypto';
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
/** A bot process beats this often (every lost-job check) and counts as gone after BOT_ALIVE_MS without. */
const BOT_ALIVE_MS = 15_000;

/** This process, as the owner of the requests it accepted (records of a dead owner are adopted). */
export const BOT_INSTANCE = randomBytes(8).toString('hex');

interface Awaited {
  readonly requestId: string;
  readonly command: string;
  readonly origin: Origin;
  readonly approved: boolean;
  readonly since: number;
  misses: number;
  /** The bot process that accepted it (absent on records of older versions). */
  readonly owner?: string;
  /** False while only acked: the record the ack wrote, before the job was seen in the queue. */
  queued?: boolean;
  /** Taken over from another (dead) bot process: delivered only by whoever deletes the record. */
  adopted?: boolean;
}

export function awaitingKey(keyPrefix: string): string {
  return `${keyPrefix}:awaiting`;
}

/**
 * The record a slash command's ack writes (in the guard's one Redis call, request-guard.ts) before
 * its job is enqueued: who to tell, in which channel, if this process dies before the enqueue.
 * Identifiers only: no arguments, no tokens, no response_url (replies go through the Slack sink).
 */
export function acceptedRecord(requestId: string, command: string, origin: Origin, since = Date.now()): { field: string; record: string; ttlMs: number } {
  const entry: Omit<Awaited, 'misses'> & { misses: number } = { requestId, command, origin, approved: false, since, misses: 0, owner: BOT_INSTANCE, queued: false };
  return { field: requestId, record: JSON.stringify(entry), ttlMs: MAX_AGE_MS };
}

export function lostMessage(a: Pick<Awaited, 'command' | 'approved' | 'queued'>): string {
  if (a.queued === false) {
    return `\`/cdb ${a.command}\` was lost during a bot restart: it was acknowledged, but the bot stopped before it was queued, so it did not run. Run it again (\`/cdb ${a.command} …\`).`;
  }
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
  private readonly toWrite: Awaited[] = [];

  constructor(private readonly deps: { jobs: JobsQueue; redis: Redis; keyPrefix: string; sink: ReplySink; log: Logger; checkMs?: number }) {
    this.key = awaitingKey(deps.keyPrefix);
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
    const entry: Awaited = { requestId: env.requestId, command: env.command, origin: env.origin, approved: env.approval !== undefined, since: Date.now(), misses: 0, owner: BOT_INSTANCE, queued: true };
    this.awaited.set(entry.requestId, entry);
    // Jobs added together (a burst of commands, addBulk) are written in one round trip.
    this.toWrite.push(entry);
    if (this.toWrite.length === 1) {
      setImmediate(() => {
        const batch = this.toWrite.splice(0);
        void this.deps.redis
          .multi().hset(this.key, ...batch.flatMap((e) => [e.requestId, JSON.stringify(e)])).expire(this.key, MAX_AGE_MS / 1000).exec()
          .catch(() => undefined);
      });
    }
  }

  private async beat(): Promise<void> {
    await this.deps.redis.set(`${this.deps.keyPrefix}:bot:${BOT_INSTANCE}`, String(Date.now()), 'PX', BOT_ALIVE_MS);
  }

  /** Beats for this process and takes over the accepted records of bot processes that stopped beating. */
  async adoptOrphans(): Promise<void> {
    const { redis, keyPrefix } = this.deps;
    await this.beat();
    const stored = await redis.hgetall(this.key);
    const owners = new Map<string, boolean>();
    for (const [id, raw] of Object.entries(stored)) {
      if (this.awaited.has(id)) continue;
      let a: Awaited;
      try {
        a = JSON.parse(raw) as Awaited;
      } catch {
        await redis.hdel(this.key, id);
        continue;
      }
      // Own records not in memory yet are being enqueued right now; records without owner are an
      // older bot's, loaded at start (load()).
      if (!a.owner || a.owner === BOT_INSTANCE) continue;
      if (!owners.has(a.owner)) owners.set(a.owner, (await redis.exists(`${keyPrefix}:bot:${a.owner}`)) === 1);
      if (owners.get(a.owner)) continue;
      this.awaited.set(id, { ...a, misses: 0, adopted: true });
    }
  }

  settle(requestId: string): void {
    if (!this.awaited.delete(requestId)) return;
    void this.deps.redis.hdel(this.key, requestId).catch(() => undefined);
  }

  /** Picks up what a previous bot process was waiting on. */
  async load(): Promise<void> {
    // Beat at once: another bot must not take this one's first requests for a dead process's.
    await this.beat().catch(() => undefined);
    const stored = await this.deps.redis.hgetall(this.key).catch(() => ({}) as Record<string, string>);
    for (const [id, raw] of Object.entries(stored)) {
      try {
        const a = JSON.parse(raw) as Awaited;
        // Records with an owner are adopted once that bot stops beating (adoptOrphans).
        if (!a.owner && !this.awaited.has(id)) this.awaited.set(id, { ...a, misses: 0 });
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
    await this.adoptOrphans();
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
        a.queued = true;
        continue;
      }
      a.misses += 1;
      if (a.misses < MISSES_BEFORE_LOST || !this.awaited.has(a.requestId)) continue;
      this.awaited.delete(a.requestId);
      // Whoever deletes the record tells the requester: two bots that adopted it never both do.
      const claimed = await redis.hdel(this.key, a.requestId);
      if (a.adopted && !claimed) continue;
      log.warn({ requestId: a.requestId, cmd: a.command, queued: a.queued !== false }, a.queued === false ? 'an acknowledged request was never queued (its bot stopped); telling the requester' : 'a job the bot was waiting on is gone from Redis; telling the requester');
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
    const deps = this.deps;
    return {
      async stop() {
        stopped = true;
        clearTimeout(timer);
        await running;
        // Stopped on purpose: another bot takes over what this one waited on at its next check.
        await deps.redis.del(`${deps.keyPrefix}:bot:${BOT_INSTANCE}`).catch(() => undefined);
      },
    };
  }

  get size(): number {
    return this.awaited.size;
  }
}
