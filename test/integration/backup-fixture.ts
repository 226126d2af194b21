// Shared by test/integration/backup*.test.ts: a compose stack with a real PostgreSQL (password
// file), a real Redis (password file), a named volume with files, and an app whose healthcheck
// reads from the database; the job context the backup jobs run with; cleanup of all of it.
import Docker from 'dockerode';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDbImage, PG_SERVING } from '../support/db-images.ts';
import { runCommand } from '../support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import type { JobContext } from '../../src/worker/define-job.ts';
import type { Notice } from '../../src/shared/contracts/envelope.ts';
import { jobRedis } from '../support/harness.ts';

export const T = 300_000;
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const docker = new Docker();

export interface DrFixture {
  readonly project: string;
  readonly stack: ComposeStack;
  readonly prefix: string;
  readonly backupDir: string;
  readonly secretsDir: string;
  /** The database and Redis passwords: tests assert they appear nowhere. */
  readonly passwords: readonly string[];
  readonly notices: Array<Omit<Notice, 'type'>>;
  readonly progress: string[];
  fileConfig(extra?: Record<string, unknown>): Record<string, unknown>;
  ctx(extra?: Record<string, unknown>, over?: Partial<JobContext>): JobContext;
  psql(sql: string): Promise<string>;
  redisCli(...args: string[]): Promise<string>;
  /** sha256 of a table's rows in a fixed order. */
  tableHash(table: string): Promise<string>;
  volumeFiles(): Promise<string>;
  cleanup(): Promise<void>;
}

const exec = async (container: string, cmd: string[]): Promise<string> => (await runCommand('docker', ['exec', container, ...cmd])).stdout;

