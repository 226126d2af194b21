import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { connectRedis, jobsQueue, keyPrefix } from '../shared/queue/names.ts';
import { OpsError } from '../shared/errors.ts';
import { configForTarget, listTargets, targetList } from '../shared/targets.ts';
import { createDocker } from '../host/docker-client.ts';
import { loadJobs, type JobRegistry } from '../worker/job-registry.ts';
import { startWorker, type RunningWorker } from '../worker/run-worker.ts';
import { startHeartbeat } from '../worker/heartbeat.ts';
import { startDoctorSchedule } from '../features/doctor/schedule.ts';
import { startAlertWatcher, type AlertWatcher } from '../features/alerts/watcher.ts';
import { startWgRecovery } from '../features/rotation/wireguard/recovery-loop.ts';
import { startRotationRecovery } from '../features/rotation/recovery.ts';
import { startSecretsCheckSchedule } from '../features/rotation/schedule.ts';
import { WORKER_ID } from '../features/rotation/job-deps.ts';
import { startRecoverySweeper } from '../features/rollback/recovery-sweeper.ts';
import { startRestoreRecovery } from '../features/backup/recover.ts';
import { startDrillSchedule } from '../features/backup/drill-schedule.ts';

export interface RunningWorkerProcess {
  /** Its Redis connection and Engine client, for /healthz and /metrics. */
  readonly connection: Redis;
  readonly docker: Docker;
  /** The jobs queues it consumes (`jobs`, or `jobs-<target>` per served target), for /metrics. */
  readonly jobQueues: readonly string[];
  close(): Promise<void>;
}

export interface WorkerProcessOptions {
  /** `CDB_TARGET`: the targets this worker serves (comma-separated names). */
  readonly targets?: string;
}

/**
 * Which targets this process serves. Without `targets:` in the config: the one stack. With them,
 * `CDB_TARGET` must say which (a worker on a host serves that host's target; a central worker
 * reaching targets over ssh:// lists several), except when there is only one.
 */
export function servedTargets(config: Config, wanted: string | undefined): string[] {
  const all = listTargets(config);
  const explicit = all.filter((t) => t.explicit);
  if (!explicit.length) {
    if (wanted && wanted.split(',').some((n) => n.trim() !== 'default')) throw new OpsError('CONFIG_INVALID', 'CDB_TARGET is set but the configuration has no `targets:`.');
    return [all[0]?.name ?? 'default'];
  }
  if (!wanted) {
    if (explicit.length === 1) return [explicit[0]?.name as string];
    throw new OpsError('CONFIG_INVALID', `This configuration has ${explicit.length} targets (${targetList(config)}): start the worker with CDB_TARGET=<name>[,<name>…] to say which it serves.`);
  }
  const names = [...new Set(wanted.split(',').map((n) => n.trim()).filter(Boolean))];
  for (const n of names) configForTarget(config, n);
  return names;
}

/** `jobs` replaces the jobs/ folder (tests add processors of their own). */
export async function startWorkerProcess(config: Config, log: Logger, jobsOverride?: JobRegistry, opts: WorkerProcessOptions = {}): Promise<RunningWorkerProcess> {
  const targets = servedTargets(config, opts.targets ?? process.env.CDB_TARGET);
  const connection = connectRedis(config, log);
  const jobs = jobsOverride ?? (await loadJobs());
  const runs: RunningWorker[] = [];
  const alerts: AlertWatcher[] = [];
  const beats: { name: string; project: string; docker: ReturnType<typeof createDocker> }[] = [];
  const sweepers: { stop(): Promise<void> }[] = [];
  const recoveries: { close(): Promise<void> }[] = [];
  for (const name of targets) {
    const view = configForTarget(config, name);
    const docker = createDocker(view);
    const tlog = view.target ? log.child({ target: name }) : log;
    const running = startWorker({ config, jobs, docker, connection, log: tlog, ...(view.target ? { target: name } : {}) });
    runs.push(running);
    // Rollbacks whose worker died are finished or reverted: at start, then every few seconds (per target).
    sweepers.push(startRecoverySweeper({ config: view, docker, redis: connection, log: tlog, send: (r) => running.replies.send(r) }));
    await startDoctorSchedule(view, connection, tlog);
    await startDrillSchedule(view, connection, tlog);
    // A restore interrupted by a killed worker is finished or undone here (or by any live worker of its target).
    recoveries.push(startRestoreRecovery({ config: view, docker, connection, log: tlog, replies: running.replies }));
    alerts.push(await startAlertWatcher({ config: view, docker, connection, log: tlog }));
    // Secret rotations are per target: the target's secrets, its overdue check on its queue, and its
    // interrupted rotations resumed by its own workers (state under the target's key prefix).
    await startSecretsCheckSchedule(view, connection, tlog);
    recoveries.push(startRotationRecovery({ config: view, docker, redis: connection, log: tlog, replies: running.replies, workerId: WORKER_ID }));
    // A WireGuard rotation this target's worker started and did not finish is finished or rolled back here.
    recoveries.push(startWgRecovery({ config: view, connection, log: tlog, send: (r) => running.replies.send(r), ...(view.target ? { target: name } : {}) }));
    beats.push({ name, project: view.stack.project, docker });
  }
  // Three beats per staleness window: one late beat never makes a live worker look gone.
  const heartbeat = startHeartbeat({ redis: connection, prefix: keyPrefix(config), targets: beats, concurrency: config.worker.concurrency, log, intervalMs: Math.min(5000, (config.workerStaleSeconds * 1000) / 3) });
  log.info({ jobs: [...jobs.keys()], targets, concurrency: config.worker.concurrency }, 'worker started');
  return {
    connection,
    // /healthz checks the first served target's engine (a worker on a host serves that host's target).
    docker: beats[0]?.docker ?? createDocker(config),
    jobQueues: targets.map((n) => jobsQueue(configForTarget(config, n))),
    async close() {
      // Running jobs (a rollback) finish before close() resolves; their journals end with them.
      for (const s of sweepers) await s.stop();
      await heartbeat.close();
      for (const a of alerts) await a.close();
      for (const r of recoveries) await r.close();
      for (const r of runs) await r.close();
      await connection.quit();
    },
  };
}
