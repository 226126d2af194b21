import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { envelopeSchema, type JobEnvelope } from '../shared/contracts/envelope.ts';
import { OpsError, toUserError } from '../shared/errors.ts';
import { AuditLog } from '../shared/audit/audit.ts';
import { jobsQueue, keyPrefix, queuePrefix } from '../shared/queue/names.ts';
import { configForTarget } from '../shared/targets.ts';
import type { Notice } from '../shared/contracts/envelope.ts';
import { loadRegistry, type Registry } from '../shared/registry/registry.ts';
import { ApprovalGate, type ApprovedRun } from './approval-gate.ts';
import { mirrorDirectory } from '../shared/approval/group-mirror.ts';
import { ApprovalStore } from '../shared/approval/store.ts';
import { ReplyQueue } from './reply-queue.ts';
import type { JobRegistry } from './job-registry.ts';
import type { JobContext } from './define-job.ts';

/** After this long without a result the requester sees a progress message. */
export const PROGRESS_AFTER_MS = 2000;
const PROGRESS_THROTTLE_MS = 1000;

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
   * The target this worker serves (`CDB_TARGET`); its jobs see the target's stack as `config.stack`.
   * Absent: the single stack of a config without `targets:`.
   */
  readonly target?: string;
}

export interface RunningWorker {
  readonly worker: Worker;
  readonly replies: ReplyQueue;
  close(): Promise<void>;
}

function parseEnvelope(job: Job): JobEnvelope {
  const parsed = envelopeSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`job ${job.id} has malformed data`);
  return parsed.data;
}

