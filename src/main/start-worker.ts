import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { connectRedis } from '../shared/queue/names.ts';
import { createDocker } from '../host/docker-client.ts';
import { loadJobs, type JobRegistry } from '../worker/job-registry.ts';
import { startWorker } from '../worker/run-worker.ts';
import { startDoctorSchedule } from '../features/doctor/schedule.ts';
import { startAlertWatcher } from '../features/alerts/watcher.ts';
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
  close(): Promise<void>;
}

/** `jobs` replaces the jobs/ folder (tests add processors of their own). */
export async function startWorkerProcess(config: Config, log: Logger, jobsOverride?: JobRegistry): Promise<RunningWorkerProcess> {
  const connection = connectRedis(config, log);
  const jobs = jobsOverride ?? (await loadJobs());
  const docker = createDocker(config);
  const running = startWorker({ config, jobs, docker, connection, log });
  // Rollbacks whose worker died are finished or reverted: at start, then every few seconds.
  const sweeper = startRecoverySweeper({ config, docker, redis: connection, log, send: (r) => running.replies.send(r) });
  await startDoctorSchedule(config, connection, log);
  await startDrillSchedule(config, connection, log);
  // A restore interrupted by a killed worker is finished or undone here (or by any live worker).
  const recovery = startRestoreRecovery({ config, docker, connection, log, replies: running.replies });
  const alerts = await startAlertWatcher({ config, docker, connection, log });
  await startSecretsCheckSchedule(config, connection, log);
  // Rotations whose worker died are resumed (or rolled back) by whichever worker is alive.
  const rotations = startRotationRecovery({ config, docker, redis: connection, log, replies: running.replies, workerId: WORKER_ID });
  log.info({ jobs: [...jobs.keys()], docker: config.stack.docker, concurrency: config.worker.concurrency }, 'worker started');
  return {
    connection,
    docker,
    async close() {
      await rotations.close();
      // Running jobs (a rollback) finish before close() resolves; their journals end with them.
      await sweeper.stop();
      await alerts.close();
      await recovery.close();
      await running.close();
      await connection.quit();
    },
  };
}
