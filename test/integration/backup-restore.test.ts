// Backup and restore end to end: the real bot (HTTP receiver) and worker in-process with the real
// backup/restore commands and jobs, a compose stack with real PostgreSQL and Redis (password files),
// a named volume and an app whose healthcheck reads the database; Slack is the stand-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { Writable } from 'node:stream';
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
import { OpsError } from '../../src/shared/errors.ts';
import backupCommand from '../../commands/backup.ts';
import backupsCommand from '../../commands/backups.ts';
import restoreCommand from '../../commands/restore.ts';
import backupJob from '../../jobs/backup.ts';
import backupsJob from '../../jobs/backups.ts';
import restoreJob from '../../jobs/restore.ts';
import restorePlanJob from '../../jobs/restore-plan.ts';
import type { BackupManifest, BackupResult, BackupsResult, RestorePlan, RestoreResult } from '../../src/shared/contracts/backup.ts';
import { pino } from 'pino';
import { waitFor } from '../support/compose-stack.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { blockActionsBody, postSigned, slashCommandBody } from '../support/slack-sign.ts';
import { REDIS_URL, T, docker, startDrFixture, type DrFixture } from './backup-fixture.ts';

const SECRET = 'test-signing-secret-backup-restore-5d41402abc4b2a76b9719d91';
const TEAM = 'T0001';
const CHANNEL = 'C2147483705';
const APP_ID = 'A123456';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

/** Everything that could leak: the job's log lines. */
function capturingLogger(lines: string[]) {
  return pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
}

