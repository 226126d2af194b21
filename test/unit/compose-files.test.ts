import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// The deployment files, checked against the seeds' rules: password contract (only *_FILE secrets),
// 127.0.0.1-only ports, non-root, read-only rootfs, dropped capabilities, no-new-privileges,
// size-limited json-file logs, and the bot/worker privilege split.

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function dict(v: unknown, what: string): Dict {
  if (!isDict(v)) throw new Error(`${what} is not a mapping`);
  return v;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [];
}

const compose = dict(parse(readFileSync('compose/docker-compose.yml', 'utf8')), 'compose file');
const services = dict(compose.services, 'services');
const names = Object.keys(services);
const svc = (name: string) => dict(services[name], `service ${name}`);

/** `environment:` as a map or a KEY=VALUE list. */
function envOf(s: Dict): Record<string, string> {
  const env = s.environment;
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => String(e)).map((e) => [e.split('=')[0] ?? e, e.includes('=') ? e.slice(e.indexOf('=') + 1) : '']));
  }
  return isDict(env) ? Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) : {};
}

/** Secret names a service mounts (short or long syntax). */
function secretsOf(s: Dict): string[] {
  return Array.isArray(s.secrets) ? s.secrets.map((x) => (isDict(x) ? String(x.source) : String(x))) : [];
}

/** Host paths a service bind-mounts (short or long syntax). */
function bindSources(s: Dict): string[] {
  const volumes = Array.isArray(s.volumes) ? s.volumes : [];
  return volumes.map((v) => (isDict(v) ? String(v.source ?? '') : String(v).split(':')[0] ?? ''));
}

/** The host IP of a published port; undefined means all interfaces. */
function hostIp(port: unknown): string | undefined {
  if (isDict(port)) return typeof port.host_ip === 'string' ? port.host_ip : undefined;
  const parts = String(port).split(':');
  // "3000" and "3000:3000" publish on every interface; "ip:host:container" names the address.
  return parts.length === 3 ? parts[0] : undefined;
}

const SECRETISH = /(PASSWORD|PASSWD|TOKEN|SECRET|KEY|CREDENTIALS?)$/i;

