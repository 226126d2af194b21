import { OpsError } from '../errors.ts';
import { operationText } from './message.ts';
import type { ApprovalStore } from './store.ts';
import type { ApprovalRecord } from './types.ts';

/**
 * Approved requests whose worker died mid-run. The worker holds the request's run lock
 * (ApprovalStore.runLockKey, src/shared/lock.ts: short TTL, renewed while it runs) from before
 * `executing` until the outcome is recorded; `executing` without it means that worker is gone.
 *
 * - A job with a crash journal (rollback, restore, rotations) is finished or reverted by its
 *   journal's recoverer, which also finishes the request and reports. Only if that has not
 *   happened JOURNAL_GRACE_MS after the worker was found dead (no worker running, or the worker
 *   died before its journal existed) is the request closed here.
 * - Any other job is closed at once: it keeps no journal, so nobody knows how far it got.
 */
export const JOURNAL_GRACE_MS = 10 * 60_000;

/** Where each journaled command's crash behaviour is described; the rest share one runbook. */
const RUNBOOKS: Record<string, string> = {
  rollback: 'runbooks/rollback.md',
  restore: 'runbooks/disaster-recovery.md',
  rotate: 'runbooks/secret-rotation.md',
  'rotate-wireguard': 'runbooks/wireguard-rotation.md',
};

export function runbookFor(command: string): string {
  return RUNBOOKS[command] ?? 'runbooks/interrupted-jobs.md';
}

/** What the request's thread is told (and the approval's reason), in plain words. */
export function interruptedText(r: ApprovalRecord): string {
  const what = `\`${operationText(r).slice(0, 300)}\` (request \`${r.id}\`)`;
  if (r.journaled) {
    return `${what} was interrupted: the worker running it stopped, and no recovery closed this request within ${JOURNAL_GRACE_MS / 60_000} minutes. It keeps a crash journal: if a worker recovered it, its report is in this thread; if none is running, the next worker to start finishes or reverts it and reports here. It was not run again. See ${runbookFor(r.command)}.`;
  }
  return `${what} was interrupted: the worker running it stopped (killed or crashed) before it finished, and it was not run again. This command keeps no crash journal, so part of it may have been done: check with \`/cdb status\` before asking again (a new run needs a new approval). See ${runbookFor(r.command)}.`;
}

/** The worker's answer to a re-delivered job whose first run was interrupted (not run again). */
export function interruptedError(r: ApprovalRecord): OpsError {
  const { journaled: _journaled, ...plain } = r;
  return new OpsError('JOB_INTERRUPTED', interruptedText(plain));
}

async function runAlive(store: ApprovalStore, id: string): Promise<boolean> {
  return (await store.redis.exists(store.runLockKey(id))) === 1;
}

/** When the request was first found without a live worker (Redis's clock), remembered for a day. */
async function deadSince(store: ApprovalStore, id: string, now: number): Promise<number> {
  const key = `${store.key(id)}:dead`;
  await store.redis.set(key, String(now), 'PX', 24 * 3600_000, 'NX');
  return Number((await store.redis.get(key)) ?? now);
}

/**
 * Moves every `executing` request whose worker died to `failed` (marked interrupted), once,
 * whichever process gets there first; returns the records it closed, for the caller to tell
 * their threads and audit them.
 */
export async function closeInterrupted(store: ApprovalStore, graceMs = JOURNAL_GRACE_MS): Promise<ApprovalRecord[]> {
  const closed: ApprovalRecord[] = [];
  for (const id of await store.executingIds()) {
    const record = await store.get(id);
    // A record gone (expired after its retention) leaves its id behind in the index.
    if (!record) await store.redis.zrem(store.executingKey, id);
    if (!record || record.state !== 'executing' || (await runAlive(store, id))) continue;
    if (record.journaled && (await store.now()) - (await deadSince(store, id, await store.now())) < graceMs) continue;
    const res = await store.apply(id, { type: 'interrupt', reason: interruptedText(record).slice(0, 500) });
    if (res.found && res.outcome === 'failed') closed.push(res.record);
  }
  return closed;
}
