// The scheduled doctor: BullMQ's job scheduler enqueues `doctor` on the configured cron; the run
// posts to the alerts thread only when the set of problems changed. Real Docker and Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import Docker from 'dockerode';
import type { Redis } from 'ioredis';
import doctorCommand from '../../commands/doctor.ts';
import job from '../../jobs/doctor.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import type { Config } from '../../src/shared/config/schema.ts';
import type { Notice } from '../../src/shared/contracts/envelope.ts';
import { lastRunKey } from '../../src/features/doctor/scheduled.ts';
import { DOCTOR_SCHEDULER_ID, SCHEDULED_REQUEST_ID, SCHEDULER_ACTOR, startDoctorSchedule } from '../../src/features/doctor/schedule.ts';
import { createLogger } from '../../src/shared/log.ts';
import { connectRedis, JOBS_QUEUE, queuePrefix, REPLIES_QUEUE } from '../../src/shared/queue/names.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import { buildRegistry } from '../../src/shared/registry/registry.ts';
import type { JobContext } from '../../src/worker/define-job.ts';
import type { AnyJob } from '../../src/worker/define-job.ts';
import { startWorker, type RunningWorker } from '../../src/worker/run-worker.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';

const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function makeConfig(project: string, prefix: string, schedule?: string): Config {
  return buildConfig({ stack: { project }, redis: { prefix }, doctor: { ...(schedule ? { schedule } : {}), timeoutSeconds: 30 } }, { REDIS_URL }, '(schedule test)');
}

describe('scheduled doctor', () => {
  const docker = new Docker();
  let stack: ComposeStack;
  let redis: Redis;
  let config: Config;

  beforeAll(async () => {
    stack = await startComposeStack({ project: `cdbt${randomSuffix()}`, services: { app: { command: ['sleep', '3600'], restart: 'unless-stopped' } } });
    config = makeConfig(stack.project, `cdbt-${randomSuffix()}`);
    redis = connectRedis(config);
  });

  afterAll(async () => {
    const keys = await redis?.keys(`${config.redis.prefix}:*`);
    if (keys?.length) await redis.del(...keys);
    await redis?.quit();
    await stack?.down();
  });

  it('posts only when the findings changed since the last run, and remembers the run in Redis', async () => {
    const notices: Omit<Notice, 'type'>[] = [];
    const ctx: JobContext = {
      requestId: SCHEDULED_REQUEST_ID, actor: { userId: SCHEDULER_ACTOR, teamId: 'local' }, config, docker, redis, log,
      signal: new AbortController().signal, progress: () => undefined,
      notify: async (n) => {
        notices.push(n);
      },
    };
    await job.run(ctx, {});
    expect(notices[0]).toMatchObject({ key: 'doctor', action: 'root', text: expect.stringContaining('findings changed') });
    expect(notices.slice(1).every((n) => n.key === 'doctor' && n.action === 'thread')).toBe(true);
    expect(JSON.stringify(notices)).toContain('run-as-root');
    const stored = JSON.parse((await redis.get(lastRunKey(config))) ?? '{}') as { digest: string; keys: string[] };
    expect(stored.keys).toContain(`run-as-root|fail|container|${stack.project}_app_1`);

    notices.length = 0;
    await job.run(ctx, {});
    expect(notices).toEqual([]);

    // The container dies: a new problem, so a new post naming it.
    await docker.getContainer((await stack.container('app')).id).update({ RestartPolicy: { Name: 'no' } });
    await docker.getContainer((await stack.container('app')).id).kill();
    await waitFor(async () => (await stack.container('app')).status === 'exited', { what: 'app to exit' });
    await job.run(ctx, {});
    expect(notices[0]?.text).toContain('findings changed');
    expect(JSON.stringify(notices[0]?.blocks)).toMatch(/New:\* container-health/);

    notices.length = 0;
    await job.run(ctx, {});
    expect(notices).toEqual([]);
  });

  it('runs on the cron from config through BullMQ and the real worker, and stops when the config drops it', async () => {
    const prefix = `cdbt-${randomSuffix()}`;
    const scheduled = makeConfig(stack.project, prefix, '*/2 * * * * *');
    const connection = connectRedis(scheduled);
    const jobs = new Queue(JOBS_QUEUE, { connection, prefix: queuePrefix(scheduled) });
    const replies = new Queue(REPLIES_QUEUE, { connection, prefix: queuePrefix(scheduled) });
    let worker: RunningWorker | undefined;
    try {
      await startDoctorSchedule(scheduled, connection, log);
      const scheduler = await jobs.getJobScheduler(DOCTOR_SCHEDULER_ID);
      expect(scheduler).toMatchObject({ pattern: '*/2 * * * * *', name: 'doctor', template: { data: { command: 'doctor', origin: { kind: 'schedule' }, args: {} } } });

      worker = startWorker({
        config: scheduled, docker, connection, log,
        jobs: new Map<string, AnyJob>([['doctor', job as unknown as AnyJob]]),
        registry: buildRegistry([doctorCommand as unknown as AnyCommand]),
      });
      const notices = async () => (await replies.getJobs(['waiting', 'active', 'completed'])).filter((j) => j.name === 'notice').sort((a, b) => a.timestamp - b.timestamp);
      // A run saves its state after posting: once it is there, the first run's notices are all queued.
      const at = async () => (JSON.parse((await connection.get(`${prefix}:doctor:last`)) ?? '{}') as { at?: string }).at;
      await waitFor(at, { what: 'a scheduled doctor run to finish', timeoutMs: 60_000 });
      const first = (await notices()).map((j) => j.data as Notice);
      expect(first[0]).toMatchObject({ type: 'notice', key: 'doctor', action: 'root' });
      expect(first.length).toBeGreaterThan(1);
      // Two more scheduled runs find the same problems: nothing more is posted.
      const seen = new Set([await at()]);
      await waitFor(async () => seen.add(await at()).size >= 3, { what: 'two more scheduled runs', timeoutMs: 60_000 });
      expect((await notices()).length).toBe(first.length);

      await startDoctorSchedule(makeConfig(stack.project, prefix), connection, log);
      expect(await jobs.getJobScheduler(DOCTOR_SCHEDULER_ID)).toBeUndefined();
    } finally {
      await worker?.close();
      await jobs.obliterate({ force: true }).catch(() => undefined);
      await replies.obliterate({ force: true }).catch(() => undefined);
      await jobs.close();
      await replies.close();
      const keys = await connection.keys(`${prefix}:*`);
      if (keys.length) await connection.del(...keys);
      await connection.quit();
    }
  });
});
