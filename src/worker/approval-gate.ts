import type { Config } from '../shared/config/schema.ts';
import type { JobEnvelope } from '../shared/contracts/envelope.ts';
import { OpsError } from '../shared/errors.ts';
import type { AuditLog } from '../shared/audit/audit.ts';
import { hasRole, highestRole, type GroupDirectory } from '../shared/auth/authorize.ts';
import type { Registry } from '../shared/registry/registry.ts';
import { requiredRole } from '../shared/registry/define-command.ts';
import { approvalDigest } from '../shared/approval/digest.ts';
import { approvalSettings, jobNeedsApproval } from '../shared/approval/policy.ts';
import type { Refusal } from '../shared/approval/state-machine.ts';
import type { ApprovalStore } from '../shared/approval/store.ts';
import type { ApprovalRecord } from '../shared/approval/types.ts';
import { interruptedError } from '../shared/approval/interrupted.ts';
import { PROCESS_OWNER } from '../shared/journal.ts';
import { acquireLock } from '../shared/lock.ts';

/** A job admitted through approval: the record is `executing`; `finish` records how it ended. */
export interface ApprovedRun {
  readonly record: ApprovalRecord;
  finish(ok: boolean, reason?: string): Promise<void>;
}

export interface GateDeps {
  readonly store: ApprovalStore;
  /** The worker's own config: its role lists decide, not the bot's. */
  readonly config: Config;
  readonly registry: () => Promise<Registry>;
  /** User-group membership as mirrored by the bot (src/shared/approval/group-mirror.ts). */
  readonly groups: GroupDirectory;
  readonly audit: AuditLog;
}

const SYSTEM_ACTOR = { userId: 'local:cdb-worker', teamId: 'local', name: 'worker' };

function refusalError(refusal: Refusal | undefined, record: ApprovalRecord): OpsError {
  switch (refusal) {
    case 'used':
      return new OpsError('APPROVAL_REUSED', `Request \`${record.id}\` was already started once (it is \`${record.state}\`). An approval runs at most once; it was not run again.`);
    case 'tampered':
      return new OpsError('APPROVAL_TAMPERED', `The job does not match approved request \`${record.id}\`. It was not run.`);
    case 'stale':
      return new OpsError('APPROVAL_CLOSED', `Request \`${record.id}\` was approved but did not start in time. Request it again.`);
    default:
      return new OpsError('APPROVAL_CLOSED', `Request \`${record.id}\` is \`${record.state}\`, not approved. It was not run.`);
  }
}

/** Everything in the job that must equal the stored request; returns what differs. */
function mismatches(record: ApprovalRecord, env: JobEnvelope, jobName: string): string[] {
  const out: string[] = [];
  if (record.command !== env.command) out.push('command');
  if (record.job !== jobName) out.push('job');
  if (record.channel !== env.origin.channel || env.origin.kind !== 'slack') out.push('channel');
  if (record.requester.userId !== env.actor.userId || record.requester.teamId !== env.actor.teamId) out.push('requester');
  const fromRecord = approvalDigest(record);
  if ((record.target ?? undefined) !== (env.target ?? undefined)) out.push('target');
  const fromJob = approvalDigest({ id: env.requestId, command: env.command, job: jobName, args: env.args, requester: env.actor, channel: env.origin.channel, target: env.target });
  if (fromRecord !== record.digest) out.push('stored digest');
  if (fromJob !== record.digest) out.push('arguments');
  const claimed = (env.approval?.approvers ?? []).map((a) => `${a.teamId}/${a.userId}`).sort().join(',');
  const stored = record.approvals.map((a) => `${a.teamId}/${a.userId}`).sort().join(',');
  if (claimed !== stored) out.push('approvers');
  return out;
}

/**
 * The worker side of two-person approval. Before a job runs: does it need approval (by the worker's
 * config and registry, whatever the envelope claims)? If so, the stored request must be `approved`,
 * match the job exactly, its approvers must still hold the approver role and the requester the
 * command's role; then approved → executing, atomically and once.
 */
export class ApprovalGate {
  constructor(private readonly deps: GateDeps) {}

  private async abort(record: ApprovalRecord, reason: string): Promise<void> {
    const res = await this.deps.store.apply(record.id, { type: 'abort', reason });
    if (res.found && res.outcome === 'failed') await this.audit(res.record, 'failed', SYSTEM_ACTOR, reason);
  }

  private async audit(record: ApprovalRecord, outcome: 'failed' | 'executed', actor: { userId: string; teamId: string; name?: string }, reason?: string): Promise<void> {
    await this.deps.audit.record({
      requestId: record.id, command: record.command, args: record.args, actor, via: 'worker', outcome,
      approval: { id: record.id, state: record.state, approvers: record.approvals.map((a) => a.userId), reason },
    });
  }

