import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config/schema.ts';
import type { JobEnvelope } from '../shared/contracts/envelope.ts';
import { OpsError } from '../shared/errors.ts';
import { HeartbeatReader } from '../shared/heartbeat.ts';
import { keyPrefix, queuePrefix } from '../shared/queue/names.ts';
import type { TargetStatus, TargetsView } from '../shared/targets-view.ts';
import { ago } from '../shared/targets-view.ts';
import { IMPLICIT_TARGET, jobsQueueName, listTargets, type TargetRef } from '../shared/targets.ts';

/**
 * "The jobs queue" as the bot holds it: the router (one queue per target) in the real bot, a bare
 * BullMQ Queue in tests that build the pieces by hand.
 */
export type JobsQueue = Queue | JobRouter;

/** The queue a job for `target` goes to, after the router's liveness check. */
export async function queueFor(jobs: JobsQueue, target: string | undefined, approved = false): Promise<Queue> {
  if (!(jobs instanceof JobRouter)) return jobs;
  if (!approved) await jobs.assertLive(target);
  return jobs.queue(target);
}

export async function enqueue(jobs: JobsQueue, name: string, data: JobEnvelope, opts?: JobsOptions): Promise<Job> {
  return (await queueFor(jobs, data.target, data.approval !== undefined)).add(name, data, opts);
}

export function targetsViewOf(jobs: JobsQueue): TargetsView | undefined {
  return jobs instanceof JobRouter ? { overview: () => jobs.overview() } : undefined;
}

export interface QueueStats {
  readonly waiting: number;
  readonly active: number;
  /** Enqueue time (ms) of the oldest job still waiting. */
  readonly oldestWaitingAt?: number;
}

/**
 * One BullMQ queue per target (`jobs-<target>`; today's single stack keeps `jobs`). A job goes to
 * its envelope's target, and only while a worker of that target is alive: otherwise it is refused
 * at once instead of waiting in a queue nobody reads.
 */
export class JobRouter {
  readonly targets: readonly TargetRef[];
  readonly heartbeats: HeartbeatReader;
  private readonly queues = new Map<string, Queue>();
  private readonly staleMs: number;

  constructor(private readonly config: Config, connection: Redis, onError?: (err: Error) => void) {
    this.targets = listTargets(config);
    this.heartbeats = new HeartbeatReader(connection, keyPrefix(config));
    this.staleMs = config.workerStaleSeconds * 1000;
    for (const t of this.targets) {
      const q = new Queue(t.queue, { connection, prefix: queuePrefix(config) });
      if (onError) q.on('error', onError);
      this.queues.set(t.name, q);
    }
  }

  queue(target: string | undefined): Queue {
    const q = this.queues.get(target ?? IMPLICIT_TARGET) ?? (this.targets.length === 1 ? this.queues.values().next().value : undefined);
    if (!q) throw new OpsError('TARGET_UNKNOWN', `There is no target \`${String(target).slice(0, 30)}\`.`);
    return q;
  }

  /** Refuses when no worker of an explicit target has beaten within `workerStaleSeconds`. */
  async assertLive(target: string | undefined): Promise<void> {
    const t = this.targets.find((x) => x.name === (target ?? IMPLICIT_TARGET)) ?? (this.targets.length === 1 ? this.targets[0] : undefined);
    if (!t?.explicit) return;
    const [seen, now] = await Promise.all([this.heartbeats.lastSeen(t.name), this.heartbeats.now()]);
    if (seen !== undefined && now - seen <= this.staleMs) return;
    throw new OpsError('NO_WORKER', seen === undefined
      ? `No worker for target \`${t.name}\` has ever been seen, so the command was not queued. Start one with \`CDB_TARGET=${t.name}\`.`
      : `No worker for target \`${t.name}\` has been seen for ${ago(now - seen)}, so the command was not queued. Check the worker on that host (\`/cdb targets\`).`);
  }

  /** An approved job is queued even without a live worker: its request goes stale if none starts it in time. */
  async add(name: string, data: JobEnvelope, opts?: JobsOptions): Promise<Job> {
    return enqueue(this, name, data, opts);
  }

  /** One BullMQ queue per target (for the queue gauges of /metrics). */
  all(): Queue[] {
    return [...this.queues.values()];
  }

  /** Every job added to any target's queue (the bot's lost-job tracking). */
  onWaiting(fn: (job: Job) => void): void {
    for (const q of this.queues.values()) q.on('waiting', fn);
  }

  async getJob(id: string): Promise<Job | undefined> {
    for (const q of this.queues.values()) {
      const job = await q.getJob(id);
      if (job) return job;
    }
    return undefined;
  }

  async stats(target: string): Promise<QueueStats> {
    const q = this.queue(target);
    // Users' jobs carry a priority (security.userJobPriority), so they wait as `prioritized`, not `waiting`.
    const [counts, heads] = await Promise.all([q.getJobCounts('waiting', 'active', 'prioritized'), Promise.all([q.getJobs(['waiting'], 0, 0, true), q.getJobs(['prioritized'], 0, 0, true)])]);
    const times = heads.flat().map((j) => j.timestamp);
    return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), active: counts.active ?? 0, ...(times.length ? { oldestWaitingAt: Math.min(...times) } : {}) };
  }

  async overview(): Promise<TargetStatus[]> {
    const now = await this.heartbeats.now();
    return Promise.all(this.targets.map(async (t) => {
      const [lastSeen, workers, stats] = await Promise.all([this.heartbeats.lastSeen(t.name), this.heartbeats.workers(t.name), this.stats(t.name)]);
      return { name: t.name, project: t.project, docker: t.docker, explicit: t.explicit, now, staleMs: this.staleMs, workers, ...stats, ...(lastSeen !== undefined ? { lastSeen } : {}) };
    }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

export { jobsQueueName };
