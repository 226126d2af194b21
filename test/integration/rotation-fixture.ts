// A compose stack for the secret-rotation tests and bench: real Redis (password file), PostgreSQL
// and MariaDB from the local Debian image, and consumers whose probes really connect with the
// secret files (single-file bind mounts into /run/secrets: the moby#22627 case).
import { chmod, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureDbImage, PG_SERVING } from '../support/db-images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeServices, type ComposeStack } from '../support/compose-stack.ts';
import { runCommand } from '../support/images.ts';

export const SECRET_FILES = ['redis_password', 'api_key', 'api_key_old', 'app_secret', 'pg_password', 'pg_user', 'pg_admin', 'maria_password', 'maria_user', 'maria_root', 'broken'] as const;
export type SecretFile = (typeof SECRET_FILES)[number];

export function alnum(n: number): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(n)].map((b) => A[b % 62]).join('');
}

export interface RotationStack {
  readonly stack: ComposeStack;
  readonly project: string;
  /** Host directory of the secret files (0700). */
  readonly dir: string;
  readonly stateDir: string;
  path(name: SecretFile): string;
  /** The secrets section of the worker's config for this stack. */
  secretsConfig(): Record<string, unknown>[];
  exec(service: string, argv: string[]): Promise<{ code: number; out: string }>;
  down(): Promise<void>;
}

const API_CGI = `#!/bin/sh
echo "Content-Type: text/plain"
echo
k="$(cat /run/secrets/api_key)"
o="$(cat /run/secrets/api_key_old 2>/dev/null)"
if [ -n "$HTTP_X_API_KEY" ] && { [ "$HTTP_X_API_KEY" = "$k" ] || { [ -n "$o" ] && [ "$HTTP_X_API_KEY" = "$o" ]; }; }; then echo ok; else echo denied; fi
`;

export const probes = {
  redis: ['sh', '-c', 'redis-cli -h redis --no-auth-warning -a "$(cat /run/secrets/redis_password)" ping | grep -q PONG'],
  api: ['sh', '-c', 'wget -q -O- --header "X-Api-Key: $(cat /run/secrets/api_key)" http://127.0.0.1:8080/cgi-bin/check | grep -q ok'],
  app: ['wget', '-q', '-O-', 'http://127.0.0.1:8080/'],
  // Two files (user, password) cannot change in one write: a reader between the two writes retries once, as a real client would.
  pg: ['sh', '-c', 'for i in 1 2; do PGCONNECT_TIMEOUT=5 PGPASSWORD="$(cat /run/secrets/pg_password)" psql -h pg -U "$(cat /run/secrets/pg_user)" -d app -Atc "select 1" >/dev/null 2>&1 && exit 0; done; exit 1'],
  maria: ['sh', '-c', 'for i in 1 2; do MYSQL_PWD="$(cat /run/secrets/maria_password)" mariadb --connect-timeout=5 -h maria -u "$(cat /run/secrets/maria_user)" app -e "select 1" >/dev/null 2>&1 && exit 0; done; exit 1'],
};

export interface RotationStackOptions {
  kinds?: ReadonlyArray<'redis' | 'api' | 'app' | 'pg' | 'maria'>;
  /** Redis consumers rcons, rcons2 … rconsN (the bench's "stack with 5 consumers"). */
  redisConsumers?: number;
  /** How the Redis consumers are configured to reload (default none: they read the file on each use). */
  redisReload?: 'none' | 'restart';
}

