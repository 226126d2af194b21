import { Queue, type Job, type JobsOptions, type JobState } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config/schema.ts';
import type { JobEnvelope } from '../shared/contracts/envelope.ts';
import { OpsError } from '../shared/errors.ts';
import { HeartbeatReader } from '../shared/heartbeat.ts';
import { keyPrefix, queuePrefix } from '../shared/queue/names.ts';
import type { TargetStatus } from '../shared/targets-view.ts';
import { ago } from '../shared/targets-view.ts';
import { IMPLICIT_TARGET, jobsQueueName, listTargets, type TargetRef } from '../shared/targets.ts';

/** What the bot needs of "the jobs queue"; a BullMQ Queue fits, and so does the router below. */
export interface JobsQueue {
  add(name: string, data: JobEnvelope, opts?: JobsOptions): Promise<unknown>;
  getJob(id: string): Promise<Job | undefined>;
  getJobState(id: string): Promise<JobState | 'unknown'>;
  close(): Promise<void>;
  /** Per target: workers, heartbeats, queue depth (the router has it; a bare Queue does not). */
  overview?(): Promise<TargetStatus[]>;
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
export class JobRouter implements JobsQueue {
  readonly targets: readonly TargetRef[];
  readonly heartbeats: HeartbeatReader;
  private readonly queues = new Map<string, Queue>();
  private readonly staleMs: number;

  constructor(private readonly config: Config, connection: Redis) {
    this.targets = listTargets(config);
    this.heartbeats = new HeartbeatReader(connection, keyPrefix(config));
    this.staleMs = config.workerStaleSeconds * 1000;
    for (const t of this.targets) this.queues.set(t.name, new Queue(t.queue, { connection, prefix: queuePrefix(config) }));
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

  async add(name: string, data: JobEnvelope, opts?: JobsOptions): Promise<unknown> {
    // An approved job is queued even so: its request goes stale if no worker starts it in time.
    if (!data.approval) await this.assertLive(data.target);
    return this.queue(data.target).add(name, data, opts);
  }

  private async find(id: string): Promise<Queue | undefined> {
    for (const q of this.queues.values()) if (await q.getJob(id)) return q;
    return undefined;
  }

  async getJob(id: string): Promise<Job | undefined> {
    return (await this.find(id))?.getJob(id);
  }

  async getJobState(id: string): Promise<JobState | 'unknown'> {
    return (await (await this.find(id))?.getJobState(id)) ?? 'unknown';
  }

  async stats(target: string): Promise<QueueStats> {
    const q = this.queue(target);
    const [counts, oldest] = await Promise.all([q.getJobCounts('waiting', 'active', 'prioritized'), q.getJobs(['waiting'], 0, 0, true)]);
    return { waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), active: counts.active ?? 0, ...(oldest[0] ? { oldestWaitingAt: oldest[0].timestamp } : {}) };
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