  /** Why the approvals no longer suffice under the worker's current config, or undefined. */
  private async revoked(record: ApprovalRecord, registry: Registry): Promise<string | undefined> {
    const { config, groups } = this.deps;
    const command = registry.get(record.command);
    if (!command || command.kind !== 'job') return `\`${record.command}\` is not a command this worker knows`;
    const requesterRole = await highestRole(record.requester, config, groups);
    const needed = requiredRole(command, record.args);
    if (!hasRole(requesterRole, needed)) return `the requester <@${record.requester.userId}> no longer holds the *${needed}* role`;
    const valid = [];
    for (const vote of record.approvals) {
      if (vote.userId === record.requester.userId) continue;
      const role = await highestRole(vote, config, groups);
      if (!hasRole(role, 'approver')) return `<@${vote.userId}> no longer holds the *approver* role`;
      valid.push(vote);
    }
    const required = Math.max(record.required, approvalSettings(record.command, config).required);
    if (new Set(valid.map((v) => v.userId)).size < required) return `it needs ${required} approvals and has ${valid.length}`;
    return undefined;
  }

  /**
   * A request that already started: a re-delivery (BullMQ hands a stalled job on after its worker
   * died) or a duplicate. Not journaled and its worker dead: say so (the bot's sweeper tells the thread).
   */
  private async usedError(record: ApprovalRecord): Promise<OpsError> {
    if (!record.journaled && (record.interrupted || (record.state === 'executing' && !(await this.deps.store.redis.exists(this.deps.store.runLockKey(record.id)))))) {
      return interruptedError(record);
    }
    return refusalError('used', record);
  }

  /**
   * undefined: no approval involved, run as usual. Throws OpsError when the job must not run.
   * `journaled`: the job keeps a crash journal whose recoverer finishes the request after a crash.
   */
  async admit(env: JobEnvelope, jobName: string, jobId: string | undefined, opts: { journaled?: boolean } = {}): Promise<ApprovedRun | undefined> {
    const registry = await this.deps.registry();
    const gated = env.approval !== undefined || jobNeedsApproval(registry, this.deps.config, env.command, jobName, env.args);
    if (!gated) return undefined;
    if (!env.approval) {
      throw new OpsError('APPROVAL_REQUIRED', `\`${env.command}\` needs a second person’s approval in Slack, and this job carries none. It was not run.`);
    }
    const id = env.approval.id;
    if (id !== env.requestId || jobId !== id) throw new OpsError('APPROVAL_TAMPERED', `The job's ids do not match approval request \`${id}\`. It was not run.`);
    const record = await this.deps.store.get(id);
    if (!record) throw new OpsError('APPROVAL_NOT_FOUND', `There is no approval request \`${id}\`. The job was not run.`);
    if (record.state !== 'approved') throw record.startedAt !== undefined || record.state === 'executing' ? await this.usedError(record) : refusalError('closed', record);

    const differs = mismatches(record, env, jobName);
    if (differs.length) {
      await this.abort(record, `the job did not match the approved request (${differs.join(', ')})`);
      throw new OpsError('APPROVAL_TAMPERED', `The job does not match approved request \`${id}\` (${differs.join(', ')}). It was not run.`);
    }
    const revoked = await this.revoked(record, registry);
    if (revoked) {
      await this.abort(record, revoked);
      throw new OpsError('APPROVAL_REVOKED', `Not run: ${revoked}.`);
    }
    // The run lock follows this process's liveness while the job runs: taken before `executing`
    // and released after the outcome is recorded, so `executing` without it means this worker died.
    const run = await acquireLock(this.deps.store.redis, this.deps.store.runLockKey(id), { owner: `run-${PROCESS_OWNER}` });
    if (!run) throw refusalError('used', record);
    const started = await this.deps.store.apply(id, { type: 'start', digest: record.digest, ...(opts.journaled ? { journaled: true } : {}) }).catch(async (err: unknown) => {
      await run.release().catch(() => undefined);
      throw err;
    });
    if (!started.found || started.refusal || started.outcome !== 'executing') {
      await run.release().catch(() => undefined);
      if (!started.found) throw new OpsError('APPROVAL_NOT_FOUND', `There is no approval request \`${id}\`. The job was not run.`);
      if (started.outcome === 'failed') await this.audit(started.record, 'failed', SYSTEM_ACTOR, started.record.reason);
      throw refusalError(started.refusal, started.record);
    }
    return {
      record: started.record,
      finish: async (ok, reason) => {
        try {
          const done = await this.deps.store.apply(id, { type: 'finish', ok, reason: reason?.slice(0, 500) });
          if (done.found && (done.outcome === 'executed' || done.outcome === 'failed')) await this.audit(done.record, done.outcome, record.requester, done.record.reason);
        } finally {
          await run.release().catch(() => undefined);
        }
      },
    };
  }
}
