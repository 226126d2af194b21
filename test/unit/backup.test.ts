import { describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { buildRegistry, resolveCommand } from '../../src/shared/registry/registry.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import backup from '../../commands/backup.ts';
import backups from '../../commands/backups.ts';
import restore, { isRestorePlan, restorePlanLines } from '../../commands/restore.ts';
import drill from '../../commands/drill.ts';
import { OpsError } from '../../src/shared/errors.ts';
import type { BackupManifest, RestorePlan } from '../../src/shared/contracts/backup.ts';
import { TarHasher } from '../../src/features/backup/tar-hash.ts';
import { toKeep } from '../../src/features/backup/retention.ts';
import { kindFromProcesses } from '../../src/features/backup/discover.ts';
import { countDiff } from '../../src/features/backup/apply.ts';
import { parseKeyspace } from '../../src/features/backup/redis-source.ts';
import { ExecDemux } from '../../src/features/backup/engine-exec.ts';
import { checkStored, decryptTest, openArtifact, writeArtifact } from '../../src/features/backup/artifact.ts';
import { decrypterFor } from '../../src/features/backup/age-keys.ts';
import { dependentsOf } from '../../src/features/backup/plan.ts';
import { backupSection } from '../../src/shared/config/backup-schema.ts';

const registry = buildRegistry([backup, backups, restore, drill] as AnyCommand[]);

function bad(text: string): string {
  try {
    resolveCommand(registry, text);
  } catch (err) {
    expect(err).toBeInstanceOf(OpsError);
    return (err as OpsError).userMessage;
  }
  throw new Error(`accepted: ${text}`);
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('backup commands: parsing', () => {
  it('parses the forms users type', () => {
    expect(resolveCommand(registry, 'backup').args).toEqual({});
    expect(resolveCommand(registry, 'backup db files --label=before-migration').args).toEqual({ components: ['db', 'files'], label: 'before-migration' });
    expect(resolveCommand(registry, 'restore latest').args).toEqual({ backup: 'latest' });
    expect(resolveCommand(registry, 'restore backup-20251224-150000 db').args).toEqual({ backup: 'backup-20251224-150000', components: ['db'] });
    expect(resolveCommand(registry, 'drill').args).toEqual({});
    expect(resolveCommand(registry, 'drill backup-20251224-150000-pre-restore').args).toEqual({ backup: 'backup-20251224-150000-pre-restore' });
  });

  it('refuses bad names before anything runs', () => {
    expect(bad('restore')).toMatch(/backup/);
    expect(bad('restore ../etc/passwd')).toMatch(/backup name such as backup-20251224-153000/);
    expect(bad('restore backup-2025-01-01')).toMatch(/backup name/);
    expect(bad('restore latest "db;rm -rf /"')).toMatch(/component name/);
    expect(bad('backup --label=UPPER')).toMatch(/label/);
    expect(bad('drill cdb_backup_20251224_150000')).toMatch(/backup name/);
  });

  it('restore needs approval and shows the plan in the request', () => {
    expect(restore.approval).toBe(true);
    const plan: RestorePlan = {
      project: 'cdb', backup: 'backup-20251224-150000', requested: 'latest', backupCreatedAt: '2025-12-24T15:00:00.000Z', ageMs: 3 * 3600_000, encrypted: true, checksums: 'ok',
      items: [{ component: 'db', kind: 'postgres', targets: ['app'], service: 'db', container: 'cdb_db_1', dependents: ['app'], bytes: 2048 }, { component: 'grafana-data', kind: 'volume', targets: ['cdb_grafana-data'], dependents: ['grafana'], bytes: 100 }],
      stops: ['app', 'grafana'], fingerprint: '0123456789abcdef',
    };
    expect(isRestorePlan(plan)).toBe(true);
    expect(isRestorePlan({ ...plan, fingerprint: 'nope' })).toBe(false);
    const lines = restorePlanLines(plan);
    expect(lines[0]).toContain('backup-20251224-150000 (latest)');
    expect(lines[0]).toContain('3.0 h ago');
    expect(lines).toContain('REPLACES db (postgres, service db): database app · 2.0 KiB');
    expect(lines).toContain('Stopped meanwhile: app, grafana.');
    expect(restore.approvalPlan?.pin?.(plan, { backup: 'latest' })).toEqual({ backup: 'backup-20251224-150000', expectPlan: '0123456789abcdef' });
  });
});

describe('backup internals', () => {
  it('tells databases by their processes, not their image', () => {
    expect(kindFromProcesses(['/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/data', 'postgres: checkpointer'])).toBe('postgres');
    expect(kindFromProcesses(['redis-server 0.0.0.0:6379'])).toBe('redis');
    expect(kindFromProcesses(['mariadbd --datadir=/var/lib/mysql'])).toBe('mariadb');
    expect(kindFromProcesses(['/usr/sbin/mysqld'])).toBe('mariadb');
    expect(kindFromProcesses(['node server.js --postgres-url=x', 'sh -c redis-cli ping'])).toBeUndefined();
  });

  it('reads counts and differences', () => {
    expect(parseKeyspace('# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb1:keys=1,expires=0')).toEqual({ db0: 3, db1: 1 });
    expect(countDiff({ a: 1, b: 2 }, { a: 1, b: 2 })).toBe('');
    expect(countDiff({ a: 1, b: 2 }, { a: 1, b: 3, c: 1 })).toBe('b: 3 (backup 2), c: 1 (backup 0)');
    expect(countDiff(undefined, { a: 1 })).toBe('');
  });

  it('stops the services that need a database, transitively, plus configured ones', () => {
    const deps = new Map([['app', new Set(['db', 'cache'])], ['worker', new Set(['app'])], ['grafana', new Set<string>()]]);
    expect(dependentsOf('db', deps, {})).toEqual(['app', 'worker']);
    expect(dependentsOf('cache', deps, { cache: ['cron'] })).toEqual(['app', 'cron', 'worker']);
    expect(dependentsOf('grafana', deps, {})).toEqual([]);
  });

  it('keeps the newest N, the newest per day, and always the newest verified backup', () => {
    const m = (name: string, createdAt: string, verified = true): BackupManifest => ({ version: 1, name, project: 'p', kind: 'backup', createdAt, finishedAt: createdAt, requestedBy: { userId: 'U1' }, requestId: 'r', verified, artifacts: [] });
    const now = Date.parse('2025-12-24T12:00:00Z');
    const list = [
      m('backup-20251224-110000', '2025-12-24T11:00:00Z', false), m('backup-20251224-100000', '2025-12-24T10:00:00Z', false),
      m('backup-20251224-090000', '2025-12-24T09:00:00Z'), m('backup-20251223-230000', '2025-12-23T23:00:00Z'), m('backup-20251223-010000', '2025-12-23T01:00:00Z'),
      m('backup-20251201-010000', '2025-12-01T01:00:00Z'),
    ];
    expect([...toKeep(list, 1, 2, now)].sort()).toEqual(['backup-20251223-230000', 'backup-20251224-090000', 'backup-20251224-110000']);
    expect([...toKeep(list, 2, 0, now)].sort()).toEqual(['backup-20251224-090000', 'backup-20251224-100000', 'backup-20251224-110000']);
  });

  it('demultiplexes the Engine’s exec stream, however it is cut', async () => {
    const frame = (type: number, text: string) => {
      const body = Buffer.from(text);
      const h = Buffer.alloc(8);
      h[0] = type;
      h.writeUInt32BE(body.length, 4);
      return Buffer.concat([h, body]);
    };
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'warning\n'), frame(1, 'world'), frame(2, 'done')]);
    for (const cut of [1, 3, 7, 9, 100]) {
      const d = new ExecDemux();
      const out = collect(d);
      for (let i = 0; i < all.length; i += cut) d.write(all.subarray(i, i + cut));
      d.end();
      expect((await out).toString()).toBe('hello world');
      expect(d.stderr).toBe('warning\ndone');
    }
  });

  it('hashes every file of a tar stream (GNU long names, nested directories)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdbt-tar-'));
    try {
      const long = `${'x'.repeat(120)}.txt`;
      await mkdir(join(dir, 'v', 'sub'), { recursive: true });
      await writeFile(join(dir, 'v', 'a.txt'), 'hello\n');
      await writeFile(join(dir, 'v', 'sub', long), Buffer.alloc(70_000, 7));
      await writeFile(join(dir, 'v', 'empty'), '');
      await promisify(execFile)('tar', ['-C', dir, '-cf', join(dir, 'v.tar'), 'v']);
      const h = new TarHasher(1);
      await pipeline(createReadStream(join(dir, 'v.tar'), { highWaterMark: 999 }), h, new Writable({ write: (_c, _e, cb) => cb() }));
      const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
      expect(h.sorted()).toEqual({ 'a.txt': sha('hello\n'), empty: sha(''), [`sub/${long}`]: sha(Buffer.alloc(70_000, 7)) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes artifacts gzip → sha256 → age → 0600 and reads them back; a flipped byte is named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdbt-art-'));
    try {
      const identity = await generateIdentity();
      const recipient = await identityToRecipient(identity);
      const data = Buffer.concat(Array.from({ length: 40 }, (_, i) => Buffer.alloc(10_000, i)));
      for (const enc of [undefined, recipient]) {
        const path = join(dir, enc ? 'x.gz.age' : 'x.gz');
        const w = await writeArtifact(Readable.from([data.subarray(0, 150_000), data.subarray(150_000)]), path, { recipient: enc });
        expect(w.rawBytes).toBe(data.length);
        const entry = { component: 'c', kind: 'redis' as const, file: enc ? 'x.gz.age' : 'x.gz', target: 't', image: 'i', imageId: 'i', compression: 'gzip' as const, encrypted: Boolean(enc), ...w, startedAt: '', finishedAt: '' };
        await checkStored(path, entry, 'backup-20250101-000000');
        const keyFile = join(dir, 'key');
        await writeFile(keyFile, `${identity}\n`);
        const cfg = backupSection.parse({ identityFile: keyFile });
        const decrypter = enc ? await decrypterFor(cfg, [enc]) : undefined;
        if (decrypter) await decryptTest(path, entry, decrypter, 'backup-20250101-000000');
        expect((await collect(await openArtifact(path, entry, decrypter))).equals(data)).toBe(true);
        const buf = await readFile(path);
        buf[buf.length - 20] = (buf[buf.length - 20] ?? 0) ^ 1;
        await writeFile(path, buf);
        await expect(checkStored(path, entry, 'backup-20250101-000000')).rejects.toThrow(`\`${entry.file}\` is corrupted`);
      }
      const other = join(dir, 'other');
      await writeFile(other, `${await generateIdentity()}\n`);
      await expect(decrypterFor(backupSection.parse({ identityFile: other }), [recipient])).rejects.toMatchObject({ code: 'BACKUP_KEY_MISSING' });
      await expect(decrypterFor(backupSection.parse({}), [recipient])).rejects.toMatchObject({ code: 'BACKUP_KEY_MISSING' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