async function rejection(p: Promise<unknown>): Promise<OpsError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpsError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('backup and restore', () => {
  let f: DrFixture;
  let slack: SlackStandin | undefined;
  let bot: RunningBot | undefined;
  let worker: RunningWorker | undefined;
  let connection: Redis | undefined;
  let eventsUrl = '';
  const logLines: string[] = [];

  const slash = async (text: string, user = ALICE) => {
    const res = await postSigned(eventsUrl, slashCommandBody({ text, user_id: user, user_name: user.toLowerCase(), channel_id: CHANNEL, team_id: TEAM, response_url: slack?.responseUrl('cmd') ?? '' }), SECRET);
    expect(res.status).toBe(200);
  };
  /** A result shows up as a new message or as an edit of the progress message. */
  const said = (re: RegExp, mark: number) => (slack as SlackStandin).waitForCall((c) => (slack as SlackStandin).calls.indexOf(c) >= mark && /chat\.(postMessage|update)/.test(c.method) && re.test(String(c.args.text)), 180_000);
  const state = async () => ({
    items: await f.tableHash('items'), count: (await f.psql('select count(*) from items')).trim(), audit: (await f.psql('select count(*) from audit_log')).trim(),
    keys: (await f.redisCli('DBSIZE')).trim(), session: (await f.redisCli('GET', 'session:1')).trim(), files: await f.volumeFiles(),
  });

  beforeAll(async () => {
    f = await startDrFixture();
    slack = await startSlackStandin();
    const file = { ...f.fileConfig(), slack: { appId: APP_ID }, roles: { operator: { users: [ALICE] }, approver: { users: [BOB] } } };
    const env = { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.apiUrl, SLACK_MODE: 'http', PORT: '0', REDIS_URL };
    const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const registry = buildRegistry([backupCommand, backupsCommand, restoreCommand] as AnyCommand[]);
    bot = await startBot(buildConfig(file, env, '(backup test)'), log, registry);
    eventsUrl = `http://127.0.0.1:${(bot.server?.address() as AddressInfo).port}/slack/events`;
    connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const jobs = new Map<string, AnyJob>([backupJob, backupsJob, restoreJob, restorePlanJob].map((j) => [j.name, j as AnyJob]));
    worker = startWorker({ config: buildConfig(file, { REDIS_URL }, '(backup worker)'), jobs, docker, connection, log: capturingLogger(logLines), registry });
  }, T);

  afterAll(async () => {
    await worker?.close();
    await connection?.quit().catch(() => undefined);
    await bot?.close();
    await slack?.close();
    await f?.cleanup();
  }, T);

  it('backs up, and a restore through two-person approval brings back identical data', async () => {
    const sl = slack as SlackStandin;
    const before = await state();
    let mark = sl.calls.length;
    await slash('backup');
    const done = await said(/^Backup backup-\d{8}-\d{6} of /, mark);
    const name = /(backup-\d{8}-\d{6})/.exec(String(done.args.text))?.[1] as string;
    const manifest = JSON.parse(await readFile(join(f.backupDir, name, 'manifest.json'), 'utf8')) as BackupManifest;
    expect(manifest.project).toBe(f.project);
    expect(manifest.verified).toBe(true);
    const pg = manifest.artifacts.find((a) => a.component === 'db' && a.target === 'app');
    expect(pg?.counts).toEqual({ 'public.audit_log': 40, 'public.items': 500 });
    expect(manifest.artifacts.find((a) => a.kind === 'redis')?.counts).toEqual({ db0: 3, db1: 1 });
    expect(Object.keys(manifest.artifacts.find((a) => a.kind === 'volume')?.files ?? {}).sort()).toEqual(['a.txt', 'sub/blob.bin', 'sub/with space.txt']);
    for (const file of await readdir(join(f.backupDir, name))) expect((await stat(join(f.backupDir, name, file))).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(done.args.blocks)).toContain('NOT encrypted');

    // The disaster: rows deleted and changed, keys gone, files deleted and changed.
    await f.psql("delete from items where id > 300; update items set name = 'changed' where id < 10; delete from audit_log;");
    await f.redisCli('DEL', 'session:1');
    await f.redisCli('SET', 'junk', '1');
    const app = (await f.stack.container('app')).name;
    await (await import('../support/images.ts')).runCommand('docker', ['exec', app, 'sh', '-c', 'rm /srv/files/a.txt && echo corrupted > /srv/files/sub/blob.bin']);
    expect((await state()).items).not.toBe(before.items);

    mark = sl.calls.length;
    await slash('restore latest');
    const request = await sl.waitForCall((c) => sl.calls.indexOf(c) >= mark && c.method === 'chat.postMessage' && /Approval needed/.test(String(c.args.text)), 120_000);
    const shown = JSON.stringify(request.args.blocks);
    expect(shown).toContain(`from ${name} (latest)`);
    expect(shown).toContain('REPLACES db (postgres, service db): databases app, postgres');
    expect(shown).toContain('REPLACES cache (redis');
    expect(shown).toContain('REPLACES files (volume): volume');
    expect(shown).toMatch(/Stopped meanwhile: app, cache/);
    const store = new ApprovalStore(connection as Redis, f.prefix);
    const id = await waitFor(async () => (await (connection as Redis).zrange(`${f.prefix}:approvals:pending`, 0, -1))[0], { what: 'a pending approval', timeoutMs: 30_000 });
    const record = await waitFor(async () => ((await store.get(id))?.messageTs ? store.get(id) : undefined), { what: 'the request to be posted', timeoutMs: 30_000 });
    expect(record?.args).toMatchObject({ backup: name, expectPlan: expect.stringMatching(/^[a-f0-9]{16}$/) });
    const click = {
      type: 'block_actions', api_app_id: APP_ID, token: 'legacy', trigger_id: '1.2.3', team: { id: TEAM, domain: 'example' },
      user: { id: BOB, username: 'bob', name: 'bob', team_id: TEAM },
      container: { type: 'message', message_ts: record?.messageTs, channel_id: CHANNEL, is_ephemeral: false }, channel: { id: CHANNEL, name: 'ops' },
      message: { type: 'message', ts: record?.messageTs, text: 'approval' }, response_url: sl.responseUrl('click'), state: { values: {} },
      actions: [{ type: 'button', block_id: 'cdb_approval_buttons', action_id: ACTION_APPROVE, value: id, action_ts: '1700000000.1' }],
    };
    mark = sl.calls.length;
    expect((await postSigned(eventsUrl, blockActionsBody(click), SECRET)).status).toBe(200);
    await waitFor(async () => (await store.get(id))?.state === 'executed', { what: 'the restore to finish', timeoutMs: 240_000 });
    const result = await said(/^Restored /, mark);
    expect(String(result.args.text)).toMatch(/recovery time \d+\.\d s/);

    const after = await state();
    expect(after).toEqual(before);
    expect((await f.stack.container('app')).health).toBe('healthy');
    // The replaced databases are gone, a safety backup of the state before is listed.
    expect((await f.psql("select count(*) from pg_database where datname like '%__cdb%'")).trim()).toBe('0');
    const listed = (await backupsJob.run(f.ctx(), {})) as BackupsResult;
    expect(listed.backups.map((b) => b.kind)).toEqual(['safety', 'backup']);
    expect(listed.backups[0]?.name).toMatch(/-pre-restore$/);

    // No secret anywhere: Slack, job data, logs, manifests.
    const jobData = await (connection as Redis).keys(`${f.prefix}:q:jobs:*`).then(async (keys) => Promise.all(keys.map((k) => (connection as Redis).hget(k, 'data').catch(() => null))));
    const manifests = await Promise.all(listed.backups.map((b) => readFile(join(f.backupDir, b.name, 'manifest.json'), 'utf8')));
    const everything = [JSON.stringify(sl.calls), JSON.stringify(sl.responses), jobData.join('\n'), logLines.join(''), manifests.join('\n')].join('\n');
    for (const pw of f.passwords) expect(everything).not.toContain(pw);
  }, T);

  it('refuses a corrupted artifact with the file named, and touches nothing', async () => {
    const made = (await backupJob.run(f.ctx(), { components: ['db'] })) as BackupResult;
    const file = join(f.backupDir, made.name, 'db.app.pgdump');
    const buf = await readFile(file);
    buf[Math.floor(buf.length / 2)] = (buf[Math.floor(buf.length / 2)] ?? 0) ^ 0xff;
    await writeFile(file, buf);
    const ids = (await f.stack.ps()).map((c) => `${c.id}:${c.status}`).sort();
    const hash = await f.tableHash('items');
    const planErr = await rejection(restorePlanJob.run(f.ctx(), { backup: made.name }));
    expect(planErr.code).toBe('BACKUP_INVALID');
    expect(planErr.userMessage).toContain('`db.app.pgdump` is corrupted');
    const runErr = await rejection(restoreJob.run(f.ctx({}, { approval: { id: 'approved-by-test', approvers: [BOB] } }), { backup: made.name }));
    expect(runErr.userMessage).toContain('db.app.pgdump');
    expect((await f.stack.ps()).map((c) => `${c.id}:${c.status}`).sort()).toEqual(ids);
    expect(await f.tableHash('items')).toBe(hash);
  }, T);

  it('refuses bad names, unknown components, another project’s backup and a missing private key, before anything', async () => {
    const ctx = f.ctx({}, { approval: { id: 'approved-by-test', approvers: [BOB] } });
    expect(restoreJob.args.safeParse({ backup: '../../etc/passwd' }).success).toBe(false);
    expect(restoreJob.args.safeParse({ backup: 'backup-20250101-000000;rm' }).success).toBe(false);
    expect(backupJob.args.safeParse({ components: ['db; rm -rf /'] }).success).toBe(false);
    const unknown = await rejection(backupJob.run(ctx, { components: ['nosuch'] }));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.userMessage).toMatch(/Unknown component `nosuch`. Known: `cache`, `db`, `files`/);
    const made = (await backupJob.run(ctx, { components: ['cache'] })) as BackupResult;
    const notIn = await rejection(restorePlanJob.run(ctx, { backup: made.name, components: ['db'] }));
    expect(notIn.userMessage).toMatch(/has no component `db`. It has: `cache`/);
    const missing = await rejection(restorePlanJob.run(ctx, { backup: 'backup-20000101-000000' }));
    expect(missing.code).toBe('NOT_FOUND');
    // Another project's backup, copied into this directory.
    const path = join(f.backupDir, made.name, 'manifest.json');
    const m = JSON.parse(await readFile(path, 'utf8')) as BackupManifest;
    await writeFile(path, JSON.stringify({ ...m, project: 'someone-else' }));
    const other = await rejection(restoreJob.run(ctx, { backup: made.name }));
    expect(other.code).toBe('BACKUP_INVALID');
    expect(other.userMessage).toContain('belongs to project `someone-else`');
    await writeFile(path, JSON.stringify(m));
    // Encrypted backups need the key: checked before anything stops.
    const { generateIdentity, identityToRecipient } = await import('age-encryption');
    const recipient = await identityToRecipient(await generateIdentity());
    // Backups are named to the second: wait for the clock to leave the first one's second.
    const nameNow = () => `backup-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15).replace('T', '-')}`;
    await waitFor(() => nameNow() !== made.name.slice(0, 22), { what: 'the next second', timeoutMs: 5_000, intervalMs: 50 });
    const enc = (await backupJob.run(f.ctx({ recipient }), { components: ['cache'] })) as BackupResult;
    expect(enc.encrypted).toBe(true);
    const ids = (await f.stack.ps()).map((c) => `${c.id}:${c.status}`).sort();
    const noKey = await rejection(restoreJob.run(f.ctx({ recipient }, { approval: { id: 'approved-by-test', approvers: [BOB] } }), { backup: enc.name }));
    expect(noKey.code).toBe('BACKUP_KEY_MISSING');
    expect((await f.stack.ps()).map((c) => `${c.id}:${c.status}`).sort()).toEqual(ids);
    const plan = (await restorePlanJob.run(ctx, { backup: enc.name })) as RestorePlan;
    expect(plan.encrypted).toBe(true);
  }, T);

  it('restore refuses to run without approval and when the stack changed since the plan', async () => {
    const ctx = f.ctx();
    expect((await rejection(restoreJob.run(ctx, { backup: 'latest' }))).code).toBe('APPROVAL_REQUIRED');
    const stale = await rejection(restoreJob.run(f.ctx({}, { approval: { id: 'approved-by-test', approvers: [BOB] } }), { backup: 'latest', expectPlan: '0000000000000000' }));
    expect(stale.userMessage).toMatch(/changed after the request was approved/);
  }, T);

  it('still restores a PostgreSQL artifact stored gzip-compressed by the worker (backups made before pg_dump kept its own compression)', async () => {
    const made = (await backupJob.run(f.ctx(), { components: ['db'], label: 'oldformat' })) as BackupResult;
    const dir = join(f.backupDir, made.name);
    const path = join(dir, 'manifest.json');
    const m = JSON.parse(await readFile(path, 'utf8')) as BackupManifest;
    expect(m.artifacts.map((a) => `${a.file}:${a.compression}`).sort()).toEqual(['db.app.pgdump:pg_dump', 'db.postgres.pgdump:pg_dump']);
    // Rewritten as the earlier format: `<file>.gz`, compression gzip, checksums of the gzip file.
    const artifacts = await Promise.all(m.artifacts.map(async (a) => {
      const body = await readFile(join(dir, a.file));
      const gz = gzipSync(body);
      await writeFile(join(dir, `${a.file}.gz`), gz, { mode: 0o600 });
      await rm(join(dir, a.file));
      const sha = createHash('sha256').update(gz).digest('hex');
      return { ...a, file: `${a.file}.gz`, compression: 'gzip' as const, bytes: gz.length, sha256: sha, plainSha256: sha, rawBytes: body.length };
    }));
    await writeFile(path, JSON.stringify({ ...m, artifacts }));
    const before = await state();
    await f.psql("delete from items where id % 2 = 0; insert into audit_log(what) values ('after the old-format backup')");
    expect(await state()).not.toEqual(before);
    const r = (await restoreJob.run(f.ctx({}, { approval: { id: 'approved-by-test', approvers: [BOB] } }), { backup: made.name })) as RestoreResult;
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(await state()).toEqual(before);
  }, T);
});
