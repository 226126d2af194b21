// `/cdb rollback` end to end through the two-person approval flow: the real bot (HTTP receiver) and
// worker in-process with the real rollback commands and jobs, real Docker, Redis and docker-compose,
// Slack replaced by the stand-in. The approval request must show the plan; after approval the
// rollback runs with the plan's fingerprint pinned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { startBot, type RunningBot } from '../../src/main/start-bot.ts';
import { startWorker, type RunningWorker } from '../../src/worker/run-worker.ts';
import type { AnyJob } from '../../src/worker/define-job.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import { buildRegistry } from '../../src/shared/registry/registry.ts';
import { ACTION_APPROVE } from '../../src/shared/approval/message.ts';
import { ApprovalStore } from '../../src/shared/approval/store.ts';
import rollbackCommand from '../../commands/rollback.ts';
import tagCommand from '../../commands/tag.ts';
import tagJob from '../../jobs/tag.ts';
import rollbackJob from '../../jobs/rollback.ts';
import planJob from '../../jobs/rollback-plan.ts';
import type { TagResult } from '../../src/shared/contracts/rollback.ts';
import { ensureAppImages, type AppImages, removeRollbackArtifacts } from '../support/app-images.ts';
import { runCommand } from '../support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { blockActionsBody, postSigned, slashCommandBody, freshTriggerId } from '../support/slack-sign.ts';
import { waitForFinalReply } from '../support/final-reply.ts';

const T = 240_000;
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'test-signing-secret-rollback-approval-0b1c2d3e4f5a6b7c';
const TEAM = 'T0001';
const CHANNEL = 'C2147483705';
const APP_ID = 'A123456';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