describe('compose/docker-compose.yml', () => {
  it('is a format both docker-compose 1.29 and Compose v2 accept, with bot, worker and redis', () => {
    expect(compose.version).toBe('2.4');
    expect(names.sort()).toEqual(['bot', 'redis', 'worker']);
  });

  it.each(names)('%s publishes ports on 127.0.0.1 only', (name) => {
    const ports = Array.isArray(svc(name).ports) ? (svc(name).ports as unknown[]) : [];
    for (const port of ports) expect(hostIp(port), `${name}: ${JSON.stringify(port)}`).toBe('127.0.0.1');
    expect(svc(name).network_mode).toBeUndefined();
  });

  it.each(names)('%s runs as a non-root user', (name) => {
    const user = String(svc(name).user ?? '');
    expect(user, `${name} has no user:`).not.toBe('');
    const uid = user.split(':')[0];
    expect(['0', 'root']).not.toContain(uid);
    expect(svc(name).privileged).not.toBe(true);
  });

  it.each(names)('%s has a read-only root filesystem and a noexec,nosuid /tmp', (name) => {
    const s = svc(name);
    expect(s.read_only).toBe(true);
    const tmp = strings(s.tmpfs).find((t) => t.startsWith('/tmp:'));
    expect(tmp, `${name} has no /tmp tmpfs`).toBeDefined();
    expect(tmp).toMatch(/(^|[:,])noexec(,|$)/);
    expect(tmp).toMatch(/(^|[:,])nosuid(,|$)/);
  });

  it.each(names)('%s drops all capabilities, adds none, and sets no-new-privileges', (name) => {
    const s = svc(name);
    expect(strings(s.cap_drop)).toContain('ALL');
    expect(s.cap_add).toBeUndefined();
    expect(strings(s.security_opt)).toContain('no-new-privileges:true');
  });

  it.each(names)('%s logs to json-file with max-size and max-file', (name) => {
    const logging = dict(svc(name).logging, `${name}.logging`);
    expect(logging.driver).toBe('json-file');
    const options = dict(logging.options, `${name}.logging.options`);
    expect(options['max-size']).toBe('10m');
    expect(options['max-file']).toBe('5');
  });

  it.each(names)('%s has limits, a restart policy and a healthcheck', (name) => {
    const s = svc(name);
    expect(s.restart).toBe('unless-stopped');
    expect(s.mem_limit).toMatch(/^\d+[kmg]$/);
    expect(s.pids_limit).toBeGreaterThan(0);
    expect(strings(dict(s.healthcheck, `${name}.healthcheck`).test).length).toBeGreaterThan(1);
  });

  it.each(names)('%s keeps secrets out of its environment (only *_FILE pointing at its own secrets)', (name) => {
    const s = svc(name);
    const env = envOf(s);
    for (const [key, value] of Object.entries(env)) {
      if (key.endsWith('_FILE')) {
        expect(value, `${name}: ${key}`).toMatch(/^\/run\/secrets\/[\w.-]+$/);
        expect(secretsOf(s), `${name}: ${key} points at a secret it does not mount`).toContain(value.slice('/run/secrets/'.length));
        expect(env, `${name}: both ${key.slice(0, -5)} and ${key}`).not.toHaveProperty(key.slice(0, -5));
      } else {
        expect(key, `${name}: ${key} looks like a secret value; use ${key}_FILE`).not.toMatch(SECRETISH);
      }
      // A password inside a URL is a secret value too.
      expect(value, `${name}: ${key}`).not.toMatch(/:\/\/[^/\s]*:[^/\s]*@/);
    }
  });

  it('mounts the Docker socket into the worker only', () => {
    for (const name of names) {
      const hasSocket = bindSources(svc(name)).some((src) => src.endsWith('docker.sock'));
      expect(hasSocket, name).toBe(name === 'worker');
    }
    expect(strings(svc('worker').group_add)).toEqual(['${DOCKER_GID:-999}']);
    for (const name of ['bot', 'redis']) expect(svc(name).group_add).toBeUndefined();
  });

  it('gives Slack credentials to the bot only, and SSH material to the worker only', () => {
    const slack = (n: string) => secretsOf(svc(n)).filter((x) => x.startsWith('slack'));
    expect(slack('bot').sort()).toEqual(['slack_app_token', 'slack_bot_token', 'slack_signing_secret']);
    expect(slack('worker')).toEqual([]);
    expect(Object.keys(envOf(svc('worker'))).filter((k) => k.startsWith('SLACK'))).toEqual([]);
    expect(Object.keys(envOf(svc('bot')))).toEqual(expect.arrayContaining(['SLACK_BOT_TOKEN_FILE', 'SLACK_APP_TOKEN_FILE', 'SLACK_SIGNING_SECRET_FILE', 'REDIS_PASSWORD_FILE']));
    expect(envOf(svc('worker')).REDIS_PASSWORD_FILE).toBe('/run/secrets/redis_password');
    for (const n of ['bot', 'redis']) expect(secretsOf(svc(n)).filter((x) => x.startsWith('ssh'))).toEqual([]);
    expect(secretsOf(svc('worker'))).toEqual(expect.arrayContaining(['ssh_key', 'ssh_known_hosts']));
  });

  it('declares every secret as a file under ./secrets/', () => {
    const secrets = dict(compose.secrets, 'secrets');
    const used = new Set(names.flatMap((n) => secretsOf(svc(n))));
    expect(Object.keys(secrets).sort()).toEqual([...used].sort());
    for (const [name, def] of Object.entries(secrets)) expect(dict(def, name).file).toBe(`./secrets/${name}`);
  });

  it('runs redis with AOF and a password read from the secret file, never on a command line', () => {
    const redis = svc('redis');
    expect(redis.image).toBe('redis:7-alpine');
    expect(redis.ports).toBeUndefined();
    const command = strings(redis.command).join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('cat /run/secrets/redis_password');
    // Config on stdin: requirepass never reaches redis-server's argv.
    expect(command).toMatch(/exec redis-server - /);
    expect(command).not.toMatch(/--requirepass/);
    expect(secretsOf(redis)).toEqual(['redis_password']);
    expect(Object.keys(envOf(redis))).toEqual([]);
    const check = strings(dict(redis.healthcheck, 'redis.healthcheck').test).join(' ');
    expect(check).toContain('REDISCLI_AUTH=');
    expect(check).not.toMatch(/redis-cli[^|]*\s-a\s/);
  });

  it('keeps redis on an internal network, and bot/worker on it too', () => {
    const networks = dict(compose.networks, 'networks');
    const redisNets = strings(svc('redis').networks);
    expect(redisNets.length).toBeGreaterThan(0);
    for (const net of redisNets) expect(dict(networks[net], net).internal).toBe(true);
    for (const name of ['bot', 'worker']) expect(strings(svc(name).networks)).toEqual(expect.arrayContaining(redisNets));
  });

  it('builds bot and worker from the repository Dockerfile and runs the compiled JS under plain node', () => {
    const commands = { bot: ['node', 'dist/src/main/bot.js'], worker: ['node', '--max-semi-space-size=4', 'dist/src/main/worker.js'] };
    for (const [name, command] of Object.entries(commands)) {
      const s = svc(name);
      expect(dict(s.build, `${name}.build`)).toMatchObject({ context: '..', dockerfile: 'Dockerfile' });
      expect(strings(s.command)).toEqual(command);
      expect(envOf(s).CDB_CONFIG).toBe('/etc/cdb/cdb.yaml');
      const config = (s.volumes as unknown[]).find((v) => isDict(v) && v.target === '/etc/cdb/cdb.yaml');
      expect(config).toMatchObject({ type: 'bind', source: './cdb.yaml', read_only: true });
    }
  });
});

