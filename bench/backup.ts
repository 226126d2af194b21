// Backup and restore speed against the raw tools, side by side in one run:
//
//   npm run bench:backup -- [runs=3] [scales=17,70]
//
// A PostgreSQL container (the local Debian image, real PostgreSQL 15) filled with `pgbench -i -s N`
// (-s 17 ≈ 250 MB, -s 70 ≈ 1 GB on disk). For each size, alternating who goes first:
//  - backup: the `backup` job (pg_dump -Fc in the container through the Engine API, stored as
//    pg_dump compressed it, sha256, file 0600, read back and checked) in a process of its own, so
//    its peak RSS is its own, against `docker exec <pg> pg_dump -Fc app > file`;
//  - restore: the `restore` job (sha256 check, safety backup, restore into a fresh database,
//    row counts, swap) against `docker exec -i <pg> pg_restore -d <fresh db> < file`;
//  - drill: the `drill` job end to end (scratch container, restore, counts, clean-up).
// The job child runs the compiled build under plain `node` (dist/, built here first with
// bench/tsconfig.child.json), as the image does. CDB_BENCH_TSX=1 alternates it with
// `node --import tsx` on the sources (what `npm run start:worker` runs): tsx's loader costs
// memory and, in a restore, time, so its runs are not what production gets.
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ensureDbImage, PG_SERVING } from '../test/support/db-images.ts';
import { runCommand } from '../test/support/images.ts';
import { randomSuffix, startComposeStack, waitFor } from '../test/support/compose-stack.ts';

const RUNS = Number(process.argv[2] ?? 3);
const SCALES = (process.argv[3] ?? '17,70').split(',').map(Number);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const sec = (ms: number) => (ms / 1000).toFixed(1);
// Median of raw/cdb within each pair: the two halves of a pair ran minutes apart at most, so this
// is steadier than the ratio of the medians when the machine's load drifts.
const pairRatio = (raw: readonly number[], ours: readonly number[]) => median(raw.map((r, i) => r / (ours[i] ?? Number.NaN))).toFixed(2);

type Runtime = 'tsx' | 'node';

// The flags compose starts the worker with (node … dist/src/main/worker.js), so the child's memory
// is the worker's; CDB_BENCH_NODE_FLAGS replaces them to try another setting.
const WORKER_NODE_FLAGS: string[] = process.env.CDB_BENCH_NODE_FLAGS !== undefined
  ? process.env.CDB_BENCH_NODE_FLAGS.split(' ').filter(Boolean)
  : (() => {
      const compose = parseYaml(readFileSync('compose/docker-compose.yml', 'utf8')) as { services: { worker: { command: string[] } } };
      return compose.services.worker.command.filter((a) => a.startsWith('--'));
    })();
const runtimeOf = (i: number): Runtime => (process.env.CDB_BENCH_TSX && i % 2 === 0 ? 'tsx' : 'node');

