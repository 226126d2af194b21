import type { Logger } from 'pino';
import type { Reply } from '../../shared/contracts/envelope.ts';
import { closeInterrupted } from '../../shared/approval/interrupted.ts';
import { startSweepLoop } from '../../shared/sweep-loop.ts';
import type { ReplySink } from '../reply-consumer.ts';
import { SYSTEM_ACTOR, type ApprovalService } from './service.ts';

/** An approved request whose job is missing this long after approval is re-enqueued (a bot crash in between). */
export const REENQUEUE_AFTER_MS = 5000;
const GROUP_REFRESH_MS = 60_000;

/** Pending requests past their expiry (by Redis's clock) become expired, once, whichever bot gets there first. */
export async function expireDue(svc: ApprovalService): Promise<void> {
  for (const id of await svc.deps.store.dueForExpiry()) {
    const res = await svc.deps.store.apply(id, { type: 'expire' });
    if (res.found && res.outcome === 'expired') {
      await svc.refresh(res.record);
      await svc.record(res.record, 'expired', SYSTEM_ACTOR);
    }
  }
}

/**
 * Approved requests with no job (the bot stopped between approving and enqueuing) are enqueued again;
 * the job id is the request id and the worker moves approved → executing once, so this cannot make a
 * second run. Approved requests that never started in time are failed.
 */
export async function recoverApproved(svc: ApprovalService): Promise<void> {
  const { store, jobs, log } = svc.deps;
  for (const id of await store.approvedIds()) {
    const record = await store.get(id);
    if (!record || record.state !== 'approved' || record.approvedAt === undefined) continue;
    const now = await store.now();
    if (record.executeBy !== undefined && now > record.executeBy) {
      const res = await store.apply(id, { type: 'abort', reason: 'approved, but the job did not start in time (is the worker running?)' });
      if (res.found && res.outcome === 'failed') {
        await svc.refresh(res.record);
        await svc.record(res.record, 'failed', SYSTEM_ACTOR);
      }
    } else if (now - record.approvedAt > REENQUEUE_AFTER_MS && !(await jobs.getJob(id))) {
      log.warn({ approvalId: id }, 'approved request had no job; enqueuing it');
      await svc.enqueue(record);
    }
  }
}

/**
 * Executing requests whose worker died (run lock expired) are closed as interrupted, and their
 * thread is told through `tell` (the bot's reply sink: the progress message becomes the answer,
 * and the bot stops waiting for the job). Journaled jobs are left to their recoverer first.
 */
export async function closeDeadRuns(svc: ApprovalService, tell: (reply: Reply) => Promise<void>): Promise<void> {
  for (const record of await closeInterrupted(svc.deps.store)) {
    svc.deps.log.warn({ approvalId: record.id, cmd: record.command }, 'approved request interrupted: its worker stopped mid-run');
    await svc.record(record, 'failed', SYSTEM_ACTOR, record.reason, 'JOB_INTERRUPTED');
    const reply: Reply = {
      type: 'error', requestId: record.id, command: record.command,
      origin: { kind: 'slack', channel: record.channel, ...(record.messageTs ? { threadTs: record.messageTs } : {}) },
      code: 'JOB_INTERRUPTED', message: record.reason ?? 'interrupted: the worker running it stopped', durationMs: 0,
    };
    // The sink re-renders the request's root message too (ApprovalAwareSink); without one, refresh it here.
    await tell(reply).catch(async (err: unknown) => {
      svc.deps.log.warn({ err, approvalId: record.id }, 'interrupted request not reported in its thread');
      await svc.refresh(record);
    });
  }
}

/** Keeps the worker's group mirror fresh for every group that grants a role. */
export async function refreshGroups(svc: ApprovalService): Promise<void> {
  const { roles } = svc.deps.config;
  const groups = new Set([...roles.viewer.groups, ...roles.operator.groups, ...roles.approver.groups]);
  for (const group of groups) await svc.deps.groups.members(group);
}

export interface Sweeper {
  stop(): Promise<void>;
}

export interface SweeperOptions {
  readonly intervalMs?: number;
  /** Where interrupted requests are reported (the reply sink); default: only the root message changes. */
  readonly tell?: (reply: Reply) => Promise<void>;
}

/** Runs the chores on a timer; state lives in Redis, so a restarted bot just picks up. */
export function startApprovalSweeper(svc: ApprovalService, log: Logger, opts: SweeperOptions = {}): Sweeper {
  let lastGroups = 0;
  const tell = opts.tell ?? (async (reply: Reply) => (reply.type === 'notice' ? undefined : svc.refreshById(reply.requestId)));
  return startSweepLoop({
    everyMs: opts.intervalMs ?? 1000,
    onError: (err) => log.warn({ err }, 'approval sweep failed; retrying'),
    sweep: async () => {
      await expireDue(svc);
      await recoverApproved(svc);
      await closeDeadRuns(svc, tell);
      if (Date.now() - lastGroups > GROUP_REFRESH_MS) {
        lastGroups = Date.now();
        await refreshGroups(svc);
      }
    },
  });
}

/** Wraps the Slack sink: once an approved request's job reports back, its root message shows the outcome. */
export class ApprovalAwareSink implements ReplySink {
  constructor(
    private readonly inner: ReplySink,
    private readonly svc: ApprovalService,
  ) {}

  async deliver(reply: Reply): Promise<void> {
    await this.inner.deliver(reply);
    if (reply.type === 'result' || reply.type === 'error') await this.svc.refreshById(reply.requestId);
  }
}
