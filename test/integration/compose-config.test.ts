import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { randomSuffix } from '../support/compose-stack.ts';
import { CommandError, runCommand } from '../support/images.ts';

// Debian's real docker-compose (1.29.2) validates and normalizes the deployment file. A copy is used,
// with dummy secret files and cdb.yaml, so the repository's compose/secrets/ is never touched.

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const dict = (v: unknown, what: string): Dict => {
  if (!isDict(v)) throw new Error(`${what} is not a mapping`);
  return v;
};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const SECRETS = ['redis_password', 'slack_bot_token', 'slack_app_token', 'slack_signing_secret', 'audit_key', 'stepup_key', 'ssh_key', 'ssh_known_hosts'];
let root: string;
let composeDir: string;
let composeFile: string;

/** The environment without variables that would change the result (a developer's DOCKER_GID, say). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of Object.keys(env)) {
    if ((key.startsWith('COMPOSE_') || key === 'DOCKER_GID' || key === 'CDB_IMAGE') && !(key in extra)) delete env[key];
  }
  return env;
}

async function composeConfig(env: NodeJS.ProcessEnv): Promise<Dict> {
  try {
    // cwd elsewhere on purpose: `.env` and relative paths must resolve from the compose file's folder.
    const { stdout } = await runCommand('docker-compose', ['-f', composeFile, 'config'], { env, cwd: tmpdir(), timeoutMs: 60_000 });
    return dict(parse(stdout), 'docker-compose config output');
  } catch (err) {
    if (err instanceof CommandError && (err.exitCode === 'ENOENT' || err.exitCode === 127)) {
      throw new Error('docker-compose is not installed (Debian package docker-compose). Run: bash scripts/ensure-services.sh');
    }
    throw err;
  }
}

/** Host address of a published port in either normalized form (v1 short string, v2 long mapping). */
function hostIp(port: unknown): string | undefined {
  if (isDict(port)) return typeof port.host_ip === 'string' ? port.host_ip : undefined;
  const parts = String(port).split(':');
  return parts.length === 3 ? parts[0] : undefined;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), `cdbt-compose-${randomSuffix()}-`));
  composeDir = join(root, 'compose');
  mkdirSync(join(composeDir, 'secrets'), { recursive: true });
  composeFile = join(composeDir, 'docker-compose.yml');
  copyFileSync('compose/docker-compose.yml', composeFile);
  copyFileSync('cdb.example.yaml', join(composeDir, 'cdb.yaml'));
  for (const name of SECRETS) writeFileSync(join(composeDir, 'secrets', name), `dummy-${name}\n`, { mode: 0o600 });
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('docker-compose config on compose/docker-compose.yml', () => {
  it('accepts the file and keeps every hardening rule after normalization', async () => {
    const config = await composeConfig(cleanEnv());
    const services = dict(config.services, 'services');
    expect(Object.keys(services).sort()).toEqual(['bot', 'redis', 'worker']);

    for (const [name, raw] of Object.entries(services)) {
      const s = dict(raw, name);
      for (const port of list(s.ports)) expect(hostIp(port), `${name} ${JSON.stringify(port)}`).toBe('127.0.0.1');
      expect(s.read_only, name).toBe(true);
      expect(list(s.cap_drop), name).toContain('ALL');
      expect(list(s.security_opt), name).toContain('no-new-privileges:true');
      expect(String(s.user).split(':')[0], name).not.toMatch(/^(0|root)?$/);
      expect(dict(s.logging, `${name}.logging`)).toMatchObject({ driver: 'json-file', options: { 'max-size': '10m', 'max-file': '5' } });
      expect(s.restart, name).toBe('unless-stopped');
      expect(s.mem_limit, name).toBeDefined();
      expect(s.pids_limit, name).toBeDefined();
      expect(s.healthcheck, name).toBeDefined();
      const env = isDict(s.environment) ? Object.keys(s.environment) : [];
      for (const key of env) if (/(PASSWORD|TOKEN|SECRET|KEY)$/.test(key)) throw new Error(`${name}: ${key} holds a secret value; use ${key}_FILE`);
    }

    const bot = dict(services.bot, 'bot');
    expect(list(bot.ports)).toHaveLength(1);
    expect(String(list(bot.ports)[0])).toMatch(/^127\.0\.0\.1:3000:3000/);

    const sockets = Object.entries(services)
      .filter(([, s]) => list(dict(s, 'service').volumes).some((v) => JSON.stringify(v).includes('docker.sock')))
      .map(([name]) => name);
    expect(sockets).toEqual(['worker']);
    expect(list(dict(services.worker, 'worker').group_add).map(String)).toEqual(['999']);

    // Secret files resolve next to the compose file, wherever compose is run from.
    for (const [name, def] of Object.entries(dict(config.secrets, 'secrets'))) {
      expect(dict(def, name).file).toBe(join(composeDir, 'secrets', name));
    }
    expect(dict(dict(config.networks, 'networks').backend, 'backend').internal).toBe(true);
  });

  it('gives the worker the stop grace period a running rollback needs (compose/README.md)', async () => {
    const worker = dict(dict((await composeConfig(cleanEnv())).services, 'services').worker, 'worker');
    const grace = String(worker.stop_grace_period ?? '10s');
    const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(grace);
    const seconds = Number(m?.[1] ?? 0) * 60 + Number(m?.[2] ?? 0);
    // One wave with the defaults: 2 × (10 s stop + 60 s health) + 20 s.
    expect(seconds, grace).toBeGreaterThanOrEqual(2 * (10 + 60) + 20);
  });

  it('takes DOCKER_GID from compose/.env (next to the compose file) or the environment, as the README says', async () => {
    writeFileSync(join(composeDir, '.env'), 'DOCKER_GID=4242\n');
    try {
      const config = await composeConfig(cleanEnv());
      const worker = dict(dict(config.services, 'services').worker, 'worker');
      expect(list(worker.group_add).map(String)).toEqual(['4242']);
    } finally {
      rmSync(join(composeDir, '.env'));
    }
    const fromEnv = await composeConfig(cleanEnv({ DOCKER_GID: '111' }));
    expect(list(dict(dict(fromEnv.services, 'services').worker, 'worker').group_add).map(String)).toEqual(['111']);
  });

  it('keeps the redis password out of argv and environment after interpolation', async () => {
    const config = await composeConfig(cleanEnv());
    const redis = dict(dict(config.services, 'services').redis, 'redis');
    const command = list(redis.command).map(String);
    expect(command.slice(0, 2)).toEqual(['sh', '-c']);
    // `config` re-escapes `$` as `$$`; the script still reads the file and feeds redis-server stdin.
    expect(command[2]).toContain('cat /run/secrets/redis_password');
    expect(command[2]).toMatch(/exec redis-server - --appendonly yes --appendfsync everysec/);
    expect(command[2]).not.toContain('dummy-redis_password');
    expect(redis.environment).toBeUndefined();
    expect(redis.ports).toBeUndefined();
    expect(JSON.stringify(config)).not.toContain('dummy-');
  });
});