export async function startRotationStack(opts: RotationStackOptions = {}): Promise<RotationStack> {
  const kinds = new Set(opts.kinds ?? ['redis', 'api', 'app', 'pg', 'maria']);
  const db = await ensureDbImage();
  const dir = await mkdtemp(join(tmpdir(), 'cdbrot-'));
  await chmod(dir, 0o700);
  const stateDir = join(dir, 'state');
  const path = (n: SecretFile) => join(dir, n);
  const initial: Record<SecretFile, string> = {
    redis_password: alnum(32), api_key: alnum(48), api_key_old: '', app_secret: alnum(64), pg_password: alnum(32), pg_user: 'app_a',
    pg_admin: alnum(32), maria_password: alnum(32), maria_user: 'app_a', maria_root: alnum(32), broken: alnum(64),
  };
  for (const n of SECRET_FILES) await writeFile(path(n), initial[n], { mode: 0o600 });
  const mount = (n: SecretFile) => `${path(n)}:/run/secrets/${n}:ro`;
  // Compose interpolates $: escaped as $$ in the file, the probes given to the worker stay as they are.
  const hc = (test: string[]) => ({ test: ['CMD', ...test.map((t) => t.replace(/\$/g, '$$$$'))], interval: '1s', timeout: '5s', retries: 60 });
  const services: ComposeServices = {};
  if (kinds.has('redis')) {
    services.redis = { image: db, command: ['redis'], environment: { REDIS_PASSWORD_FILE: '/run/secrets/redis_password' }, volumes: [mount('redis_password')] };
    for (const name of redisConsumerNames(opts.redisConsumers ?? 1)) {
      services[name] = { image: db, command: ['sleep', 'infinity'], volumes: [mount('redis_password')], healthcheck: hc(probes.redis), depends_on: ['redis'], stop_grace_period: '1s' };
    }
  }
  if (kinds.has('api')) {
    services.api = {
      command: ['sh', '-c', `mkdir -p /www/cgi-bin && printf '%s' "$$CGI" > /www/cgi-bin/check && chmod +x /www/cgi-bin/check && exec httpd -f -p 8080 -h /www`],
      environment: { CGI: API_CGI.replace(/\$/g, '$$$$') },
      volumes: [mount('api_key'), mount('api_key_old')], healthcheck: hc(probes.api),
    };
  }
  if (kinds.has('app')) {
    // Reads its secret once at start (like Django): restarted by the rotation; two replicas keep it serving.
    services.app = {
      command: ['sh', '-c', 'cp /run/secrets/app_secret /tmp/loaded && mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www'],
      volumes: [mount('app_secret')], healthcheck: hc(probes.app), scale: 2, stop_grace_period: '1s',
    };
  }
  if (kinds.has('pg')) {
    services.pg = { image: db, command: ['postgres'], environment: { POSTGRES_PASSWORD_FILE: '/run/secrets/pg_admin', POSTGRES_DB: 'app' }, volumes: [mount('pg_admin')] };
    services.pgcons = { image: db, command: ['sleep', 'infinity'], volumes: [mount('pg_password'), mount('pg_user')], healthcheck: hc(probes.pg), depends_on: ['pg'] };
  }
  if (kinds.has('maria')) {
    services.maria = {
      image: db, command: ['mariadb'],
      environment: { MARIADB_ROOT_PASSWORD_FILE: '/run/secrets/maria_root', MARIADB_DATABASE: 'app', MARIADB_USER: 'app_a', MARIADB_PASSWORD_FILE: '/run/secrets/maria_password' },
      volumes: [mount('maria_root'), mount('maria_password')],
    };
    services.mcons = { image: db, command: ['sleep', 'infinity'], volumes: [mount('maria_password'), mount('maria_user')], healthcheck: hc(probes.maria), depends_on: ['maria'] };
  }
  const project = `cdbt${randomSuffix()}`;
  const stack = await startComposeStack({ project, services });
  const exec = async (service: string, argv: string[]) => {
    const c = await stack.container(service);
    try {
      const r = await runCommand('docker', ['exec', c.id, ...argv], { timeoutMs: 30_000 });
      return { code: 0, out: r.stdout };
    } catch (err) {
      return { code: 1, out: String((err as { stdout?: string }).stdout ?? '') };
    }
  };
  try {
    if (kinds.has('pg')) {
      // The app's first user, as a real deployment would have it; --setup adds the second.
      // The real server, not the entrypoint's temporary one (PG_SERVING), then a query.
      await waitFor(async () => (await exec('pg', PG_SERVING)).code === 0 && (await exec('pg', ['psql', '-U', 'postgres', '-d', 'app', '-Atc', 'select 1'])).code === 0, { what: 'postgres to accept connections', timeoutMs: 120_000 });
      const r = await exec('pg', ['psql', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', 'app', '-c', `CREATE ROLE app_a LOGIN PASSWORD '${initial.pg_password}'; CREATE TABLE items(id int);`]);
      if (r.code !== 0) throw new Error('could not create app_a in postgres');
    }
    const healthy = [...(kinds.has('redis') ? redisConsumerNames(opts.redisConsumers ?? 1) : []), ...(kinds.has('api') ? ['api'] : []), ...(kinds.has('app') ? ['app'] : []), ...(kinds.has('pg') ? ['pgcons'] : []), ...(kinds.has('maria') ? ['mcons'] : [])];
    await waitFor(async () => {
      const ps = await stack.ps();
      return healthy.every((s) => ps.filter((c) => c.service === s).length > 0 && ps.filter((c) => c.service === s).every((c) => c.health === 'healthy'));
    }, { what: `consumers ${healthy.join(', ')} to be healthy`, timeoutMs: 180_000, intervalMs: 500 });
  } catch (err) {
    await stack.down().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const consumer = (service: string, probe: string[], reload: 'none' | 'restart' = 'none', extra: Record<string, unknown> = {}) => ({ service, reload, probe, ...extra });
  return {
    stack, project, dir, stateDir, path, exec,
    secretsConfig() {
      const out: Record<string, unknown>[] = [];
      if (kinds.has('redis')) out.push({ name: 'redis_password', kind: 'redis', file: path('redis_password'), consumers: redisConsumerNames(opts.redisConsumers ?? 1).map((n) => consumer(n, probes.redis, opts.redisReload ?? 'none')), options: { service: 'redis' } });
      if (kinds.has('api')) {
        out.push({ name: 'internal_api_key', kind: 'api-key', file: path('api_key'), consumers: [consumer('api', probes.api)], options: { oldFile: path('api_key_old') } });
        out.push({ name: 'broken_key', kind: 'app-secret', file: path('broken'), consumers: [consumer('api', probes.api, 'none', { mountPath: '/run/secrets/not_mounted' })] });
      }
      if (kinds.has('app')) out.push({ name: 'django_secret_key', kind: 'app-secret', file: path('app_secret'), consumers: [consumer('app', probes.app, 'restart')] });
      if (kinds.has('pg')) out.push({ name: 'pg_password', kind: 'postgres', file: path('pg_password'), consumers: [consumer('pgcons', probes.pg)], options: { service: 'pg', adminPasswordFile: path('pg_admin'), database: 'app', userFile: path('pg_user') } });
      if (kinds.has('maria')) out.push({ name: 'maria_password', kind: 'mariadb', file: path('maria_password'), consumers: [consumer('mcons', probes.maria)], options: { service: 'maria', adminPasswordFile: path('maria_root'), database: 'app', userFile: path('maria_user') } });
      return out;
    },
    async down() {
      await stack.down().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function redisConsumerNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? 'rcons' : `rcons${i + 1}`));
}