export function startWorker(deps: WorkerDeps): RunningWorker {
  const { config, jobs, docker, connection } = deps;
  // Jobs see the target's view of the config; approvals, audit and replies stay on the root one.
  const view = deps.target ? configForTarget(config, deps.target) : config;
  const targetName = view.target?.name;
  const log = targetName ? deps.log.child({ target: targetName }) : deps.log;
  const tag = targetName ? { target: targetName } : {};
  // Notices (alerts, doctor reports) name their target and get a thread of their own per target.
  const notify = (n: Omit<Notice, 'type'>): Promise<void> => replies.notify(targetName ? {
    ...n,
    key: `t-${targetName}:${n.key}`.slice(0, 120),
    text: `[${targetName}] ${n.text}`.slice(0, 4000),
    ...(n.blocks ? { blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: `Target: *${targetName}*` }] }, ...n.blocks].slice(0, 50) } : {}),
  } : n);
  const prefix = queuePrefix(config);
  const replies = new ReplyQueue(connection, prefix);
  const audit = new AuditLog(connection, log, `${keyPrefix(config)}:audit`, config.audit.streamMaxLen);
  const send = replies.send.bind(replies);
  let registry: Promise<Registry> | undefined = deps.registry ? Promise.resolve(deps.registry) : undefined;
  const groups = mirrorDirectory(connection, keyPrefix(config));
  const gate = new ApprovalGate({
    store: new ApprovalStore(connection, keyPrefix(config)),
    config,
    registry: () => (registry ??= loadRegistry()),
    groups,
    audit,
  });

  /** Tells the requester and the audit stream why a job did not run; the error is final. */
  const refuse = async (env: JobEnvelope, err: unknown, jobLog: Logger): Promise<UnrecoverableError> => {
    const user = toUserError(err, env.requestId);
    jobLog.warn({ code: user.code }, 'job refused before running');
    await send({ type: 'error', requestId: env.requestId, ...tag, command: env.command, origin: env.origin, code: user.code, message: user.message, durationMs: 0 });
    await audit.record({ requestId: env.requestId, command: env.command, args: env.args, actor: env.actor, via: env.origin.kind, outcome: 'rejected', code: user.code });
    return new UnrecoverableError(user.code);
  };

  const processor = async (job: Job): Promise<unknown> => {
    const env = parseEnvelope(job);
    if ((env.target ?? undefined) !== targetName) {
      // Queues are per target, so only a hand-made job gets here: it never runs on the wrong stack.
      throw await refuse(env, new OpsError('TARGET_UNKNOWN', `This job is for target \`${env.target ?? 'default'}\` but reached the worker of \`${targetName ?? 'default'}\`. It was not run.`), log);
    }
    const def = jobs.get(job.name);
    const jobLog = log.child({ cmd: env.command, user: env.actor.userId, requestId: env.requestId, jobId: job.id });
    // The approval gate comes first: a job that needs approval never runs without a valid one.
    let approval: ApprovedRun | undefined;
    try {
      approval = await gate.admit(env, job.name, job.id);
    } catch (err) {
      throw await refuse(env, err, jobLog);
    }
    const args = def?.args.safeParse(env.args);
    if (!def || !args?.success) {
      await approval?.finish(false, 'the worker cannot run this job (unknown job or bad arguments)');
      throw new UnrecoverableError(def ? `job ${job.id} has arguments that do not match ${job.name}` : `no job processor is named ${job.name}`);
    }

    const started = Date.now();
    const abort = new AbortController();
    const timeoutMs = def.timeoutMs ?? config.worker.jobTimeoutSeconds * 1000;
    let lastProgress = 0;
    let latest = `Working on \`${env.command}\`…`;
    let done = false;
    const progress = (text: string) => {
      latest = text.slice(0, 400);
      const now = Date.now();
      if (done || now - started < PROGRESS_AFTER_MS || now - lastProgress < PROGRESS_THROTTLE_MS) return;
      lastProgress = now;
      void send({ type: 'progress', requestId: env.requestId, ...tag, command: env.command, origin: env.origin, text: latest }).catch((err: unknown) => jobLog.warn({ err }, 'progress not sent'));
    };
    const progressTimer = setTimeout(() => progress(latest), PROGRESS_AFTER_MS);
    const timeout = setTimeout(() => abort.abort(new OpsError('JOB_TIMEOUT', `\`${env.command}\` did not finish within ${Math.round(timeoutMs / 1000)} s.`)), timeoutMs);
    const approved = approval ? { id: approval.record.id, approvers: approval.record.approvals.map((a) => a.userId) } : undefined;
    const ctx: JobContext = { requestId: env.requestId, actor: env.actor, origin: env.origin, config: view, docker, redis: connection, log: jobLog, signal: abort.signal, progress, notify, approval: approved, groups };
    const base = { requestId: env.requestId, command: env.command, args: env.args, actor: env.actor, via: env.origin.kind };
    try {
      const aborted = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), { once: true }));
      const result = await Promise.race([def.run(ctx, args.data), aborted]);
      done = true;
      const durationMs = Date.now() - started;
      // Recorded before the result is sent, so the bot finds the request finished when it renders it.
      await approval?.finish(true);
      if (env.origin.kind === 'plan') {
        // A plan for an approval request: the bot reads it from the job, nobody is told in chat.
        await audit.record({ ...base, outcome: 'succeeded', durationMs });
        return { ok: true, durationMs, result };
      }
      if (env.origin.kind === 'schedule') {
        // Scheduled checks speak through notices when something changed; a success every 30 s
        // would only push real commands out of the capped audit stream. Failures are still audited.
        jobLog.debug({ durationMs }, 'scheduled job succeeded');
        return { ok: true, durationMs };
      }
      await send({ type: 'result', requestId: env.requestId, ...tag, command: env.command, args: env.args, origin: env.origin, result, durationMs });
      await audit.record({ ...base, outcome: 'succeeded', durationMs });
      jobLog.info({ durationMs }, 'job succeeded');
      return { ok: true, durationMs };
    } catch (err) {
      done = true;
      const durationMs = Date.now() - started;
      const user = toUserError(err, env.requestId);
      jobLog.error({ err, durationMs }, 'job failed');
      await approval?.finish(false, user.message).catch((e: unknown) => jobLog.error({ err: e }, 'approval not marked failed'));
      if (env.origin.kind !== 'plan' && env.origin.kind !== 'schedule') await send({ type: 'error', requestId: env.requestId, ...tag, command: env.command, origin: env.origin, code: user.code, message: user.message, durationMs });
      await audit.record({ ...base, outcome: 'failed', durationMs, code: user.code });
      // Reported to the user already; retrying an ops command behind their back is not ours to decide.
      // A plan's failure is read by the bot from the job, so it carries the message too.
      throw new UnrecoverableError(env.origin.kind === 'plan' ? `${user.code}: ${user.message}` : user.code);
    } finally {
      clearTimeout(progressTimer);
      clearTimeout(timeout);
    }
  };

  const worker = new Worker(jobsQueue(view), processor, { connection, prefix, concurrency: config.worker.concurrency, autorun: true });
  worker.on('failed', (job, err) => {
    if (job && err instanceof UnrecoverableError && err.message.startsWith('job ')) log.error({ jobId: job.id, err: err.message }, 'rejected malformed job');
  });
  return {
    worker,
    replies,
    async close() {
      await worker.close();
      await replies.close();
    },
  };
}
