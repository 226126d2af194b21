// The real bot (HTTP receiver, the real commands/) in this process and the real worker as a child
// process (so a test can SIGKILL it), Slack replaced by the stand-in, against real Redis and Docker.
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildConfig } from '../../src/shared/config/load.ts';
import type { Config } from '../../src/shared/config/schema.ts';
import { createLogger } from '../../src/shared/log.ts';
import { startBot, type RunningBot } from '../../src/main/start-bot.ts';
import { ApprovalStore } from '../../src/shared/approval/store.ts';
import { ACTION_APPROVE } from '../../src/shared/approval/message.ts';
import type { ApprovalRecord } from '../../src/shared/approval/types.ts';
import type { Journal } from '../../src/features/rotation/engine.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { blockActionsBody, postSigned, slashCommandBody } from '../support/slack-sign.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { spawnWorker } from '../support/worker-process.ts';

export const SIGNING_SECRET = 'test-signing-secret-rotation-9b1d6c2f0e2a4d7c8e5f3a1b6c9d0e2f';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TEAM = 'T0001';
export const CHANNEL = 'C2147483705';
export const ALERTS = 'C0ALERTS01';
const APP_ID = 'A123456';
export const ALICE = 'U0ALICE';
export const BOB = 'U0BOB';

export interface RotationRig {
  readonly config: Config;
  readonly prefix: string;
  readonly slack: SlackStandin;
  readonly redis: Redis;
  /** Everything every worker process printed (stdout and stderr). */
  logs(): string;
  /** Starts a worker process; `pause` = `<step>:<before|after>` makes it stop there (CDB_TEST_ROTATION_PAUSE). */
  startWorker(pause?: string): Promise<ChildProcess>;
  killWorker(signal?: NodeJS.Signals): Promise<void>;
  /** `/cdb <text>` as Alice; approved by Bob; resolves with the request id once it is approved. */
  rotate(text: string): Promise<string>;
  slash(text: string, user?: string): Promise<string>;
  journal(secret: string): Promise<Journal | undefined>;
  /** Waits until the worker stopped at its pause point. */
  waitPaused(secret: string, point: string): Promise<void>;
  /** Waits until the rotation of `secret` (request `id`) has ended; returns its journal. */
  waitDone(secret: string, id: string): Promise<Journal>;
  record(id: string): Promise<ApprovalRecord | undefined>;
  /** The rendered result of a rotation of `secret` posted after call index `mark`. */
  resultText(secret: string, mark: number): Promise<string>;
  close(): Promise<void>;
}

