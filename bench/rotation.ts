// Secret rotation: /cdb rotate (the engine, in-process, as the worker runs it after approval)
// against the seeds' procedures (002 seed, "Rotation Procedures") on the same stack, side by side
// in one run, alternating who goes first. For each: wall time, and the consumers' downtime as the
// same probe measures it (every 100 ms inside the consumer containers, service up when any replica passes).
//
//   npm run bench:rotation -- [runs=3] [only=all|five]   (five: only the 5-consumer stack B)
//
// Stack A: one consumer per kind (test/integration/rotation-fixture.ts). Stack B: Redis with five
// consumers that read the password at start (reload: restart), the "5 consumers" case.
import { spawnSync } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { buildConfig } from '../src/shared/config/load.ts';
import type { Config } from '../src/shared/config/schema.ts';
import { createLogger } from '../src/shared/log.ts';
import { DowntimeProbe } from '../src/features/rotation/consumers.ts';
import { startRotation } from '../src/features/rotation/run.ts';
import { alnum, redisConsumerNames, startRotationStack, type RotationStack } from '../test/integration/rotation-fixture.ts';
import { randomSuffix, waitFor } from '../test/support/compose-stack.ts';
import { runCommand } from '../test/support/images.ts';

const RUNS = Number(process.argv[2] ?? 3);
const ONLY = process.argv[3] ?? 'all';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const docker = new Docker();
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const log = createLogger({ level: 'silent' });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const sec = (ms: number) => (ms / 1000).toFixed(2);

interface Sample { wallMs: number; downMs: number; failures: number }

function configFor(stack: RotationStack): Config {
  return buildConfig({ stack: { project: stack.project }, redis: { prefix: `cdbbench-${randomSuffix()}` }, rotation: { stateDir: stack.stateDir, secrets: stack.secretsConfig(), healthTimeoutSeconds: 120 } }, { REDIS_URL }, '(bench)');
}

async function containersOf(project: string, service: string): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] } });
  return list.map((c) => c.Id);
}

async function healthy(project: string, services: string[]): Promise<void> {
  await waitFor(async () => {
    for (const s of services) {
      for (const id of await containersOf(project, s)) {
        const info = await docker.getContainer(id).inspect();
        if (info.State.Health?.Status !== 'healthy') return false;
      }
    }
    return true;
  }, { what: 'consumers healthy', timeoutMs: 180_000, intervalMs: 100 });
}

async function measure(stack: RotationStack, consumers: string[], fn: () => Promise<void>): Promise<Sample> {
  const probes = stack.secretsConfig().flatMap((s) => s.consumers as { service: string; probe: string[]; reload: 'none' | 'restart' }[]).filter((c) => consumers.includes(c.service));
  const unique = [...new Map(probes.map((p) => [p.service, p])).values()];
  const running = unique.map((c) => new DowntimeProbe(docker, stack.project, c).start());
  const began = Date.now();
  await fn();
  await healthy(stack.project, consumers);
  const wallMs = Date.now() - began;
  const results = await Promise.all(running.map((p) => p.stop()));
  return { wallMs, downMs: Math.max(0, ...results.map((r) => r.downtimeMs)), failures: results.reduce((a, r) => a + r.failures, 0) };
}

async function cdb(stack: RotationStack, config: Config, secret: string): Promise<void> {
  const r = await startRotation(
    { config, docker, redis, log, workerId: 'bench', signal: new AbortController().signal, progress: () => undefined },
    { secret, mode: 'rotate', requestId: `bench${randomSuffix(8)}`, command: 'rotate', args: { secret }, origin: { kind: 'cli' }, actor: { userId: 'local:bench', teamId: 'local' } },
  );
  if (r.status !== 'succeeded') throw new Error(`cdb rotation of ${secret} ${r.status}: ${r.error ?? ''}`);
  stepTimes.push(r.steps.map((s) => `${s.name} ${sec(s.ms)} s`).join(', '));
}
/** Where each /cdb rotate run spent its time, printed under its row. */
const stepTimes: string[] = [];

const restart = async (project: string, services: string[]) => {
  const ids = (await Promise.all(services.map((s) => containersOf(project, s)))).flat();
  await runCommand('docker', ['restart', '-t', '10', ...ids]);
};