describe('Dockerfile and build context', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const instructions = dockerfile.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  it('is multi-stage and ends as a non-root user', () => {
    expect(instructions.filter((l) => /^FROM\s/i.test(l)).length).toBeGreaterThan(1);
    const users = instructions.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0']).not.toContain((users.at(-1) ?? 'root').split(':')[0]);
    expect(dockerfile).toMatch(/NODE_ENV=production/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
  });

  it('runs the compiled build, not TypeScript through tsx (tsx costs ~40 MB RSS per process)', () => {
    expect(dockerfile).toMatch(/RUN npm run -s build/);
    expect(instructions.filter((l) => /^CMD\s/i.test(l)).at(-1)).toBe('CMD ["node", "dist/src/main/bot.js"]');
    expect(dockerfile).not.toMatch(/--import\s+tsx/);
  });

  it('puts no secret into a layer', () => {
    for (const line of instructions.filter((l) => /^(ARG|ENV)\s/i.test(l))) {
      for (const name of line.split(/\s+/).slice(1).map((kv) => kv.split('=')[0] ?? '')) expect(name).not.toMatch(SECRETISH);
    }
    expect(dockerfile).not.toMatch(/secrets\//);
  });

  it('.dockerignore admits only what the image is built from', () => {
    const lines = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    const admitted = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    expect(admitted.sort()).toEqual(['commands', 'jobs', 'package-lock.json', 'package.json', 'runbooks', 'src', 'tsconfig.build.json', 'tsconfig.json']);
  });
});

describe('compose/secrets/', () => {
  // git's own matcher, so the check is what `git add` would do.
  const ignored = (path: string): boolean => {
    try {
      execFileSync('git', ['check-ignore', '-q', '--no-index', path], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };

  it('ignores every secret file but keeps its README and .gitignore', () => {
    for (const name of Object.keys(dict(compose.secrets, 'secrets'))) expect(ignored(`compose/secrets/${name}`), name).toBe(true);
    expect(ignored('compose/secrets/anything-else')).toBe(true);
    expect(ignored('compose/secrets/README.md')).toBe(false);
    expect(ignored('compose/secrets/.gitignore')).toBe(false);
  });
});
