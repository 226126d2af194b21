// The DR drill against a real stack (production untouched, scratch cleaned up), encrypted backups
// with an off-site copy over SFTP to a real sshd, the scheduled drill's incident, and a worker
// SIGKILLed in the middle of a restore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { createLogger } from '../../src/shared/log.ts';
import backupJob from '../../jobs/backup.ts';
import drillJob from '../../jobs/drill.ts';
import type { BackupManifest, BackupResult, DrillResult } from '../../src/shared/contracts/backup.ts';
import type { Reply } from '../../src/shared/contracts/envelope.ts';
import { recoverRestore } from '../../src/features/backup/recover.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { runCommand } from '../support/images.ts';
import { startSshd, type SshdHandle } from '../support/sshd.ts';
import { waitFor } from '../support/compose-stack.ts';
import { REDIS_URL, T, docker, startDrFixture, type DrFixture } from './backup-fixture.ts';

describe('DR drill, encryption, off-site copy and crash recovery', () => {
  let f: DrFixture;
  let sshd: SshdHandle | undefined;
  let offsiteDir = '';
  let keyDir = '';

  const production = async () => ({
    containers: (await Promise.all((await f.stack.ps()).map(async (c) => `${c.service}:${c.id}:${(await docker.getContainer(c.id).inspect()).State.StartedAt}`))).sort(),
    items: await f.tableHash('items'), keys: (await f.redisCli('DBSIZE')).trim(), files: await f.volumeFiles(),
  });
  const scratchLeft = async () => {
    const filter = `label=cdb.drill.project=${f.project}`;
    const out = await Promise.all([['ps', '-aq', '--filter', filter], ['volume', 'ls', '-q', '--filter', filter], ['network', 'ls', '-q', '--filter', filter]].map(async (a) => (await runCommand('docker', a)).stdout.trim()));
    return out.filter(Boolean);
  };

  beforeAll(async () => {
    f = await startDrFixture();
    sshd = await startSshd();
    offsiteDir = await mkdtemp(join(tmpdir(), 'cdbt-offsite-'));
    keyDir = await mkdtemp(join(tmpdir(), 'cdbt-agekey-'));
  }, T);

  afterAll(async () => {
    await sshd?.stop();
    await rm(offsiteDir, { recursive: true, force: true });
    await rm(keyDir, { recursive: true, force: true });
    await f?.cleanup();
  }, T);

  it('drills the latest backup in scratch containers, leaves production untouched and removes every scratch object', async () => {
    const made = (await backupJob.run(f.ctx(), {})) as BackupResult;
    const before = await production();
    const r = (await drillJob.run(f.ctx(), {})) as DrillResult;
    expect(r.error).toBeUndefined();
    expect(r.backup).toBe(made.name);
    expect(r.checks.map((c) => `${c.component}/${c.target}:${c.ok}`).sort()).toEqual(['cache/keys:true', 'db/app:true', 'db/postgres:true', 'files/' + made.artifacts.find((a) => a.kind === 'volume')?.target + ':true']);
    expect(r.ok).toBe(true);
    expect(r.cleanedUp).toMatchObject({ ok: true, networks: 1 });
    expect(r.cleanedUp.containers).toBeGreaterThanOrEqual(2);
    expect(r.scratchProject).not.toBe(f.project);
    expect(await production()).toEqual(before);
    expect(await scratchLeft()).toEqual([]);
  }, T);

  it('encrypts with age, copies off-site over SFTP (verified), and drills the encrypted backup with the key', async () => {
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const identityFile = join(keyDir, 'age.key');
    await writeFile(identityFile, `# test key\n${identity}\n`, { mode: 0o600 });
    const s = sshd as SshdHandle;
    const extra = { recipient, identityFile, offsite: { host: s.host, port: s.port, username: s.username, privateKeyFile: s.privateKeyPath, knownHostsFile: s.knownHostsPath, dir: offsiteDir } };
    const made = (await backupJob.run(f.ctx(extra), { label: 'enc' })) as BackupResult;
    expect(made.encrypted).toBe(true);
    expect(made.offsite).toMatchObject({ verified: true, host: s.host });
    const manifest = JSON.parse(await readFile(join(f.backupDir, made.name, 'manifest.json'), 'utf8')) as BackupManifest;
    expect(manifest.recipient).toBe(recipient);
    expect(JSON.stringify(manifest)).not.toContain(identity);
    // The off-site copy is byte-identical, and an ordinary age file.
    const remote = await readdir(join(offsiteDir, made.name));
    expect(remote.sort()).toEqual([...manifest.artifacts.map((a) => a.file), 'manifest.json'].sort());
    for (const a of manifest.artifacts) {
      const bytes = await readFile(join(offsiteDir, made.name, a.file));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(a.sha256);
      // PostgreSQL dumps are compressed by pg_dump and stored as written; the rest are gzipped.
      expect(a.file.endsWith(a.kind === 'postgres' ? '.pgdump.age' : '.gz.age')).toBe(true);
      expect(a.compression).toBe(a.kind === 'postgres' ? 'pg_dump' : 'gzip');
    }
    const d = new Decrypter();
    d.addIdentity(identity);
    const redisArt = manifest.artifacts.find((a) => a.kind === 'redis');
    const plain = await d.decrypt(new Uint8Array(await readFile(join(f.backupDir, made.name, redisArt?.file ?? ''))));
    expect(createHash('sha256').update(plain).digest('hex')).toBe(redisArt?.plainSha256);

    const before = await production();
    const r = (await drillJob.run(f.ctx(extra), { backup: made.name })) as DrillResult;
    expect(r.ok).toBe(true);
    expect(await production()).toEqual(before);
    const noKey = await drillJob.run(f.ctx({ recipient }), { backup: made.name }).then(() => 'ran', (e: Error) => e.message);
    expect(noKey).toMatch(/BACKUP_KEY_MISSING/);
  }, T);

  it('a failed scheduled drill opens an incident, and the next passing one resolves it', async () => {
    const made = (await backupJob.run(f.ctx(), { components: ['cache'] })) as BackupResult;
    const file = join(f.backupDir, made.name, 'cache.rdb.gz');
    const buf = await readFile(file);
    buf[0] = (buf[0] ?? 0) ^ 0xff;
    await writeFile(file, buf);
    const scheduled = { requestId: 'schedule-drill', actor: { userId: 'local:scheduler', teamId: 'local', name: 'scheduler' } };
    f.notices.length = 0;
    const failed = (await drillJob.run(f.ctx({}, scheduled), {})) as DrillResult;
    expect(failed.ok).toBe(false);
    expect(failed.error).toContain('cache.rdb.gz');
    const opened = f.notices.find((n) => n.key.startsWith('incident:drill-') && n.action === 'root');
    expect(opened?.text).toMatch(/scheduled DR drill of .* failed/);
    await rm(join(f.backupDir, made.name), { recursive: true });
    await backupJob.run(f.ctx(), {});
    const passed = (await drillJob.run(f.ctx({}, scheduled), {})) as DrillResult;
    expect(passed.checks.filter((c) => !c.ok).concat(passed.error ? [{ component: "error", target: "", ok: false, detail: passed.error }] : [])).toEqual([]);
    expect(passed.ok).toBe(true);
    expect(f.notices.find((n) => n.key === opened?.key && n.action === 'update-root')?.text).toMatch(/Resolved/);
    expect(f.notices.some((n) => n.key === `drill:${f.project}` && /PASS/.test(n.text))).toBe(true);
  }, T);

  it('a worker SIGKILLed mid-restore: the next worker reverts to the state before and reports it; the stack is whole', async () => {
    const made = (await backupJob.run(f.ctx(), {})) as BackupResult;
    await f.psql("delete from items where id > 100; insert into audit_log(what) values ('after the backup');");
    await f.redisCli('SET', 'after-backup', '1');
    const before = await production();
    const changed = { items: before.items, keys: before.keys, files: before.files };
    const requestId = `req-kill-${made.name.slice(-6)}`;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/restore-child.ts'], {
      env: { ...process.env, CDB_FAILPOINT: 'restore:after-swap', CDB_TEST_CONFIG: JSON.stringify(f.fileConfig()), CDB_TEST_BACKUP: made.name, CDB_TEST_REQUEST: requestId, REDIS_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(() => stderr.includes('failpoint restore:after-swap reached') || (child.exitCode !== null && Promise.reject(new Error(stderr))), { what: 'the restore to reach the swap', timeoutMs: 180_000 });
    child.kill('SIGKILL');
    await exited;
    // Half-restored: the app is stopped, the database already swapped.
    expect((await f.stack.container('app')).running).toBe(false);

    const sent: Reply[] = [];
    const config = buildConfig(f.fileConfig(), { REDIS_URL }, '(next worker)');
    const deps = { config, docker, connection: f.ctx().redis, log: createLogger({ level: 'silent' }), replies: { send: async (r: Reply) => void sent.push(r), notify: async (n: Omit<Reply & { type: 'notice' }, 'type'>) => void sent.push({ type: 'notice', ...n }) } };
    const text = await waitFor(() => recoverRestore(deps), { what: 'the next worker to recover the restore (the dead one’s lease expires first)', timeoutMs: 120_000, intervalMs: 1000 });
    expect(text).toMatch(/was interrupted at step “restoring”.*It was undone: the stack is back on the state before the restore \(safety backup backup-\d{8}-\d{6}-pre-restore\)/);
    const toThread = sent.find((r) => r.type === 'error');
    expect(toThread).toMatchObject({ requestId, command: 'restore', origin: { kind: 'slack', channel: 'C2147483705', threadTs: '1700000000.000100' } });
    expect(sent.some((r) => r.type === 'notice' && r.key === `restore:${requestId}`)).toBe(true);
    await waitFor(async () => (await f.stack.container('app')).health === 'healthy', { what: 'the app to be healthy again', timeoutMs: 120_000 });
    const after = await production();
    expect({ items: after.items, keys: after.keys, files: after.files }).toEqual(changed);
    expect((await f.psql("select count(*) from pg_database where datname like '%__cdb%'")).trim()).toBe('0');
    expect(await recoverRestore(deps)).toBeUndefined();
  }, T);
});
