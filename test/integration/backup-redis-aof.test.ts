// Redis with `appendonly yes`: at start it loads the append-only file and ignores dump.rdb, so a
// restore that only replaced the RDB would bring back nothing. The restore (and the drill) write
// the append-only files from the backup's RDB; the data must survive a restart afterwards, and
// new writes must keep being appended.
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

describe('Redis restore with appendonly yes', () => {
  const project = `cdbt${randomSuffix()}`;
  const prefix = `cdbt-${randomSuffix()}`;
  const password = `rd${randomBytes(10).toString('hex')}`;
  let dir = '';
  let stack: ComposeStack | undefined;
  const redis = jobRedis();
  const cli = async (...args: string[]) => (await runCommand('docker', ['exec', (await (stack as ComposeStack).container('kv')).name, 'redis-cli', '--no-auth-warning', '-a', password, ...args])).stdout.trim();
  const ctx = (): JobContext => ({
    requestId: `req-${randomSuffix()}`, actor: { userId: 'U0TESTER', teamId: 'T0TEST' }, docker, redis, log: createLogger({ level: 'silent' }),
    config: buildConfig({ stack: { project, composeFiles: [(stack as ComposeStack).file] }, redis: { prefix }, backup: { dir: join(dir, 'backups'), healthTimeoutSeconds: 120 } }, { REDIS_URL }, '(redis aof test)'),
    signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined, approval: { id: 'approved-by-test', approvers: ['U0BOB'] },
  });
  const restart = async () => {
    await runCommand('docker', ['restart', (await (stack as ComposeStack).container('kv')).name]);
    await waitFor(async () => (await cli('PING').catch(() => '')) === 'PONG', { what: 'Redis to answer after a restart', timeoutMs: 60_000 });
  };

  beforeAll(async () => {
    const image = await ensureDbImage();
    dir = await mkdtemp(join(tmpdir(), 'cdbt-redis-aof-'));
    await writeFile(join(dir, 'redis'), password);
    await chmod(join(dir, 'redis'), 0o644);
    stack = await startComposeStack({
      project,
      services: { kv: { image, command: ['redis', '--appendonly', 'yes'], environment: { REDIS_PASSWORD_FILE: '/run/secrets/redis' }, volumes: ['kvdata:/data', `${dir}/redis:/run/secrets/redis:ro`] } },
      extra: { volumes: { kvdata: {} } },
    });
    await waitFor(async () => (await cli('PING').catch(() => '')) === 'PONG', { what: 'Redis to answer', timeoutMs: 60_000 });
    expect(await cli('CONFIG', 'GET', 'appendonly')).toBe('appendonly\nyes');
    await cli('MSET', 'user:1', 'alice', 'user:2', 'bob', 'user:3', 'carol');
    await cli('-n', '2', 'SET', 'other', 'x');
  }, T);

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`).catch((): string[] => []);
    if (keys.length) await redis.del(...keys);
    await redis.quit().catch(() => redis.disconnect());
    await stack?.down();
    await rm(dir, { recursive: true, force: true });
  }, T);

  it('restores the backup into the AOF, keeps it across restarts, and drills it', async () => {
    const made = (await backupJob.run(ctx(), {})) as BackupResult;
    expect(made.artifacts.map((a) => `${a.component}/${a.kind}`)).toEqual(['kv/redis']);
    expect(made.artifacts[0]?.counts).toEqual({ db0: 3, db2: 1 });

    // Changed after the backup, and made durable in the AOF (a restart keeps it).
    await cli('DEL', 'user:2');
    await cli('SET', 'user:4', 'dave');
    await cli('-n', '2', 'FLUSHDB');
    await restart();
    expect(await cli('DBSIZE')).toBe('3');
    expect(await cli('EXISTS', 'user:2')).toBe('0');

    const r = (await restoreJob.run(ctx(), { backup: made.name })) as RestoreResult;
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.components[0]?.detail).toContain('AOF on');
    const state = async () => ({
      aof: await cli('CONFIG', 'GET', 'appendonly'),
      keys: (await cli('KEYS', 'user:*')).split('\n').sort(),
      db2: await cli('-n', '2', 'GET', 'other'),
    });
    const expected = { aof: 'appendonly\nyes', keys: ['user:1', 'user:2', 'user:3'], db2: 'x' };
    expect(await state()).toEqual(expected);
    // Not only in memory: the server loads it again from its append-only files.
    await restart();
    expect(await state()).toEqual(expected);
    // And it keeps appending: a write after the restore survives a restart.
    await cli('SET', 'user:5', 'erin');
    await restart();
    expect(await cli('GET', 'user:5')).toBe('erin');
    expect(await cli('GET', 'user:2')).toBe('bob');

    const drill = (await drillJob.run(ctx(), { backup: made.name })) as DrillResult;
    expect(drill.checks).toEqual([expect.objectContaining({ component: 'kv', target: 'keys', ok: true })]);
    expect(drill.ok).toBe(true);
  }, T);
});
