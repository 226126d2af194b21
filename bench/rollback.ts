// Rollback speed: /cdb rollback (the job, in-process) against `docker-compose up -d` pointing the
// same services at the same images, side by side in one run, on a 10-service stack whose
// services have healthchecks at a 1 s interval.
//
//   npm run bench:rollback -- [runs=5] [services=10]
//
// Every measurement starts from the same state (all services on v2, healthy) and ends when all
// services run v1 and are healthy. cdb's time includes tagging the pre-rollback state, writing
// the overlay and pruning; compose's is reported twice: when `up -d` returns, and when healthy.
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensureAppImages, removeRollbackArtifacts } from '../test/support/app-images.ts';
import { runCommand } from '../test/support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeServices, type ComposeStack } from '../test/support/compose-stack.ts';
import { buildConfig } from '../src/shared/config/load.ts';
import { createLogger } from '../src/shared/log.ts';
import type { JobContext } from '../src/worker/define-job.ts';
import type { RollbackResult, TagResult } from '../src/shared/contracts/rollback.ts';
import tagJob from '../jobs/tag.ts';
import rollbackJob from '../jobs/rollback.ts';

const RUNS = Number(process.argv[2] ?? 5);
const SERVICES = Number(process.argv[3] ?? 10);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const docker = new Docker();
// Jobs borrow one client, as in the worker; it connects on first use.
const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: null });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const sec = (ms: number) => (ms / 1000).toFixed(2);

async function allOn(project: string, names: string[], imageId: string): Promise<boolean> {
  const list = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
  return names.every((n) => list.some((c) => c.Labels['com.docker.compose.service'] === n && c.ImageID === imageId && c.Status.includes('(healthy)')));
}

async function waitAllOn(project: string, names: string[], imageId: string): Promise<void> {
  await waitFor(() => allOn(project, names, imageId), { what: `all services on ${imageId.slice(7, 19)} and healthy`, timeoutMs: 180_000, intervalMs: 100 });
}

