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
import { startRecoverySweeper } from '../features/rollback/recovery-sweeper.ts';

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
  const alerts = await startAlertWatcher({ config, docker, connection, log });
  log.info({ jobs: [...jobs.keys()], docker: config.stack.docker, concurrency: config.worker.concurrency }, 'worker started');
  return {
    connection,
    docker,
    async close() {
      // Running jobs (a rollback) finish before close() resolves; their journals end with them.
      await sweeper.stop();
      await alerts.close();
      await running.close();
      await connection.quit();
    },
  };
}