async function startWithFile(given: Record<string, unknown>, dir: string, prefix: string, slack: SlackStandin): Promise<RotationRig> {
  // One user sends every command of the file: a burst no person would send, so no rate limit.
  const file = { security: { rateLimits: { enabled: false } }, ...given };
  const configPath = join(dir, 'cdb.json');
  await writeFile(configPath, JSON.stringify(file));
  const env = { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl, SLACK_MODE: 'http', PORT: '0', REDIS_URL };
  const config = buildConfig(file, env, '(rotation rig)');
  const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const bot: RunningBot = await startBot(config, log);
  const { port } = bot.server?.address() as AddressInfo;
  const eventsUrl = `http://127.0.0.1:${port}/slack/events`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const store = new ApprovalStore(redis, prefix);
  let output = '';
  let worker: ChildProcess | undefined;
  const all: ChildProcess[] = [];

  const slash = async (text: string, user = ALICE): Promise<string> => {
    const body = slashCommandBody({ text, user_id: user, user_name: user.toLowerCase(), channel_id: CHANNEL, team_id: TEAM, response_url: slack.responseUrl('cmd') });
    const res = await postSigned(eventsUrl, body, SIGNING_SECRET);
    if (res.status !== 200) throw new Error(`slash command answered ${res.status}`);
    return ((await res.json()) as { text: string }).text;
  };

  const rig: RotationRig = {
    config, prefix, slack, redis,
    logs: () => output,
    async startWorker(pause) {
      // One worker at a time: a leftover one would run the job without the pause point.
      await rig.killWorker('SIGTERM');
      const w = spawnWorker(configPath, { logLevel: 'debug', ...(pause ? { env: { CDB_TEST_ROTATION_PAUSE: pause } } : {}) });
      const child = w.child;
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      all.push(child);
      worker = child;
      await w.started;
      return child;
    },
    async killWorker(signal = 'SIGKILL') {
      const w = worker;
      if (!w || w.exitCode !== null || w.signalCode !== null) return;
      const gone = new Promise((r) => w.once('exit', r));
      w.kill(signal);
      await gone;
      worker = undefined;
    },
    slash,
    async rotate(text) {
      const mark = slack.responses.length;
      const ack = await slash(text);
      const answer = /Working on it/.test(ack)
        ? String((await slack.waitForResponse((r) => slack.responses.indexOf(r) >= mark && !/Working on it/.test(String(r.text)), 120_000)).text)
        : ack;
      const id = /request `([A-Za-z0-9_-]{22})`/.exec(answer)?.[1];
      if (!id) throw new Error(`no approval request in the answer: ${answer}`);
      const posted = await waitFor(async () => {
        const r = await store.get(id);
        return r?.messageTs ? r : undefined;
      }, { what: `request ${id} to be posted`, timeoutMs: 30_000 });
      const payload = {
        type: 'block_actions', api_app_id: APP_ID, token: 'legacy', trigger_id: '1.2.3',
        team: { id: TEAM, domain: 'example' },
        user: { id: BOB, username: 'bob', name: 'bob', team_id: TEAM },
        container: { type: 'message', message_ts: posted.messageTs, channel_id: posted.channel, is_ephemeral: false },
        channel: { id: posted.channel, name: 'ops' },
        message: { type: 'message', ts: posted.messageTs, text: 'approval' },
        response_url: slack.responseUrl('click-approve'),
        state: { values: {} },
        actions: [{ type: 'button', block_id: 'cdb_approval_buttons', action_id: ACTION_APPROVE, value: id, action_ts: '1700000000.1' }],
      };
      const res = await postSigned(eventsUrl, blockActionsBody(payload), SIGNING_SECRET);
      if (res.status !== 200) throw new Error(`approve click answered ${res.status}`);
      await waitFor(async () => ['approved', 'executing', 'executed', 'failed'].includes((await store.get(id))?.state ?? ''), { what: `request ${id} to be approved`, timeoutMs: 30_000 });
      return id;
    },
    async journal(secret) {
      const raw = await redis.get(`${prefix}:rotation:journal:${secret}`);
      return raw ? (JSON.parse(raw) as Journal) : undefined;
    },
    async waitPaused(secret, point) {
      await waitFor(async () => (await redis.get(`${prefix}:rotation:paused:${secret}`)) === point, { what: `the worker to pause at ${point}`, timeoutMs: 120_000, intervalMs: 100 });
      await redis.del(`${prefix}:rotation:paused:${secret}`);
    },
    async waitDone(secret, id) {
      return waitFor(async () => {
        const j = await rig.journal(secret);
        if (!j || j.requestId !== id || j.status === 'running') return undefined;
        return (await redis.sismember(`${prefix}:rotation:active`, secret)) ? undefined : j;
      }, { what: `the rotation of ${secret} to end`, timeoutMs: 240_000, intervalMs: 250 });
    },
    record: (id) => store.get(id),
    async resultText(secret, mark) {
      const re = new RegExp(`of ${secret} (done|failed|FAILED)`);
      const call = await slack.waitForCall((c) => slack.calls.indexOf(c) >= mark && (c.method === 'chat.postMessage' || c.method === 'chat.update') && re.test(String(c.args.text)), 120_000);
      return String(call.args.text);
    },
    async close() {
      for (const c of all) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await bot.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await slack.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

export async function startRigFor(project: string, secrets: Record<string, unknown>[], extra: { stateDir: string; composeFiles?: string[]; rotation?: Record<string, unknown> }): Promise<RotationRig> {
  const prefix = `cdbt-${randomSuffix()}`;
  const slack = await startSlackStandin();
  const dir = await mkdtemp(join(tmpdir(), 'cdbrot-rig-'));
  const file = {
    stack: { project, ...(extra.composeFiles ? { composeFiles: extra.composeFiles } : {}) },
    redis: { prefix },
    slack: { appId: APP_ID },
    channels: { alerts: ALERTS },
    roles: { viewer: { users: [ALICE] }, operator: { users: [ALICE] }, approver: { users: [BOB] } },
    worker: { concurrency: 2 },
    alerts: { enabled: false },
    rotation: { stateDir: extra.stateDir, leaseSeconds: 3, healthTimeoutSeconds: 90, secrets, ...(extra.rotation ?? {}) },
  };
  return startWithFile(file, dir, prefix, slack);
}
