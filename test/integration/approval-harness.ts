// The real bot (HTTP receiver) and worker in-process against real Redis, Slack replaced by the stand-in,
// with test-only commands whose job counts its runs. Shared by test/integration/approval*.test.ts.
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { buildConfig } from '../../src/shared/config/load.ts';
import { OpsError } from '../../src/shared/errors.ts';
import type { Config } from '../../src/shared/config/schema.ts';
import { createLogger, type Logger } from '../../src/shared/log.ts';
import { startBot, type RunningBot } from '../../src/main/start-bot.ts';
import { startWorker, type RunningWorker } from '../../src/worker/run-worker.ts';
import { createDocker } from '../../src/host/docker-client.ts';
import { defineJob, type AnyJob } from '../../src/worker/define-job.ts';
import { defineCommand, type AnyCommand } from '../../src/shared/registry/define-command.ts';
import { buildRegistry, type Registry } from '../../src/shared/registry/registry.ts';
import { JOBS_QUEUE, queuePrefix } from '../../src/shared/queue/names.ts';
import { ApprovalStore } from '../../src/shared/approval/store.ts';
import { ACTION_APPROVE, ACTION_CANCEL, ACTION_DENY, REASON_ACTION, REASON_BLOCK } from '../../src/shared/approval/message.ts';
import type { ApprovalRecord } from '../../src/shared/approval/types.ts';
import approvalsCommand from '../../commands/approvals.ts';
import { startSlackStandin, type SlackCall, type SlackStandin } from '../support/slack-standin.ts';
import { blockActionsBody, postSigned, slashCommandBody, freshTriggerId } from '../support/slack-sign.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';

export const SIGNING_SECRET = 'test-signing-secret-approval-3c59dc048e8850243be8079a5c74d079';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEAM = 'T0001';
export const CHANNEL = 'C2147483705';
export const APP_ID = 'A123456';
export const ALICE = 'U0ALICE'; // operator, the usual requester
export const DAVE = 'U0DAVE'; // operator, not an approver
export const BOB = 'U0BOB'; // approver
export const CAROL = 'U0CAROL'; // approver
export const ROBOT = 'U0ROBOT'; // listed as operator and approver, but Slack says it is a bot
export const GONE = 'U0GONE'; // listed as approver, but deactivated
export const APPROVER_GROUP = 'S0APPROVERS';
export const GRACE = 'U0GRACE'; // approver through APPROVER_GROUP only
export const MANY = Array.from({ length: 50 }, (_, i) => `U0MANY${String(i).padStart(2, '0')}`);

/** How often each request's job actually ran, by request id (the worker runs in this process). */
export const runs = new Map<string, number>();

const target = z.string().regex(/^[a-z0-9-]{1,30}$/);
const zapArgs = z.object({ target, expectPlan: z.string().regex(/^[a-f0-9]{8}$/).optional() }).strict();
const planArgs = z.object({ target }).strict();

/** The arguments each request's job ran with, by request id. */
export const ranWith = new Map<string, unknown>();

function zapCommand(name: string): AnyCommand {
  return defineCommand({
    kind: 'job', name, job: 'zap', summary: `test-only destructive command ${name}`, usage: `${name} <target>`, role: 'operator', approval: true,
    positionals: ['target'], args: zapArgs,
    approvalSummary: (a: z.output<typeof zapArgs>) => [`service ${a.target}: image test:2 → test:1 (recreated)`],
    slack: (r: { target: string }) => ({ text: `zapped ${r.target}` }),
    text: (r: { target: string }) => `zapped ${r.target}`,
  }) as AnyCommand;
}

const peek = defineCommand({
  kind: 'job', name: 'peek', job: 'peek', summary: 'harmless', usage: 'peek', role: 'operator', args: z.object({}).strict(),
  slack: () => ({ text: 'peeked' }), text: () => 'peeked',
}) as AnyCommand;

/** Like rollback: a read-only plan job says what will change, and its fingerprint is pinned into the request. */
const zapplan = defineCommand({
  ...(zapCommand('zapplan') as Extract<AnyCommand, { kind: 'job' }>),
  approvalPlan: {
    job: 'zap-plan',
    args: (a: Record<string, unknown>) => ({ target: a.target }),
    lines: (r: unknown) => [`plan: ${(r as { service: string }).service} test:2 → test:1`],
    pin: (r: unknown) => ({ expectPlan: (r as { fingerprint: string }).fingerprint }),
  },
}) as AnyCommand;

/** zap: 1 approver, 15 min; zap2: 2 approvers; zapfast: expires after 3 s; zapplan: with a plan. All enqueue `zap`. */
export const registry: Registry = buildRegistry([zapCommand('zap'), zapCommand('zap2'), zapCommand('zapfast'), zapplan, peek, approvalsCommand as AnyCommand]);

