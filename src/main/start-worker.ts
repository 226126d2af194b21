import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { connectRedis } from '../shared/queue/names.ts';
import { createDocker } from '../host/docker-client.ts';
import { loadJobs, type JobRegistry } from '../worker/job-registry.ts';
import { startWorker } from '../worker/run-worker.ts';
import { startDoctorSchedule } from '../features/doctor/schedule.ts';
import { startAlertWatcher } from '../features/alerts/watcher.ts';
import { startWgRecovery } from '../features/rotation/wireguard/recovery-loop.ts';

export interface RunningWorkerProcess {
  close(): Promise<void>;
}

/** `jobs` replaces the jobs/ folder (tests add processors of their own). */
export async function startWorkerProcess(config: Config, log: Logger, jobsOverride?: JobRegistry): Promise<RunningWorkerProcess> {
  const connection = connectRedis(config, log);
  const jobs = jobsOverride ?? (await loadJobs());
  const docker = createDocker(config);
  const running = startWorker({ config, jobs, docker, connection, log });
  await startDoctorSchedule(config, connection, log);
  const alerts = await startAlertWatcher({ config, docker, connection, log });
  const wgRecovery = startWgRecovery({ config, connection, log, send: (r) => running.replies.send(r) });
  log.info({ jobs: [...jobs.keys()], docker: config.stack.docker, concurrency: config.worker.concurrency }, 'worker started');
  return {
    async close() {
      await alerts.close();
      await wgRecovery.close();
      await running.close();
      await connection.quit();
    },
  };
}
