import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { startHarness, REDIS_URL, type Harness } from '../support/harness.ts';
import { slashCommandDefaults } from '../support/slack-sign.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { APP_TOKEN, startSocketModeStandin, type SocketModeStandin } from '../support/socket-mode-standin.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { startBot, type RunningBot } from '../../src/main/start-bot.ts';
import { JOBS_QUEUE, queuePrefix } from '../../src/shared/queue/names.ts';

const FLOODER = 'U0FLOOD01';
const OTHER = 'U0OTHER01';
const ALL_STATES = ['waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed'] as const;

async function audit(redis: Redis, prefix: string): Promise<Record<string, unknown>[]> {
  const rows = await redis.xrange(`${prefix}:audit`, '-', '+');
  return rows.map(([, f]) => JSON.parse(f[1] ?? '{}') as Record<string, unknown>);
}

describe('rate limits: a flood of one user queues at most the limit, others still get answers', () => {
  let h: Harness;
  let jobs: Queue;

  beforeAll(async () => {
    h = await startHarness({ file: { roles: { viewer: { users: [FLOODER, OTHER] } }, security: { rateLimits: { perUser: 10, commands: { doctor: 3 }, windowSeconds: 3600 } } } });
    jobs = new Queue(JOBS_QUEUE, { connection: h.redis, prefix: queuePrefix(h.config) });
  });
  afterAll(async () => {
    await jobs?.close();
    await h?.close();
  });

  it('50 /cdb doctor at once: 3 queued, 47 told when to retry and audited; another user\'s /cdb status runs', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, async () => {
      const res = await h.slash('doctor', { user_id: FLOODER });
      expect(res.status).toBe(200);
      return ((await res.json()) as { response_type: string; text: string });
    }));
    const accepted = answers.filter((a) => a.text.includes('is on its way'));
    const limited = answers.filter((a) => a.text.includes('Slow down'));
    expect(accepted).toHaveLength(3);
    expect(limited).toHaveLength(47);
    for (const a of limited) {
      expect(a.response_type).toBe('ephemeral');
      expect(a.text).toMatch(/`\/cdb doctor` is limited to 3 runs per person in an hour\. Try again in \d+ s .*Nothing was queued\./);
    }
    // Enqueued after the acks (post-ack.ts): wait for the three accepted ones, then nothing else is there.
    const acceptedIds = accepted.map((a) => /request `([^`]+)`/.exec(a.text)?.[1]);
    await waitFor(async () => (await Promise.all(acceptedIds.map((id) => jobs.getJob(String(id))))).every(Boolean), { what: 'the three accepted doctor jobs', timeoutMs: 30_000 });
    const doctorJobs = (await jobs.getJobs([...ALL_STATES])).filter((j) => j.name === 'doctor');
    expect(doctorJobs).toHaveLength(3);

    const res = await h.slash('status', { user_id: OTHER });
    const ack = (await res.json()) as { text: string };
    expect(ack.text).toContain('is on its way');
    const requestId = /request `([^`]+)`/.exec(ack.text)?.[1];
    await waitFor(async () => (await audit(h.redis, h.config.redis.prefix)).find((e) => e.requestId === requestId && (e.outcome === 'succeeded' || e.outcome === 'failed')),
      { what: 'the other user\'s status to finish', timeoutMs: 120_000 });
    const refusals = (await audit(h.redis, h.config.redis.prefix)).filter((e) => e.code === 'RATE_LIMITED');
    expect(refusals).toHaveLength(47);
    expect(refusals[0]).toMatchObject({ command: 'doctor', outcome: 'rejected', actor: { userId: FLOODER } });
  });

  it('the per-user limit covers all commands together', async () => {
    // The flooder used 3 of 10 (refused commands do not count); seven more pass, the eleventh is refused.
    // The window is an hour and opens with the first command, so a slow machine cannot split the burst.
    const texts: string[] = [];
    for (let i = 0; i < 8; i++) texts.push(((await (await h.slash('help', { user_id: FLOODER })).json()) as { text: string }).text);
    expect(texts.slice(0, 7).every((t) => !t.includes('Slow down'))).toBe(true);
    expect(texts[7]).toMatch(/You can run 10 commands in an hour\. Try again in \d+ s/);
  });
});