describe('rollback through two-person approval', () => {
  const docker = new Docker();
  const project = `cdbt${randomSuffix()}`;
  const prefix = `cdbt-${randomSuffix()}`;
  let images: AppImages;
  let stack: ComposeStack | undefined;
  let slack: SlackStandin | undefined;
  let bot: RunningBot | undefined;
  let worker: RunningWorker | undefined;
  let connection: Redis | undefined;
  let manifestDir = '';
  let eventsUrl = '';

  const s = (): ComposeStack => {
    if (!stack) throw new Error('stack did not start');
    return stack;
  };
  const sl = (): SlackStandin => {
    if (!slack) throw new Error('slack stand-in did not start');
    return slack;
  };
  const version = async (): Promise<string | null> => {
    const { host, port } = await s().hostPort('web', 8080);
    const res = await fetch(`http://${host}:${port}/version`).catch(() => undefined);
    return res?.ok ? (await res.text()).trim() : null;
  };

  beforeAll(async () => {
    images = await ensureAppImages();
    manifestDir = await mkdtemp(join(tmpdir(), 'cdbt-manifests-'));
    await runCommand('docker', ['tag', images.v1, `${project}/app:current`]);
    stack = await startComposeStack({ project, services: { web: { image: `${project}/app:current`, ports: ['127.0.0.1::8080'], restart: 'unless-stopped' } } });
    slack = await startSlackStandin();
    const file = {
      stack: { project, composeFiles: [stack.file] },
      redis: { prefix },
      slack: { appId: APP_ID },
      roles: { operator: { users: [ALICE] }, approver: { users: [BOB] } },
      rollback: { manifestDir },
    };
    const env = { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.apiUrl, SLACK_MODE: 'http', PORT: '0', REDIS_URL };
    const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const registry = buildRegistry([rollbackCommand, tagCommand] as AnyCommand[]);
    bot = await startBot(buildConfig(file, env, '(rollback approval test)'), log, registry);
    eventsUrl = `http://127.0.0.1:${(bot.server?.address() as AddressInfo).port}/slack/events`;
    const workerConfig = buildConfig(file, { REDIS_URL }, '(rollback approval worker)');
    connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const jobs = new Map<string, AnyJob>([[tagJob.name, tagJob], [rollbackJob.name, rollbackJob], [planJob.name, planJob]] as Array<[string, AnyJob]>);
    worker = startWorker({ config: workerConfig, jobs, docker, connection, log, registry });
    await waitFor(async () => (await version()) === 'v1', { what: 'web v1 to answer', timeoutMs: 120_000 });
  }, T);

  afterAll(async () => {
    await worker?.close();
    await connection?.quit().catch(() => undefined);
    await bot?.close();
    await slack?.close();
    await stack?.down().catch(() => undefined);
    await removeRollbackArtifacts({ project, prefix, manifestDir, redisUrl: REDIS_URL });
  }, T);

  it('shows the plan in the request, and rolls back once approved', async () => {
    const redis = connection;
    if (!redis) throw new Error('beforeAll did not connect to Redis');
    const ctxConfig = buildConfig({ stack: { project, composeFiles: [s().file] }, redis: { prefix }, rollback: { manifestDir } }, { REDIS_URL }, '(tag)');
    const log = createLogger({ level: 'silent' });
    const tagged = (await tagJob.run({ requestId: 'req-tag-1', actor: { userId: ALICE, teamId: TEAM }, config: ctxConfig, docker, redis, log, signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined }, {})) as TagResult;
    await runCommand('docker', ['tag', images.v2, `${project}/app:current`]);
    await s().compose(['up', '-d']);
    await waitFor(async () => (await version()) === 'v2', { what: 'web v2 to answer', timeoutMs: 120_000 });
    const v1 = (await docker.getImage(images.v1).inspect()).Id.slice(7, 19);
    const v2 = (await docker.getImage(images.v2).inspect()).Id.slice(7, 19);

    const mark = sl().calls.length;
    const res = await postSigned(eventsUrl, slashCommandBody({ text: 'rollback latest', user_id: ALICE, user_name: 'alice', channel_id: CHANNEL, team_id: TEAM, response_url: sl().responseUrl('cmd') }), SECRET);
    expect(res.status).toBe(200);
    const posted = await sl().waitForCall((c) => sl().calls.indexOf(c) >= mark && c.method === 'chat.postMessage' && /Approval needed/.test(String(c.args.text)), 120_000);
    const body = JSON.stringify(posted.args.blocks);
    expect(body).toContain(`web: ${v2} → ${v1}`);
    expect(body).toContain(tagged.tag);
    const store = new ApprovalStore(connection as Redis, prefix);
    const id = await waitFor(async () => {
      const ids = await (connection as Redis).zrange(`${prefix}:approvals:pending`, 0, -1);
      return ids[0];
    }, { what: 'a pending approval request', timeoutMs: 30_000 });
    const record = await waitFor(async () => (await store.get(id))?.messageTs ? store.get(id) : undefined, { what: 'the request to be posted', timeoutMs: 30_000 });
    expect(record?.args.expectPlan).toMatch(/^[a-f0-9]{16}$/);

    const click = {
      type: 'block_actions', api_app_id: APP_ID, token: 'legacy', trigger_id: freshTriggerId(),
      team: { id: TEAM, domain: 'example' },
      user: { id: BOB, username: 'bob', name: 'bob', team_id: TEAM },
      container: { type: 'message', message_ts: record?.messageTs, channel_id: CHANNEL, is_ephemeral: false },
      channel: { id: CHANNEL, name: 'ops' },
      message: { type: 'message', ts: record?.messageTs, text: 'approval' },
      response_url: sl().responseUrl('click-approve'),
      state: { values: {} },
      actions: [{ type: 'button', block_id: 'cdb_approval_buttons', action_id: ACTION_APPROVE, value: id, action_ts: `${Date.now() / 1000}` }],
    };
    expect((await postSigned(eventsUrl, blockActionsBody(click), SECRET)).status).toBe(200);

    await waitFor(async () => (await store.get(id))?.state === 'executed', { what: 'the rollback to finish', timeoutMs: 180_000 });
    // What serves is read through a freshly published host port (the replacement's own), which the
    // engine's port proxy may answer a moment after the container is healthy: wait for v1, never sleep.
    await waitFor(async () => (await version()) === 'v1', { what: 'web v1 to answer after the rollback', timeoutMs: 60_000 });
    // Posted in the request's thread, or (a run over 2 s) as an update of the progress message there.
    const result = await waitForFinalReply(sl(), id, { channel: CHANNEL, timeoutMs: 60_000 });
    expect(result.thread_ts).toBe(record?.messageTs);
    expect(result.text).toMatch(/Rolled back to .*within the 60 s target/);
  }, T);
});