export async function startDrFixture(): Promise<DrFixture> {
  const image = await ensureDbImage();
  const project = `cdbt${randomSuffix()}`;
  const prefix = `cdbt-${randomSuffix()}`;
  const secretsDir = await mkdtemp(join(tmpdir(), 'cdbt-secrets-'));
  const backupDir = await mkdtemp(join(tmpdir(), 'cdbt-backups-'));
  const pgPassword = `pg${randomBytes(12).toString('hex')}`;
  const redisPassword = `rd${randomBytes(12).toString('hex')}`;
  await writeFile(join(secretsDir, 'pg'), pgPassword);
  await writeFile(join(secretsDir, 'redis'), redisPassword);
  await chmod(join(secretsDir, 'pg'), 0o644);
  await chmod(join(secretsDir, 'redis'), 0o644);
  const hc = (test: string) => ({ test: ['CMD-SHELL', test], interval: '1s', timeout: '5s', retries: 60 });
  const stack = await startComposeStack({
    project,
    services: {
      db: {
        image, command: ['postgres'], restart: 'unless-stopped',
        environment: { POSTGRES_PASSWORD_FILE: '/run/secrets/pg', POSTGRES_DB: 'app' },
        volumes: ['pgdata:/var/lib/postgresql/data', `${secretsDir}/pg:/run/secrets/pg:ro`],
        healthcheck: hc('pg_isready -U postgres -d app -h 127.0.0.1'),
      },
      cache: {
        image, command: ['redis'], restart: 'unless-stopped',
        environment: { REDIS_PASSWORD_FILE: '/run/secrets/redis' },
        volumes: ['redisdata:/data', `${secretsDir}/redis:/run/secrets/redis:ro`],
      },
      app: {
        image, command: ['sh', '-c', 'mkdir -p /srv/files && exec sleep 100000'], restart: 'unless-stopped', depends_on: ['db', 'cache'],
        environment: { PGPASSFILE_SRC: '/run/secrets/pg' },
        volumes: ['files:/srv/files', `${secretsDir}/pg:/run/secrets/pg:ro`],
        // The app is healthy only while it can read its table from the database.
        healthcheck: hc('PGPASSWORD="$$(cat /run/secrets/pg)" psql -h db -U postgres -d app -Atc "select count(*) from items" >/dev/null'),
      },
    },
    extra: { volumes: { pgdata: {}, redisdata: {}, files: {} } },
  });
  const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const redis = jobRedis();
  const notices: Array<Omit<Notice, 'type'>> = [];
  const progress: string[] = [];
  const name = async (service: string) => (await stack.container(service)).name;
  const psql = async (sql: string) => exec(await name('db'), ['psql', '-U', 'postgres', '-d', 'app', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
  const redisCli = async (...args: string[]) => exec(await name('cache'), ['redis-cli', '--no-auth-warning', '-a', redisPassword, ...args]);
  // The real server, not the entrypoint's temporary one (PG_SERVING), then a query.
  await waitFor(async () => {
    await exec(await name('db'), PG_SERVING);
    return (await psql('select 1')).trim() === '1';
  }, { what: 'PostgreSQL to answer', timeoutMs: 120_000 });
  await psql("create table items(id int primary key, name text not null); insert into items select g, 'item ' || md5(g::text) from generate_series(1, 500) g; create table audit_log(id serial primary key, at timestamptz default now(), what text); insert into audit_log(what) select 'row ' || g from generate_series(1, 40) g;");
  await waitFor(async () => (await redisCli('PING')).trim() === 'PONG', { what: 'Redis to answer', timeoutMs: 60_000 });
  await redisCli('MSET', 'session:1', 'alice', 'session:2', 'bob', 'counter', '42');
  await redisCli('-n', '1', 'SET', 'other-db-key', 'x');
  await exec(await name('app'), ['sh', '-c', 'mkdir -p /srv/files/sub && printf "hello\\n" > /srv/files/a.txt && head -c 200000 /dev/urandom > /srv/files/sub/blob.bin && printf "x" > "/srv/files/sub/with space.txt"']);
  await waitFor(async () => (await stack.container('app')).health === 'healthy', { what: 'app to be healthy', timeoutMs: 120_000 });

  const fileConfig = (extra: Record<string, unknown> = {}) => ({
    stack: { project, composeFiles: [stack.file] },
    redis: { prefix },
    backup: { dir: backupDir, healthTimeoutSeconds: 120, ...extra },
  });
  return {
    project, stack, prefix, backupDir, secretsDir, passwords: [pgPassword, redisPassword], notices, progress, fileConfig,
    ctx(extra = {}, over = {}) {
      const config = buildConfig(fileConfig(extra), { REDIS_URL }, '(backup test)');
      return {
        requestId: `req-${randomSuffix()}`, actor: { userId: 'U0TESTER', teamId: 'T0TEST', name: 'tester' }, config, docker, redis, log,
        signal: new AbortController().signal, progress: (t: string) => void progress.push(t), notify: async (n) => void notices.push(n), ...over,
      };
    },
    psql,
    redisCli,
    async tableHash(table) {
      const rows = await psql(`select md5(string_agg(t::text, E'\\n' order by t::text)) from ${table} t`);
      return createHash('sha256').update(rows).digest('hex');
    },
    async volumeFiles() {
      return exec(await name('app'), ['sh', '-c', 'cd /srv/files && find . -type f | sort | xargs -d "\\n" sha256sum']);
    },
    async cleanup() {
      const keys = await redis.keys(`${prefix}:*`).catch((): string[] => []);
      if (keys.length) await redis.del(...keys).catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
      await stack.down().catch(() => undefined);
      // Drill leftovers, helper containers and volumes are labelled with the project.
      for (const label of [`cdb.drill.project=${project}`, `cdb.backup.helper=${project}`]) {
        const { stdout } = await runCommand('docker', ['ps', '-aq', '--filter', `label=${label}`]).catch(() => ({ stdout: '' }));
        const ids = stdout.split('\n').filter(Boolean);
        if (ids.length) await runCommand('docker', ['rm', '-f', '-v', ...ids]).catch(() => undefined);
      }
      const { stdout: vols } = await runCommand('docker', ['volume', 'ls', '-q', '--filter', `label=cdb.drill.project=${project}`]).catch(() => ({ stdout: '' }));
      for (const v of vols.split('\n').filter(Boolean)) await runCommand('docker', ['volume', 'rm', '-f', v]).catch(() => undefined);
      const { stdout: nets } = await runCommand('docker', ['network', 'ls', '-q', '--filter', `label=cdb.drill.project=${project}`]).catch(() => ({ stdout: '' }));
      for (const n of nets.split('\n').filter(Boolean)) await runCommand('docker', ['network', 'rm', n]).catch(() => undefined);
      await rm(secretsDir, { recursive: true, force: true });
      await rm(backupDir, { recursive: true, force: true });
    },
  };
}
