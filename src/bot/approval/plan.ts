import type { JobsQueue } from '../job-router.ts';
import type { Actor, JobEnvelope } from '../../shared/contracts/envelope.ts';
import { ERROR_CODES, OpsError, type ErrorCode } from '../../shared/errors.ts';
import type { AnyCommand } from '../../shared/registry/define-command.ts';
import { newApprovalId } from '../../shared/approval/store.ts';

/** The longest the bot waits for a plan; the plan job's own time limit is usually shorter. */
export const PLAN_WAIT_MS = 90_000;
const POLL_MS = 200;

export interface Planned {
  readonly lines: string[];
  /** Arguments the plan adds to the request (validated again with the command's schema by the caller). */
  readonly pin: Record<string, unknown>;
}

function planFailure(reason: string | undefined, job: string): OpsError {
  const match = /^([A-Z_]+): ([\s\S]+)$/.exec(reason ?? '');
  const code = match?.[1] && match[1] in ERROR_CODES ? (match[1] as ErrorCode) : 'JOB_FAILED';
  const message = match?.[2] ?? `The worker could not work out what \`${job}\` would change.`;
  return new OpsError(code, `${message} No approval request was posted; nothing was changed.`);
}

/**
 * Runs a command's read-only plan job (origin `plan`: the worker hands the result back on the job
 * instead of posting it) and waits for it, so the request can say exactly what will change.
 */
export async function runApprovalPlan(jobs: JobsQueue, command: AnyCommand, args: Record<string, unknown>, actor: Actor, channel: string, waitMs = PLAN_WAIT_MS, target?: string): Promise<Planned | undefined> {
  const plan = command.approvalPlan;
  if (!plan) return undefined;
  const planArgs = plan.args ? plan.args(args) : args;
  if (!planArgs) return undefined;
  const id = `plan-${newApprovalId()}`;
  const envelope: JobEnvelope = { requestId: id, command: plan.job, args: planArgs, actor, origin: { kind: 'plan', channel }, requestedAt: Date.now(), ...(target ? { target } : {}) };
  await jobs.add(plan.job, envelope, { jobId: id, removeOnComplete: { age: 3600 }, removeOnFail: { age: 3600 } });
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const state = await jobs.getJobState(id);
    // Read the job only once it is finished: a copy read earlier lacks its result or failure.
    const job = state === 'completed' || state === 'failed' ? await jobs.getJob(id) : undefined;
    if (job && state === 'completed') {
      const value = job.returnvalue as { result?: unknown } | undefined;
      return { lines: plan.lines(value?.result, args).map((l) => String(l)), pin: plan.pin?.(value?.result, args) ?? {} };
    }
    if (job) throw planFailure(job.failedReason, command.name);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  await (await jobs.getJob(id))?.remove().catch(() => undefined);
  throw new OpsError('JOB_TIMEOUT', `Working out what \`${command.name}\` would change took too long (is the worker running?). No approval request was posted; nothing was changed.`);
}
