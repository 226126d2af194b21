import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { HealthCheck } from './health-server.ts';

/**
 * Redis answers PING on this process's own connection. A connection that is not `ready` fails at
 * once: its commands would wait in ioredis's offline queue (maxRetriesPerRequest is null for BullMQ).
 */
export function redisCheck(redis: Redis): HealthCheck {
  return async () => {
    if (redis.status !== 'ready') throw new Error(`Redis connection is ${redis.status}`);
    const answer = await redis.ping();
    if (answer !== 'PONG') throw new Error(`Redis answered ${answer}`);
  };
}

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'waiting-children'] as const;

/**
 * Reads for a scrape: skipped when the connection is not ready (its commands would wait for Redis
 * indefinitely, and /metrics must answer during an outage) and bounded in time otherwise.
 */
export async function scrapeRead<T>(redis: Redis, read: () => Promise<T>, timeoutMs = 2000): Promise<T | undefined> {
  if (redis.status !== 'ready') return undefined;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  return Promise.race([read().catch(() => undefined), late]).finally(() => clearTimeout(timer));
}

/** Queue depth by state and the age of the oldest waiting job, read from Redis at scrape time. */
export function registerQueueGauges(registry: Registry, redis: Redis, queues: readonly Queue[]): void {
  new Gauge({
    name: 'cdb_queue_jobs',
    help: 'Jobs in each BullMQ queue by state.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of queues) {
        const counts = await scrapeRead(redis, () => q.getJobCounts(...STATES));
        for (const s of STATES) if (counts) this.set({ queue: q.name, state: s }, counts[s] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'cdb_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting for a worker (0 when none waits).',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const q of queues) {
        // The wait list is pushed on the left: ascending order starts with the oldest.
        const jobs = await scrapeRead(redis, () => q.getJobs(['wait'], 0, 0, true));
        if (!jobs) continue;
        const oldest = jobs[0];
        this.set({ queue: q.name }, oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0);
      }
    },
  });
}

/** Port, host and on/off for one process: HEALTH_PORT (config: health.botPort / health.workerPort). */
export interface HealthSettings {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
}
