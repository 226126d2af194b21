import { OpsError } from '../shared/errors.ts';
import type { AnyJob, JobContext } from './define-job.ts';

/** Runs a job processor in this process (the CLI's path), with the same validation and time limit. */
export async function runJobInline(job: AnyJob, rawArgs: unknown, ctx: Omit<JobContext, 'signal'>): Promise<unknown> {
  const args = job.args.safeParse(rawArgs);
  if (!args.success) throw new OpsError('BAD_ARGUMENTS', `The arguments do not match ${job.name}.`);
  const abort = new AbortController();
  const timeoutMs = job.timeoutMs ?? ctx.config.worker.jobTimeoutSeconds * 1000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new OpsError('JOB_TIMEOUT', `${job.name} did not finish within ${Math.round(timeoutMs / 1000)} s.`);
      abort.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([job.run({ ...ctx, signal: abort.signal }, args.data), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