export const jobs = new Map<string, AnyJob>([
  ['zap', defineJob({ name: 'zap', args: zapArgs, async run(ctx, a) { runs.set(ctx.requestId, (runs.get(ctx.requestId) ?? 0) + 1); ranWith.set(ctx.requestId, a); return { target: a.target }; } }) as AnyJob],
  ['zap-plan', defineJob({
    name: 'zap-plan', args: planArgs,
    async run(_ctx, a) {
      if (a.target === 'broken') throw new OpsError('NOT_FOUND', 'There is no tag for broken.');
      return { service: a.target, fingerprint: 'abcd1234' };
    },
  }) as AnyJob],
  ['peek', defineJob({ name: 'peek', args: z.object({}).strict(), async run(ctx) { runs.set(ctx.requestId, (runs.get(ctx.requestId) ?? 0) + 1); return {}; } }) as AnyJob],
]);

export function fileConfig(prefix: string, approvers: string[] = [BOB, CAROL, ROBOT, GONE, ...MANY], fastMinutes = 0.05): Record<string, unknown> {
  return {
    stack: { project: `cdbt${randomSuffix()}` },
    redis: { prefix },
    slack: { appId: APP_ID },
    roles: { operator: { users: [ALICE, DAVE, ROBOT] }, approver: { users: approvers, groups: [APPROVER_GROUP] } },
    approvals: { overrides: { zap2: { required: 2 }, zapfast: { expiryMinutes: fastMinutes } } },
    // Alice asks for many approvals in a row; rate limits have their own test (request-guard.test.ts).
    security: { rateLimits: { enabled: false } },
  };
}

export interface ClickOptions {
  channel?: string;
  ts?: string;
  team?: string;
  userTeam?: string;
  appId?: string;
  value?: string;
  reason?: string;
}

export interface Rig {
  readonly config: Config;
  readonly slack: SlackStandin;
  readonly redis: Redis;
  readonly store: ApprovalStore;
  readonly queue: Queue;
  readonly log: Logger;
  bot: RunningBot;
  eventsUrl: string;
  worker?: RunningWorker;
  /** A signed slash command; returns the ephemeral ack's text. */
  slash(text: string, user?: string, fields?: Record<string, string>): Promise<string>;
  /** `/cdb <text>` that should create a request: returns its id. */
  request(text: string, user?: string): Promise<string>;
  /** A signed block_actions click on the request's own message (unless told otherwise). */
  click(kind: 'approve' | 'deny' | 'cancel', id: string, user: string, opts?: ClickOptions): Promise<Response>;
  /** The next chat.postEphemeral to `user` after `mark` (an index into slack.calls). */
  ephemeral(user: string, mark: number, match?: RegExp): Promise<SlackCall>;
  record(id: string): Promise<ApprovalRecord>;
  waitForState(id: string, state: ApprovalRecord['state']): Promise<ApprovalRecord>;
  auditFor(id: string): Promise<Record<string, unknown>[]>;
  startWorker(file?: Record<string, unknown>): Promise<void>;
  stopWorker(): Promise<void>;
  stopBot(): Promise<void>;
  /** A new bot process's worth of objects (app, receiver, sweeper) on the same Redis prefix. */
  startBot(): Promise<void>;
  restartBot(): Promise<void>;
  close(): Promise<void>;
}

export interface RigOptions {
  redisUrl?: string;
  worker?: boolean;
  prefix?: string;
  /** Expiry of `zapfast` in minutes (default 0.05 = 3 s). */
  fastMinutes?: number;
  /** Config sections added to (or replacing) the rig's, and extra environment for the bot. */
  file?: Record<string, unknown>;
  env?: Record<string, string>;
  registry?: Registry;
  /** A logger of the test's own (e.g. one that keeps every line, to look for a secret). */
  log?: Logger;
}

