import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { JOBS_QUEUE, REPLIES_QUEUE, keyPrefix, openJobsQueue } from '../shared/queue/names.ts';
import { alertKeys } from '../features/alerts/store.ts';
import { startHealthServer, type HealthServer } from '../shared/health-server.ts';
import { redisCheck, registerQueueGauges, scrapeRead } from '../shared/process-health.ts';

export interface WorkerHealthDeps {
  readonly connection: Redis;
  readonly docker: Docker;
  /** The jobs queues this worker consumes (one per served target); default the single-stack `jobs`. */
  readonly jobQueues?: readonly string[];
}

/** Incidents not yet resolved (pending or firing), from the alert state every worker shares. */
function registerIncidentGauge(registry: Registry, redis: Redis, key: string): void {
  new Gauge({
    name: 'cdb_open_incidents',
    help: 'Health-alert incidents that are pending or firing.',
    registers: [registry],
    async collect() {
      const all = await scrapeRead(redis, () => redis.hvals(key));
      if (!all) return;
      // Values are `<rev>|<json>`; only the phase matters here.
      this.set(all.filter((v) => /"phase":"(pending|firing)"/.test(v)).length);
    },
  });
}

/** The worker's /healthz (Redis and the Docker Engine) and /metrics on health.workerPort (HEALTH_PORT). */
export async function startWorkerHealth(config: Config, deps: WorkerHealthDeps, log: Logger): Promise<HealthServer | undefined> {
  if (!config.health.enabled) return undefined;
  const registry = new Registry();
  const queues = [...(deps.jobQueues ?? [JOBS_QUEUE]), REPLIES_QUEUE].map((name) => openJobsQueue(config, deps.connection, log, name));
  registerQueueGauges(registry, deps.connection, queues);
  registerIncidentGauge(registry, deps.connection, alertKeys(keyPrefix(config)).states);
  const starting = startHealthServer({
    host: config.health.host,
    port: config.health.workerPort,
    checks: {
      redis: redisCheck(deps.connection),
      docker: async () => {
        await deps.docker.ping();
      },
    },
    registry,
    log,
  });
  const server = await starting.catch(async (err: unknown) => {
    await Promise.all(queues.map((q) => q.close()));
    throw err;
  });
  return {
    ...server,
    async close() {
      await server.close();
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}
