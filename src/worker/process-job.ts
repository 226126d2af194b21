import { UnrecoverableError, type Job } from 'bullmq';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { envelopeSchema, type JobEnvelope } from '../shared/contracts/envelope.ts';
import type { JobOutcome } from '../shared/contracts/job-outcome.ts';
import { OpsError, toUserError } from '../shared/errors.ts';
import type { AuditLog } from '../shared/audit/audit.ts';
import type { GroupDirectory } from '../shared/auth/authorize.ts';
import { withTimeLimit } from '../shared/time-limit.ts';
import type { ApprovalGate, ApprovedRun } from './approval-gate.ts';
import { jobTimeLimitMs, type JobContext } from './define-job.ts';
import type { JobRegistry } from './job-registry.ts';
import { startProgress } from './progress.ts';
import type { ReplyQueue } from './reply-queue.ts';
import { reporterFor } from './report.ts';
import { hasJournal } from '../shared/journal.ts';
import { pausePoint } from '../shared/pause-point.ts';
import { keyPrefix } from '../shared/queue/names.ts';
import { dockerTimeoutError, stalledDockerCall } from '../host/docker-watch.ts';
import { jobSeconds, jobsTotal } from '../shared/metrics.ts';

export interface ProcessorDeps {
  readonly config: Config;
  readonly jobs: JobRegistry;
  readonly docker: Docker;
  readonly connection: Redis;
  readonly log: Logger;
  readonly gate: ApprovalGate;
  readonly groups: GroupDirectory;
  readonly replies: ReplyQueue;
  readonly audit: AuditLog;
}

function parseEnvelope(job: Job): JobEnvelope {
  const parsed = envelopeSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`job ${job.id} has malformed data`);
  return parsed.data;
}

/**
 * One BullMQ job, start to end: approval gate first (a job that needs approval never runs without
 * a valid one), arguments validated again, the processor run against its time limit with
 * throttled progress, and the outcome reported where its origin wants it (report.ts).
 */
export function createProcessor(deps: ProcessorDeps): (job: Job) => Promise<JobOutcome> {
  const { config, jobs, docker, connection, log, gate, groups, replies, audit } = deps;

  /** Tells the requester and the audit stream why a job did not run; the error is final. */
  const refuse = async (env: JobEnvelope, err: unknown, jobLog: Logger): Promise<UnrecoverableError> => {
    const user = toUserError(err, env.requestId);
    jobLog.warn({ code: user.code }, 'job refused before running');
    jobsTotal.inc({ job: env.command, outcome: 'refused' });
    // A job redelivered after its worker died: its journal's recoverer reports what happened, so
    // "already started once" would only overwrite that report.
    // An interrupted run is reported once, by whoever closes its approval (the bot's sweeper).
    const journaled = user.code === 'JOB_INTERRUPTED' || (user.code === 'APPROVAL_REUSED' && (await hasJournal(connection, keyPrefix(config), env.requestId).catch(() => false)));
    if (!journaled) await replies.send({ type: 'error', requestId: env.requestId, command: env.command, origin: env.origin, code: user.code, message: user.message, durationMs: 0 });
    await audit.record({ requestId: env.requestId, command: env.command, args: env.args, actor: env.actor, via: env.origin.kind, outcome: 'rejected', code: user.code });
    return new UnrecoverableError(user.code);
  };

  return async (job) => {
    const env = parseEnvelope(job);
    if ((env.target ?? undefined) !== config.target?.name) {
      // Queues are per target, so only a hand-made job gets here: it never runs on the wrong stack.
      throw await refuse(env, new OpsError('TARGET_UNKNOWN', `This job is for target \`${env.target ?? 'default'}\` but reached the worker of \`${config.target?.name ?? 'default'}\`. It was not run.`), log.child({ requestId: env.requestId }));
    }
    const def = jobs.get(job.name);
    const jobLog = log.child({ cmd: env.command, user: env.actor.userId, requestId: env.requestId, jobId: job.id });
    let approval: ApprovedRun | undefined;
    try {
      approval = await gate.admit(env, job.name, job.id, { journaled: def?.journaled === true });
    } catch (err) {
      throw await refuse(env, err, jobLog);
    }
    // Test-only: crash tests kill the worker here, with an approved job `executing` (pause-point.ts).
    if (approval) await pausePoint(`job-${job.name}:running`);
    const args = def?.args.safeParse(env.args);
    if (!def || !args?.success) {
      await approval?.finish(false, 'the worker cannot run this job (unknown job or bad arguments)');
      throw new UnrecoverableError(def ? `job ${job.id} has arguments that do not match ${job.name}` : `no job processor is named ${job.name}`);
    }

    const report = reporterFor(env, { replies, audit }, jobLog);
    const progress = startProgress(env, replies, jobLog);
    const started = Date.now();
    const timeoutMs = jobTimeLimitMs(def, config);
    const approved = approval ? { id: approval.record.id, approvers: approval.record.approvals.map((a) => a.userId) } : undefined;
    // Calls a journaled job registers to run once its outcome has been reported (it ends its journal there).
    const reported: Array<() => Promise<void>> = [];
    const afterReport = async () => {
      for (const fn of reported.splice(0)) await fn().catch((err: unknown) => jobLog.error({ err }, 'after-report step failed'));
    };
    const context = (signal: AbortSignal): JobContext => ({
      requestId: env.requestId, actor: env.actor, origin: env.origin, config, docker, redis: connection, log: jobLog, signal,
      progress: progress.report, notify: (n) => replies.notify(n), approval: approved, groups, afterReport: (fn) => void reported.push(fn),
    });
    try {
      const result = await withTimeLimit(
        timeoutMs,
        () => {
          // A daemon that accepts and never answers would otherwise look like a slow job: name Docker.
          const stalled = stalledDockerCall(docker, started);
          if (stalled && Date.now() - stalled.since >= Math.min(5000, timeoutMs / 2)) return dockerTimeoutError(env.command, stalled, timeoutMs);
          return new OpsError('JOB_TIMEOUT', `\`${env.command}\` did not finish within ${Math.round(timeoutMs / 1000)} s.`);
        },
        (signal) => def.run(context(signal), args.data),
      );
      progress.stop();
      jobsTotal.inc({ job: job.name, outcome: 'succeeded' });
      jobSeconds.observe({ job: job.name, outcome: 'succeeded' }, (Date.now() - started) / 1000);
      // Recorded before the result is sent, so the bot finds the request finished when it renders it.
      await approval?.finish(true);
      const outcome = await report.succeeded(result, Date.now() - started);
      await afterReport();
      return outcome;
    } catch (err) {
      progress.stop();
      const user = toUserError(err, env.requestId);
      jobsTotal.inc({ job: job.name, outcome: 'failed' });
      jobSeconds.observe({ job: job.name, outcome: 'failed' }, (Date.now() - started) / 1000);
      jobLog.error({ err, durationMs: Date.now() - started }, 'job failed');
      await approval?.finish(false, user.message).catch((e: unknown) => jobLog.error({ err: e }, 'approval not marked failed'));
      try {
        return await report.failed(user, Date.now() - started);
      } finally {
        await afterReport();
      }
    }
  };
}