export async function startRig(opts: RigOptions = {}): Promise<Rig> {
  const redisUrl = opts.redisUrl ?? REDIS_URL;
  const prefix = opts.prefix ?? `cdbt-${randomSuffix()}`;
  const slack = await startSlackStandin();
  slack.setUser(ROBOT, { is_bot: true });
  slack.setUser(GONE, { deleted: true });
  slack.setUsergroup(APPROVER_GROUP, [GRACE]);
  const file = { ...fileConfig(prefix, undefined, opts.fastMinutes), ...opts.file };
  const env = { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl, SLACK_MODE: 'http', PORT: '0', REDIS_URL: redisUrl, ...opts.env };
  const rigRegistry = opts.registry ?? registry;
  const config = buildConfig(file, env, '(approval rig)');
  const log = opts.log ?? createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined); // reconnects by itself (the Redis restart test)
  const store = new ApprovalStore(redis, prefix);
  const queue = new Queue(JOBS_QUEUE, { connection: redis, prefix: queuePrefix(config) });
  const boot = async (): Promise<{ bot: RunningBot; eventsUrl: string }> => {
    const bot = await startBot(config, log, rigRegistry);
    const { port } = bot.server?.address() as AddressInfo;
    return { bot, eventsUrl: `http://127.0.0.1:${port}/slack/events` };
  };
  let workerConnection: Redis | undefined;

  const rig: Rig = {
    config, slack, redis, store, queue, log, ...(await boot()),
    async slash(text, user = ALICE, fields = {}) {
      const body = slashCommandBody({ text, user_id: user, user_name: user.toLowerCase(), channel_id: CHANNEL, team_id: TEAM, response_url: slack.responseUrl('cmd'), ...fields });
      const res = await postSigned(rig.eventsUrl, body, SIGNING_SECRET);
      if (res.status !== 200) throw new Error(`slash command answered ${res.status}`);
      return ((await res.json()) as { text: string }).text;
    },
    async request(text, user = ALICE) {
      const mark = slack.responses.length;
      const ack = await rig.slash(text, user);
      // Slow requests (a plan job) are acked first and answered through response_url.
      const answer = /Working on it/.test(ack)
        ? String((await slack.waitForResponse((r) => slack.responses.indexOf(r) >= mark && !/Working on it/.test(String(r.text)), 120_000)).text)
        : ack;
      const id = /request `([A-Za-z0-9_-]{22})`/.exec(answer)?.[1];
      if (!id) throw new Error(`no approval request in the answer: ${answer}`);
      await waitFor(async () => (await store.get(id))?.messageTs, { what: `request ${id} to be posted`, timeoutMs: 30_000 });
      return id;
    },
    async click(kind, id, user, o = {}) {
      const stored = await store.get(id);
      const channel = o.channel ?? stored?.channel ?? CHANNEL;
      const ts = o.ts ?? stored?.messageTs ?? '1.000001';
      const payload = {
        type: 'block_actions', api_app_id: o.appId ?? APP_ID, token: 'legacy', trigger_id: freshTriggerId(),
        team: { id: o.team ?? TEAM, domain: 'example' },
        user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: o.userTeam ?? o.team ?? TEAM },
        container: { type: 'message', message_ts: ts, channel_id: channel, is_ephemeral: false },
        channel: { id: channel, name: 'ops' },
        message: { type: 'message', ts, text: 'approval' },
        response_url: slack.responseUrl(`click-${kind}`),
        state: { values: o.reason ? { [REASON_BLOCK]: { [REASON_ACTION]: { type: 'plain_text_input', value: o.reason } } } : {} },
        actions: [{ type: 'button', block_id: 'cdb_approval_buttons', action_id: { approve: ACTION_APPROVE, deny: ACTION_DENY, cancel: ACTION_CANCEL }[kind], value: o.value ?? id, action_ts: `${Date.now() / 1000}` }],
      };
      return postSigned(rig.eventsUrl, blockActionsBody(payload), SIGNING_SECRET);
    },
    ephemeral(user, mark, match) {
      return slack.waitForCall((c) => slack.calls.indexOf(c) >= mark && c.method === 'chat.postEphemeral' && c.args.user === user && (!match || match.test(String(c.args.text))), 60_000);
    },
    async record(id) {
      const r = await store.get(id);
      if (!r) throw new Error(`no record ${id}`);
      return r;
    },
    waitForState(id, state) {
      return waitFor(async () => {
        const r = await store.get(id);
        return r?.state === state ? r : undefined;
      }, { what: `request ${id} to be ${state}`, timeoutMs: 60_000 });
    },
    async auditFor(id) {
      const rows = await redis.xrange(`${prefix}:audit`, '-', '+');
      return rows.map(([, f]) => JSON.parse(f[1] ?? '{}') as Record<string, unknown>).filter((e) => e.requestId === id);
    },
    async startWorker(override) {
      await rig.stopWorker();
      const workerConfig = buildConfig(override ?? file, { REDIS_URL: redisUrl }, '(approval rig worker)');
      workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
      workerConnection.on('error', () => undefined);
      rig.worker = startWorker({ config: workerConfig, jobs, docker: createDocker(workerConfig), connection: workerConnection, log, registry });
    },
    async stopWorker() {
      await rig.worker?.close();
      await workerConnection?.quit().catch(() => undefined);
      rig.worker = undefined;
      workerConnection = undefined;
    },
    async stopBot() {
      await rig.bot.close();
    },
    async startBot() {
      Object.assign(rig, await boot());
    },
    async restartBot() {
      await rig.stopBot();
      await rig.startBot();
    },
    async close() {
      await rig.stopWorker();
      await rig.bot.close();
      await queue.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await slack.close();
    },
  };
  if (opts.worker !== false) await rig.startWorker();
  return rig;
}
