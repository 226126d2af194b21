// The PostgreSQL dump script on its own, against a real server: the row counts it records are the
// dump's own (one exported snapshot, while the application writes), its psql session is gone when
// it ends, the configured compression level reaches pg_dump, and a failure says what failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { discover, type DbComponent } from '../../src/features/backup/discover.ts';
import { pgCounts, pgDump, pgExec, pgRestore } from '../../src/features/backup/postgres-source.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { ensureDbImage, PG_SERVING } from '../support/db-images.ts';
import { runCommand } from '../support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { REDIS_URL, T, docker } from './backup-fixture.ts';

describe('the PostgreSQL dump script', () => {
  const project = `cdbt${randomSuffix()}`;
  let dir = '';
  let stack: ComposeStack | undefined;
  let db: DbComponent;
  const psql = async (sql: string, database = 'app') =>
    (await runCommand('docker', ['exec', (await (stack as ComposeStack).container('db')).name, 'psql', '-U', 'postgres', '-d', database, '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql])).stdout.trim();
  const dumpTo = async (file: string, database: string, level: number) => {
    const dump = await pgDump(docker, db, database, level);
    await pipeline(dump.stdout, createWriteStream(file));
    return dump.finish();
  };

  beforeAll(async () => {
    const image = await ensureDbImage();
    dir = await mkdtemp(join(tmpdir(), 'cdbt-pgdump-'));
    await writeFile(join(dir, 'pg'), `pg${randomSuffix(12)}`);
    await chmod(join(dir, 'pg'), 0o644);
    stack = await startComposeStack({
      project,
      services: { db: { image, command: ['postgres'], environment: { POSTGRES_PASSWORD_FILE: '/run/secrets/pg', POSTGRES_DB: 'app' }, volumes: ['pgdata:/var/lib/postgresql/data', `${dir}/pg:/run/secrets/pg:ro`] } },
      extra: { volumes: { pgdata: {} } },
    });
    const name = (await stack.container('db')).name;
    await waitFor(async () => {
      await runCommand('docker', ['exec', name, ...PG_SERVING]);
      return (await psql('select 1')) === '1';
    }, { what: 'PostgreSQL to answer', timeoutMs: 120_000 });
    // Large enough that the dump takes a while, so the writer below commits during it.
    await psql("create table events(id bigserial primary key, body text not null); insert into events(body) select repeat(md5(g::text), 8) from generate_series(1, 200000) g; create table quiet(id int); insert into quiet select generate_series(1, 7);");
    const config = buildConfig({ stack: { project, composeFiles: [stack.file] } }, { REDIS_URL }, '(pg dump test)');
    const found = (await discover(docker, project, config.backup)).components.find((c) => c.name === 'db');
    if (!found || found.kind !== 'postgres') throw new Error(`discovery did not find the PostgreSQL service: ${JSON.stringify(found)}`);
    db = found;
  }, T);

  afterAll(async () => {
    await stack?.down().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, T);

  it('records the row counts of the dump itself while the application writes, and leaves no session open', async () => {
    // A writer committing one row at a time for the whole dump.
    const writer = psql("do $$ begin for i in 1..4000 loop insert into events(body) values ('during'); commit; end loop; end $$");
    const file = join(dir, 'app.pgdump');
    const meta = await dumpTo(file, 'app', 1);
    await writer;
    expect(meta.serverVersion).toMatch(/^15\./);
    expect(meta.counts?.['public.quiet']).toBe(7);
    const live = Number(await psql('select count(*) from events'));
    expect(live).toBe(204000);
    // What the dump holds, restored into a fresh database, is exactly what was counted.
    await pgExec(docker, db.containerId, 'postgres', 'postgres', 'create database checked', 'create the check database');
    await pgRestore(docker, db.containerId, 'postgres', 'checked', createReadStream(file));
    expect(await pgCounts(docker, db.containerId, 'postgres', 'checked')).toEqual(meta.counts);
    // The counting session ended with the script: no transaction (and so no snapshot) is left open.
    await waitFor(async () => (await psql("select count(*) from pg_stat_activity where datname = 'app' and pid <> pg_backend_pid()")) === '0', { what: 'the dump sessions to end', timeoutMs: 30_000 });
  }, T);

  it('hands the configured compression level to pg_dump', async () => {
    const stored = join(dir, 'z0.pgdump');
    const compressed = join(dir, 'z1.pgdump');
    const [m0, m1] = [await dumpTo(stored, 'app', 0), await dumpTo(compressed, 'app', 1)];
    expect(m0.counts).toEqual(m1.counts);
    // md5 text compresses about 2:1 at any level; uncompressed it cannot be under 1.5× the compressed size.
    expect((await stat(stored)).size).toBeGreaterThan((await stat(compressed)).size * 1.5);
  }, T);

  it('fails with the database named and psql’s own message when the database does not exist', async () => {
    await expect(dumpTo(join(dir, 'missing.pgdump'), 'nosuchdb', 1)).rejects.toThrow(/pg_dump of nosuchdb failed \(the counting session's psql exited 2\).*database "nosuchdb" does not exist/s);
  }, T);

  it('reports the counting session, not a killed script, when that session dies during the dump', async () => {
    const activity = (where: string) => psql(`select pid from pg_stat_activity where datname = 'app' and pid <> pg_backend_pid() and ${where}`);
    // A lock on `quiet` holds both the count and pg_dump there, so the session can be ended mid-dump.
    const locker = psql('begin; lock table quiet in access exclusive mode; select pg_sleep(300); commit').catch(() => 'ended');
    await waitFor(async () => (await activity("query like '%pg_sleep(300)%'")) !== '', { what: 'the lock holder', timeoutMs: 30_000 });
    const dump = dumpTo(join(dir, 'cut.pgdump'), 'app', 1).then(() => undefined, (err: Error) => err);
    await waitFor(async () => (await activity("application_name = 'psql' and wait_event_type = 'Lock'")) !== '', { what: 'the count waiting for the lock', timeoutMs: 30_000 });
    await psql("select pg_terminate_backend(pid) from pg_stat_activity where datname = 'app' and application_name = 'psql' and wait_event_type = 'Lock'");
    await psql("select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(300)%' and pid <> pg_backend_pid()");
    await locker;
    const err = await dump;
    expect(err?.message).toMatch(/pg_dump of app failed \(the counting session's psql exited 2\): .*terminating connection/s);
  }, T);
});
