import type { Server } from 'node:http';
import type { Worker } from 'bullmq';
import type { App } from '@slack/bolt';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { AuditLog } from '../shared/audit/audit.ts';
import { connectRedis, keyPrefix, queuePrefix, redisErrorReporter } from '../shared/queue/names.ts';
import { JobRouter } from '../bot/job-router.ts';
import { loadRegistry, type Registry } from '../shared/registry/registry.ts';
import { createSlackApp } from '../bot/create-app.ts';
import { startReplyConsumer, type ReplySink } from '../bot/reply-consumer.ts';
import { SlackSink } from '../bot/slack-sink.ts';
import { ApprovalAwareSink, startApprovalSweeper } from '../bot/approval/sweeper.ts';
import { startTargetWatch } from '../bot/target-watch.ts';
import { isMultiTarget } from '../shared/targets.ts';
import { startCheckpoints } from '../bot/audit-checkpoints.ts';
import { AwaitedJobs } from '../bot/awaited-jobs.ts';

export interface BotCore {
  readonly redis: Redis;
  readonly registry: Registry;
  readonly jobs: JobRouter;
  readonly audit: AuditLog;
  close(): Promise<void>;
}

/** Redis, the command registry, the jobs queue and the audit log: what every front end needs. */
export async function startBotCore(config: Config, log: Logger, registryOverride?: Registry): Promise<BotCore> {
  const redis = connectRedis(config, log);
  const registry = registryOverride ?? (await loadRegistry());
  // One queue per target (just `jobs` for a single stack); refuses targets without a live worker.
  const jobs = new JobRouter(config, redis, redisErrorReporter(redis, log));
  const audit = new AuditLog(redis, log, `${keyPrefix(config)}:audit`, config.audit.streamMaxLen, config.secrets.auditKey);
  return {
    redis, registry, jobs, audit,
    async close() {
      await jobs.close();
      await redis.quit();
    },
  };
}

export function consumeReplies(config: Config, core: BotCore, sink: ReplySink, log: Logger): Worker {
  return startReplyConsumer({ connection: core.redis, prefix: queuePrefix(config), sink, log, onError: redisErrorReporter(core.redis, log) });
}

export interface RunningBot {
  readonly app: App;
  /** Its Redis connection and queue, for /healthz and /metrics. */
  readonly core: BotCore;
  /** Set in HTTP mode: the server Bolt listens on (its port may be 0 in tests). */
  readonly server?: Server;
  close(): Promise<void>;
}

/** `registry` replaces the commands/ folder (tests add commands of their own). */
export async function startBot(config: Config, log: Logger, registry?: Registry): Promise<RunningBot> {
  const core = await startBotCore(config, log, registry);
  const { app, approvals, listen, close: closeApp } = createSlackApp({ config, registry: core.registry, jobs: core.jobs, audit: core.audit, log, redis: core.redis });
  const slackSink = new SlackSink(app.client, core.redis, core.registry, keyPrefix(config), config.channels.alerts);
  const sink = new ApprovalAwareSink(slackSink, approvals);
  // What the bot enqueued and waits on: a job that vanishes from Redis is reported as lost, not silence.
  const awaited = new AwaitedJobs({ jobs: core.jobs, redis: core.redis, keyPrefix: keyPrefix(config), sink, log });
  awaited.attach();
  await awaited.load();
  const observed = awaited.observe(sink);
  const replies = consumeReplies(config, core, observed, log);
  const lostCheck = awaited.start();
  // HTTP: our own server, the signed-request gate in front of Bolt's receiver (http-gate.ts).
  const server = listen ? await listen(config.slack.port) : undefined;
  if (!listen) await app.start();
  // Expiry, recovery of approved-but-unqueued requests, runs whose worker died, and the group mirror;
  // all state is in Redis. An interrupted run is told in its thread like any reply.
  const sweeper = startApprovalSweeper(approvals, log, { tell: (reply) => observed.deliver(reply) });
  // Targets whose workers disappear (or come back) are announced once in the alerts channel.
  const watch = isMultiTarget(config) || config.targets?.length ? startTargetWatch({ redis: core.redis, prefix: keyPrefix(config), overview: () => core.jobs.overview(), notify: (n) => sink.deliver(n), log }) : undefined;
  const checkpoints = startCheckpoints({ config, audit: core.audit, redis: core.redis, client: app.client, log });
  log.info({ mode: config.slack.mode, project: config.stack.project }, 'bot started');
  let closed = false;
  return {
    app,
    core,
    server,
    async close() {
      if (closed) return;
      closed = true;
      checkpoints.stop();
      await sweeper.stop();
      await watch?.close();
      await lostCheck.stop();
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      } else {
        await app.stop();
      }
      await replies.close();
      await closeApp();
      await core.close();
    },
  };
}