function child(what: string, config: unknown, runtime: Runtime = 'node', extraEnv: Record<string, string> = {}): Promise<Record<string, number | string>> {
  return new Promise((resolve, reject) => {
    const args = runtime === 'tsx' ? ['--import', 'tsx', 'bench/backup-child.ts', what] : ['dist/bench/backup-child.js', what];
    const flags = runtime === 'node' ? WORKER_NODE_FLAGS : [];
    const p = spawn(process.execPath, [...flags, ...args], { env: { ...process.env, ...extraEnv, CDB_BENCH_CONFIG: JSON.stringify(config), REDIS_URL }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.once('exit', (code) => (code === 0 ? resolve({ ...(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, number | string>), runtime }) : reject(new Error(`${what} child exited ${code}: ${err.slice(-2000)}`))));
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function dumpTo(container: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(file);
    const p = spawn('docker', ['exec', container, 'pg_dump', '-U', 'postgres', '-Fc', 'app'], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.pipe(out);
    p.once('exit', (code) => out.end(() => (code === 0 ? resolve() : reject(new Error(`pg_dump exited ${code}`)))));
  });
}

/** One SQL command in the container, as its superuser. */
const psqlIn = (container: string, db: string, sql: string, timeoutMs?: number) =>
  runCommand('docker', ['exec', container, 'psql', '-U', 'postgres', '-d', db, '-c', sql], timeoutMs ? { timeoutMs } : {});

// Each timed step starts from the same state: the previous step's dirty pages written out, not a
// checkpoint (1 GB of it) landing in the middle of whichever ran second; and `app` vacuumed. A cdb
// restore swaps in a freshly loaded `app` whose rows carry no hint bits yet: the next safety
// backup's first read would dirty all 1 GB of it (and autovacuum would start on it) right before
// that job's own pg_restore, a cost a long-lived production database does not have.
async function settle(container: string): Promise<void> {
  await psqlIn(container, 'app', 'VACUUM (ANALYZE)', 600_000);
  await psqlIn(container, 'template1', 'CHECKPOINT');
  await runCommand('sync', []);
}

async function rawRestore(container: string, file: string, db: string): Promise<void> {
  await psqlIn(container, 'template1', `DROP DATABASE IF EXISTS ${db}`);
  await psqlIn(container, 'template1', `CREATE DATABASE ${db} TEMPLATE template0`);
  await runCommand('sh', ['-c', 'docker exec -i "$1" pg_restore -U postgres --exit-on-error -d "$2" < "$3"', 'sh', container, db, file], { timeoutMs: 3_600_000 });
}

const rssBy = (xs: Array<Record<string, number | string>>) =>
  (['tsx', 'node'] as const).map((r) => {
    const v = xs.filter((x) => x.runtime === r).map((x) => Number(x.maxRssMB));
    return v.length ? `${r} ${Math.max(...v).toFixed(0)} MB` : '';
  }).filter(Boolean).join(', ');

async function main(): Promise<void> {
  await runCommand('npx', ['tsc', '-p', 'bench/tsconfig.child.json'], { timeoutMs: 600_000 });
  const image = await ensureDbImage();
  const project = `cdbt${randomSuffix()}`;
  const prefix = `cdbt-${randomSuffix()}`;
  const dir = await mkdtemp(join(tmpdir(), 'cdbt-bench-backup-'));
  const backupDir = join(dir, 'backups');
  await writeFile(join(dir, 'pg'), `pg${randomSuffix(12)}`);
  await chmod(join(dir, 'pg'), 0o644);
  const stack = await startComposeStack({
    project,
    services: { db: { image, command: ['postgres'], environment: { POSTGRES_PASSWORD_FILE: '/run/secrets/pg', POSTGRES_DB: 'app' }, volumes: ['pgdata:/var/lib/postgresql/data', `${dir}/pg:/run/secrets/pg:ro`] } },
    extra: { volumes: { pgdata: {} } },
  });
  const config = { stack: { project, composeFiles: [stack.file] }, redis: { prefix }, backup: { dir: backupDir, keep: 100, healthTimeoutSeconds: 600 } };
  const rows: string[] = [];
  try {
    const pg = (await stack.container('db')).name;
    await waitFor(async () => {
      await runCommand('docker', ['exec', pg, ...PG_SERVING]);
      return (await runCommand('docker', ['exec', pg, 'psql', '-U', 'postgres', '-d', 'app', '-c', 'select 1'])).stdout.includes('1');
    }, { what: 'PostgreSQL', timeoutMs: 120_000 });
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, worker flags ${WORKER_NODE_FLAGS.join(' ') || 'none'}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const idle = [await child('idle', config, 'tsx'), await child('idle', config, 'node')];
    console.log(`idle worker process (all modules loaded, nothing done): peak RSS ${rssBy(idle)}`);
    rows.push(`| idle | — | — | — | — | — | ${rssBy(idle)} |`);
    for (const scale of SCALES) {
      await runCommand('docker', ['exec', pg, '/usr/lib/postgresql/15/bin/pgbench', '-U', 'postgres', '-i', '-q', '-s', String(scale), 'app'], { timeoutMs: 3_600_000 });
      const size = (await runCommand('docker', ['exec', pg, 'psql', '-U', 'postgres', '-d', 'app', '-Atc', "select pg_database_size('app')"])).stdout.trim();
      const dbMB = Number(size) / 2 ** 20;
      const ours: Array<Record<string, number | string>> = [];
      const raw: number[] = [];
      let rawBytes = 0;
      for (let i = 0; i < (process.env.CDB_BENCH_ONLY === 'restore' ? 0 : RUNS); i++) {
        const rawFile = join(dir, `raw-${scale}-${i}.dump`);
        const runRaw = async () => {
          await settle(pg);
          raw.push(await timed(() => dumpTo(pg, rawFile)));
          rawBytes = (await stat(rawFile)).size;
          await rm(rawFile);
        };
        const runOurs = async () => {
          await settle(pg);
          ours.push(await child('backup', config, runtimeOf(i)));
        };
        if (i % 2) await runOurs().then(runRaw);
        else await runRaw().then(runOurs);
        console.log(`  s=${scale} run ${i + 1}: raw ${sec(raw.at(-1) ?? 0)} s, cdb ${sec(Number(ours.at(-1)?.ms))} s (${ours.at(-1)?.steps}), cdb RSS ${Number(ours.at(-1)?.maxRssMB).toFixed(0)} MB (${ours.at(-1)?.runtime}), load ${loadavg()[0]?.toFixed(1)}`);
        if (process.env.CDB_BENCH_PHASES) console.log(`    phases (ms): ${ours.at(-1)?.phases}`);
      }
      const ourMs = median(ours.map((o) => Number(o.ms)));
      const rawMs = median(raw);
      if (ours.length) rows.push(`| backup | ${scale} | ${dbMB.toFixed(0)} MB | ${sec(rawMs)} s (${(rawBytes / 2 ** 20).toFixed(0)} MB) | ${sec(ourMs)} s (${(Number(ours[0]?.bytes) / 2 ** 20).toFixed(0)} MB) | ${(rawMs / ourMs).toFixed(2)}× (pairs ${pairRatio(raw, ours.map((o) => Number(o.ms)))}×) | ${rssBy(ours)} |`);
      // CDB_BENCH_ONLY=backup: the backup pairs alone (a quick rerun when the machine is quiet).
      if (process.env.CDB_BENCH_ONLY === 'backup') continue;
      if (process.env.CDB_BENCH_ONLY === 'restore' && !ours.length) await child('backup', config);
      // Restore: the latest backup over the live database, against pg_restore of the raw dump into a fresh one.
      const rawFile = join(dir, `raw-${scale}.dump`);
      await dumpTo(pg, rawFile);
      const restores: Array<Record<string, number | string>> = [];
      const rawR: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const runRaw = async () => {
          await settle(pg);
          rawR.push(await timed(() => rawRestore(pg, rawFile, 'rawrestore')));
          // Dropped at once: left there, autovacuum rewrites all 1 GB of it (hint bits, freezing) during the next step.
          await psqlIn(pg, 'template1', 'DROP DATABASE IF EXISTS rawrestore');
        };
        const runOurs = async () => {
          await settle(pg);
          restores.push(await child('restore', config, runtimeOf(i)));
        };
        if (i % 2) await runOurs().then(runRaw);
        else await runRaw().then(runOurs);
        console.log(`  s=${scale} restore ${i + 1}: raw pg_restore ${sec(rawR.at(-1) ?? 0)} s, cdb total ${sec(Number(restores.at(-1)?.ms))} s (verify ${sec(Number(restores.at(-1)?.verifyMs))}, pg_restore+counts+swap ${sec(Number(restores.at(-1)?.restoreMs))} of which pg_restore ${sec(Number(restores.at(-1)?.pgRestoreMs))} and counts ${sec(Number(restores.at(-1)?.countsMs))}, recovery ${sec(Number(restores.at(-1)?.recoveryMs))}), RSS ${Number(restores.at(-1)?.maxRssMB).toFixed(0)} MB (${restores.at(-1)?.runtime}), load ${loadavg()[0]?.toFixed(1)}`);
        if (process.env.CDB_BENCH_PHASES) console.log(`    phases (ms): ${restores.at(-1)?.phases}`);
      }
      await rm(rawFile);
      const rr = median(rawR);
      const ourRestore = median(restores.map((o) => Number(o.restoreMs)));
      const ourPgRestore = median(restores.map((o) => Number(o.pgRestoreMs)));
      rows.push(`| restore | ${scale} | ${dbMB.toFixed(0)} MB | ${sec(rr)} s | pg_restore ${sec(ourPgRestore)} s (**${(rr / ourPgRestore).toFixed(2)}×**, pairs ${pairRatio(rawR, restores.map((o) => Number(o.pgRestoreMs)))}×); + row counts and swap ${sec(ourRestore)} s; ${sec(median(restores.map((o) => Number(o.ms))))} s with checks and safety backup | ${(rr / ourRestore).toFixed(2)}× (pairs ${pairRatio(rawR, restores.map((o) => Number(o.restoreMs)))}×) | ${rssBy(restores)} |`);
      if (process.env.CDB_BENCH_ONLY === 'restore') continue;
      const drill = await child('drill', config);
      console.log(`  s=${scale} drill: ${sec(Number(drill.ms))} s, load ${loadavg()[0]?.toFixed(1)}`);
      rows.push(`| drill | ${scale} | ${dbMB.toFixed(0)} MB | — | ${sec(Number(drill.ms))} s end to end (restore ${sec(Number(drill.restoreMs))} s) | — | ${rssBy([drill])} |`);
      console.log(rows.slice(-3).join('\n'));
    }
  } finally {
    await stack.down().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  console.log('\n| step | pgbench -s | database | raw tool (median) | cdb (median) | raw / cdb | cdb peak RSS |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(rows.join('\n'));
}

await main();
process.exit(0);
