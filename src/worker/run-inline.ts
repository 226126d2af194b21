import { OpsError } from '../shared/errors.ts';
import { withTimeLimit } from '../shared/time-limit.ts';
import { jobTimeLimitMs, type AnyJob, type JobContext } from './define-job.ts';

/** Runs a job processor in this process (the CLI's path), with the same validation and time limit. */
export async function runJobInline(job: AnyJob, rawArgs: unknown, ctx: Omit<JobContext, 'signal'>): Promise<unknown> {
  const args = job.args.safeParse(rawArgs);
  if (!args.success) throw new OpsError('BAD_ARGUMENTS', `The arguments do not match ${job.name}.`);
  const timeoutMs = jobTimeLimitMs(job, ctx.config);
  return withTimeLimit(
    timeoutMs,
    () => new OpsError('JOB_TIMEOUT', `${job.name} did not finish within ${Math.round(timeoutMs / 1000)} s.`),
    (signal) => job.run({ ...ctx, signal }, args.data),
  );
}
