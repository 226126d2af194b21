import { UnrecoverableError, Worker } from 'bullmq';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { AuditLog } from '../shared/audit/audit.ts';
import { jobsQueue, keyPrefix, queuePrefix, redisErrorReporter } from '../shared/queue/names.ts';
import { configForTarget } from '../shared/targets.ts';
import { watchDocker } from '../host/docker-watch.ts';
import { loadRegistry, type Registry } from '../shared/registry/registry.ts';
import { mirrorDirectory } from '../shared/approval/group-mirror.ts';
import { ApprovalStore } from '../shared/approval/store.ts';
import { ApprovalGate } from './approval-gate.ts';
import type { JobRegistry } from './job-registry.ts';
import { createProcessor } from './process-job.ts';
import { ReplyQueue, TargetReplyQueue } from './reply-queue.ts';

export interface WorkerDeps {
  readonly config: Config;
  readonly jobs: JobRegistry;
  readonly docker: Docker;
  readonly connection: Redis;
  readonly log: Logger;
  /**
   * The command registry, for the approval gate to know which jobs need an approved request.
   * Defaults to the commands/ folder; tests pass their own.
   */
  readonly registry?: Registry;
  /**
   * The target this worker serves (`CDB_TARGET`); its jobs see the target's stack as `config.stack`
   * and use its queue. Absent: the single stack of a config without `targets:`.
   */
  readonly target?: string;
}

export interface RunningWorker {
  readonly worker: Worker;
  readonly replies: ReplyQueue;
  close(): Promise<void>;
}

/** The BullMQ worker of the jobs queue, with its replies queue, audit stream and approval gate. */
export function startWorker(deps: WorkerDeps): RunningWorker {
  const { config, connection } = deps;
  // Jobs see the target's view of the config; approvals, audit and the replies queue stay on the root one.
  const view = deps.target ? configForTarget(config, deps.target) : config;
  const log = view.target ? deps.log.child({ target: view.target.name }) : deps.log;
  const replies = view.target ? new TargetReplyQueue(connection, queuePrefix(config), view.target.name, redisErrorReporter(connection, log)) : new ReplyQueue(connection, queuePrefix(config), redisErrorReporter(connection, log));
  // In-flight Engine requests are tracked, so a time limit hit while Docker hangs names Docker.
  const docker = watchDocker(deps.docker);
  const audit = new AuditLog(connection, log, `${keyPrefix(config)}:audit`, config.audit.streamMaxLen, config.secrets.auditKey);
  let registry: Promise<Registry> | undefined = deps.registry ? Promise.resolve(deps.registry) : undefined;
  const groups = mirrorDirectory(connection, keyPrefix(config));
  const gate = new ApprovalGate({
    store: new ApprovalStore(connection, keyPrefix(config)),
    config,
    registry: () => (registry ??= loadRegistry()),
    groups,
    audit,
  });
  const processor = createProcessor({ ...deps, config: view, log, docker, gate, groups, replies, audit });
  const worker = new Worker(jobsQueue(view), processor, { connection, prefix: queuePrefix(config), concurrency: config.worker.concurrency, autorun: true });
  worker.on('failed', (job, err) => {
    if (job && err instanceof UnrecoverableError && err.message.startsWith('job ')) log.error({ jobId: job.id, err: err.message }, 'rejected malformed job');
  });
  // Without a listener BullMQ prints every error with its stack; an outage is one warning (connectRedis).
  worker.on('error', redisErrorReporter(connection, log));
  return {
    worker,
    replies,
    async close() {
      await worker.close();
      await replies.close();
    },
  };
}
