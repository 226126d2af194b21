// A rollback whose worker dies: real worker processes (`node --import tsx src/main/worker.ts`),
// killed with SIGKILL at exact steps (test-only pause points, no timing), recovered from the
// journal by a worker that starts or by a live worker's sweeper. The bot runs in-process with the
// Slack stand-in, so the approval flow and the thread message are the real ones. Also SIGTERM:
// the running rollback finishes before the worker exits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { parse, stringify } from 'yaml';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { startBot, type RunningBot } from '../../src/main/start-bot.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import { buildRegistry } from '../../src/shared/registry/registry.ts';
import { ACTION_APPROVE } from '../../src/shared/approval/message.ts';
import { ApprovalStore } from '../../src/shared/approval/store.ts';
import type { ApprovalRecord } from '../../src/shared/approval/types.ts';
import { JOBS_QUEUE } from '../../src/shared/queue/names.ts';
import rollbackCommand from '../../commands/rollback.ts';
import tagCommand from '../../commands/tag.ts';
import tagJob from '../../jobs/tag.ts';
import type { TagResult } from '../../src/shared/contracts/rollback.ts';
import { ensureAppImages, removeRollbackArtifacts, type AppImages } from '../support/app-images.ts';
import { runCommand } from '../support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { startSlackStandin, type SlackMessage, type SlackStandin } from '../support/slack-standin.ts';
import { blockActionsBody, postSigned, slashCommandBody } from '../support/slack-sign.ts';
import { REDIS_URL } from '../support/harness.ts';
import { releasePause, spawnWorker, waitForPause, type WorkerChild } from '../support/worker-process.ts';

const T = 300_000;
const SECRET = 'test-signing-secret-rollback-crash-5d41402abc4b2a76b9719d9';
const TEAM = 'T0001';
const CHANNEL = 'C2147483705';
const APP_ID = 'A123456';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

