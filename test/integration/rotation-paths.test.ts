// Rotation paths the main rotation test does not reach, against real services:
// - the secret file written over SSH/SFTP on a stack host reached through a real sshd (Docker over
//   ssh:// too), and the consumer container (single-file bind mount, moby#22627) sees the new value;
// - the Redis persist modes `acl-save` and `config-rewrite`: the persisted file holds the new
//   password and not the old, and a Redis restart keeps it.
// (The api-key `_old` window ending on its own is in rotation-window.test.ts: it needs worker processes.)
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/shared/config/load.ts';
import type { Config } from '../../src/shared/config/schema.ts';
import { createLogger } from '../../src/shared/log.ts';
import { createDocker } from '../../src/host/docker-client.ts';
import { startRotation } from '../../src/features/rotation/run.ts';
import type { RotationResult } from '../../src/features/rotation/engine.ts';
import { ensureDbImage } from '../support/db-images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { runCommand } from '../support/images.ts';
import { startSshd, type SshdHandle } from '../support/sshd.ts';
import { alnum } from './rotation-fixture.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

const ping = (host: string, file: string) => ['sh', '-c', `redis-cli -h ${host} --no-auth-warning -a "$(cat /run/secrets/${file})" ping | grep -q PONG`];
const hc = (test: string[]) => ({ test: ['CMD', ...test.map((t) => t.replace(/\$/g, '$$$$'))], interval: '1s', timeout: '5s', retries: 60 });
const sha256 = (v: string) => createHash('sha256').update(v).digest('hex');

async function rotate(config: Config, secret: string): Promise<RotationResult> {
  return startRotation(
    { config, docker: createDocker(config), redis, log, workerId: 'paths-test', signal: new AbortController().signal, progress: () => undefined },
    { secret, mode: 'rotate', requestId: `t${randomSuffix(8)}`, command: 'rotate', args: { secret }, origin: { kind: 'cli' }, actor: { userId: 'local:test', teamId: 'local' } },
  );
}

async function execCode(stack: ComposeStack, service: string, argv: string[]): Promise<{ code: number; out: string }> {
  const c = await stack.container(service);
  try {
    return { code: 0, out: (await runCommand('docker', ['exec', c.id, ...argv], { timeoutMs: 30_000 })).stdout };
  } catch (err) {
    return { code: 1, out: String((err as { stdout?: string }).stdout ?? '') };
  }
}

async function healthy(stack: ComposeStack, services: string[]): Promise<void> {
  await waitFor(async () => {
    const ps = await stack.ps();
    return services.every((s) => ps.some((c) => c.service === s && c.health === 'healthy'));
  }, { what: `${services.join(', ')} healthy`, timeoutMs: 180_000, intervalMs: 500 });
}

afterAll(async () => {
  await redis.quit();
});