describe('fairness: system jobs never wait behind users\' jobs', () => {
  let h: Harness;
  let jobs: Queue;

  beforeAll(async () => {
    h = await startHarness({ worker: false, file: { roles: { viewer: { users: [FLOODER] } } } });
    jobs = new Queue(JOBS_QUEUE, { connection: h.redis, prefix: queuePrefix(h.config) });
  });
  afterAll(async () => {
    await jobs?.close();
    await h?.close();
  });

  it('an alert tick or an approved job added after a user\'s queued commands is taken first', async () => {
    for (let i = 0; i < 4; i++) expect(((await (await h.slash('status', { user_id: FLOODER })).json()) as { text: string }).text).toContain('is on its way');
    // The way the alert watcher and the approval service enqueue: no priority.
    await jobs.add('alerts-tick', { tick: 1 }, { jobId: `tick-${randomSuffix()}` });
    await jobs.add('rollback', { approved: true }, { jobId: `approved-${randomSuffix()}` });
    const order: string[] = [];
    const worker = new Worker(JOBS_QUEUE, async (job) => { order.push(job.name); }, { connection: h.redis.duplicate({ maxRetriesPerRequest: null }), prefix: queuePrefix(h.config), concurrency: 1 });
    try {
      await waitFor(() => order.length === 6, { what: 'all six jobs to be taken', timeoutMs: 60_000 });
    } finally {
      await worker.close();
    }
    expect(order.slice(0, 2)).toEqual(['alerts-tick', 'rollback']);
    expect(order.slice(2)).toEqual(['status', 'status', 'status', 'status']);
  });
});

describe('Socket Mode: an envelope delivered twice runs once', () => {
  let slack: SlackStandin;
  let socket: SocketModeStandin;
  let bot: RunningBot;
  let redis: Redis;
  const prefix = `cdbt-${randomSuffix()}`;

  beforeAll(async () => {
    slack = await startSlackStandin();
    socket = await startSocketModeStandin(slack);
    const config = buildConfig({ stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix }, roles: { viewer: { users: [OTHER] } } },
      { SLACK_BOT_TOKEN: slack.botToken, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: slack.apiUrl, REDIS_URL });
    bot = await startBot(config, createLogger({ level: 'silent' }));
    redis = new Redis(REDIS_URL);
    await socket.connected();
  });
  afterAll(async () => {
    await bot?.close();
    await socket?.close();
    await slack?.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('acks the second delivery empty, enqueues one job and audits the replay', async () => {
    const envelopeId = `env-${randomSuffix()}`;
    const first = await socket.slashCommand({ ...slashCommandDefaults, text: 'status', user_id: OTHER }, { envelopeId });
    expect(String(first.text)).toContain('is on its way');
    const second = await socket.slashCommand({ ...slashCommandDefaults, text: 'status', user_id: OTHER }, { envelopeId });
    expect(second).toEqual({});
    const queue = new Queue(JOBS_QUEUE, { connection: redis, prefix: `${prefix}:q` });
    try {
      // Enqueued after the ack (post-ack.ts): wait for the first delivery's job, then count.
      const requestId = /request `([^`]+)`/.exec(String(first.text))?.[1];
      await waitFor(() => queue.getJob(String(requestId)), { what: 'the first delivery\'s job', timeoutMs: 30_000 });
      expect((await queue.getJobs([...ALL_STATES])).length).toBe(1);
    } finally {
      await queue.close();
    }
    await waitFor(async () => (await audit(redis, prefix)).find((e) => e.code === 'REPLAYED'), { what: 'the replay to be audited', timeoutMs: 30_000 });
  });
});