describe('rollback: a worker killed mid-rollback leaves the stack whole', () => {
  const docker = new Docker();
  const project = `cdbt${randomSuffix()}`;
  const prefix = `cdbt-${randomSuffix()}`;
  const workers: WorkerChild[] = [];
  let images: AppImages;
  let stack: ComposeStack | undefined;
  let slack: SlackStandin | undefined;
  let bot: RunningBot | undefined;
  let redis: Redis | undefined;
  let manifestDir = '';
  let workDir = '';
  let workerConfig = '';
  let eventsUrl = '';
  let tag = '';
  const requests: string[] = [];

  const s = (): ComposeStack => stack ?? (() => { throw new Error('stack did not start'); })();
  const sl = (): SlackStandin => slack ?? (() => { throw new Error('slack stand-in did not start'); })();
  const r = (): Redis => redis ?? (() => { throw new Error('no redis'); })();
  const lockKey = () => `${prefix}:rollback:${project}:lock`;

  const version = async (): Promise<string | null> => {
    const { host, port } = await s().hostPort('web', 8080);
    const res = await fetch(`http://${host}:${port}/version`).catch(() => undefined);
    return res?.ok ? (await res.text()).trim() : null;
  };

  const worker = (opts: { pauseAt?: string[]; pauseDir?: string } = {}): WorkerChild => {
    const w = spawnWorker(workerConfig, opts);
    workers.push(w);
    return w;
  };

  /** Stops a worker the way a supervisor does, and waits for it. */
  const stop = async (w: WorkerChild): Promise<void> => {
    w.kill('SIGTERM');
    await w.exited;
  };

  beforeAll(async () => {
    images = await ensureAppImages();
    manifestDir = await mkdtemp(join(tmpdir(), 'cdbt-manifests-'));
    workDir = await mkdtemp(join(tmpdir(), 'cdbt-crash-'));
    await runCommand('docker', ['tag', images.v1, `${project}/app:current`]);
    stack = await startComposeStack({ project, services: { web: { image: `${project}/app:current`, ports: ['127.0.0.1::8080'], restart: 'unless-stopped' } } });
    slack = await startSlackStandin();
    const file = {
      stack: { project, composeFiles: [stack.file] },
      redis: { prefix },
      slack: { appId: APP_ID },
      roles: { operator: { users: [ALICE] }, approver: { users: [BOB] } },
      rollback: { manifestDir, healthTimeoutSeconds: 60 },
      alerts: { enabled: false },
    };
    workerConfig = join(workDir, 'cdb.yaml');
    await writeFile(workerConfig, stringify({ ...file, slack: undefined }));
    const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    bot = await startBot(buildConfig(file, { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.apiUrl, SLACK_MODE: 'http', PORT: '0', REDIS_URL }, '(crash test bot)'), log, buildRegistry([rollbackCommand, tagCommand] as AnyCommand[]));
    eventsUrl = `http://127.0.0.1:${(bot.server?.address() as AddressInfo).port}/slack/events`;
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    await waitFor(async () => (await version()) === 'v1', { what: 'web v1 to answer', timeoutMs: 120_000 });
    const config = buildConfig({ ...file, slack: undefined }, { REDIS_URL }, '(tag)');
    const ctx = { requestId: 'req-crash-tag', actor: { userId: ALICE, teamId: TEAM }, config, docker, redis, log, signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined };
    tag = ((await tagJob.run(ctx, {})) as TagResult).tag;
    await runCommand('docker', ['tag', images.v2, `${project}/app:current`]);
    await s().compose(['up', '-d']);
    await waitFor(async () => (await version()) === 'v2', { what: 'web v2 to answer', timeoutMs: 120_000 });
  }, T);

  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await bot?.close();
    await slack?.close();
    await stack?.down().catch(() => undefined);
    await redis?.quit().catch(() => undefined);
    await removeRollbackArtifacts({ project, prefix, manifestDir, redisUrl: REDIS_URL });
    await rm(workDir, { recursive: true, force: true });
  }, T);

  /** `/cdb rollback latest` by Alice, approved by Bob; resolves with the approval request. */
  const requestAndApprove = async (): Promise<ApprovalRecord> => {
    const store = new ApprovalStore(r(), prefix);
    const before = new Set(await r().zrange(`${prefix}:approvals:recent`, 0, -1));
    const res = await postSigned(eventsUrl, slashCommandBody({ text: 'rollback latest', user_id: ALICE, user_name: 'alice', channel_id: CHANNEL, team_id: TEAM, response_url: sl().responseUrl(`cmd-${randomSuffix()}`) }), SECRET);
    expect(res.status).toBe(200);
    const id = await waitFor(async () => (await r().zrange(`${prefix}:approvals:pending`, 0, -1)).find((x) => !before.has(x)), { what: 'a new pending approval', timeoutMs: 60_000 });
    const record = await waitFor(async () => ((await store.get(id))?.messageTs ? store.get(id) : undefined), { what: 'the request to be posted', timeoutMs: 60_000 });
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
    requests.push(id);
    return record;
  };

  /** The request's message in its thread, as it reads now (posted, then updated in place). */
  const threadMessage = (record: ApprovalRecord, pattern: RegExp): Promise<SlackMessage> =>
    waitFor(() => [...sl().messages.values()].find((m) => m.thread_ts === record.messageTs && pattern.test(m.text)), { what: `a thread message matching ${pattern}`, timeoutMs: 120_000 });

  /** What must hold after any recovery: a serving container, no leftovers, lock free, journal closed. */
  const expectWhole = async (record: ApprovalRecord, state: 'executed' | 'failed', serving: 'v1' | 'v2') => {
    const store = new ApprovalStore(r(), prefix);
    await waitFor(async () => (await store.get(record.id))?.state === state, { what: `approval ${record.id} to be ${state}`, timeoutMs: 120_000 });
    expect(await version()).toBe(serving);
    const web = await s().container('web');
    expect(web.running).toBe(true);
    expect(web.health).toBe('healthy');
    const names = (await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } })).map((c) => (c.Names[0] ?? '').replace(/^\//, ''));
    expect(names).toEqual([`${project}_web_1`]);
    // The recoverer releases the lock and closes the journal right after it has reported.
    await waitFor(async () => (await r().exists(lockKey())) === 0, { what: 'the stack lock to be free', timeoutMs: 30_000, intervalMs: 100 });
    await waitFor(async () => (await r().scard(`${prefix}:journals:open:${project}`)) === 0, { what: 'no open journal', timeoutMs: 30_000, intervalMs: 100 });
  };

  it('reverts when killed right after the replacement was created; a worker that starts recovers it', async () => {
    const pauseDir = await mkdtemp(join(workDir, 'pause-'));
    const w1 = worker({ pauseAt: ['create:after'], pauseDir });
    await w1.started;
    const record = await requestAndApprove();
    await waitForPause(pauseDir, 'create:after');
    const created = (await docker.listContainers({ all: true, filters: { name: [`${project}_web_1_cdb-new-`] } })).map((c) => c.Names[0]);
    expect(created).toHaveLength(1);
    w1.kill('SIGKILL');
    await w1.exited;
    // The owner's heartbeat runs out; only then does a new worker start, so its start-up sweep is what recovers.
    await waitFor(async () => (await r().exists(`${prefix}:journal:${record.id}:alive`)) === 0, { what: 'the dead worker’s heartbeat to expire', timeoutMs: 30_000, intervalMs: 100 });
    const w2 = worker();
    await w2.started;
    await expectWhole(record, 'failed', 'v2');
    const message = await threadMessage(record, /took over/);
    expect(message.text).toMatch(/stopped after `create` of web \(.+_web_1\).*restored the previous containers/);
    expect(JSON.stringify(message.blocks)).toMatch(/Serving now:.*web: .*_web_1 on [0-9a-f]{12} \(.*app:current\), healthy/);
    expect(JSON.stringify(message.blocks)).toMatch(/Removed leftovers: .*_web_1_cdb-new-/);
    const approval = await new ApprovalStore(r(), prefix).get(record.id);
    expect(approval?.reason).toMatch(/interrupted: the worker stopped after create of web/);
    await expect(stat(join(s().dir, 'rollback.yml'))).rejects.toThrow();
    await stop(w2);
  }, T);

  it('reverts when killed after the old container stopped; the sweeper of a live worker recovers it', async () => {
    const pauseDir = await mkdtemp(join(workDir, 'pause-'));
    const w1 = worker({ pauseAt: ['stop:after'], pauseDir });
    await w1.started;
    const record = await requestAndApprove();
    await waitForPause(pauseDir, 'stop:after');
    expect((await s().container('web')).running).toBe(false);
    // A second worker, alive before the first dies: its periodic sweep finds the orphan.
    const w2 = worker();
    await w2.started;
    w1.kill('SIGKILL');
    await w1.exited;
    await expectWhole(record, 'failed', 'v2');
    const message = await threadMessage(record, /took over/);
    expect(message.text).toMatch(/stopped after `stop` of web .*restored the previous containers/);
    expect(w2.output()).toContain('recovering a rollback whose worker stopped');
    await stop(w2);
  }, T);

  it('reverts when killed after the replacement took the name but before it started', async () => {
    const pauseDir = await mkdtemp(join(workDir, 'pause-'));
    const w1 = worker({ pauseAt: ['rename:after'], pauseDir });
    await w1.started;
    const record = await requestAndApprove();
    await waitForPause(pauseDir, 'rename:after');
    const parked = await docker.listContainers({ all: true, filters: { name: [`${project}_web_1_cdb-parked-`] } });
    expect(parked).toHaveLength(1);
    w1.kill('SIGKILL');
    await w1.exited;
    const w2 = worker();
    await w2.started;
    await expectWhole(record, 'failed', 'v2');
    const message = await threadMessage(record, /took over/);
    expect(message.text).toMatch(/stopped after `rename` of web .*restored the previous containers/);
    // The very container that ran before serves again, with its restart policy back.
    const web = await docker.getContainer((await s().container('web')).id).inspect();
    expect(web.Id).toBe(parked[0]?.Id);
    expect(web.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
    await stop(w2);
  }, T);

  it('finishes when killed after the replacement started: parked container removed, pin written, approval executed', async () => {
    const pauseDir = await mkdtemp(join(workDir, 'pause-'));
    const w1 = worker({ pauseAt: ['start:after'], pauseDir });
    await w1.started;
    const record = await requestAndApprove();
    await waitForPause(pauseDir, 'start:after');
    w1.kill('SIGKILL');
    await w1.exited;
    const w2 = worker();
    await w2.started;
    await expectWhole(record, 'executed', 'v1');
    const message = await threadMessage(record, /took over/);
    expect(message.text).toMatch(/stopped after `start` of web .*had succeeded, so it finished it \(pinned\)/);
    expect(JSON.stringify(message.blocks)).toMatch(/Removed leftovers: .*_web_1_cdb-parked-/);
    const overlay = parse(await readFile(join(s().dir, 'rollback.yml'), 'utf8')) as { services: Record<string, { image: string }> };
    expect(overlay.services).toEqual({ web: { image: `cdb-rollback/${project}/web:${tag}` } });
    await stop(w2);
  }, T);

  it('on SIGTERM lets the running rollback finish, then exits', async () => {
    // Back to v2 (compose keeps a rolled-back container unless forced) and no pin.
    await s().compose(['up', '-d', '--force-recreate']);
    await rm(join(s().dir, 'rollback.yml'), { force: true });
    await waitFor(async () => (await version()) === 'v2' && (await s().container('web')).health === 'healthy', { what: 'web v2 again', timeoutMs: 120_000 });
    const pauseDir = await mkdtemp(join(workDir, 'pause-'));
    const w1 = worker({ pauseAt: ['stop:before'], pauseDir });
    await w1.started;
    const record = await requestAndApprove();
    await waitForPause(pauseDir, 'stop:before');
    w1.kill('SIGTERM');
    await waitFor(() => w1.output().includes('"shutting down"'), { what: 'the worker to take the SIGTERM', timeoutMs: 30_000, intervalMs: 25 });
    releasePause(pauseDir, 'stop:before');
    expect(await w1.exited).toBe(0);
    await expectWhole(record, 'executed', 'v1');
    await threadMessage(record, /Rolled back to/);
  }, T);

  it('a redelivered job of a killed worker does not overwrite the recovery report', async () => {
    // BullMQ hands the killed workers' jobs out again once their locks lapse; the gate refuses them
    // (the approval ran once) and, as a journal owns their outcome, says nothing in the thread.
    const w = worker();
    await w.started;
    const jobs = new Queue(JOBS_QUEUE, { connection: r(), prefix: `${prefix}:q` });
    try {
      const killed = requests.slice(0, 4);
      await waitFor(async () => {
        const states = await Promise.all(killed.map(async (id) => (await jobs.getJob(id))?.getState()));
        return states.every((st) => st === 'failed' || st === 'completed');
      }, { what: 'the killed workers’ jobs to be settled', timeoutMs: 180_000, intervalMs: 500 });
    } finally {
      await jobs.close();
    }
    await stop(w);
    expect(sl().calls.some((c) => /already started once/.test(JSON.stringify(c.args)))).toBe(false);
    for (const id of requests.slice(0, 4)) {
      const record = await new ApprovalStore(r(), prefix).get(id);
      const m = [...sl().messages.values()].find((x) => x.thread_ts === record?.messageTs && /took over/.test(x.text));
      expect(m, `report of ${id}`).toBeDefined();
    }
  }, T);
});
