import { QueueEvents } from 'bullmq';
import { queueFor, type JobsQueue } from '../job-router.ts';
import type { Redis } from 'ioredis';
import type { Actor, JobEnvelope } from '../../shared/contracts/envelope.ts';
import { jobOutcomeSchema } from '../../shared/contracts/job-outcome.ts';
import { OpsError, isOpsError, type ErrorCode } from '../../shared/errors.ts';
import type { AnyCommand } from '../../shared/registry/define-command.ts';
import { newApprovalId } from '../../shared/approval/store.ts';
import { withTimeLimit } from '../../shared/time-limit.ts';

/** The longest the bot waits for a plan; the plan job's own time limit is usually shorter. */
export const PLAN_WAIT_MS = 90_000;

export interface Planned {
  readonly lines: string[];
  /** Arguments the plan adds to the request (validated again with the command's schema by the caller). */
  readonly pin: Record<string, unknown>;
}

const NOTHING_POSTED = 'No approval request was posted; nothing was changed.';

function planFailure(code: ErrorCode, message: string): OpsError {
  return new OpsError(code, `${message} ${NOTHING_POSTED}`);
}

/**
 * Runs a command's read-only plan job (origin `plan`: the worker returns its result or failure as
 * the job's return value instead of posting it, see src/shared/contracts/job-outcome.ts) and waits
 * for it with BullMQ's QueueEvents, so the request can say exactly what will change.
 */
export async function runApprovalPlan(router: JobsQueue, redis: Redis, command: AnyCommand, args: Record<string, unknown>, actor: Actor, channel: string, waitMs = PLAN_WAIT_MS, target?: string): Promise<Planned | undefined> {
  const plan = command.approvalPlan;
  if (!plan) return undefined;
  const planArgs = plan.args ? plan.args(args) : args;
  if (!planArgs) return undefined;
  const id = `plan-${newApprovalId()}`;
  const envelope: JobEnvelope = { requestId: id, command: plan.job, args: planArgs, actor, origin: { kind: 'plan', channel }, requestedAt: Date.now(), ...(target ? { target } : {}) };
  // The plan runs on the target's own worker; none alive: refused here, before anything is posted.
  const jobs = await queueFor(router, target);
  // Events are read from the stream's last entry before the job exists, so the completion cannot
  // slip past between QueueEvents connecting and its first read (its default, '$', would allow it).
  const [last] = await redis.xrevrange(jobs.keys.events as string, '+', '-', 'COUNT', 1);
  // Its own connection (QueueEvents blocks on the event stream), for the few seconds of one plan.
  const events = new QueueEvents(jobs.name, { connection: jobs.opts.connection, prefix: jobs.opts.prefix, lastEventId: last?.[0] ?? '0-0' });
  let value: unknown;
  try {
    const job = await jobs.add(plan.job, envelope, { jobId: id, removeOnComplete: { age: 3600 }, removeOnFail: { age: 3600 } });
    const timedOut = () => new OpsError('JOB_TIMEOUT', `Working out what \`${command.name}\` would change took too long (is the worker running?). ${NOTHING_POSTED}`);
    try {
      value = await withTimeLimit(waitMs, timedOut, () => job.waitUntilFinished(events));
    } catch (err) {
      if (isOpsError(err)) {
        await job.remove().catch(() => undefined);
        throw err;
      }
      // Failed without an outcome (no processor of that name, malformed data): the worker's log says why.
      throw planFailure('PLAN_FAILED', `The worker could not work out what \`${command.name}\` would change.`);
    }
  } finally {
    await events.close();
  }
  const outcome = jobOutcomeSchema.safeParse(value);
  if (!outcome.success) throw planFailure('PLAN_FAILED', `The worker could not work out what \`${command.name}\` would change.`);
  if (!outcome.data.ok) throw planFailure(outcome.data.code, outcome.data.message);
  const result = outcome.data.result;
  return { lines: plan.lines(result, args).map((l) => String(l)), pin: plan.pin?.(result, args) ?? {} };
}