describe('secret file on a stack host reached over SSH (SFTP, pinned host key)', () => {
  let sshd: SshdHandle;
  let dir: string;
  let stack: ComposeStack;
  let config: Config;

  beforeAll(async () => {
    const db = await ensureDbImage();
    sshd = await startSshd();
    dir = await mkdtemp(join('/tmp', 'cdbt-rot-ssh-'));
    await chmod(dir, 0o700);
    await writeFile(join(dir, 'redis_password'), alnum(32), { mode: 0o600 });
    const mount = `${join(dir, 'redis_password')}:/run/secrets/redis_password:ro`;
    stack = await startComposeStack({
      project: `cdbt${randomSuffix()}`,
      services: {
        redis: { image: db, command: ['redis'], environment: { REDIS_PASSWORD_FILE: '/run/secrets/redis_password' }, volumes: [mount] },
        rcons: { image: db, command: ['sleep', 'infinity'], volumes: [mount], healthcheck: hc(ping('redis', 'redis_password')), depends_on: ['redis'], stop_grace_period: '1s' },
      },
    });
    await healthy(stack, ['rcons']);
    config = buildConfig({
      stack: { project: stack.project, docker: `ssh://root@127.0.0.1:${sshd.port}` },
      ssh: { privateKeyFile: sshd.privateKeyPath, knownHostsFile: sshd.knownHostsPath },
      redis: { prefix: `cdbt-${randomSuffix()}` },
      rotation: {
        stateDir: join(dir, 'state'), leaseSeconds: 5, healthTimeoutSeconds: 90,
        secrets: [{ name: 'redis_password', kind: 'redis', file: join(dir, 'redis_password'), consumers: [{ service: 'rcons', reload: 'none', probe: ping('redis', 'redis_password') }], options: { service: 'redis' } }],
      },
    }, { REDIS_URL }, '(rotation over ssh)');
  }, 300_000);

  afterAll(async () => {
    await stack?.down();
    await sshd?.stop();
    const keys = config ? await redis.keys(`${config.redis.prefix}:*`) : [];
    if (keys.length) await redis.del(...keys);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes the new value in place over SFTP (same inode, 0600); the consumer container sees it and uses it', async () => {
    const file = join(dir, 'redis_password');
    const old = (await readFile(file, 'utf8')).trim();
    const before = await stat(file);
    const r = await rotate(config, 'redis_password');
    expect(r.status, r.error).toBe('succeeded');
    const fresh = (await readFile(file, 'utf8')).trim();
    expect(fresh).not.toBe(old);
    expect(fresh).toMatch(/^[A-Za-z0-9]{32}$/);
    const after = await stat(file);
    // The inode a single-file bind mount pins: an atomic rename would leave the container on the old file.
    expect(after.ino).toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o600);
    expect((await execCode(stack, 'rcons', ['cat', '/run/secrets/redis_password'])).out.trim()).toBe(fresh);
    expect((await execCode(stack, 'rcons', ping('redis', 'redis_password'))).code).toBe(0);
    expect((await execCode(stack, 'redis', ['sh', '-c', `redis-cli --no-auth-warning -a '${old}' ping | grep -q PONG`])).code).not.toBe(0);
    expect(r.probes.find((p) => p.service === 'rcons')).toMatchObject({ failures: 0, downtimeMs: 0 });
    // The rollback files lived on the stack host (over SFTP too) and are gone.
    expect(await readFile(join(dir, 'state', 'redis_password.previous'), 'utf8').catch(() => undefined)).toBeUndefined();
  });
});