function sql(stack: RotationStack, service: string, argv: string[], input: string): void {
  const id = spawnSync('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${stack.project}`, '--filter', `label=com.docker.compose.service=${service}`], { encoding: 'utf8' }).stdout.trim();
  const r = spawnSync('docker', ['exec', '-i', id, ...argv], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${service}: ${r.stderr}`);
}

/** The seeds' scripts, as written there (echo > file, mv for Redis, docker restart). */
const SEEDS = {
  async redis(stack: RotationStack, consumers: string[]) {
    await writeFile(`${stack.path('redis_password')}.new`, `${alnum(32)}\n`, { mode: 0o600 });
    await rename(`${stack.path('redis_password')}.new`, stack.path('redis_password'));
    await restart(stack.project, ['redis']);
    await restart(stack.project, consumers);
  },
  async apiKey(stack: RotationStack) {
    await writeFile(stack.path('api_key_old'), await readFile(stack.path('api_key')));
    await writeFile(stack.path('api_key'), `${alnum(48)}\n`);
    await restart(stack.project, ['api']);
    // (the seeds sleep 300 s here: not timed) then remove _old and restart again; emptied, not
    // removed, so the single-file bind mount stays a file.
    await writeFile(stack.path('api_key_old'), '');
    await restart(stack.project, ['api']);
  },
  async appSecret(stack: RotationStack) {
    await writeFile(stack.path('app_secret'), `${alnum(64)}\n`);
    await restart(stack.project, ['app']);
  },
  async postgres(stack: RotationStack) {
    const pw = alnum(32);
    const user = (await readFile(stack.path('pg_user'), 'utf8')).trim();
    sql(stack, 'pg', ['psql', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', 'app'], `ALTER ROLE "${user}" PASSWORD '${pw}';\n`);
    await writeFile(stack.path('pg_password'), `${pw}\n`);
    await restart(stack.project, ['pgcons']);
  },
  async mariadb(stack: RotationStack) {
    const pw = alnum(32);
    const user = (await readFile(stack.path('maria_user'), 'utf8')).trim();
    const root = (await readFile(stack.path('maria_root'), 'utf8')).trim();
    sql(stack, 'maria', ['sh', '-c', 'IFS= read -r MYSQL_PWD; export MYSQL_PWD; exec mariadb -uroot app'], `${root}\nALTER USER '${user}'@'%' IDENTIFIED BY '${pw}';\n`);
    await writeFile(stack.path('maria_password'), `${pw}\n`);
    await restart(stack.project, ['mcons']);
  },
};

async function pair(stack: RotationStack, config: Config, secret: string, consumers: string[], seeds: () => Promise<void>): Promise<{ cdb: Sample[]; seeds: Sample[] }> {
  const out = { cdb: [] as Sample[], seeds: [] as Sample[] };
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 ? ['seeds', 'cdb'] : ['cdb', 'seeds'];
    for (const who of order) {
      if (who === 'cdb') out.cdb.push(await measure(stack, consumers, () => cdb(stack, config, secret)));
      else out.seeds.push(await measure(stack, consumers, seeds));
    }
  }
  return out;
}

function row(name: string, r: { cdb: Sample[]; seeds: Sample[] }): string {
  for (const t of stepTimes.splice(0)) console.log(`<!-- ${name}: ${t} -->`);
  const c = { wall: median(r.cdb.map((s) => s.wallMs)), down: median(r.cdb.map((s) => s.downMs)), fails: r.cdb.reduce((a, s) => a + s.failures, 0) };
  const s = { wall: median(r.seeds.map((x) => x.wallMs)), down: median(r.seeds.map((x) => x.downMs)), fails: r.seeds.reduce((a, x) => a + x.failures, 0) };
  return `| ${name} | ${sec(c.wall)} s | ${c.down} ms (${c.fails} failed probes) | ${sec(s.wall)} s | ${s.down} ms (${s.fails} failed probes) |`;
}

async function main(): Promise<void> {
  console.log(`# bench:rotation, ${RUNS} runs per side, ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| kind | /cdb rotate wall (median) | /cdb rotate downtime (median) | seeds wall (median) | seeds downtime (median) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  const a = ONLY === 'five' ? undefined : await startRotationStack();
  if (a) try {
    const config = configFor(a);
    // The databases need their second user once (what `/cdb rotate <secret> --setup` does).
    for (const secret of ['pg_password', 'maria_password']) {
      const r = await startRotation({ config, docker, redis, log, workerId: 'bench', signal: new AbortController().signal, progress: () => undefined },
        { secret, mode: 'setup', requestId: `bench${randomSuffix(8)}`, command: 'rotate', args: { secret }, origin: { kind: 'cli' }, actor: { userId: 'local:bench', teamId: 'local' } });
      if (r.status !== 'succeeded') throw new Error(`setup of ${secret}: ${r.error ?? r.status}`);
    }
    const kinds: [string, string, string[], () => Promise<void>][] = [
      ['redis (1 consumer)', 'redis_password', ['rcons'], () => SEEDS.redis(a, ['rcons'])],
      ['api-key', 'internal_api_key', ['api'], () => SEEDS.apiKey(a)],
      ['app-secret (2 replicas)', 'django_secret_key', ['app'], () => SEEDS.appSecret(a)],
      ['postgres', 'pg_password', ['pgcons'], () => SEEDS.postgres(a)],
      ['mariadb', 'maria_password', ['mcons'], () => SEEDS.mariadb(a)],
    ];
    for (const [name, secret, consumers, seeds] of kinds) console.log(row(name, await pair(a, config, secret, consumers, seeds)));
  } finally {
    await a.down();
  }
  const b = await startRotationStack({ kinds: ['redis'], redisConsumers: 5, redisReload: 'restart' });
  try {
    const names = redisConsumerNames(5);
    console.log(row('redis, 5 consumers restarted', await pair(b, configFor(b), 'redis_password', names, () => SEEDS.redis(b, names))));
  } finally {
    await b.down();
  }
}

try {
  await main();
} finally {
  await redis.quit();
}
