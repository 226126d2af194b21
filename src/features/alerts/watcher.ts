import { createHash, randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import { envelopeTarget, openJobsQueue } from '../../shared/queue/names.ts';
import type { AlertRuntime } from './check.ts';
import { type ContainerEvent, watchContainerEvents } from './events.ts';
import { LokiClient } from './loki-client.ts';
import { ALERTS_JOB, ALERTS_SCHEDULER_ID, checkEnvelope, registerAlertRuntime } from './runtime.ts';
import { loadRunbooks, type Runbook } from './runbooks.ts';

export interface AlertWatcherDeps {
  readonly config: Config;
  readonly docker: Docker;
  /** The worker's Redis connection (shared; not closed by the watcher). */
  readonly connection: Redis;
  readonly log: Logger;
  /** Overrides the runbooks/ folder (tests). */
  readonly runbookDir?: string;
}

export interface AlertWatcher {
  readonly enabled: boolean;
  /** The watcher's Loki client (query counts for the bench); undefined without `loki.url`. */
  readonly loki?: LokiClient;
  /** Enqueues a check now: all containers (as a tick would) or only the named ones (as an event would). */
  checkNow(containers?: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

const KEEP = { removeOnComplete: 200, removeOnFail: 200 };

function eventJobId(events: readonly ContainerEvent[]): string {
  // Every worker sees the same Docker events: the same id lets BullMQ drop the duplicates.
  const key = events.map((e) => `${e.name}@${e.atMs}:${e.action}`).sort().join(',');
  return `alerts-event-${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
}

/**
 * Starts alerting in a worker process: the `alerts-tick` job scheduler on the jobs queue (one
 * scheduler however many workers call this), the Docker event stream that triggers early checks,
 * and the runtime the alerts-tick job uses. All incident state is in Redis.
 */
export async function startAlertWatcher(deps: AlertWatcherDeps): Promise<AlertWatcher> {
  const { config, docker, connection, log } = deps;
  const queue = openJobsQueue(config, connection, log);
  if (!config.alerts.enabled || !config.channels.alerts) {
    // Nowhere to say anything: no checks at all (and no leftover schedule from an earlier config).
    await queue.removeJobScheduler(ALERTS_SCHEDULER_ID).catch(() => false);
    await queue.close();
    log.info(config.alerts.enabled ? 'alerts off: channels.alerts is not set' : 'alerts off: alerts.enabled is false');
    return { enabled: false, checkNow: async () => undefined, close: async () => undefined };
  }

  const loki = config.loki ? new LokiClient({ url: config.loki.url, timeoutMs: config.alerts.lokiTimeoutSeconds * 1000 }) : undefined;
  let runbooks: Promise<Runbook[]> | undefined;
  let runbooksAt = 0;
  const runtime: AlertRuntime = {
    redis: connection,
    loki,
    runbooks() {
      // Re-read now and then: editing a runbook must not need a worker restart.
      if (!runbooks || Date.now() - runbooksAt > 60_000) {
        runbooksAt = Date.now();
        runbooks = loadRunbooks(deps.runbookDir);
      }
      return runbooks;
    },
    async scheduleFollowup(atMs) {
      const slot = Math.ceil(atMs / 250);
      await queue.add(ALERTS_JOB, { ...checkEnvelope(`alerts-followup-${slot}`, { trigger: 'followup' }), ...envelopeTarget(config) }, { jobId: `alerts-followup-${slot}`, delay: Math.max(0, slot * 250 - Date.now()), ...KEEP });
    },
  };
  const unregister = registerAlertRuntime(config, runtime);

  const intervalMs = config.alerts.intervalSeconds * 1000;
  await queue.upsertJobScheduler(ALERTS_SCHEDULER_ID, { every: intervalMs }, { name: ALERTS_JOB, data: { ...checkEnvelope('alerts-tick-scheduled', { trigger: 'tick' }), ...envelopeTarget(config) }, opts: KEEP });

  const enqueue = async (containers: readonly string[] | undefined, jobId: string): Promise<void> => {
    const args = containers ? { trigger: 'event' as const, containers: [...new Set(containers)].slice(0, 500) } : { trigger: 'tick' as const };
    await queue.add(ALERTS_JOB, { ...checkEnvelope(jobId, args), ...envelopeTarget(config) }, { jobId, ...KEEP });
  };
  const events = watchContainerEvents({
    docker, project: config.stack.project, log,
    onEvents: (batch) => {
      enqueue(batch.map((e) => e.name), eventJobId(batch)).catch((err: unknown) => log.warn({ err }, 'alerts: event check not enqueued'));
    },
  });
  log.info({ intervalSeconds: config.alerts.intervalSeconds, loki: Boolean(loki) }, 'alert watcher started');

  return {
    enabled: true,
    loki,
    checkNow: (containers) => enqueue(containers, `alerts-now-${randomBytes(9).toString('base64url')}`),
    async close() {
      events.close();
      unregister();
      await queue.close();
    },
  };
}