async function main(): Promise<void> {
  const app = await ensureAppImages();
  const [v1, v2] = await Promise.all([docker.getImage(app.v1).inspect(), docker.getImage(app.v2).inspect()]);
  const project = `cdbt${randomSuffix()}`;
  const prefix = `cdbt-${randomSuffix()}`;
  const manifestDir = await mkdtemp(join(tmpdir(), 'cdbt-bench-'));
  const names = Array.from({ length: SERVICES }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
  const retag = async (image: string) => {
    for (const n of names) await runCommand('docker', ['tag', image, `${project}/${n}:current`]);
  };
  await retag(app.v1);
  const services: ComposeServices = Object.fromEntries(names.map((n) => [n, { image: `${project}/${n}:current`, restart: 'unless-stopped', ports: ['127.0.0.1::8080'] }]));
  let stack: ComposeStack | undefined;
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const cdb: number[] = [];
  const cdbJob: number[] = [];
  const upReturned: number[] = [];
  const upHealthy: number[] = [];
  let sample: RollbackResult | undefined;
  try {
    stack = await startComposeStack({ project, services });
    const s = stack;
    await waitAllOn(project, names, v1.Id);
    const ctx = (): JobContext => ({
      requestId: `bench-${randomSuffix()}`,
      actor: { userId: 'U0BENCH', teamId: 'T0BENCH', name: 'bench' },
      config: buildConfig({ stack: { project, composeFiles: [s.file] }, redis: { prefix }, rollback: { manifestDir } }, { REDIS_URL }, '(bench)'),
      docker, redis, log, signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined,
    });
    const tag = ((await tagJob.run(ctx(), { label: 'bench' })) as TagResult).tag;
    const pin = join(s.dir, 'pin-v1.yml');
    await writeFile(pin, stringify({ version: '2.4', services: Object.fromEntries(names.map((n) => [n, { image: `cdb-rollback/${project}/${n}:${tag}` }])) }));
    const toV2 = async () => {
      await retag(app.v2);
      await s.compose(['up', '-d', '--force-recreate']);
      await waitAllOn(project, names, v2.Id);
    };
    const runCdb = async () => {
      await toV2();
      const t0 = performance.now();
      const r = (await rollbackJob.run(ctx(), { tag })) as RollbackResult;
      // A rollback that was undone (a health timeout under load) never gets to v1: say so at once.
      if (!r.ok) throw new Error(`rollback failed: ${JSON.stringify(r.attempts)}`);
      await waitAllOn(project, names, v1.Id);
      cdb.push(performance.now() - t0);
      cdbJob.push(r.totalMs);
      sample = r;
    };
    const runCompose = async () => {
      await toV2();
      const t0 = performance.now();
      await runCommand('docker-compose', ['-p', project, '-f', s.file, '-f', pin, 'up', '-d'], { cwd: s.dir });
      upReturned.push(performance.now() - t0);
      await waitAllOn(project, names, v1.Id);
      upHealthy.push(performance.now() - t0);
    };
    for (let i = 0; i < RUNS; i++) {
      // Alternate who goes first, so neither always runs on a warmer Engine.
      if (i % 2 === 0) { await runCdb(); await runCompose(); } else { await runCompose(); await runCdb(); }
      process.stderr.write(`run ${i + 1}/${RUNS}: cdb ${sec(cdb.at(-1) ?? 0)} s · compose up -d ${sec(upReturned.at(-1) ?? 0)} s, healthy ${sec(upHealthy.at(-1) ?? 0)} s\n`);
    }
  } finally {
    await stack?.down().catch((err: unknown) => {
      // Seen with plain docker-compose too on Engine 20.10 under load: "network … has active endpoints".
      const last = String((err as { stderr?: string }).stderr ?? err).trim().split('\n').at(-1) ?? '';
      process.stderr.write(`cleanup: docker-compose down failed: ${last.slice(0, 300)}\n`);
    });
    await removeRollbackArtifacts({ project, prefix, manifestDir, redisUrl: REDIS_URL });
    await redis.quit().catch(() => redis.disconnect());
  }

  const [engine, compose] = await Promise.all([
    docker.version(),
    runCommand('docker-compose', ['version', '--short']).then((r) => r.stdout.trim()),
  ]);
  const m = { cdb: median(cdb), cdbJob: median(cdbJob), up: median(upReturned), healthy: median(upHealthy) };
  const lines = [
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} vCPU, ${Math.round(totalmem() / 2 ** 30)} GiB RAM; Docker Engine ${engine.Version} (API ${engine.ApiVersion}), docker-compose ${compose}; ${new Date().toISOString().slice(0, 10)}.`,
    `Stack: ${SERVICES} services, each a busybox httpd image with HEALTHCHECK --interval=1s, restart unless-stopped, one published port. All on v2 and healthy → all on v1 and healthy. ${RUNS} runs, alternating who goes first; medians.`,
    '',
    '| | median | runs (s) |',
    '|---|---|---|',
    `| \`/cdb rollback\` (job, until all healthy) | **${sec(m.cdb)} s** | ${cdb.map(sec).join(', ')} |`,
    `| \`/cdb rollback\` as reported (totalMs, incl. pre-rollback tag, overlay, prune) | ${sec(m.cdbJob)} s | ${cdbJob.map(sec).join(', ')} |`,
    `| \`docker-compose up -d\` (returned) | ${sec(m.up)} s | ${upReturned.map(sec).join(', ')} |`,
    `| \`docker-compose up -d\` until all healthy | ${sec(m.healthy)} s | ${upHealthy.map(sec).join(', ')} |`,
    '',
    `Ratio: docker-compose up -d until healthy / cdb = **${(m.healthy / m.cdb).toFixed(2)}×**; docker-compose up -d (returned, health not awaited) / cdb = ${(m.up / m.cdb).toFixed(2)}×. Seeds' target: 60 s; goal here: under 10 s.`,
  ];
  if (sample) {
    const a = sample.attempts[0];
    lines.push('', `Per-service times of the last cdb run (create beside the old container → stop old → start new → healthy): ${a?.services.map((x) => `${x.service} ${sec(x.ms)} s`).join(', ')}.`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
