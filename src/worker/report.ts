import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { JobEnvelope } from '../shared/contracts/envelope.ts';
import type { JobOutcome } from '../shared/contracts/job-outcome.ts';
import type { ErrorCode } from '../shared/errors.ts';
import type { AuditLog } from '../shared/audit/audit.ts';
import type { ReplyQueue } from './reply-queue.ts';

export interface ReportDeps {
  readonly replies: ReplyQueue;
  readonly audit: AuditLog;
}

/**
 * Where a finished run's outcome goes depends on who asked. `succeeded`/`failed` return the job's
 * BullMQ return value, or throw the error the job ends with.
 */
export interface Reporter {
  succeeded(result: unknown, durationMs: number): Promise<JobOutcome>;
  failed(user: { code: ErrorCode; message: string }, durationMs: number): Promise<JobOutcome>;
}

export function reporterFor(env: JobEnvelope, deps: ReportDeps, log: Logger): Reporter {
  const base = { requestId: env.requestId, command: env.command, args: env.args, actor: env.actor, via: env.origin.kind };
  const audited = (outcome: 'succeeded' | 'failed', durationMs: number, code?: ErrorCode) =>
    deps.audit.record({ ...base, outcome, durationMs, ...(code ? { code } : {}) });
  // Reported already; retrying an ops command behind the requester's back is not ours to decide.
  const final = (code: ErrorCode) => new UnrecoverableError(code);

  switch (env.origin.kind) {
    case 'plan':
      // A plan for an approval request: the bot waits for the job and reads this; nobody is told in chat.
      return {
        async succeeded(result, durationMs) {
          await audited('succeeded', durationMs);
          return { ok: true, durationMs, result };
        },
        async failed(user, durationMs) {
          await audited('failed', durationMs, user.code);
          return { ok: false, durationMs, code: user.code, message: user.message };
        },
      };
    case 'schedule':
      // Scheduled checks speak through notices when something changed; a success every 30 s would
      // only push real commands out of the capped audit stream. Failures are still audited.
      return {
        async succeeded(_result, durationMs) {
          log.debug({ durationMs }, 'scheduled job succeeded');
          return { ok: true, durationMs };
        },
        async failed(user, durationMs) {
          await audited('failed', durationMs, user.code);
          throw final(user.code);
        },
      };
    default:
      return {
        async succeeded(result, durationMs) {
          await deps.replies.send({ type: 'result', requestId: env.requestId, command: env.command, args: env.args, origin: env.origin, result, durationMs });
          await audited('succeeded', durationMs);
          log.info({ durationMs }, 'job succeeded');
          return { ok: true, durationMs };
        },
        async failed(user, durationMs) {
          await deps.replies.send({ type: 'error', requestId: env.requestId, command: env.command, origin: env.origin, code: user.code, message: user.message, durationMs });
          await audited('failed', durationMs, user.code);
          throw final(user.code);
        },
      };
  }
}