describe('Redis persist modes: acl-save and config-rewrite', () => {
  let dir: string;
  let stack: ComposeStack;
  let config: Config;

  beforeAll(async () => {
    const db = await ensureDbImage();
    dir = await mkdtemp(join('/tmp', 'cdbt-rot-persist-'));
    await chmod(dir, 0o700);
    const acl = alnum(32);
    const conf = alnum(32);
    await writeFile(join(dir, 'acl_password'), acl, { mode: 0o600 });
    await writeFile(join(dir, 'conf_password'), conf, { mode: 0o600 });
    // Directories, not single files: ACL SAVE and CONFIG REWRITE write a temporary file and rename it.
    await mkdir(join(dir, 'acl'), { mode: 0o700 });
    await mkdir(join(dir, 'conf'), { mode: 0o700 });
    await writeFile(join(dir, 'acl', 'redis.conf'), 'bind 0.0.0.0\nprotected-mode no\naclfile /conf/users.acl\n');
    await writeFile(join(dir, 'acl', 'users.acl'), `user default on >${acl} ~* &* +@all\n`, { mode: 0o600 });
    await writeFile(join(dir, 'conf', 'redis.conf'), `bind 0.0.0.0\nprotected-mode no\nrequirepass ${conf}\n`, { mode: 0o600 });
    const server = (sub: string) => ({ image: db, entrypoint: ['redis-server', '/conf/redis.conf'], volumes: [`${join(dir, sub)}:/conf`], stop_grace_period: '2s' });
    const consumer = (host: string, file: string) => ({ image: db, command: ['sleep', 'infinity'], volumes: [`${join(dir, file)}:/run/secrets/${file}:ro`], healthcheck: hc(ping(host, file)), depends_on: [host], stop_grace_period: '1s' });
    stack = await startComposeStack({
      project: `cdbt${randomSuffix()}`,
      services: { racl: server('acl'), rconf: server('conf'), cacl: consumer('racl', 'acl_password'), cconf: consumer('rconf', 'conf_password') },
    });
    await healthy(stack, ['cacl', 'cconf']);
    const secret = (name: string, host: string, consumerService: string, persist: string) => ({
      name, kind: 'redis', file: join(dir, name), consumers: [{ service: consumerService, reload: 'none', probe: ping(host, name) }], options: { service: host, persist },
    });
    config = buildConfig({
      stack: { project: stack.project },
      redis: { prefix: `cdbt-${randomSuffix()}` },
      rotation: { stateDir: join(dir, 'state'), leaseSeconds: 5, healthTimeoutSeconds: 90, secrets: [secret('acl_password', 'racl', 'cacl', 'acl-save'), secret('conf_password', 'rconf', 'cconf', 'config-rewrite')] },
    }, { REDIS_URL }, '(rotation persist modes)');
  }, 300_000);

  afterAll(async () => {
    await stack?.down();
    const keys = config ? await redis.keys(`${config.redis.prefix}:*`) : [];
    if (keys.length) await redis.del(...keys);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cases = [
    { secret: 'acl_password', server: 'racl', consumer: 'cacl', persisted: join('acl', 'users.acl') },
    { secret: 'conf_password', server: 'rconf', consumer: 'cconf', persisted: join('conf', 'redis.conf') },
  ];
  for (const c of cases) {
    it(`${c.secret}: the persisted file holds the new password (hashed) and not the old; a Redis restart keeps it`, async () => {
      const old = (await readFile(join(dir, c.secret), 'utf8')).trim();
      const r = await rotate(config, c.secret);
      expect(r.status, r.error).toBe('succeeded');
      const fresh = (await readFile(join(dir, c.secret), 'utf8')).trim();
      expect(fresh).not.toBe(old);
      const persisted = await readFile(join(dir, c.persisted), 'utf8');
      expect(persisted).toContain(`#${sha256(fresh)}`);
      // Neither hashed nor as a `requirepass` line (CONFIG REWRITE keeps the one read at start unless it is set).
      expect(persisted).not.toContain(sha256(old));
      expect(persisted).not.toContain(old);
      // ACL SAVE stores hashes only; redis.conf holds requirepass in clear, as the stack wrote it.
      if (c.secret === 'acl_password') expect(persisted).not.toContain(fresh);
      // Restarted, the server loads what was persisted: the new password opens it, the old one does not.
      const { id } = await stack.container(c.server);
      await runCommand('docker', ['restart', id], { timeoutMs: 60_000 });
      const auth = (pw: string) => execCode(stack, c.consumer, ['sh', '-c', `redis-cli -h ${c.server} --no-auth-warning -a '${pw}' ping | grep -q PONG`]);
      await waitFor(async () => (await auth(fresh)).code === 0, { what: `${c.server} to accept the new password after its restart`, timeoutMs: 60_000, intervalMs: 250 });
      expect((await auth(old)).code).not.toBe(0);
    });
  }
});

describe('the rotation journal on the one lock (src/shared/lock.ts)', () => {
  const prefix = `cdbt-${randomSuffix()}`;
  const journalFor = (id: string) => ({
    id, secret: 's1', kind: 'redis', step: 0, phase: 'forward' as const, status: 'running' as const, state: {}, requestId: id, command: 'rotate', args: {},
    origin: { kind: 'cli' }, actor: { userId: 'local:test', teamId: 'local' }, startedAt: Date.now(), stepsDone: [], notes: [], probes: [], workers: ['w1'],
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  });

  it('one active rotation per secret; a dead holder is taken over; the old holder can no longer write the journal', async () => {
    const { RotationJournal, LeaseLostError } = await import('../../src/features/rotation/journal.ts');
    const store = new RotationJournal(redis, prefix);
    const first = await store.begin(journalFor('r1'), 'w1', 1000);
    await expect(store.begin(journalFor('r2'), 'w2', 1000)).rejects.toMatchObject({ code: 'ROTATION_IN_PROGRESS' });
    // Held and renewed: nobody can claim it.
    expect(await store.claim('s1', 'w2', 1000)).toBeUndefined();
    // The lock runs out (as a SIGKILLed worker's does; deleted here, so no renewal can race it): w2 takes over.
    await redis.del(first.key);
    const second = await waitFor(() => store.claim('s1', 'w2', 1000), { what: 'the takeover', timeoutMs: 10_000, intervalMs: 50 });
    // A new rotation is still refused: the secret is active until the new holder ends it.
    await expect(store.begin(journalFor('r3'), 'w3', 1000)).rejects.toMatchObject({ code: 'ROTATION_IN_PROGRESS' });
    const stale = { ...journalFor('r1'), step: 3 };
    await expect(store.save(stale, first)).rejects.toBeInstanceOf(LeaseLostError);
    expect((await store.get('s1'))?.step).toBe(0);
    await store.end({ ...journalFor('r1'), status: 'succeeded', step: 4 }, second);
    expect(await store.active()).not.toContain('s1');
    const third = await store.begin(journalFor('r4'), 'w4', 1000);
    await third.release();
  });
});
