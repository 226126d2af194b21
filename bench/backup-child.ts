// One backup, restore or drill in a process of its own, so its peak RSS is its own
// (bench/backup.ts starts it; it prints one JSON line).
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { buildConfig } from '../src/shared/config/load.ts';
import { createLogger } from '../src/shared/log.ts';
import backupJob from '../jobs/backup.ts';
import restoreJob from '../jobs/restore.ts';
import drillJob from '../jobs/drill.ts';
import type { BackupResult, DrillResult, RestoreResult } from '../src/shared/contracts/backup.ts';

const what = process.argv[2] as 'backup' | 'restore' | 'drill' | 'idle';
const file = JSON.parse(process.env.CDB_BENCH_CONFIG ?? '{}') as Record<string, unknown>;
const config = buildConfig(file, { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, '(bench child)');
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
// When each progress line came, ms from the job's start: where the time outside the dumps goes.
const phases: string[] = [];
const t0 = performance.now();
const ctx = {
  requestId: `bench-${Date.now()}`, actor: { userId: 'U0BENCH', teamId: 'T0001', name: 'bench' }, config, docker: new Docker(), redis,
  log: createLogger({ level: 'silent' }), signal: new AbortController().signal, progress: (text: string) => void phases.push(`${(performance.now() - t0).toFixed(0)} ${text.replace(/…$/, '')}`), notify: async () => undefined,
  approval: { id: 'bench-approval-0001', approvers: ['U0BOB'] },
};
let summary: Record<string, unknown>;
if (what === 'backup') {
  const r = (await backupJob.run(ctx, { components: ['db'] })) as BackupResult;
  // Per artifact (database) how long its dump took: the rest of `ms` is discovery, checks and the manifest.
  summary = { name: r.name, bytes: r.totalBytes, raw: r.artifacts.reduce((n, a) => n + a.rawBytes, 0), steps: r.artifacts.map((a) => `${a.target} ${(a.ms / 1000).toFixed(2)} s`).join(', ') };
} else if (what === 'restore') {
  const r = (await restoreJob.run(ctx, { backup: process.env.CDB_BENCH_BACKUP ?? 'latest', components: ['db'] })) as RestoreResult;
  if (!r.ok) throw new Error(`restore failed: ${r.error}`);
  const step = (k: string) => r.components.reduce((n, c) => n + (c.steps?.[k] ?? 0), 0);
  summary = { verifyMs: r.verifyMs, restoreMs: r.components.reduce((n, c) => n + c.ms, 0), pgRestoreMs: step('pg_restore'), countsMs: step('counts'), recoveryMs: r.recoveryMs, totalMs: r.totalMs };
} else if (what === 'idle') {
  // Everything loaded, nothing done: the process's floor, to tell what a backup adds.
  summary = {};
} else {
  const r = (await drillJob.run(ctx, { backup: process.env.CDB_BENCH_BACKUP ?? 'latest' })) as DrillResult;
  if (!r.ok) throw new Error(`drill failed: ${JSON.stringify(r.checks)} ${r.error ?? ''}`);
  summary = { restoreMs: r.restoreMs, totalMs: r.totalMs };
}
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ what, ms, maxRssMB: process.resourceUsage().maxRSS / 1024, phases: phases.join('; '), ...summary })}\n`);
await redis.quit();
