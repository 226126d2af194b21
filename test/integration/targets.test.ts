// Two targets sharing one Redis: one worker in this process (`web`), one in a child process
// (`services`, started as `npm run start:worker` would, with CDB_TARGET). Real bot, BullMQ, Docker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { buildConfig } from '../../src/shared/config/load.ts';
import { queuePrefix } from '../../src/shared/queue/names.ts';
import { ApprovalStore } from '../../src/shared/approval/store.ts';
import { ACTION_APPROVE } from '../../src/shared/approval/message.ts';
import { startWorkerProcess, type RunningWorkerProcess } from '../../src/main/start-worker.ts';
import { WORKER_ID } from '../../src/features/rotation/job-deps.ts';
import { readFile } from 'node:fs/promises';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { REDIS_URL, SIGNING_SECRET, startHarness, type Harness } from '../support/harness.ts';
import { spawnWorker } from '../support/worker-process.ts';
import { blockActionsBody, postSigned } from '../support/slack-sign.ts';

const OPERATOR = 'U0OPER1';
const APPROVER = 'U0APPR1';
const CHANNEL = 'C2147483705';
const ALERTS = 'C0ALERTS1';

describe('many targets: a worker per target on its own queue', () => {
  let h: Harness;
  let web: RunningWorkerProcess | undefined;
  let services: ChildProcess | undefined;
  let dir: string;
  let file: Record<string, unknown>;
  const suffix = randomSuffix();
  const projects = { web: `cdbtweb${suffix}`, services: `cdbtsvc${suffix}` };

  const ack = async (text: string, user = OPERATOR) => {
    const body = (await (await h.slash(text, { user_id: user })).json()) as { text: string; blocks?: unknown };
    return `${body.text}${body.blocks ? ` ${JSON.stringify(body.blocks)}` : ''}`;
  };
  let childLog = '';
  const startServices = async () => {
    services = spawnWorker(join(dir, 'cdb.json'), { logLevel: 'warn', env: { CDB_TARGET: 'services' } }).child;
    services.stderr?.setEncoding('utf8').on('data', (c: string) => (childLog = (childLog + c).slice(-5000)));
  };
  /** A message posted after call number `mark` (older notices, e.g. a heartbeat that lagged under load, do not count). */
  const posted = (match: RegExp, channel = CHANNEL, mark = 0) => h.slack.waitForCall((c) => h.slack.calls.indexOf(c) >= mark && c.method === 'chat.postMessage' && c.args.channel === channel && match.test(`${String(c.args.text)} ${JSON.stringify(c.args.blocks ?? [])}`), 60_000);

  /** The approver clicks Approve on request `id` (as Slack would post it). */
  const approve = async (id: string) => {
    const record = await new ApprovalStore(h.redis, h.config.redis.prefix).get(id);
    const click = {
      type: 'block_actions', api_app_id: 'A123456', token: 'legacy', trigger_id: '1.2.3', team: { id: 'T0001', domain: 'example' },
      user: { id: APPROVER, username: 'appr', name: 'appr', team_id: 'T0001' },
      container: { type: 'message', message_ts: record?.messageTs, channel_id: CHANNEL, is_ephemeral: false },
      channel: { id: CHANNEL, name: 'ops' }, message: { type: 'message', ts: record?.messageTs, text: 'approval' },
      response_url: h.slack.responseUrl('click'), state: { values: {} },
      actions: [{ type: 'button', block_id: 'cdb_approval_buttons', action_id: ACTION_APPROVE, value: id, action_ts: '1700000000.2' }],
    };
    await postSigned(h.eventsUrl, blockActionsBody(click), SIGNING_SECRET);
  };
  const secretFile = (name: string) => join(dir, 'secrets', name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cdbt-targets-'));
    await mkdir(join(dir, 'secrets'), { recursive: true });
    for (const n of ['web_secret', 'svc_secret']) await writeFile(secretFile(n), 'initial-value-of-the-secret', { mode: 0o600 });
    file = {
      targets: [{ name: 'web', project: projects.web }, { name: 'services', project: projects.services }],
      // Short, so the test sees a worker go within seconds (production default: 30).
      workerStaleSeconds: 6,
      redis: { prefix: `cdbt-${suffix}` },
      channels: { commands: [CHANNEL], alerts: ALERTS },
      roles: { viewer: { users: [OPERATOR] }, operator: { users: [OPERATOR] }, approver: { users: [APPROVER] } },
      approvals: { commands: ['restart'] },
      alerts: { enabled: false },
      // One secret on each target's stack (no consumers: the file is the whole rollout).
      // Never due during the test: only the scheduled jobs' envelopes are looked at (and one run by hand).
      doctor: { schedule: '0 6 1 1 *' },
      rotation: {
        checkSchedule: '0 9 1 1 *',
        stateDir: join(dir, 'rotation-state'),
        secrets: [
          { name: 'web_secret', kind: 'app-secret', file: secretFile('web_secret'), target: 'web' },
          { name: 'svc_secret', kind: 'app-secret', file: secretFile('svc_secret'), target: 'services' },
        ],
      },
    };
    await writeFile(join(dir, 'cdb.json'), JSON.stringify(file));
    h = await startHarness({ file, worker: false });
    web = await startWorkerProcess(buildConfig(file, { REDIS_URL }, '(web worker)'), h.log, undefined, { targets: 'web' });
    await startServices();
    await waitFor(async () => /services: cdbtsvc/.test(await ack('status')) && /web: cdbtweb/.test(await ack('status')), { what: 'both targets to report', timeoutMs: 60_000 });
  });

  afterAll(async () => {
    services?.kill('SIGKILL');
    await web?.close();
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('/cdb status without a target answers at once with one line per target; --on picks one', async () => {
    const summary = await ack('status');
    expect(summary).toMatch(new RegExp(`web: ${projects.web} — no containers; worker seen \\d+ s ago`));
    expect(summary).toMatch(new RegExp(`services: ${projects.services} — no containers`));

    expect(await ack('status --on services')).toMatch(/on `services` is on its way/);
    const msg = await posted(new RegExp(projects.services));
    expect(String(msg.args.text)).toMatch(/^\[services\]/);
    expect(JSON.stringify(msg.args.blocks)).not.toContain(projects.web);
    expect(JSON.stringify(msg.args.blocks)).toContain('target *services*');
    expect(await ack('status --on=web')).toMatch(/on `web` is on its way/);
    await posted(new RegExp(`\\[web\\][^]*${projects.web}`));
  });

  it('refuses an unknown or missing target with the list of targets, enqueuing nothing', async () => {
    expect(await ack('restart api')).toMatch(/Which target\? This bot manages 2: `web`, `services`\. Add `--on <target>`/);
    // With a service named, status is about one stack: which one must be said.
    expect(await ack('status api')).toMatch(/Which target\?/);
    expect(await ack('restart api --on db')).toMatch(/no target `db`\. Targets: `web`, `services`/);
    expect(await ack('status --on')).toMatch(/--on needs a value/);
    const q = new Queue('jobs-web', { connection: h.redis, prefix: queuePrefix(h.config) });
    // Users' jobs are prioritized (security.userJobPriority): a queued one would be counted there.
    const counts = await q.getJobCounts('waiting', 'prioritized');
    expect((counts.waiting ?? 0) + (counts.prioritized ?? 0)).toBe(0);
    await q.close();
  });

  it('lists targets with their workers and queues', async () => {
    const text = await ack('targets');
    expect(text).toMatch(/web\s+cdbtweb\S*\s+up\s/);
    expect(text).toMatch(/services\s+cdbtsvc\S*\s+up\s/);
    expect(text).toMatch(/0 waiting, 0 active/);
  });

  it('binds the target into the approval: an approval for web never runs on services', async () => {
    h.slack.reset();
    // The web worker is stopped, so the approved job waits in web's queue.
    await web?.close();
    web = undefined;
    const before = await ack('restart api --on web');
    expect(before).toMatch(/needs a second person’s approval/);
    const id = /request `([A-Za-z0-9_-]{22})`/.exec(before)?.[1] ?? '';
    const store = new ApprovalStore(h.redis, h.config.redis.prefix);
    const record = await store.get(id);
    expect(record?.target).toBe('web');
    expect(record?.summary[0]).toBe('Target: web');
    const click = {
      type: 'block_actions', api_app_id: 'A123456', token: 'legacy', trigger_id: '1.2.3', team: { id: 'T0001', domain: 'example' },
      user: { id: APPROVER, username: 'appr', name: 'appr', team_id: 'T0001' },
      container: { type: 'message', message_ts: record?.messageTs, channel_id: CHANNEL, is_ephemeral: false },
      channel: { id: CHANNEL, name: 'ops' }, message: { type: 'message', ts: record?.messageTs, text: 'approval' },
      response_url: h.slack.responseUrl('click'), state: { values: {} },
      actions: [{ type: 'button', block_id: 'cdb_approval_buttons', action_id: ACTION_APPROVE, value: id, action_ts: '1700000000.1' }],
    };
    await postSigned(h.eventsUrl, blockActionsBody(click), SIGNING_SECRET);
    const webQ = new Queue('jobs-web', { connection: h.redis, prefix: queuePrefix(h.config) });
    const svcQ = new Queue('jobs-services', { connection: h.redis, prefix: queuePrefix(h.config) });
    try {
      const job = await waitFor(() => webQ.getJob(id), { what: 'the approved job in web’s queue' });
      // Someone copies it to services' queue, once as it is and once claiming target services.
      await svcQ.add(job.name, job.data, { jobId: id });
      await waitFor(async () => (await svcQ.getJob(id))?.isFailed(), { what: 'the copy to be refused' });
      expect((await svcQ.getJob(id))?.failedReason).toBe('TARGET_UNKNOWN');
      await (await svcQ.getJob(id))?.remove();
      await svcQ.add(job.name, { ...job.data, target: 'services' }, { jobId: id });
      await waitFor(async () => (await svcQ.getJob(id))?.isFailed(), { what: 'the re-targeted copy to be refused' });
      expect((await svcQ.getJob(id))?.failedReason).toBe('APPROVAL_TAMPERED');
      expect((await store.get(id))?.state).toBe('failed');
      expect((await store.get(id))?.reason).toMatch(/target/);
    } finally {
      await webQ.close();
      await svcQ.close();
    }
  });

  it('a target whose worker died is refused at once, the other keeps working, and the alerts channel hears both ways', async () => {
    h.slack.reset();
    web = await startWorkerProcess(buildConfig(file, { REDIS_URL }, '(web worker)'), h.log, undefined, { targets: 'web' });
    let mark = h.slack.calls.length;
    services?.kill('SIGKILL');
    await new Promise((r) => services?.once('exit', r));
    const gone = await posted(/Target \*services\*: no worker has been seen for \d+ s/, ALERTS, mark);
    expect(String(gone.args.text)).not.toMatch(/web/);
    expect(await ack('status --on services')).toMatch(/No worker for target `services` has been seen for \d+ s, so the command was not queued/);
    expect(await ack('status')).toMatch(/services: NO WORKER — none seen for \d+ s/);
    // web is untouched.
    expect(await ack('status --on web')).toMatch(/on its way/);
    await posted(new RegExp(`\\[web\\][^]*${projects.web}`));

    mark = h.slack.calls.length;
    await startServices();
    await posted(/Target \*services\*: a worker is back/, ALERTS, mark);
    expect(await ack('status --on services'), childLog).toMatch(/on its way/);
    await posted(new RegExp(`\\[services\\][^]*${projects.services}`));
  });

  it('rotations are per target: each secret is rotated by its own target’s worker, state and messages name the target', async () => {
    // Worker ids: this process runs web's worker; services' runs in the child.
    const prefix = h.config.redis.prefix;
    const journalOf = async (target: string, secret: string) => JSON.parse((await h.redis.get(`${prefix}:t:${target}:rotation:journal:${secret}`)) ?? 'null') as { workers: string[]; status: string } | null;
    // A secret of services asked on web: web's worker does not manage it (its plan job says so), nothing is posted.
    expect(await ack('rotate svc_secret --on web')).toMatch(/`svc_secret` is not a managed secret\. Managed secrets: `web_secret`/);
    for (const [target, secret] of [['web', 'web_secret'], ['services', 'svc_secret']] as const) {
      const mark = h.slack.calls.length;
      const asked = await ack(`rotate ${secret} --on ${target}`);
      expect(asked).toMatch(/needs a second person’s approval/);
      const id = /request `([A-Za-z0-9_-]{22})`/.exec(asked)?.[1] ?? '';
      expect((await new ApprovalStore(h.redis, prefix).get(id))?.summary[0]).toBe(`Target: ${target}`);
      await approve(id);
      const done = await posted(new RegExp(`^\\[${target}\\] Rotation of ${secret} done`), CHANNEL, mark);
      expect(JSON.stringify(done.args.blocks)).toContain(`target *${target}*`);
      const j = await journalOf(target, secret);
      expect(j?.status).toBe('succeeded');
      // web's rotation ran in this process (web's worker), services' in the child (services' worker).
      if (target === 'web') expect(j?.workers).toEqual([WORKER_ID]);
      else expect(j?.workers.length === 1 && !j.workers.includes(WORKER_ID), JSON.stringify(j?.workers)).toBe(true);
      // State is keyed by target: the other target has no trace of it.
      expect(await journalOf(target === 'web' ? 'services' : 'web', secret)).toBeNull();
      expect(await readFile(secretFile(secret), 'utf8')).not.toBe('initial-value-of-the-secret');
    }
  });

  it('scheduled jobs are per target: on the target’s queue, carrying its name, run by its worker', async () => {
    for (const target of ['web', 'services']) {
      const q = new Queue(`jobs-${target}`, { connection: h.redis, prefix: queuePrefix(h.config) });
      try {
        for (const id of ['doctor', 'secrets-check']) {
          const scheduler = await waitFor(() => q.getJobScheduler(id), { what: `the ${id} schedule of ${target}` });
          expect((scheduler.template?.data as { target?: string } | undefined)?.target, `${id} on ${target}`).toBe(target);
        }
        // What the scheduler will enqueue, enqueued now: the target's worker runs it (a job without
        // the target would be refused as TARGET_UNKNOWN).
        const template = (await q.getJobScheduler('secrets-check'))?.template;
        const job = await q.add('secrets-check', template?.data, { jobId: `check-now-${target}-${suffix}` });
        await waitFor(async () => ((await job.isCompleted()) || (await job.isFailed())) || undefined, { what: `the secrets check of ${target}` });
        expect((await q.getJob(job.id ?? ''))?.failedReason).toBeUndefined();
        expect(await job.isCompleted()).toBe(true);
      } finally {
        await q.close();
      }
    }
    // Nothing is scheduled on the single-stack queue nobody reads in a multi-target setup.
    const legacy = new Queue('jobs', { connection: h.redis, prefix: queuePrefix(h.config) });
    expect(await legacy.getJobSchedulers()).toEqual([]);
    await legacy.close();
  });

  it('/cdb rotate wireguard <tunnel> --on web: one command, the WireGuard job on web’s queue, target and tunnel approved', async () => {
    const mark = h.slack.calls.length;
    const asked = await ack('rotate wireguard web-services --on web');
    expect(asked).toMatch(/`\/cdb rotate` needs a second person’s approval/);
    const id = /request `([A-Za-z0-9_-]{22})`/.exec(asked)?.[1] ?? '';
    const record = await new ApprovalStore(h.redis, h.config.redis.prefix).get(id);
    expect(record).toMatchObject({ command: 'rotate', job: 'rotate-wireguard', target: 'web', args: { secret: 'wireguard', tunnel: 'web-services' } });
    expect(record?.summary.join(' ')).toMatch(/^Target: web New WireGuard keys .* tunnel web-services/);
    await approve(id);
    // This config has no tunnels: web's worker runs the WireGuard job and says so, naming the target.
    const failed = await posted(/`\/cdb rotate` on `web` failed: There is no WireGuard tunnel `web-services`/, CHANNEL, mark);
    expect(String(failed.args.text)).toMatch(/wireguard\.tunnels is empty/);
    const webQ = new Queue('jobs-web', { connection: h.redis, prefix: queuePrefix(h.config) });
    try {
      expect((await webQ.getJob(id))?.name).toBe('rotate-wireguard');
    } finally {
      await webQ.close();
    }
  });
});
