// An approved command without a crash journal whose worker dies mid-run: a real worker process
// (`node --import tsx src/main/worker.ts`) is SIGKILLed while the job runs (test-only pause point,
// no timing). The request must not stay `executing`: it becomes `failed` (interrupted), its thread
// says what happened and that part of it may have been done, and it is never run again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { startBot, type RunningBot } from '../../src/main/start-bot.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import { buildRegistry } from '../../src/shared/registry/registry.ts';
import { ACTION_APPROVE } from '../../src/shared/approval/message.ts';
import { ApprovalStore } from '../../src/shared/approval/store.ts';
import { JOBS_QUEUE, queuePrefix } from '../../src/shared/queue/names.ts';
import restartCommand from '../../commands/restart.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { blockActionsBody, postSigned, slashCommandBody } from '../support/slack-sign.ts';
import { REDIS_URL } from '../support/harness.ts';
import { spawnWorker, waitForPause, type WorkerChild } from '../support/worker-process.ts';

const T = 180_000;
const SECRET = 'test-signing-secret-approval-crash-a87ff679a2f3e71d9181a67b';
const TEAM = 'T0001';
const CHANNEL = 'C2147483705';
const APP_ID = 'A123456';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

describe('an approved command whose worker is killed mid-run', () => {
  const prefix = `cdbt-${randomSuffix()}`;
  const project = `cdbt${randomSuffix()}`;
  const workers: WorkerChild[] = [];
  let slack: SlackStandin | undefined;
  let bot: RunningBot | undefined;
  let redis: Redis | undefined;
  let workDir = '';
  let workerConfig = '';
  let eventsUrl = '';

  const sl = (): SlackStandin => slack ?? (() => { throw new Error('slack stand-in did not start'); })();
  const r = (): Redis => redis ?? (() => { throw new Error('no redis'); })();

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'cdbt-approval-crash-'));
    slack = await startSlackStandin();
    const file = {
      stack: { project },
      redis: { prefix },
      slack: { appId: APP_ID },
      roles: { operator: { users: [ALICE] }, approver: { users: [BOB] } },
      // restart has no journal; listing it makes it need a second person.
      approvals: { commands: ['restart'] },
      security: { rateLimits: { enabled: false } },
      alerts: { enabled: false },
    };
    workerConfig = join(workDir, 'cdb.yaml');
    await writeFile(workerConfig, stringify({ ...file, slack: undefined }));
    const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const env = { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.apiUrl, SLACK_MODE: 'http', PORT: '0', REDIS_URL };
    bot = await startBot(buildConfig(file, env, '(approval crash bot)'), log, buildRegistry([restartCommand] as AnyCommand[]));
    eventsUrl = `http://127.0.0.1:${(bot.server?.address() as AddressInfo).port}/slack/events`;
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  }, T);

  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await bot?.close();
    await slack?.close();
    if (redis) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
    await rm(workDir, { recursive: true, force: true });
  }, T);

  it('closes the request as interrupted, says so in its thread, and never runs it again', async () => {
    const store = new ApprovalStore(r(), prefix);
    const pauseDir = await mkdtemp(join(workDir, 'pause-'));
    const w1 = spawnWorker(workerConfig, { pauseAt: ['job-restart:running'], pauseDir });
    workers.push(w1);
    await w1.started;

    const res = await postSigned(eventsUrl, slashCommandBody({ text: 'restart web', user_id: ALICE, user_name: 'alice', channel_id: CHANNEL, team_id: TEAM, response_url: sl().responseUrl(`cmd-${randomSuffix()}`) }), SECRET);
    expect(res.status).toBe(200);
    const id = await waitFor(async () => (await r().zrange(`${prefix}:approvals:pending`, 0, -1))[0], { what: 'a pending approval' });
    const record = await waitFor(async () => ((await store.get(id))?.messageTs ? store.get(id) : undefined), { what: 'the request to be posted' });
    const click = {
      type: 'block_actions', api_app_id: APP_ID, token: 'legacy', trigger_id: '1.2.3',
      team: { id: TEAM, domain: 'example' },
      user: { id: BOB, username: 'bob', name: 'bob', team_id: TEAM },
      container: { type: 'message', message_ts: record.messageTs, channel_id: CHANNEL, is_ephemeral: false },
      channel: { id: CHANNEL, name: 'ops' },
      message: { type: 'message', ts: record.messageTs, text: 'approval' },
      response_url: sl().responseUrl(`click-${randomSuffix()}`),
      state: { values: {} },
      actions: [{ type: 'button', block_id: 'cdb_approval_buttons', action_id: ACTION_APPROVE, value: id, action_ts: '1700000000.1' }],
    };
    expect((await postSigned(eventsUrl, blockActionsBody(click), SECRET)).status).toBe(200);

    // The job is running (approved → executing) when its worker is killed.
    await waitForPause(pauseDir, 'job-restart:running');
    expect((await store.get(id))?.state).toBe('executing');
    w1.kill('SIGKILL');
    await w1.exited;

    // No worker runs now: the bot alone notices the dead run (its run lock expired) and closes it.
    const closed = await waitFor(async () => {
      const now = await store.get(id);
      return now?.state === 'failed' ? now : undefined;
    }, { what: 'the request to be closed', timeoutMs: 90_000 });
    expect(closed.interrupted).toBe(true);
    expect(closed.reason).toMatch(/interrupted: the worker running it stopped/);
    const told = await waitFor(() => [...sl().messages.values()].find((m) => m.thread_ts === record.messageTs && /was interrupted/.test(m.text)), { what: 'the thread to be told' });
    expect(told.text).toMatch(/keeps no crash journal, so part of it may have been done/);
    expect(told.text).toContain('runbooks/interrupted-jobs.md');
    // The request's own message shows the final state, not "running…".
    await waitFor(() => /Approved by .*but failed/.test(JSON.stringify(sl().messages.get(`${CHANNEL}:${record.messageTs}`) ?? '')) || undefined, { what: 'the request message to show the failure' });
    const audit = (await r().xrange(`${prefix}:audit`, '-', '+')).map(([, f]) => JSON.parse(f[1] ?? '{}') as Record<string, unknown>);
    expect(audit.some((e) => e.requestId === id && e.outcome === 'failed' && e.code === 'JOB_INTERRUPTED')).toBe(true);

    // A worker that starts gets the stalled job back from BullMQ and refuses it without a second message.
    const w2 = spawnWorker(workerConfig);
    workers.push(w2);
    await w2.started;
    const queue = new Queue(JOBS_QUEUE, { connection: r(), prefix: queuePrefix({ redis: { prefix } } as Parameters<typeof queuePrefix>[0]) });
    try {
      // BullMQ's stalled-job check (every 30 s) hands the dead worker's job on once its lock expired.
      await waitFor(async () => (await queue.getJob(id))?.isFailed(), { what: 'the re-delivered job to be refused', timeoutMs: 120_000, intervalMs: 500 });
      expect((await queue.getJob(id))?.failedReason).toBe('JOB_INTERRUPTED');
    } finally {
      await queue.close();
    }
    expect([...sl().messages.values()].filter((m) => m.thread_ts === record.messageTs && /already started once/.test(m.text))).toHaveLength(0);
    expect((await store.get(id))?.state).toBe('failed');
    w2.kill('SIGTERM');
    await w2.exited;
  }, T);
});
