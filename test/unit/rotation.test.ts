import { mkdtemp, rm, stat, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/shared/config/load.ts';
import { rotateArgs } from '../../src/shared/contracts/rotation.ts';
import { generateSecret } from '../../src/features/rotation/generate.ts';
import { buildRotationPlan } from '../../src/features/rotation/plan.ts';
import { KINDS, managedSecret } from '../../src/features/rotation/registry.ts';
import { localSecretHost } from '../../src/features/rotation/secret-host.ts';
import rotate, { rotationPlanLines } from '../../commands/rotate.ts';

const config = buildConfig({
  stack: { project: 'demo' },
  rotation: {
    secrets: [
      { name: 'redis_password', kind: 'redis', file: '/var/lib/docker/secrets/redis_password', consumers: [{ service: 'web', reload: 'restart' }, { service: 'celery', reload: 'none' }], options: { service: 'redis' } },
      { name: 'internal_api_key', kind: 'api-key', file: '/var/lib/docker/secrets/internal_api_key' },
    ],
  },
}, {}, '(unit)');

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('rotation building blocks', () => {
  it('generates letters and digits of the asked length, different every time', () => {
    const a = generateSecret(48);
    expect(a).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(generateSecret(48)).not.toBe(a);
  });

  it('writes in place: same inode, mode 0600, never a rename (moby#22627)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdbrot-unit-'));
    dirs.push(dir);
    const file = join(dir, 'secret');
    await writeFile(file, 'a-rather-long-old-value-1234567890', { mode: 0o644 });
    const before = await stat(file);
    const host = localSecretHost();
    await host.writeInPlace(file, 'short');
    const after = await stat(file);
    expect(after.ino).toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toBe('short');
    await host.writeInPlace(join(dir, 'new'), 'created');
    expect((await stat(join(dir, 'new'))).mode & 0o777).toBe(0o600);
  });

  it('refuses unknown secrets with the list of managed ones', () => {
    expect(() => managedSecret(config, 'nope')).toThrow(/redis_password.*internal_api_key/);
  });

  it('applies the seeds’ schedule per kind and the api-key window from config', () => {
    expect(managedSecret(config, 'redis_password').scheduleDays).toBe(90);
    expect(managedSecret(config, 'internal_api_key').scheduleDays).toBe(30);
    expect(managedSecret(config, 'internal_api_key').options.windowHours).toBe(24);
    expect([...KINDS.keys()].sort()).toEqual(['api-key', 'app-secret', 'mariadb', 'postgres', 'redis']);
  });

  it('plans with the restart order and a stable fingerprint; the approval lines name no value', () => {
    const plan = buildRotationPlan(config, 'redis_password', 'rotate');
    expect(plan.restarts).toEqual(['web']);
    expect(plan.expectedDowntimeMs).toBe(0);
    expect(buildRotationPlan(config, 'redis_password', 'rotate').fingerprint).toBe(plan.fingerprint);
    const lines = rotationPlanLines(plan).join('\n');
    expect(lines).toMatch(/create-pending/);
    expect(lines).toMatch(/web/);
    expect(() => buildRotationPlan(config, 'redis_password', 'setup')).toThrow(/no --setup/);
  });

  it('validates its arguments', () => {
    expect(rotateArgs.safeParse({ secret: 'redis_password' }).success).toBe(true);
    expect(rotateArgs.safeParse({ secret: 'Redis; rm -rf' }).success).toBe(false);
    expect(rotateArgs.safeParse({ secret: 'x', setup: true, finish: true }).success).toBe(false);
    expect(rotate.approval).toBe(true);
    expect(rotate.role).toBe('operator');
  });
});
