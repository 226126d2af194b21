// MariaDB: found by its process, dumped with --single-transaction inside its container (root password
// from its own file), drilled in a scratch copy, and restored over the live database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import backupJob from '../../jobs/backup.ts';
import drillJob from '../../jobs/drill.ts';
import restoreJob from '../../jobs/restore.ts';
import type { BackupResult, DrillResult, RestoreResult } from '../../src/shared/contracts/backup.ts';
import type { JobContext } from '../../src/worker/define-job.ts';
import { ensureDbImage } from '../support/db-images.ts';
import { runCommand } from '../support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { jobRedis } from '../support/harness.ts';
import { REDIS_URL, T, docker } from './backup-fixture.ts';

describe('MariaDB backup, drill and restore', () => {
  const project = `cdbt${randomSuffix()}`;
  const prefix = `cdbt-${randomSuffix()}`;
  const password = `my${randomBytes(10).toString('hex')}`;
  let dir = '';
  let stack: ComposeStack | undefined;
  const redis = jobRedis();
  const sql = async (q: string) => (await runCommand('docker', ['exec', (await (stack as ComposeStack).container('mdb')).name, 'mariadb', '-uroot', `-p${password}`, '-N', '-B', '-e', q])).stdout.trim();
  const ctx = (): JobContext => ({
    requestId: `req-${randomSuffix()}`, actor: { userId: 'U0TESTER', teamId: 'T0TEST' }, docker, redis, log: createLogger({ level: 'silent' }),
    config: buildConfig({ stack: { project, composeFiles: [(stack as ComposeStack).file] }, redis: { prefix }, backup: { dir: join(dir, 'backups'), healthTimeoutSeconds: 180 } }, { REDIS_URL }, '(mariadb test)'),
    signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined, approval: { id: 'approved-by-test', approvers: ['U0BOB'] },
  });

  beforeAll(async () => {
    const image = await ensureDbImage();
    dir = await mkdtemp(join(tmpdir(), 'cdbt-mariadb-'));
    await writeFile(join(dir, 'root'), password);
    await chmod(join(dir, 'root'), 0o644);
    stack = await startComposeStack({
      project,
      services: { mdb: { image, command: ['mariadb'], environment: { MARIADB_ROOT_PASSWORD_FILE: '/run/secrets/root', MARIADB_DATABASE: 'shop' }, volumes: ['mdata:/var/lib/mysql', `${dir}/root:/run/secrets/root:ro`] } },
      extra: { volumes: { mdata: {} } },
    });
    await waitFor(async () => (await sql('select 1')) === '1', { what: 'MariaDB to answer', timeoutMs: 180_000 });
    await sql("create table shop.orders(id int primary key, item varchar(40)); insert into shop.orders values (1,'a'),(2,'b'),(3,'c');");
    // A name that needs quoting, and an empty table: counted too.
    await sql("create table shop.`odd``name`(id int); insert into shop.`odd``name` values (1),(2); create table shop.empty(id int);");
  }, T);

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`).catch((): string[] => []);
    if (keys.length) await redis.del(...keys);
    await redis.quit().catch(() => redis.disconnect());
    await stack?.down();
    await rm(dir, { recursive: true, force: true });
  }, T);

  it('backs up, drills and restores', async () => {
    const made = (await backupJob.run(ctx(), {})) as BackupResult;
    expect(made.artifacts.map((a) => `${a.component}/${a.kind}/${a.target}`)).toEqual(['mdb/mariadb/shop']);
    // Exact per-table counts (SELECT COUNT(*)), in the manifest.
    expect(made.artifacts[0]?.counts).toEqual({ empty: 0, 'odd`name': 2, orders: 3 });
    const drill = (await drillJob.run(ctx(), {})) as DrillResult;
    expect(drill.checks).toEqual([expect.objectContaining({ component: 'mdb', target: 'shop', ok: true, detail: '3 tables, row counts match' })]);
    expect(drill.ok).toBe(true);
    await sql('delete from shop.orders where id > 1');
    const restored = (await restoreJob.run(ctx(), { backup: made.name })) as RestoreResult;
    expect(restored.ok).toBe(true);
    expect(restored.components[0]?.detail).toContain('3 tables, row counts match');
    expect(await sql('select group_concat(item order by id) from shop.orders')).toBe('a,b,c');
  }, T);
});
