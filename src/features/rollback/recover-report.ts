import type { RollbackJobResult } from '../../shared/contracts/rollback.ts';
import { AuditLog } from '../../shared/audit/audit.ts';
import { ApprovalStore } from '../../shared/approval/store.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import type { Reply } from '../../shared/contracts/envelope.ts';
import type { RollbackEnv } from './env.ts';
import type { RollbackJournalData } from './journal.ts';

// What a recovered rollback leaves behind besides the stack: its approval's final state, the audit
// entry and the thread's answer, exactly as the worker that died would have left them.

function approvalReason(j: RollbackJournalData, result: RollbackJobResult): string | undefined {
  if (result.mode === 'clear' || result.ok) return undefined;
  const r = result.recovery;
  if (!r) return 'the rollback failed a health check and was undone';
  const what = r.outcome === 'nothing-changed' ? 'nothing was changed' : r.outcome === 'reverted' ? 'the previous containers were restored' : 'some services could not be restored';
  return `interrupted: the worker stopped ${r.interruptedAt.replace(/`/g, '')}; ${what}`;
}

/** Moves the approval to its final state, as the worker's gate would have, and audits it. */
export async function finishApproval(env: RollbackEnv, j: RollbackJournalData, result: RollbackJobResult): Promise<void> {
  if (!j.approvalId) return;
  const prefix = keyPrefix(env.config);
  const ok = result.mode === 'clear' || result.ok;
  const done = await new ApprovalStore(env.redis, prefix).apply(j.approvalId, { type: 'finish', ok, reason: approvalReason(j, result)?.slice(0, 500) });
  if (!done.found || (done.outcome !== 'executed' && done.outcome !== 'failed')) return;
  const audit = new AuditLog(env.redis, env.log, `${prefix}:audit`, env.config.audit.streamMaxLen);
  await audit.record({
    requestId: j.id, command: 'rollback', args: { ...j.args }, actor: done.record.requester, via: 'worker', outcome: done.outcome,
    approval: { id: j.approvalId, state: done.record.state, approvers: done.record.approvals.map((a) => a.userId), reason: done.record.reason },
  });
}

/** Sends a reply to the bot (the worker's replies queue). */
export type SendReply = (reply: Reply) => Promise<void>;

/** Tells the request's thread, through the replies queue like any job result. */
export async function report(send: SendReply, j: RollbackJournalData, result: RollbackJobResult): Promise<void> {
  if (!j.origin || j.origin.kind === 'plan' || j.origin.kind === 'schedule') return;
  await send({ type: 'result', requestId: j.id, command: 'rollback', args: { ...j.args }, origin: j.origin, result, durationMs: Date.now() - j.startedAt });
}
